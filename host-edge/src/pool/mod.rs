//! A pool of instances of one actor, each on its own worker thread.
//!
//! `wapc::WapcHost` is not `Send`, so an instance is created, called and
//! dropped on one thread. A pool of N workers shares one job queue, so one slow
//! call does not hold up the others, and a worker whose instance trapped or ran
//! out of fuel replaces it before taking the next job.

use std::cell::Cell;
use std::sync::Arc;
use std::thread::JoinHandle;

use provider_abi::ErrorKind;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use crate::engine::{CompiledModule, Instance, InvokeError, Limits};
use crate::metrics::ActorMetrics;

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

/// Makes the host-call handler for each new instance.
pub type CallbackFactory = Arc<dyn Fn() -> Box<wapc::HostCallback> + Send + Sync>;

struct Job {
    operation: String,
    payload: Vec<u8>,
    reply: Sender<Result<Vec<u8>, InvokeError>>,
}

/// A running pool of actor instances.
pub struct ActorPool {
    actor: Arc<str>,
    jobs: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    metrics: Arc<ActorMetrics>,
}

impl std::fmt::Debug for ActorPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorPool")
            .field("actor", &self.actor)
            .field("instances", &self.workers.len())
            .finish()
    }
}

impl ActorPool {
    /// Starts `instances` workers (at least one), each instantiating
    /// `compiled`, counting their calls in `metrics`. Fails, with every
    /// worker stopped, when any instance cannot start.
    pub fn start(
        actor: Arc<str>,
        compiled: &CompiledModule,
        instances: usize,
        limits: Limits,
        callbacks: CallbackFactory,
        metrics: Arc<ActorMetrics>,
    ) -> Result<ActorPool, InvokeError> {
        let (jobs, queue) = unbounded::<Job>();
        let (ready_tx, ready_rx) = unbounded::<Result<(), InvokeError>>();
        let mut pool = ActorPool {
            actor: Arc::clone(&actor),
            jobs: Some(jobs),
            workers: Vec::new(),
            metrics: Arc::clone(&metrics),
        };
        for index in 0..instances.max(1) {
            let worker = Worker {
                actor: Arc::clone(&actor),
                compiled: compiled.clone(),
                limits,
                callbacks: Arc::clone(&callbacks),
                metrics: Arc::clone(&metrics),
                memory: Cell::new(0),
            };
            let queue = queue.clone();
            let ready = ready_tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("actor-{index}"))
                .spawn(move || worker.run(&queue, &ready))
                .map_err(|e| InvokeError::Start(format!("cannot spawn a worker thread: {e}")))?;
            pool.workers.push(handle);
        }
        drop(ready_tx);
        pool.metrics.instances(pool.workers.len() as i64);
        for _ in 0..pool.workers.len() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(InvokeError::Start("a worker exited during start-up".into())),
            }
        }
        Ok(pool)
    }

    /// Calls `operation` on the next free instance and waits for its reply.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, InvokeError> {
        let answer = self.submit(operation, payload)?;
        answer.recv().map_err(|_| self.unavailable())?
    }

    /// Like [`ActorPool::call`], but gives up waiting after `timeout` (the
    /// call itself still runs to completion, bounded by its fuel).
    pub fn call_timeout(
        &self,
        operation: &str,
        payload: &[u8],
        timeout: std::time::Duration,
    ) -> Result<Vec<u8>, InvokeError> {
        let answer = self.submit(operation, payload)?;
        answer.recv_timeout(timeout).map_err(|e| match e {
            crossbeam_channel::RecvTimeoutError::Timeout => InvokeError::TimedOut(format!(
                "actor {} did not answer within {timeout:?}",
                self.actor
            )),
            crossbeam_channel::RecvTimeoutError::Disconnected => self.unavailable(),
        })?
    }

    fn unavailable(&self) -> InvokeError {
        InvokeError::Unavailable(format!("actor {} is shut down", self.actor))
    }

    fn submit(
        &self,
        operation: &str,
        payload: &[u8],
    ) -> Result<Receiver<Result<Vec<u8>, InvokeError>>, InvokeError> {
        let (reply, answer) = bounded(1);
        let job = Job {
            operation: operation.to_owned(),
            payload: payload.to_vec(),
            reply,
        };
        self.jobs
            .as_ref()
            .ok_or_else(|| self.unavailable())?
            .send(job)
            .map_err(|_| self.unavailable())?;
        Ok(answer)
    }

    /// The number of worker instances.
    pub fn size(&self) -> usize {
        self.workers.len()
    }
}

impl Drop for ActorPool {
    /// Closes the queue and waits for the workers to finish the calls they
    /// already took.
    fn drop(&mut self) {
        self.jobs.take();
        let workers = self.workers.len() as i64;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        self.metrics.instances(-workers);
    }
}

struct Worker {
    actor: Arc<str>,
    compiled: CompiledModule,
    limits: Limits,
    callbacks: CallbackFactory,
    metrics: Arc<ActorMetrics>,
    /// The memory this worker's instance last added to the actor's gauge.
    memory: Cell<u64>,
}

impl Worker {
    fn instantiate(&self) -> Result<Instance, InvokeError> {
        let instance = Instance::new(&self.compiled, self.limits, Arc::clone(&self.actor), (self.callbacks)())?;
        self.note_memory(instance.usage().memory);
        Ok(instance)
    }

    /// Moves the actor's memory gauge by this instance's change.
    fn note_memory(&self, now: u64) {
        let before = self.memory.replace(now);
        if now != before {
            self.metrics.memory(now as i64 - before as i64);
        }
    }

    fn run(self, queue: &Receiver<Job>, ready: &Sender<Result<(), InvokeError>>) {
        let mut instance = match self.instantiate() {
            Ok(instance) => {
                let _ = ready.send(Ok(()));
                Some(instance)
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        while let Ok(job) = queue.recv() {
            if instance.is_none() {
                instance = self.instantiate().ok();
            }
            HOST_FAILURE.with(|f| f.set(None));
            let started = std::time::Instant::now();
            let result = match &instance {
                Some(live) => live.call(&job.operation, &job.payload),
                None => Err(InvokeError::Unavailable(format!(
                    "actor {} could not be re-instantiated",
                    self.actor
                ))),
            };
            let result = match (result, HOST_FAILURE.with(Cell::take)) {
                (Err(InvokeError::Guest(message)), Some(kind)) => Err(InvokeError::Failed { kind, message }),
                (result, _) => result,
            };
            let usage = instance.as_ref().map(Instance::usage).unwrap_or_default();
            self.metrics.call(started.elapsed(), usage.fuel, result.as_ref().err().map(InvokeError::kind));
            self.note_memory(usage.memory);
            if instance.as_ref().is_some_and(Instance::faulted) {
                let why = result.as_ref().err().map_or_else(|| "a nested call faulted".to_owned(), ToString::to_string);
                tracing::warn!(actor = %self.actor, operation = %job.operation, "{why}; replacing the instance");
                instance = match self.instantiate() {
                    Ok(fresh) => Some(fresh),
                    Err(e) => {
                        tracing::error!(actor = %self.actor, "cannot replace the instance: {e}");
                        self.note_memory(0);
                        None
                    }
                };
            }
            let _ = job.reply.send(result);
        }
        self.note_memory(0);
    }
}
