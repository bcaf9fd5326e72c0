//! How many workers an actor's pool has, how many wait for a job, and the
//! decisions that follow from it: when a call should start another worker
//! and when an idle one may leave.
//!
//! Kept apart from the threads and channels ([`super::worker`]) so the rules
//! can be read, and tested, on their own. Every count changes by one atomic
//! step; the one ordering that matters is documented at [`Census::retire`].

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// How a pool grows and shrinks between its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scaling {
    /// Instances kept even when idle; `0` lets an idle actor go to none (its
    /// next call then pays for a new instance).
    pub min: usize,
    /// How long a worker waits for a job before it leaves, when the pool
    /// has more than `min`.
    pub idle: Duration,
}

impl Scaling {
    /// One instance kept; others leave after 30 s without a call.
    pub const DEFAULT: Scaling = Scaling { min: 1, idle: Duration::from_secs(30) };

    /// Every instance kept from the start: a pool of fixed size.
    pub const FIXED: Scaling = Scaling { min: usize::MAX, idle: Duration::MAX };
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling::DEFAULT
    }
}

/// The counts of one pool.
#[derive(Debug)]
pub(crate) struct Census {
    /// The most workers the pool may have (the actor's `instances`).
    max: usize,
    /// The fewest it keeps when idle (at most `max`).
    min: usize,
    /// Workers started and not yet left.
    live: AtomicUsize,
    /// Workers waiting for a job now.
    idle: AtomicUsize,
}

impl Census {
    /// The counts of a pool of up to `max` workers (at least one) keeping
    /// `min` of them (at most `max`); none started yet.
    pub(crate) fn new(max: usize, min: usize) -> Census {
        let max = max.max(1);
        Census { max, min: min.min(max), live: AtomicUsize::new(0), idle: AtomicUsize::new(0) }
    }

    /// The most workers the pool may have.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// How many workers the pool starts with: its minimum, and at least one,
    /// so that a module that cannot be instantiated fails at start.
    pub(crate) fn initial(&self) -> usize {
        self.min.max(1)
    }

    /// Workers now.
    pub(crate) fn live(&self) -> usize {
        self.live.load(SeqCst)
    }

    /// Counts a worker about to start, if the pool is below its maximum.
    pub(crate) fn admit(&self) -> bool {
        self.live.fetch_update(SeqCst, SeqCst, |live| (live < self.max).then_some(live + 1)).is_ok()
    }

    /// Whether a job just queued finds no worker waiting, so that the caller
    /// should [`Census::admit`] another. Read after the job is queued.
    pub(crate) fn wants_worker(&self) -> bool {
        self.idle.load(SeqCst) == 0 && self.live.load(SeqCst) < self.max
    }

    /// A worker starts waiting for a job.
    pub(crate) fn waiting(&self) {
        self.idle.fetch_add(1, SeqCst);
    }

    /// A worker stops waiting (it took a job, timed out or the pool closed).
    pub(crate) fn busy(&self) {
        self.idle.fetch_sub(1, SeqCst);
    }

    /// An idle worker asks to leave: granted (and counted) while the pool
    /// has more than its minimum. A worker that left must then look at the
    /// queue once more and [`Census::admit`] itself back for a job it finds:
    /// a caller that queued a job while this worker still counted as
    /// waiting started no worker for it.
    pub(crate) fn retire(&self) -> bool {
        self.live.fetch_update(SeqCst, SeqCst, |live| (live > self.min).then(|| live - 1)).is_ok()
    }

    /// A worker that retired takes back a job it found queued although the
    /// pool filled up meanwhile: for as long as it then waits, the pool has
    /// one worker over its maximum.
    pub(crate) fn rejoin(&self) {
        self.live.fetch_add(1, SeqCst);
    }

    /// A worker leaves for good (the pool closed, or its thread ends).
    pub(crate) fn leave(&self) {
        self.live.fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_starts_with_its_minimum_and_at_least_one_worker() {
        assert_eq!(Census::new(4, 1).initial(), 1);
        assert_eq!(Census::new(4, 0).initial(), 1);
        assert_eq!(Census::new(4, 3).initial(), 3);
        assert_eq!(Census::new(2, 9).initial(), 2, "the minimum is capped at the maximum");
        assert_eq!(Census::new(0, 0).max(), 1);
    }

    #[test]
    fn a_queued_job_with_no_waiting_worker_admits_one_up_to_the_maximum() {
        let census = Census::new(2, 1);
        assert!(census.wants_worker());
        assert!(census.admit());
        census.waiting();
        assert!(!census.wants_worker(), "a waiting worker takes the job");
        census.busy();
        assert!(census.wants_worker());
        assert!(census.admit());
        assert!(!census.wants_worker(), "at the maximum");
        assert!(!census.admit());
        assert_eq!(census.live(), 2);
    }

    #[test]
    fn idle_workers_retire_down_to_the_minimum_and_no_further() {
        let census = Census::new(3, 1);
        for _ in 0..3 {
            assert!(census.admit());
        }
        assert!(census.retire());
        assert!(census.retire());
        assert!(!census.retire(), "the last one stays");
        assert_eq!(census.live(), 1);
        let to_zero = Census::new(3, 0);
        assert!(to_zero.admit());
        assert!(to_zero.retire());
        assert_eq!(to_zero.live(), 0);
        assert!(to_zero.wants_worker(), "the next job starts one again");
    }
}
