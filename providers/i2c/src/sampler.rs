//! A link's sampling calls: with `SAMPLE_EVERY`, the provider calls the
//! actor's `Sample` handler on a schedule, as EdgeX's auto events read a
//! device every interval, so an actor that reads a sensor needs no
//! request from outside to do it (waPC has no timers).
//!
//! One thread per sampled link, and never more than one call in flight:
//! an interval that passes while the actor is still busy is skipped and
//! counted in the next call's `missed`, not queued, so a slow actor cannot
//! pile up work.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use provider_sdk::codec::i2c::{Sample, OP_SAMPLE};
use provider_sdk::{Host, Level};

#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// A running schedule.
pub(crate) struct Sampler {
    stop: Arc<Stop>,
    thread: JoinHandle<()>,
}

impl Sampler {
    /// Calls `actor` every `every`, from now on.
    pub(crate) fn start(host: Host, actor: String, every: Duration) -> std::io::Result<Sampler> {
        let stop = Arc::new(Stop::default());
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new().name("i2c-sample".into()).spawn(move || run(&host, &actor, every, &stop))?
        };
        Ok(Sampler { stop, thread })
    }

    /// Ends the schedule after the call in hand, without waiting for it
    /// (the actor's handler may be calling this provider).
    pub(crate) fn stop(&self) {
        *self.stop.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stop.wake.notify_all();
    }

    /// Stops the schedule and waits for its thread.
    pub(crate) fn join(self) {
        self.stop();
        let _ = self.thread.join();
    }
}

/// Waits until `deadline`; false if the schedule was stopped first.
fn wait(stop: &Stop, deadline: Instant) -> bool {
    let mut stopped = stop.stopped.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if *stopped {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        stopped = stop.wake.wait_timeout(stopped, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
    }
}

fn run(host: &Host, actor: &str, every: Duration, stop: &Stop) {
    let (mut next, mut sequence, mut missed, mut failing) = (Instant::now() + every, 0u64, 0u64, false);
    while wait(stop, next) {
        let payload = provider_sdk::codec::serialize(&Sample { sequence, missed }).unwrap_or_default();
        match host.dispatch(actor, OP_SAMPLE, &payload) {
            Ok(_) if failing => {
                failing = false;
                host.log(Level::Info, &format!("actor={actor}: sampling calls succeed again"));
            }
            Ok(_) => {}
            // Said once per run of failures: an actor without a Sample
            // handler would fill the log otherwise.
            Err(e) if !failing => {
                failing = true;
                host.log(Level::Warn, &format!("actor={actor}: a sampling call failed (said once until one succeeds): {e}"));
            }
            Err(_) => {}
        }
        sequence += 1;
        let now = Instant::now();
        next += every;
        missed = 0;
        while next <= now {
            next += every;
            missed += 1;
        }
    }
}
