//! The Debian package: a tree staged as it will be installed, then `dpkg-deb --build
//! --root-owner-group` (no fakeroot, no debhelper, nothing from the network). What goes
//! where follows Debian policy, so that lintian finds no error.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::completions::{self, installed_path};
use crate::{io, man_pages, DistError};

pub const PACKAGE: &str = "bakgen";
const MAINTAINER: &str = "bakgen maintainers <bakgen@example.org>";
/// Debian revision of the package of this version.
const REVISION: &str = "1";
const DOC: &str = "usr/share/doc/bakgen";

pub struct Inputs {
    /// The repository: README.md, docs/, policies/.
    pub workspace: PathBuf,
    /// Where the release `bakgen` and `bakrun` are.
    pub bin_dir: PathBuf,
    /// The package is written here; the staged tree under `deb/root`.
    pub out: PathBuf,
}

/// `0.1.0-1`
pub fn version() -> String {
    format!("{}-{REVISION}", env!("CARGO_PKG_VERSION"))
}

/// Stages the tree and builds the package; returns its path.
pub fn build(inputs: &Inputs) -> Result<PathBuf, DistError> {
    let root = inputs.out.join("deb/root");
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(io("remove", &root))?;
    }
    let stage = Stage(root.clone());
    for bin in ["bakgen", "bakrun"] {
        let from = inputs.bin_dir.join(bin);
        let to = stage.path(&format!("usr/bin/{bin}"))?;
        std::fs::copy(&from, &to).map_err(io("copy", &from))?;
        run(Command::new("strip")
            .args([
                "--strip-unneeded",
                "--remove-section=.comment",
                "--remove-section=.note",
            ])
            .arg(&to))?;
        stage.mode(&to, 0o755)?;
    }
    for page in man_pages(&inputs.workspace)? {
        let section = page.name.rsplit('.').next().unwrap_or("1");
        let path = format!("usr/share/man/man{section}/{}.gz", page.name);
        stage.file(&path, &gzip(page.text.as_bytes())?)?;
    }
    for f in completions::all() {
        let (binary, suffix) = f.name.split_once('.').unwrap_or((&f.name, ""));
        stage.file(&installed_path(binary, suffix), f.text.as_bytes())?;
    }
    stage.file(
        "usr/lib/sysusers.d/bakgen.conf",
        bakgen::emit::paths::sysusers_conf().as_bytes(),
    )?;
    docs(&stage, &inputs.workspace)?;
    let date = changelog_date(&inputs.workspace)?;
    let changelog = format!(
        "bakgen ({}) unstable; urgency=medium\n\n  * Built from the repository by scripts/deb.\n\n -- {MAINTAINER}  {date}\n",
        version()
    );
    stage.file(
        &format!("{DOC}/changelog.Debian.gz"),
        &gzip(changelog.as_bytes())?,
    )?;
    stage.file(&format!("{DOC}/copyright"), COPYRIGHT.as_bytes())?;
    let md5sums = run(Command::new("sh")
        .current_dir(&root)
        .args(["-c", "find usr -type f | LC_ALL=C sort | xargs md5sum"]))?;
    let arch = run(Command::new("dpkg").arg("--print-architecture"))?;
    let control = control(arch.trim(), &depends(&root)?, installed_kib(&root)?);
    stage.file("DEBIAN/control", control.as_bytes())?;
    stage.file("DEBIAN/md5sums", md5sums.as_bytes())?;
    let postinst = stage.file("DEBIAN/postinst", POSTINST.as_bytes())?;
    stage.mode(&postinst, 0o755)?;
    let deb = inputs
        .out
        .join(format!("{PACKAGE}_{}_{}.deb", version(), arch.trim()));
    run(Command::new("dpkg-deb")
        .env("SOURCE_DATE_EPOCH", date_epoch(&inputs.workspace)?)
        .args(["--build", "--root-owner-group", "-Zxz"])
        .arg(&root)
        .arg(&deb))?;
    Ok(deb)
}

/// The README, the docs and the example policies, under /usr/share/doc/bakgen.
fn docs(stage: &Stage, workspace: &Path) -> Result<(), DistError> {
    let mut files = vec![("README.md".to_owned(), workspace.join("README.md"))];
    for (dir, into) in [("docs", ""), ("policies", "examples/")] {
        let folder = workspace.join(dir);
        let mut names: Vec<PathBuf> = std::fs::read_dir(&folder)
            .map_err(io("read", &folder))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        for p in names {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            files.push((format!("{into}{}", name.unwrap_or_default()), p));
        }
    }
    for (name, from) in files {
        let text = std::fs::read(&from).map_err(io("read", &from))?;
        stage.file(&format!("{DOC}/{name}"), &text)?;
    }
    Ok(())
}

fn control(arch: &str, shlibs: &str, kib: u64) -> String {
    let mut depends = vec![shlibs.to_owned(), "rsync".to_owned()];
    depends.retain(|d| !d.is_empty());
    format!(
        "Package: {PACKAGE}\n\
Version: {}\n\
Architecture: {arch}\n\
Maintainer: {MAINTAINER}\n\
Installed-Size: {kib}\n\
Depends: {}\n\
Recommends: restic, curl, systemd\n\
Suggests: postgresql-client, default-mysql-client, lvm2, btrfs-progs, openssh-client\n\
Section: admin\n\
Priority: optional\n\
Description: backup policies compiled into systemd units\n \
bakgen checks backup policies written in KDL (hosts, sources, destinations,\n \
schedules, retention, encryption) and generates least-privilege systemd\n \
services, timers and mounts and a job spec per job. bakrun runs each job\n \
under systemd with rsync (hard-linked snapshots) or restic, dumps PostgreSQL\n \
and MySQL databases, applies retention and records status and metrics.\n",
        version(),
        depends.join(", ")
    )
}

/// The shared libraries the binaries link, as dpkg-shlibdeps says (`libc6 (>= 2.34)` …).
fn depends(root: &Path) -> Result<String, DistError> {
    let tmp = root.with_file_name("shlibdeps");
    let debian = tmp.join("debian");
    std::fs::create_dir_all(&debian).map_err(io("create", &debian))?;
    let control = debian.join("control");
    std::fs::write(
        &control,
        "Source: bakgen\n\nPackage: bakgen\nArchitecture: any\n",
    )
    .map_err(io("write", &control))?;
    let out = run(Command::new("dpkg-shlibdeps")
        .current_dir(&tmp)
        .arg("-O")
        .arg(format!("-e{}", root.join("usr/bin/bakgen").display()))
        .arg(format!("-e{}", root.join("usr/bin/bakrun").display())))?;
    let deps = out
        .lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .ok_or_else(|| DistError::Other(format!("dpkg-shlibdeps said nothing of use: {out}")))?;
    Ok(deps.trim().to_owned())
}

/// The size of the installed files in KiB, as dpkg counts it.
fn installed_kib(root: &Path) -> Result<u64, DistError> {
    let out = run(Command::new("du")
        .args(["-s", "-k", "--apparent-size"])
        .arg(root.join("usr")))?;
    out.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| DistError::Other(format!("du said {out:?}")))
}

/// `SOURCE_DATE_EPOCH`, else the time of the repository's last commit: the package's dates
/// follow the source, not the clock, so two builds of one commit are the same.
fn date_epoch(workspace: &Path) -> Result<String, DistError> {
    if let Ok(e) = std::env::var("SOURCE_DATE_EPOCH") {
        return Ok(e);
    }
    let out = run(Command::new("git")
        .current_dir(workspace)
        .args(["log", "-1", "--format=%ct"]))?;
    Ok(out.trim().to_owned())
}

fn changelog_date(workspace: &Path) -> Result<String, DistError> {
    let epoch = date_epoch(workspace)?;
    let out = run(Command::new("date")
        .env("LC_ALL", "C")
        .args(["-u", "-R", "-d"])
        .arg(format!("@{epoch}")))?;
    Ok(out.trim().to_owned())
}

/// `gzip -9n`: best compression, no name or time stamp, as Debian policy asks.
fn gzip(data: &[u8]) -> Result<Vec<u8>, DistError> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .args(["-9n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| DistError::Spawn {
            program: "gzip".to_owned(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(data).map_err(|source| DistError::Spawn {
            program: "gzip".to_owned(),
            source,
        })?;
    }
    let out = child
        .wait_with_output()
        .map_err(|source| DistError::Spawn {
            program: "gzip".to_owned(),
            source,
        })?;
    if !out.status.success() {
        return Err(failed("gzip", &out));
    }
    Ok(out.stdout)
}

/// Runs `cmd`; its standard output, or what failed.
fn run(cmd: &mut Command) -> Result<String, DistError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().map_err(|source| DistError::Spawn {
        program: program.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(failed(&program, &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn failed(program: &str, out: &std::process::Output) -> DistError {
    DistError::Failed {
        command: program.to_owned(),
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    }
}

/// The staged tree: folders 0755, files 0644 unless said otherwise.
struct Stage(PathBuf);

impl Stage {
    /// The path of `rel`, its folders made.
    fn path(&self, rel: &str) -> Result<PathBuf, DistError> {
        let path = self.0.join(rel);
        let mut dir = path.parent();
        let mut made = Vec::new();
        while let Some(d) = dir.filter(|d| !d.exists()) {
            made.push(d.to_owned());
            dir = d.parent();
        }
        for d in made.iter().rev() {
            std::fs::create_dir(d).map_err(io("create", d))?;
            self.mode(d, 0o755)?;
        }
        Ok(path)
    }

    fn file(&self, rel: &str, contents: &[u8]) -> Result<PathBuf, DistError> {
        let path = self.path(rel)?;
        std::fs::write(&path, contents).map_err(io("write", &path))?;
        self.mode(&path, 0o644)?;
        Ok(path)
    }

    fn mode(&self, path: &Path, mode: u32) -> Result<(), DistError> {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(io("chmod", path))
    }
}

/// Creates the `bakgen` user from the package's sysusers.d file at once, so that units
/// applied before the next boot can run as it.
const POSTINST: &str = "#!/bin/sh
set -e
if [ \"$1\" = configure ] && command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers bakgen.conf
fi
";

const COPYRIGHT: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: bakgen

Files: *
Copyright: 2026 The bakgen authors
License: MIT or Apache-2.0

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the \"Software\"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
 THE SOFTWARE.

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the \"License\"); you may not
 use this software except in compliance with the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0 can be
 found in /usr/share/common-licenses/Apache-2.0.
";
