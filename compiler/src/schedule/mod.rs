//! Schedules: systemd calendar expressions, parsed and evaluated by bakgen itself.

mod calendar;
pub mod gap;
pub(crate) mod zone;

pub use calendar::{format_in_zone, CalendarError, CalendarSpec, Elapses};
pub use gap::GapCache;
pub use zone::local_timezone;
