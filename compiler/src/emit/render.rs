//! Unit files from handlebars templates embedded in the binary. Templates hold no logic
//! beyond loops over lines computed (and escaped) in Rust.

use handlebars::Handlebars;
use serde::Serialize;

pub struct Templates {
    registry: Handlebars<'static>,
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
        Ok(Self { registry })
    }

    pub fn render(
        &self,
        template: &'static str,
        data: &impl Serialize,
    ) -> Result<String, RenderError> {
        self.registry
            .render(template, data)
            .map_err(|e| RenderError {
                template,
                message: e.to_string(),
            })
    }
}
