//! The simulated board's control socket: how a person (`host-edge gpio`)
//! or a test drives inputs, reads pins and follows the history. A Unix
//! socket in the provider's state directory, owner-only, speaking JSON
//! lines: one request object per line, one answer per line (`watch`
//! answers with one line per change until the client hangs up).
//!
//! Requests: `{"op":"pins"}`, `{"op":"set","pin":"button","level":"low"}`,
//! `{"op":"pulse","pin":"button","count":10000,"interval_us":100}`,
//! `{"op":"history","since":0}`, `{"op":"watch","since":0}`. Answers carry
//! `"ok": true`, or `"ok": false` and an `"error"`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use provider_sdk::codec::gpio::Level;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::backend::Sim;

/// The most edges one `pulse` request may drive, and the shortest interval.
const MAX_PULSES: u32 = 1_000_000;
const MIN_INTERVAL_US: u64 = 10;

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum Request {
    Pins,
    Set { pin: String, level: Level },
    Pulse { pin: String, count: u32, interval_us: u64 },
    History { #[serde(default)] since: u64 },
    Watch { #[serde(default)] since: u64 },
}

/// What the provider adds to the `pins` answer: holders and edge queues.
pub(crate) type Status = Box<dyn Fn() -> Value + Send + Sync>;

/// How long stopping waits for `watch` clients to receive the last changes
/// (the release of every pin).
const DRAIN: Duration = Duration::from_secs(2);

/// The number of `watch` streams open, so stopping can let them finish.
#[derive(Default)]
struct Watchers {
    open: Mutex<usize>,
    closed: Condvar,
}

impl Watchers {
    fn enter(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    fn leave(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.closed.notify_all();
    }

    fn wait_until_closed(&self, within: Duration) {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.closed.wait_timeout_while(open, within, |open| *open > 0);
    }
}

/// The listening socket and its accept thread.
pub(crate) struct Server {
    path: PathBuf,
    stopping: Arc<AtomicBool>,
    sim: Arc<Sim>,
    watchers: Arc<Watchers>,
}

impl Server {
    /// Listens at `path` (replacing a stale socket left by a killed host).
    pub(crate) fn start(path: &Path, sim: Arc<Sim>, status: Status) -> std::io::Result<Server> {
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another simulated board is listening there; give this one its own SIM_SOCKET",
            ));
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let stopping = Arc::new(AtomicBool::new(false));
        let watchers = Arc::new(Watchers::default());
        let server = Server {
            path: path.to_owned(),
            stopping: Arc::clone(&stopping),
            sim: Arc::clone(&sim),
            watchers: Arc::clone(&watchers),
        };
        let status: Arc<Status> = Arc::new(status);
        std::thread::Builder::new().name("gpio-sim-control".into()).spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (sim, stopping, status) = (Arc::clone(&sim), Arc::clone(&stopping), Arc::clone(&status));
                let watchers = Arc::clone(&watchers);
                let _ = std::thread::Builder::new()
                    .name("gpio-sim-client".into())
                    .spawn(move || serve(stream, &sim, &stopping, &status, &watchers));
            }
        })?;
        Ok(server)
    }

    /// The socket's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, ends every `watch` once it has sent the changes
    /// made so far (waiting a little for slow clients), and removes the
    /// socket.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        let _ = UnixStream::connect(&self.path);
        self.sim.wake_watchers();
        self.watchers.wait_until_closed(DRAIN);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The longest request line, in bytes: the largest request is a pin name
/// and a few numbers; a client sending more without a newline is answered
/// with an error and cut off, instead of being buffered without end.
pub(crate) const MAX_REQUEST_LINE: usize = 4096;

/// Answers one client's requests until it hangs up.
fn serve(stream: UnixStream, sim: &Sim, stopping: &AtomicBool, status: &Status, watchers: &Watchers) {
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut bytes = Vec::new();
        match (&mut reader).take(MAX_REQUEST_LINE as u64 + 1).read_until(b'\n', &mut bytes) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if bytes.len() > MAX_REQUEST_LINE {
            let refused = json!({"ok": false, "error": format!("a request line is at most {MAX_REQUEST_LINE} bytes")});
            let _ = writeln!(writer, "{refused}");
            return;
        }
        let Ok(line) = String::from_utf8(bytes) else {
            let refused = json!({"ok": false, "error": "a request line must be UTF-8 JSON"});
            if writeln!(writer, "{refused}").is_err() {
                return;
            }
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Request>(&line) {
            Err(e) => json!({"ok": false, "error": format!("not a request: {e}")}),
            Ok(Request::Watch { since }) => {
                watchers.enter();
                watch(&mut writer, sim, since, stopping);
                watchers.leave();
                return;
            }
            Ok(request) => answer(sim, request, status),
        };
        if writeln!(writer, "{answer}").is_err() {
            return;
        }
    }
}

fn answer(sim: &Sim, request: Request, status: &Status) -> Value {
    let result = match request {
        Request::Pins => {
            let mut answer = status();
            answer["ok"] = json!(true);
            answer["pins"] = json!(sim.pins());
            Ok(answer)
        }
        Request::Set { pin, level } => sim
            .drive(&pin, level)
            .map(|(pin, changed)| json!({"ok": true, "pin": pin, "level": level, "changed": changed}))
            .map_err(|e| e.to_string()),
        Request::Pulse { pin, count, interval_us } => {
            if count > MAX_PULSES || interval_us < MIN_INTERVAL_US {
                Err(format!("pulse drives at most {MAX_PULSES} edges, at least {MIN_INTERVAL_US} µs apart"))
            } else {
                sim.pulse(&pin, count, Duration::from_micros(interval_us))
                    .map(|took| json!({"ok": true, "edges": count, "elapsed_us": took.as_micros() as u64}))
                    .map_err(|e| e.to_string())
            }
        }
        Request::History { since } => {
            let changes = sim.changes(since, Duration::ZERO);
            Ok(json!({"ok": true, "changes": changes}))
        }
        Request::Watch { .. } => unreachable!("handled by the caller"),
    };
    result.unwrap_or_else(|error| json!({"ok": false, "error": error}))
}

/// Streams each change after `since` as a line, until the client hangs up
/// or the board stops.
fn watch(writer: &mut UnixStream, sim: &Sim, mut since: u64, stopping: &AtomicBool) {
    loop {
        // Once stopping, send what is left without waiting, then end.
        let last = stopping.load(Ordering::Relaxed);
        let wait = if last { Duration::ZERO } else { Duration::from_secs(1) };
        for change in sim.changes(since, wait) {
            since = change.seq;
            let line = json!({"ok": true, "change": change});
            if writeln!(writer, "{line}").is_err() {
                return;
            }
        }
        if last {
            return;
        }
    }
}
