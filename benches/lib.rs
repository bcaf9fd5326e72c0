//! A minimal, bounded benchmark runner: every measurement stops at a count
//! or a time limit, whichever comes first, and reports the median.

use std::time::{Duration, Instant};

/// Runs `f` for up to `max_iterations` or `max_time` (after `warmup`
/// untimed runs) and prints the median, 10th and 90th percentile.
pub fn measure(name: &str, warmup: u32, max_iterations: u32, max_time: Duration, mut f: impl FnMut()) -> Duration {
    for _ in 0..warmup {
        f();
    }
    let mut samples = Vec::with_capacity(max_iterations as usize);
    let start = Instant::now();
    while samples.len() < max_iterations as usize && start.elapsed() < max_time {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    let median = at(0.5);
    println!(
        "{name:<44} median {:>10.2?}   p10 {:>10.2?}   p90 {:>10.2?}   n={}",
        median,
        at(0.1),
        at(0.9),
        samples.len()
    );
    median
}
