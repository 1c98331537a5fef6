//! Unit files from handlebars templates embedded in the binary. Templates hold no logic
//! beyond loops over lines computed (and escaped) in Rust.

use handlebars::Handlebars;
use serde::Serialize;

use super::escape::{exec_arg, verbatim};
use super::paths::{DEFAULT_BAKRUN, MAN_PAGE};
use crate::policy::Install;

#[derive(Clone)]
pub struct Templates {
    registry: Handlebars<'static>,
    install: InstallData,
}

/// What every unit says the same way for one policy, already escaped: `{{bakrun}}` (the
/// program of `ExecStart=`) and `{{documentation}}`.
#[derive(Debug, Clone, Serialize)]
pub struct InstallData {
    bakrun: String,
    documentation: String,
}

impl InstallData {
    pub fn of(install: Option<&Install>) -> Self {
        let bakrun = install
            .and_then(|i| i.bakrun.as_ref())
            .map_or(DEFAULT_BAKRUN, |b| b.value.as_str());
        let mut documentation = MAN_PAGE.to_owned();
        if let Some(url) = install.and_then(|i| i.documentation.as_ref()) {
            documentation.push(' ');
            documentation.push_str(&verbatim(&url.value));
        }
        Self {
            bakrun: exec_arg(bakrun),
            documentation,
        }
    }
}

/// A template's data with the policy's [`InstallData`] beside it.
#[derive(Serialize)]
struct WithInstall<'a, T: Serialize> {
    #[serde(flatten)]
    data: &'a T,
    #[serde(flatten)]
    install: &'a InstallData,
}

#[derive(Debug, thiserror::Error)]
#[error("internal error rendering {template}: {message}")]
pub struct RenderError {
    pub template: &'static str,
    pub message: String,
}

impl Templates {
    pub fn new() -> Result<Self, RenderError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        // Unit files are not HTML: escaping would corrupt values.
        registry.register_escape_fn(handlebars::no_escape);
        for (name, text) in [
            ("service", include_str!("templates/service.hbs")),
            ("timer", include_str!("templates/timer.hbs")),
            ("mount", include_str!("templates/mount.hbs")),
            ("automount", include_str!("templates/automount.hbs")),
            ("notify", include_str!("templates/notify.hbs")),
        ] {
            registry
                .register_template_string(name, text)
                .map_err(|e| RenderError {
                    template: "templates",
                    message: format!("{name}: {e}"),
                })?;
        }
        Ok(Self {
            registry,
            install: InstallData::of(None),
        })
    }

    /// The policy's install settings, for every unit rendered after this.
    pub fn set_install(&mut self, install: InstallData) {
        self.install = install;
    }

    pub fn render(
        &self,
        template: &'static str,
        data: &impl Serialize,
    ) -> Result<String, RenderError> {
        let text = self
            .registry
            .render(
                template,
                &WithInstall {
                    data,
                    install: &self.install,
                },
            )
            .map_err(|e| RenderError {
                template,
                message: e.to_string(),
            })?;
        whole_lines(&text).map_err(|message| RenderError { template, message })?;
        Ok(text)
    }
}

/// The last guard against unit directive injection: systemd ends a line at `\n`, `\r` or
/// NUL and joins a line ending in an odd run of backslashes to the next. Every value is
/// escaped (emit/escape.rs) so that neither happens; a unit where it would is never written.
fn whole_lines(text: &str) -> Result<(), String> {
    if let Some(c) = text.chars().find(|c| matches!(c, '\r' | '\0')) {
        return Err(format!("a value holds {c:?}, which would end a unit line"));
    }
    match text
        .lines()
        .find(|l| l.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1)
    {
        Some(line) => Err(format!("line {line:?} would continue onto the next")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::whole_lines;

    #[test]
    fn a_line_that_would_end_early_or_continue_is_refused() {
        assert!(whole_lines("[Unit]\nDescription=a\\\\\n").is_ok());
        assert!(whole_lines("[Unit]\nDescription=a\\\nRequiresMountsFor=/x\n").is_err());
        assert!(whole_lines("[Unit]\nDescription=a\rExecStartPre=+/x\n").is_err());
    }
}
