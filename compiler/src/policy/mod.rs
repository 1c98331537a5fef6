//! The policy language: KDL files decoded into a spanned model.

mod decode;
pub mod model;
mod monitoring;
mod parse;
mod reader;
mod repository;
pub mod size;
mod structure;
mod text;

pub(crate) use decode::relative_path;
pub(crate) use decode::RETENTION_KEYS;
pub use model::*;
pub use parse::parse_policy;
pub use repository::Repository;
