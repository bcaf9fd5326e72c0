//! `wascc:logging`: an actor's log lines in the host's own log.
//!
//! Each `WriteLog` becomes a `tracing` event with target `actor`, at the
//! level the actor asked for, carrying the actor's name, module key and
//! binding as fields; `RUST_LOG=actor=debug` shows an actor's debug lines.
//! A token bucket per actor keeps a chatty actor from flooding the journal
//! of a board with a small SD card: lines past the limit are dropped and
//! counted, and the count is logged once lines flow again. Control
//! characters are escaped, so an actor cannot forge a line of the host's
//! log, and a line is cut at [`MAX_LINE`] bytes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use codec::logging::{WriteLogRequest, OP_LOG};
use provider_abi::Failure;

use super::{bad_payload, unknown_operation, Caller};
use crate::capability::WellKnown;

/// The longest line logged, in bytes of the actor's text; the rest is cut
/// and its length noted.
pub const MAX_LINE: usize = 4096;

/// How many lines an actor may log: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimit {
    /// Lines per second, sustained.
    pub per_second: u32,
    /// Lines an actor may log at once after a quiet spell.
    pub burst: u32,
}

impl Default for LogLimit {
    /// 50 lines a second, bursts of 200: far more than a healthy actor
    /// logs, far less than a loop can.
    fn default() -> Self {
        LogLimit { per_second: 50, burst: 200 }
    }
}

/// One actor's bucket (one instance's, for WASI's stdout and stderr).
#[derive(Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    refilled: Instant,
    /// Lines dropped since the last one logged.
    pub(crate) dropped: u64,
}

impl Bucket {
    pub(crate) fn full(limit: LogLimit, now: Instant) -> Bucket {
        Bucket { tokens: f64::from(limit.burst), refilled: now, dropped: 0 }
    }

    /// Takes a token if there is one; refills first.
    pub(crate) fn take(&mut self, limit: LogLimit, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(limit.per_second)).min(f64::from(limit.burst));
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

/// The built-in logging handler.
#[derive(Debug)]
pub struct Logging {
    limit: LogLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Logging {
    /// A handler applying `limit` to each actor.
    pub fn new(limit: LogLimit) -> Logging {
        Logging { limit, buckets: Mutex::new(HashMap::new()) }
    }

    /// Handles one `WriteLog`.
    pub fn handle(&self, caller: Caller<'_>, operation: &str, payload: &[u8]) -> Result<Vec<u8>, Failure> {
        if operation != OP_LOG {
            return Err(unknown_operation(WellKnown::Logging, operation, &[OP_LOG]));
        }
        let request: WriteLogRequest =
            codec::deserialize(payload).map_err(|e| bad_payload(WellKnown::Logging, operation, e))?;
        match self.admit(caller.key, Instant::now()) {
            Admission::Drop => {}
            Admission::Log { dropped } => {
                if dropped > 0 {
                    tracing::warn!(
                        target: "actor",
                        actor = %caller.key,
                        name = caller.name,
                        dropped,
                        "{dropped} log lines of {} were dropped: over {} lines/s (bursts of {})",
                        caller.name,
                        self.limit.per_second,
                        self.limit.burst
                    );
                }
                emit(caller, request.level, &printable(&request.body));
            }
        }
        // waSCC's SDK ignores the reply; newer ones decode a unit.
        codec::serialize(&()).map_err(|e| Failure::new(provider_abi::ErrorKind::Failed, e.to_string()))
    }

    fn admit(&self, actor: &str, now: Instant) -> Admission {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(actor.to_owned()).or_insert_with(|| Bucket::full(self.limit, now));
        if bucket.take(self.limit, now) {
            Admission::Log { dropped: std::mem::take(&mut bucket.dropped) }
        } else {
            Admission::Drop
        }
    }
}

/// Whether a line is logged, and how many were dropped before it.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    Log { dropped: u64 },
    Drop,
}

/// Logs `body` at the actor's `level` (1 error … 5 trace; anything else is
/// logged at info with the level it named).
fn emit(caller: Caller<'_>, level: u32, body: &str) {
    let (key, name, binding) = (caller.key, caller.name, caller.binding);
    match level {
        1 => tracing::error!(target: "actor", actor = %key, name, binding, "{body}"),
        2 => tracing::warn!(target: "actor", actor = %key, name, binding, "{body}"),
        3 => tracing::info!(target: "actor", actor = %key, name, binding, "{body}"),
        4 => tracing::debug!(target: "actor", actor = %key, name, binding, "{body}"),
        5 => tracing::trace!(target: "actor", actor = %key, name, binding, "{body}"),
        other => tracing::info!(target: "actor", actor = %key, name, binding, level = other, "{body}"),
    }
}

/// `body` with control characters escaped and cut at [`MAX_LINE`] bytes.
pub(crate) fn printable(body: &str) -> String {
    let mut cut = body.len().min(MAX_LINE);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut line = String::with_capacity(cut + 16);
    for c in body[..cut].chars() {
        match c {
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(line, "\\u{{{:x}}}", c as u32);
            }
            c => line.push(c),
        }
    }
    if cut < body.len() {
        let _ = write!(line, "… ({} bytes more)", body.len() - cut);
    }
    line
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_is_logged_then_lines_are_dropped_until_the_bucket_refills() {
        let logging = Logging::new(LogLimit { per_second: 10, burst: 3 });
        let start = Instant::now();
        let admitted: Vec<_> = (0..5).map(|_| logging.admit("M1", start)).collect();
        assert_eq!(
            admitted,
            [
                Admission::Log { dropped: 0 },
                Admission::Log { dropped: 0 },
                Admission::Log { dropped: 0 },
                Admission::Drop,
                Admission::Drop
            ]
        );
        // A tenth of a second later one token is back, and the two drops are told.
        assert_eq!(logging.admit("M1", start + Duration::from_millis(100)), Admission::Log { dropped: 2 });
        assert_eq!(logging.admit("M1", start + Duration::from_millis(100)), Admission::Drop);
    }

    #[test]
    fn each_actor_has_its_own_bucket() {
        let logging = Logging::new(LogLimit { per_second: 1, burst: 1 });
        let now = Instant::now();
        assert_eq!(logging.admit("M1", now), Admission::Log { dropped: 0 });
        assert_eq!(logging.admit("M1", now), Admission::Drop);
        assert_eq!(logging.admit("M2", now), Admission::Log { dropped: 0 });
    }

    #[test]
    fn control_characters_cannot_forge_a_log_line() {
        assert_eq!(printable("ok\n2026-01-01 ERROR fake\u{1b}[31m"), "ok\\n2026-01-01 ERROR fake\\u{1b}[31m");
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        let body = "é".repeat(MAX_LINE);
        let line = printable(&body);
        assert!(line.starts_with("éé"));
        assert!(line.ends_with(&format!("… ({} bytes more)", body.len() - MAX_LINE)), "{}", &line[line.len() - 40..]);
    }

    #[test]
    fn an_unknown_operation_is_refused_by_name() {
        let logging = Logging::new(LogLimit::default());
        let caller = Caller { key: "M1", name: "a", binding: "default" };
        let err = logging.handle(caller, "WriteLogs", &[]).unwrap_err();
        assert_eq!(err.kind, provider_abi::ErrorKind::BadRequest);
        assert!(err.message.contains("`WriteLogs`"), "{}", err.message);
    }
}
