//! The policy language: KDL files decoded into a spanned model.

mod decode;
pub mod model;
mod monitoring;
mod parse;
mod reader;
pub mod size;
mod structure;
mod text;

pub use decode::SETTINGS;
pub use model::*;
pub use parse::parse_policy;
