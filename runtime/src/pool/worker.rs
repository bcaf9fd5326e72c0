//! One worker of a pool: a thread that owns one instance, takes jobs from
//! the pool's queue, and leaves when it has waited long enough without one.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{RecvTimeoutError, Sender};
use provider_abi::ErrorKind;

use super::reply::Reply;
use super::Shared;
use crate::engine::{Instance, InvokeError};

thread_local! {
    /// How the last failed host call of the call running on this worker
    /// thread failed (see [`note_host_failure`]).
    static HOST_FAILURE: Cell<Option<ErrorKind>> = const { Cell::new(None) };
}

/// Records, for the call running on this thread, that one of its host
/// calls failed with `kind`. If the actor then fails too, its error keeps
/// that kind ([`InvokeError::Failed`]): a request whose store is down fails
/// as `unavailable`, not as a plain actor error.
pub(crate) fn note_host_failure(kind: ErrorKind) {
    HOST_FAILURE.with(|f| f.set(Some(kind)));
}

thread_local! {
    /// The module key of the actor whose call the instance on this worker
    /// thread is serving, if an actor's (see [`current_origin`]).
    static ORIGIN: std::cell::RefCell<Option<Arc<str>>> = const { std::cell::RefCell::new(None) };
}

/// The module key of the actor that made the call running on this thread,
/// or `None` when a provider or the host made it: what the callee learns
/// through the `host-edge:context` namespace.
pub(crate) fn current_origin() -> Option<Arc<str>> {
    ORIGIN.with(|origin| origin.borrow().clone())
}

/// Runs `call` with `origin` as this thread's [`current_origin`], and puts
/// the previous one back after (a provider's call run nested on an
/// instance that waits in a host call has its own origin, none).
pub(crate) fn with_origin<R>(origin: Option<Arc<str>>, call: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<str>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ORIGIN.with(|origin| *origin.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(ORIGIN.with(|current| current.replace(origin)));
    call()
}

/// One call for the actor.
pub(super) struct Job {
    operation: String,
    payload: Vec<u8>,
    /// The calling actor's module key; `None` for providers and the host.
    origin: Option<Arc<str>>,
    /// When the caller stops waiting: a job still queued then is answered
    /// `timed out` without running.
    deadline: Option<Instant>,
    pub(super) reply: Reply,
}

impl Job {
    pub(super) fn new(
        origin: Option<Arc<str>>,
        operation: &str,
        payload: &[u8],
        deadline: Option<Instant>,
        reply: Reply,
    ) -> Job {
        Job { operation: operation.to_owned(), payload: payload.to_vec(), origin, deadline, reply }
    }
}

/// What the worker loop does next.
enum Next {
    Run(Job),
    /// Leave the pool, already counted out of the census.
    Leave,
}

pub(super) struct Worker {
    shared: Arc<Shared>,
    /// The memory this worker's instance last added to the gauges.
    memory: Cell<u64>,
}

impl Worker {
    pub(super) fn new(shared: Arc<Shared>) -> Worker {
        Worker { shared, memory: Cell::new(0) }
    }

    fn instantiate(&self) -> Result<Instance, InvokeError> {
        let shared = &self.shared;
        let instance = Instance::new(&shared.compiled, shared.limits, Arc::clone(&shared.actor), (shared.callbacks)())?;
        self.note_memory(instance.usage().memory);
        Ok(instance)
    }

    /// Moves the memory gauges by this instance's change.
    fn note_memory(&self, now: u64) {
        let before = self.memory.replace(now);
        if now != before {
            self.shared.metrics.memory(now as i64 - before as i64);
            self.shared.memory.fetch_add(now as i64 - before as i64, Ordering::Relaxed);
        }
    }

    /// Waits for the next job, already counted as waiting; when none comes
    /// within the idle time and the pool may shrink, leaves.
    fn next(&self) -> Next {
        let census = &self.shared.census;
        loop {
            match self.shared.queue.recv_timeout(self.shared.scaling.idle) {
                Ok(job) => return Next::Run(job),
                Err(RecvTimeoutError::Disconnected) => {
                    census.leave();
                    return Next::Leave;
                }
                Err(RecvTimeoutError::Timeout) if census.retire() => {
                    tracing::debug!(actor = %self.shared.actor, "an idle instance leaves the pool");
                    return Next::Leave;
                }
                // Needed for a job on its way, or kept as the pool's minimum.
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    pub(super) fn run(self, ready: Option<Sender<Result<(), InvokeError>>>) {
        let shared = Arc::clone(&self.shared);
        shared.metrics.instances(1);
        let mut instance = match self.instantiate() {
            Ok(instance) => Some(instance),
            // At start-up the pool fails as a whole; grown on demand, the
            // worker answers its calls with the error and retries.
            Err(e) => match &ready {
                Some(ready) => {
                    let _ = ready.send(Err(e));
                    shared.census.leave();
                    shared.metrics.instances(-1);
                    return;
                }
                None => {
                    tracing::error!(actor = %shared.actor, "a new instance cannot start: {e}");
                    None
                }
            },
        };
        // Counted as waiting before the pool's start returns, so a first
        // call finds this worker instead of starting another.
        shared.census.waiting();
        if let Some(ready) = ready {
            let _ = ready.send(Ok(()));
        }
        while let Next::Run(mut job) = self.next() {
            if instance.is_none() {
                instance = self.instantiate().ok();
            }
            if job.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                // Its caller has already been told it timed out: running it
                // now would do work nobody waits for, after the fact.
                tracing::debug!(actor = %shared.actor, operation = %job.operation, "dropping a call whose caller stopped waiting");
                shared.census.waiting();
                job.reply.send(Err(InvokeError::TimedOut(format!(
                    "the call to actor {} waited in its queue past the caller's deadline",
                    shared.actor
                ))));
                continue;
            }
            HOST_FAILURE.with(|f| f.set(None));
            let started = std::time::Instant::now();
            let result = with_origin(job.origin.take(), || match &instance {
                Some(live) => live.call(&job.operation, &job.payload),
                None => Err(InvokeError::Unavailable(format!(
                    "actor {} could not be re-instantiated",
                    shared.actor
                ))),
            });
            let result = match (result, HOST_FAILURE.with(Cell::take)) {
                (Err(InvokeError::Guest(message)), Some(kind)) => Err(InvokeError::Failed { kind, message }),
                (result, _) => result,
            };
            let usage = instance.as_ref().map(Instance::usage).unwrap_or_default();
            shared.metrics.call(started.elapsed(), usage.fuel, result.as_ref().err().map(InvokeError::kind));
            self.note_memory(usage.memory);
            if instance.as_ref().is_some_and(Instance::faulted) {
                let why = result.as_ref().err().map_or_else(|| "a nested call faulted".to_owned(), ToString::to_string);
                tracing::warn!(actor = %shared.actor, operation = %job.operation, "{why}; replacing the instance");
                instance = match self.instantiate() {
                    Ok(fresh) => Some(fresh),
                    Err(e) => {
                        tracing::error!(actor = %shared.actor, "cannot replace the instance: {e}");
                        self.note_memory(0);
                        None
                    }
                };
            }
            // Waiting again before the caller sees the answer: a caller
            // that calls again at once finds this worker, not an empty pool
            // that starts another.
            shared.census.waiting();
            job.reply.send(result);
        }
        drop(instance);
        self.note_memory(0);
        shared.metrics.instances(-1);
        crate::engine::trim_heap();
    }
}
