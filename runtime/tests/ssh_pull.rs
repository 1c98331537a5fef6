//! Pulling over ssh from a real sshd on 127.0.0.1: the snapshot is an exact copy (content,
//! owners, modes, ACLs, xattrs, hard links, symlinks, sparse files, odd names), and the
//! second run hard-links what did not change.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::*;

#[test]
#[ignore = "tier: system — needs root and an sshd; run by scripts/test"]
fn pulls_an_awkward_tree_over_ssh_and_hard_links_the_next_snapshot() {
    require_root();
    let root = TempDir::new("ssh");
    let src = root.join("source tree");
    awkward_tree(&src);
    let sshd = Sshd::start();
    let mut spec = spec(root.path(), &[&src]);
    spec["remote"] = sshd.remote();
    spec["excludes"] = serde_json::json!(["*.skip"]);
    fs::write(src.join("ignored.skip"), "excluded\n").unwrap();
    let spec_path = write_spec(root.path(), &spec);

    let out = run_job(&spec_path);
    assert_code(&out, 0);
    let first = snapshots(root.path());
    assert_eq!(first.len(), 1, "{first:?}");
    let snap1 = job_dir(root.path()).join(&first[0]);
    // --relative keeps the full source path inside the snapshot.
    let copy1 = snap1.join(src.strip_prefix("/").unwrap());
    assert!(
        !copy1.join("ignored.skip").exists(),
        "excluded file was copied"
    );
    assert_eq!(
        differences(&src, &copy1),
        "",
        "snapshot differs from the source"
    );
    // Hard links inside the tree stay hard links; the sparse file stays sparse.
    assert_eq!(
        inode(&copy1.join("hard-a")),
        inode(&copy1.join("sub dir/hard-b"))
    );
    let sparse = fs::metadata(copy1.join("sparse.img")).unwrap();
    assert_eq!(sparse.len(), 64 * 1024 * 1024);
    assert!(
        sparse.blocks() * 512 < 1024 * 1024,
        "sparse file was filled"
    );
    assert_eq!(
        fs::read_link(copy1.join("dangling")).unwrap().to_str(),
        Some("/nonexistent/target")
    );
    let foreign = fs::symlink_metadata(copy1.join("foreign-owner")).unwrap();
    assert_eq!((foreign.uid(), foreign.gid()), (12345, 54321));
    assert_eq!(
        fs::read_link(job_dir(root.path()).join("latest"))
            .unwrap()
            .to_str(),
        Some(first[0].as_str())
    );

    fs::write(src.join("plain.txt"), "changed\n").unwrap();
    let out = run_job(&spec_path);
    assert_code(&out, 0);
    let both = snapshots(root.path());
    assert_eq!(both.len(), 2, "{both:?}");
    let copy2 = job_dir(root.path())
        .join(&both[1])
        .join(src.strip_prefix("/").unwrap());
    assert_eq!(differences(&src, &copy2), "");
    for unchanged in [
        "hard-a",
        "sub dir/deeper/ünïcödé — файл.txt",
        "-leading-dash",
        "sparse.img",
        "foreign-owner",
        "secret",
    ] {
        assert_eq!(
            inode(&copy1.join(unchanged)),
            inode(&copy2.join(unchanged)),
            "{unchanged} was copied again instead of hard-linked"
        );
    }
    assert_ne!(
        inode(&copy1.join("plain.txt")),
        inode(&copy2.join("plain.txt"))
    );
    assert_eq!(
        fs::read_to_string(copy1.join("plain.txt")).unwrap(),
        "plain\n"
    );

    let status: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(root.join("state/status/files.json")).unwrap())
            .unwrap();
    assert_eq!(status["result"], "success");
    assert_eq!(status["files_transferred"], 1, "{status}");
    assert_eq!(status["snapshot"], both[1].as_str());
}

#[test]
#[ignore = "tier: system — needs root and an sshd; run by scripts/test"]
fn an_unknown_host_key_fails_the_run() {
    require_root();
    let root = TempDir::new("ssh-hostkey");
    let src = root.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "x").unwrap();
    let sshd = Sshd::start();
    fs::write(&sshd.known_hosts, "").unwrap();
    let mut spec = spec(root.path(), &[&src]);
    spec["remote"] = sshd.remote();
    let out = run_job(&write_spec(root.path(), &spec));
    assert_code(&out, 1);
    assert!(snapshots(root.path()).is_empty());
    let status = fs::read_to_string(root.join("state/status/files.json")).unwrap();
    assert!(status.contains("\"failed\""), "{status}");
}
