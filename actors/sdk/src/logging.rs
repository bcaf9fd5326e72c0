//! `wascc:logging` behind the `log` facade: `info!`, `warn!` and the rest
//! go to the host's log with the actor's name and key, built into the host
//! (no provider or manifest entry needed).
//!
//! ```no_run
//! use host_edge_actor::prelude::*;
//!
//! # fn f(celsius: f32) {
//! if celsius > 70.0 {
//!     warn!("the CPU is at {celsius} °C");
//! }
//! # }
//! ```
//!
//! [`actor_handlers!`](crate::actor_handlers) installs the logger. Every
//! level is sent; the host filters what it prints and rate-limits each
//! actor. Lower the cost of a chatty actor with [`set_max_level`].

use codec::logging::{WriteLogRequest, OP_LOG};
use log::{Level, LevelFilter, Metadata, Record};

use crate::guest::call_raw;

/// The capability id.
pub const CAPABILITY: &str = "wascc:logging";

/// Sends the lines of the `log` macros to the host.
struct HostLogger;

static LOGGER: HostLogger = HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            // A line that cannot be logged has nowhere else to go.
            let _ = write(record.level(), &record.args().to_string());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger (once; later calls change nothing).
pub(crate) fn install() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Trace);
    }
}

/// Sends only lines at `level` or more severe from now on.
pub fn set_max_level(level: LevelFilter) {
    log::set_max_level(level);
}

/// Writes one line at `level`, as the macros do.
pub fn write(level: Level, text: &str) -> Result<(), crate::Error> {
    // waSCC's levels: 1 error ... 5 trace, the order of `log::Level`.
    let request = WriteLogRequest { level: level as u32, body: text.to_owned() };
    call_raw("default", CAPABILITY, OP_LOG, &request).map(drop)
}
