//! Schedules: systemd calendar expressions, parsed and evaluated by bakgen itself.
