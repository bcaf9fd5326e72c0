//! The time each phase of a task took, printed when the task ends, so that
//! a CI log says where its minutes went (docs/benchmarks.md keeps them).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The phases finished so far, in order.
static FINISHED: Mutex<Vec<(String, Duration)>> = Mutex::new(Vec::new());

/// Runs `phase`, recording how long it took under `name`.
pub fn timed<T>(name: &str, phase: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = phase();
    record(name, started.elapsed());
    result
}

/// Records that the phase `name` took `elapsed`.
pub fn record(name: &str, elapsed: Duration) {
    eprintln!("xtask: phase `{name}` took {:.0} s", elapsed.as_secs_f64());
    FINISHED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((name.to_owned(), elapsed));
}

/// Prints every phase's time and their sum, and the compiler cache's counts.
pub fn report(task: &str) {
    let finished = FINISHED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if finished.is_empty() {
        return;
    }
    let total: Duration = finished.iter().map(|(_, took)| *took).sum();
    eprintln!("xtask: {task}: {:.0} s in all", total.as_secs_f64());
    for (name, took) in finished.iter() {
        eprintln!("xtask:   {name:<40} {:>6.0} s", took.as_secs_f64());
    }
    if let Some(stats) = super::cache::stats() {
        eprintln!("xtask: {stats}");
    }
}
