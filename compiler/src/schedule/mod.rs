//! Schedules: systemd calendar expressions, parsed and evaluated by bakgen itself.

mod calendar;
mod zone;

pub use calendar::{CalendarError, CalendarSpec, Elapses};
pub use zone::local_timezone;
