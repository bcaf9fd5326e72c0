//! A pool of instances of one actor, each on its own worker thread, that
//! grows under load and shrinks when idle.
//!
//! `wapc::WapcHost` is not `Send`, so an instance is created, called and
//! dropped on one thread. A pool's workers share one job queue, so one slow
//! call does not hold up the others, and a worker whose instance trapped or
//! ran out of fuel replaces it before taking the next job.
//!
//! A pool starts with its minimum of workers ([`Scaling::min`], at least
//! one, so a module that cannot be instantiated fails at start). A call that
//! finds no worker waiting starts another, up to the actor's `instances`; a
//! worker that waits [`Scaling::idle`] without a call leaves while the pool
//! has more than its minimum. An idle actor costs its minimum of instances.
//! The counts and rules are in [`census`], the worker loop in [`worker`].
//!
//! The queue is bounded ([`QUEUE_LIMIT`]): a caller that finds it full is
//! refused at once instead of piling up memory behind a slow or stuck actor,
//! and a call whose caller has stopped waiting (its deadline passed while it
//! was queued) is answered `timed out` without running.

mod census;
mod reply;
mod worker;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender, TrySendError};

use crate::engine::{CompiledModule, InvokeError, Limits};
use crate::metrics::ActorMetrics;

pub use census::Scaling;
pub use reply::Then;
pub(crate) use worker::{current_origin, note_host_failure, with_origin};

use census::Census;
use reply::{Outcome, Reply};
use worker::{Job, Worker};

/// The most calls one actor's queue holds, waiting for an instance; a call
/// beyond it is refused as `unavailable`. Generous for bursts (an HTTP
/// server's connections, a broker's backlog), small enough that a flood of
/// calls to a stuck actor costs kilobytes, not the board's memory.
pub const QUEUE_LIMIT: usize = 1024;

/// Makes the host-call handler for each new instance.
pub type CallbackFactory = Arc<dyn Fn() -> Box<wapc::HostCallback> + Send + Sync>;

/// What every worker of a pool shares.
struct Shared {
    actor: Arc<str>,
    compiled: CompiledModule,
    limits: Limits,
    callbacks: CallbackFactory,
    metrics: Arc<ActorMetrics>,
    scaling: Scaling,
    census: Census,
    /// Linear memory of the pool's instances now, bytes.
    memory: AtomicI64,
    queue: Receiver<Job>,
    /// Threads started, joined when the pool is dropped (finished ones are
    /// dropped as new ones start).
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A running pool of actor instances.
pub struct ActorPool {
    shared: Arc<Shared>,
    jobs: Option<Sender<Job>>,
}

impl std::fmt::Debug for ActorPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorPool")
            .field("actor", &self.shared.actor)
            .field("instances", &self.instances())
            .field("max_instances", &self.max_instances())
            .finish()
    }
}

impl ActorPool {
    /// Starts a pool of up to `instances` workers (at least one), each
    /// instantiating `compiled`, scaled by `scaling`, counting their calls
    /// in `metrics`. Fails, with every worker stopped, when an instance
    /// cannot start.
    pub fn start(
        actor: Arc<str>,
        compiled: &CompiledModule,
        instances: usize,
        limits: Limits,
        scaling: Scaling,
        callbacks: CallbackFactory,
        metrics: Arc<ActorMetrics>,
    ) -> Result<ActorPool, InvokeError> {
        let (jobs, queue) = bounded::<Job>(QUEUE_LIMIT);
        let census = Census::new(instances, scaling.min);
        let shared = Arc::new(Shared {
            actor,
            compiled: compiled.clone(),
            limits,
            callbacks,
            metrics,
            scaling,
            census,
            memory: AtomicI64::new(0),
            queue,
            threads: Mutex::new(Vec::new()),
        });
        let pool = ActorPool { shared, jobs: Some(jobs) };
        let (ready_tx, ready_rx) = unbounded::<Result<(), InvokeError>>();
        let initial = pool.shared.census.initial();
        for _ in 0..initial {
            if !pool.shared.census.admit() {
                break;
            }
            pool.spawn(Some(ready_tx.clone()))?;
        }
        drop(ready_tx);
        for _ in 0..initial {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(InvokeError::Start("a worker exited during start-up".into())),
            }
        }
        Ok(pool)
    }

    /// Starts one worker thread, already admitted by the census; it reports
    /// its first instance to `ready` when given one.
    fn spawn(&self, ready: Option<Sender<Result<(), InvokeError>>>) -> Result<(), InvokeError> {
        let shared = Arc::clone(&self.shared);
        let mut threads = self.shared.threads.lock().unwrap_or_else(|e| e.into_inner());
        threads.retain(|thread| !thread.is_finished());
        let spawned = std::thread::Builder::new()
            .name(format!("actor-{}", threads.len()))
            .spawn(move || Worker::new(shared).run(ready));
        match spawned {
            Ok(thread) => {
                threads.push(thread);
                Ok(())
            }
            Err(e) => {
                self.shared.census.leave();
                Err(InvokeError::Start(format!("cannot spawn a worker thread: {e}")))
            }
        }
    }

    /// Calls `operation` on the next free instance and waits for its reply.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, InvokeError> {
        let answer = self.call_waiting(None, operation, payload, None)?;
        answer.recv().map_err(|_| self.unavailable())?
    }

    /// Like [`ActorPool::call`], but gives up waiting after `timeout`; a
    /// call still queued then is dropped unrun, one already running runs to
    /// completion, bounded by its fuel. `origin` is the module key of the
    /// calling actor, which the instance can ask for while it serves the
    /// call ([`current_origin`]); `None` for a call from a provider or the
    /// host.
    pub fn call_timeout(
        &self,
        origin: Option<Arc<str>>,
        operation: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, InvokeError> {
        let answer = self.call_waiting(origin, operation, payload, Instant::now().checked_add(timeout))?;
        answer.recv_timeout(timeout).map_err(|e| match e {
            crossbeam_channel::RecvTimeoutError::Timeout => InvokeError::TimedOut(format!(
                "actor {} did not answer within {timeout:?}",
                self.shared.actor
            )),
            crossbeam_channel::RecvTimeoutError::Disconnected => self.unavailable(),
        })?
    }

    /// Queues `operation` for the next free instance and returns at once;
    /// the worker that runs it calls `then` with the outcome, exactly once
    /// (`unavailable` if the pool stops first). No thread waits meanwhile.
    pub fn call_then(&self, operation: &str, payload: &[u8], then: Then) {
        // A job that cannot be queued is dropped, which answers `then`.
        let _ = self.submit(Job::new(None, operation, payload, None, Reply::then(Arc::clone(&self.shared.actor), then)));
    }

    fn unavailable(&self) -> InvokeError {
        shut_down(&self.shared.actor)
    }

    fn call_waiting(
        &self,
        origin: Option<Arc<str>>,
        operation: &str,
        payload: &[u8],
        deadline: Option<Instant>,
    ) -> Result<Receiver<Outcome>, InvokeError> {
        let (reply, answer) = bounded(1);
        self.submit(Job::new(origin, operation, payload, deadline, Reply::wait(reply)))?;
        Ok(answer)
    }

    fn submit(&self, job: Job) -> Result<(), InvokeError> {
        let jobs = self.jobs.as_ref().ok_or_else(|| self.unavailable())?;
        // Counted before it is queued: see `Census`.
        let taken = self.shared.census.claim();
        match jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                // Not queued after all: give the count back. Dropping the
                // job answers a `then` caller with the pool's shutdown
                // error, so answer it with the real reason first.
                self.shared.census.waiting();
                let refused = InvokeError::Unavailable(format!(
                    "actor {} is overloaded: {QUEUE_LIMIT} calls are already queued",
                    self.shared.actor
                ));
                tracing::warn!(actor = %self.shared.actor, "{refused}");
                job.reply.send(Err(refused.clone()));
                return Err(refused);
            }
            Err(TrySendError::Disconnected(_)) => return Err(self.unavailable()),
        }
        if !taken && self.shared.census.admit() {
            if let Err(e) = self.spawn(None) {
                tracing::warn!(actor = %self.shared.actor, "the pool cannot grow: {e}");
            }
        }
        Ok(())
    }

    /// The most instances the pool may have (the actor's `instances`).
    pub fn max_instances(&self) -> usize {
        self.shared.census.max()
    }

    /// The instances the pool has now.
    pub fn instances(&self) -> usize {
        self.shared.census.live()
    }

    /// Linear memory of the pool's instances now, bytes.
    pub fn memory_bytes(&self) -> u64 {
        u64::try_from(self.shared.memory.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// How the pool grows and shrinks.
    pub fn scaling(&self) -> Scaling {
        self.shared.scaling
    }
}

/// The error of a call to `actor` whose pool is gone or going.
fn shut_down(actor: &str) -> InvokeError {
    InvokeError::Unavailable(format!("actor {actor} is shut down"))
}

impl Drop for ActorPool {
    /// Closes the queue and waits for the workers to finish the calls they
    /// already took.
    fn drop(&mut self) {
        self.jobs.take();
        let threads = std::mem::take(&mut *self.shared.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for thread in threads {
            let _ = thread.join();
        }
    }
}
