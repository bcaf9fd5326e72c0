//! Sampling calls on a schedule: with the link value `SAMPLE_EVERY`, a
//! sensor provider calls the actor's `Sample` handler every interval, as
//! EdgeX's auto events read a device every interval, so an actor that reads
//! a sensor needs no request from outside to do it (waPC has no timers).
//! Every provider that offers it reads the value and runs the schedule
//! here, so they all behave alike.
//!
//! One thread per sampled link, and never more than one call in flight:
//! an interval that passes while the actor is still busy is skipped and
//! counted in the next call's `missed`, not queued, so a slow actor cannot
//! pile up work.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use codec::sample::{Sample, OP_SAMPLE};

use crate::{Host, Level, ProviderError, Setting, SettingScope};

/// The link value that asks for sampling calls.
pub const SAMPLE_EVERY: &str = "SAMPLE_EVERY";

/// The shortest interval a link may ask for.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// The longest: a day (a longer one would overflow the clock's
/// arithmetic, and no sensor waits so long).
pub const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

/// The declaration of [`SAMPLE_EVERY`], for a provider's settings.
pub fn setting() -> Setting {
    Setting::text(SAMPLE_EVERY, SettingScope::Link, Some(""), "call the actor's Sample handler this often (`5s`, `250ms`); empty: never")
}

/// Why a `SAMPLE_EVERY` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SAMPLE_EVERY: `{value}` {problem}")]
pub struct IntervalError {
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Reads a `SAMPLE_EVERY` value: `None` when empty.
pub fn interval(text: &str) -> Result<Option<Duration>, IntervalError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let fail = |problem| IntervalError { value: text.to_owned(), problem };
    let every = humantime::parse_duration(text).map_err(|_| fail("is not a duration such as `5s` or `250ms`"))?;
    if every < MIN_INTERVAL {
        return Err(fail("is shorter than the shortest interval, 10ms"));
    }
    if every > MAX_INTERVAL {
        return Err(fail("is longer than the longest interval, a day"));
    }
    Ok(Some(every))
}

/// The schedules of a provider's bound actors, at most one each: what a
/// sensor provider keeps so that binding, replacing, unbinding and
/// stopping start and end them alike everywhere.
#[derive(Default)]
pub struct Schedules {
    running: Mutex<BTreeMap<String, Schedule>>,
    /// Schedules that were stopped and may still be in a call; joined when
    /// the provider stops, or dropped once finished.
    ended: Mutex<Vec<Schedule>>,
}

impl Schedules {
    /// Starts `actor`'s schedule as its link values ask (`SAMPLE_EVERY`),
    /// ending the one it had (an update or a relink starts afresh).
    pub fn bind(&self, host: &Host, actor: &str, values: &BTreeMap<String, String>) -> Result<(), ProviderError> {
        let every = interval(values.get(SAMPLE_EVERY).map_or("", String::as_str)).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        let started = every
            .map(|every| Schedule::start(host.clone(), actor.to_owned(), every))
            .transpose()
            .map_err(|e| ProviderError::new(format!("cannot start sampling for actor {actor}: {e}")))?;
        let replaced = {
            let mut running = lock(&self.running);
            match started {
                Some(schedule) => running.insert(actor.to_owned(), schedule),
                None => running.remove(actor),
            }
        };
        self.end(replaced);
        Ok(())
    }

    /// Ends `actor`'s schedule, if it has one, after the call in hand.
    pub fn remove(&self, actor: &str) {
        let removed = lock(&self.running).remove(actor);
        self.end(removed);
    }

    /// Ends every schedule and waits for their threads. Call it with
    /// nothing locked: the call in hand may be calling the provider.
    pub fn stop(&self) {
        let running = std::mem::take(&mut *lock(&self.running));
        for (_, schedule) in running {
            self.end(Some(schedule));
        }
        let ended = std::mem::take(&mut *lock(&self.ended));
        for schedule in ended {
            schedule.join();
        }
    }

    fn end(&self, schedule: Option<Schedule>) {
        if let Some(schedule) = schedule {
            schedule.stop();
            let mut ended = lock(&self.ended);
            // Those that ended already need no join: dropping them keeps
            // relinks from piling up handles until the provider stops.
            ended.retain(|ended| !ended.thread.is_finished());
            ended.push(schedule);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// A running schedule of sampling calls to one actor.
struct Schedule {
    stop: Arc<Stop>,
    thread: JoinHandle<()>,
}

impl Schedule {
    /// Calls `actor` (module key) every `every`, from now on.
    fn start(host: Host, actor: String, every: Duration) -> std::io::Result<Schedule> {
        let stop = Arc::new(Stop::default());
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new().name("sample".into()).spawn(move || run(&host, &actor, every, &stop))?
        };
        Ok(Schedule { stop, thread })
    }

    /// Ends the schedule after the call in hand, without waiting for it
    /// (the actor's handler may be calling the provider).
    fn stop(&self) {
        *self.stop.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stop.wake.notify_all();
    }

    /// Stops the schedule and waits for its thread.
    fn join(self) {
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
        let payload = codec::serialize(&Sample { sequence, missed }).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_is_a_duration_of_at_least_10ms() {
        assert_eq!(interval(" ").unwrap(), None);
        assert_eq!(interval("250ms").unwrap(), Some(Duration::from_millis(250)));
        assert_eq!(interval("5s").unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(interval("1ms").unwrap_err().to_string(), "SAMPLE_EVERY: `1ms` is shorter than the shortest interval, 10ms");
        assert!(interval("often").unwrap_err().to_string().contains("is not a duration"));
        let err = interval("300000000000y").unwrap_err().to_string();
        assert_eq!(err, "SAMPLE_EVERY: `300000000000y` is longer than the longest interval, a day", "no overflow of the clock");
    }
}
