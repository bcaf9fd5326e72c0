//! How many workers an actor's pool has, how many wait for a job, and the
//! decisions that follow from it: when a call should start another worker
//! and when an idle one may leave.
//!
//! Kept apart from the threads and channels ([`super::worker`]) so the rules
//! can be read, and tested, on their own. Every count changes by one atomic
//! step; the one ordering that matters is that a caller counts its job
//! ([`Census::claim`]) before it queues it.

use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::SeqCst};
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
///
/// `idle` is the number of workers waiting for a job minus the jobs queued
/// for them: a caller counts its job against it *before* the job can be
/// taken ([`Census::claim`]), so a worker that wakes up at once cannot make
/// the caller think that no worker was there. It goes below zero while jobs
/// wait for a busy pool at its maximum.
#[derive(Debug)]
pub(crate) struct Census {
    /// The most workers the pool may have (the actor's `instances`).
    max: usize,
    /// The fewest it keeps when idle (at most `max`).
    min: usize,
    /// Workers started and not yet left.
    live: AtomicUsize,
    /// Workers waiting for a job, less the jobs queued and not yet taken.
    idle: AtomicIsize,
}

impl Census {
    /// The counts of a pool of up to `max` workers (at least one) keeping
    /// `min` of them (at most `max`); none started yet.
    pub(crate) fn new(max: usize, min: usize) -> Census {
        let max = max.max(1);
        Census { max, min: min.min(max), live: AtomicUsize::new(0), idle: AtomicIsize::new(0) }
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

    /// Counts a job about to be queued against the waiting workers; `true`
    /// when one of them will take it, `false` when none waits and the
    /// caller should [`Census::admit`] another worker.
    pub(crate) fn claim(&self) -> bool {
        self.idle.fetch_sub(1, SeqCst) > 0
    }

    /// A worker starts waiting for a job (once started, and after each job).
    pub(crate) fn waiting(&self) {
        self.idle.fetch_add(1, SeqCst);
    }

    /// An idle worker asks to leave: granted (and counted) while more
    /// workers wait than jobs are queued, and the pool has more than its
    /// minimum. A worker refused goes on waiting, still counted.
    pub(crate) fn retire(&self) -> bool {
        if self.idle.fetch_update(SeqCst, SeqCst, |idle| (idle > 0).then(|| idle - 1)).is_err() {
            // A job is queued for this worker, or about to be.
            return false;
        }
        if self.live.fetch_update(SeqCst, SeqCst, |live| (live > self.min).then(|| live - 1)).is_err() {
            self.idle.fetch_add(1, SeqCst);
            return false;
        }
        true
    }

    /// A worker leaves for good (the pool closed, or it could not start).
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
    fn a_job_that_finds_no_waiting_worker_admits_one_up_to_the_maximum() {
        let census = Census::new(2, 1);
        assert!(!census.claim(), "nobody waits yet");
        assert!(census.admit());
        census.waiting(); // the new worker takes the job
        assert!(!census.claim(), "the only worker is busy");
        assert!(census.admit());
        census.waiting();
        assert!(!census.claim());
        assert!(!census.admit(), "at the maximum the job waits in the queue");
        assert_eq!(census.live(), 2);
    }

    #[test]
    fn calls_made_one_after_another_are_taken_by_the_one_waiting_worker() {
        let census = Census::new(4, 1);
        assert!(census.admit());
        census.waiting();
        for _ in 0..100 {
            assert!(census.claim(), "the waiting worker takes it, however soon it wakes");
            census.waiting(); // done, before the caller sees the answer
        }
        assert_eq!(census.live(), 1);
    }

    #[test]
    fn a_worker_cannot_retire_while_a_job_is_queued_for_it() {
        let census = Census::new(2, 0);
        assert!(census.admit());
        census.waiting();
        assert!(census.claim(), "a job is on its way to the worker");
        assert!(!census.retire(), "it must stay for the job");
        census.waiting();
        assert!(census.retire());
        assert_eq!(census.live(), 0);
        assert!(!census.claim(), "the next job starts one again");
    }

    #[test]
    fn idle_workers_retire_down_to_the_minimum_and_no_further() {
        let census = Census::new(3, 1);
        for _ in 0..3 {
            assert!(census.admit());
            census.waiting();
        }
        assert!(census.retire());
        assert!(census.retire());
        assert!(!census.retire(), "the last one stays");
        assert_eq!(census.live(), 1);
        assert!(census.claim(), "and it still counts as waiting");
    }
}
