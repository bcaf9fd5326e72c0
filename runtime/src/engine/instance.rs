//! A callable actor instance: a `WapcHost` over a [`WasmiEngine`], with the
//! outcome of each call sorted into typed errors.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use provider_abi::{ErrorKind, Failure};

use super::{CompiledModule, Fault, Limits, Usage, WasmiEngine};

/// Why a call into an actor did not return a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The actor handled the call and reported an error of its own.
    #[error("the actor returned an error: {0}")]
    Guest(String),
    /// The call used up its fuel budget.
    #[error("{0}")]
    OutOfFuel(String),
    /// The actor grew its memory past its limit.
    #[error("{0}")]
    MemoryLimit(String),
    /// The actor trapped (a panic, `unreachable`, a bad memory access).
    #[error("{0}")]
    Trap(String),
    /// The instance could not be created.
    #[error("the actor could not be started: {0}")]
    Start(String),
    /// The actor is not available (shut down, or its pool is gone).
    #[error("the actor is unavailable: {0}")]
    Unavailable(String),
    /// No answer within the time the caller allowed.
    #[error("{0}")]
    TimedOut(String),
    /// The actor returned an error after one of its own host calls had
    /// failed with `kind`: the failure is the dependency's, and keeps its
    /// kind (a store that is down makes the request fail as unavailable).
    #[error("the actor returned an error: {message}")]
    Failed {
        /// How the host call failed.
        kind: ErrorKind,
        /// The actor's error.
        message: String,
    },
}

impl InvokeError {
    /// The typed outcome this error crosses the provider ABI as.
    pub fn kind(&self) -> ErrorKind {
        match self {
            InvokeError::Guest(_) => ErrorKind::Failed,
            InvokeError::OutOfFuel(_) => ErrorKind::OutOfFuel,
            InvokeError::MemoryLimit(_) | InvokeError::Trap(_) => ErrorKind::Trapped,
            InvokeError::Start(_) | InvokeError::Unavailable(_) => ErrorKind::Unavailable,
            InvokeError::TimedOut(_) => ErrorKind::TimedOut,
            InvokeError::Failed { kind, .. } => *kind,
        }
    }

    /// This error as a typed failure.
    pub fn failure(&self) -> Failure {
        Failure::new(self.kind(), self.to_string())
    }

    /// True when the engine stopped the guest mid-call, so the instance's
    /// state cannot be trusted and it must be replaced.
    pub fn poisons_instance(&self) -> bool {
        matches!(
            self,
            InvokeError::OutOfFuel(_) | InvokeError::MemoryLimit(_) | InvokeError::Trap(_)
        )
    }
}

/// One live actor instance. Not `Send`: `wapc::WapcHost` keeps its engine in
/// a `RefCell`, so an instance lives and dies on one thread (see `pool`).
pub struct Instance {
    host: wapc::WapcHost,
    fault: Rc<RefCell<Option<Fault>>>,
    usage: Rc<Cell<Usage>>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("id", &self.host.id()).finish()
    }
}

impl Instance {
    /// Instantiates `compiled` (running `_start` and `wapc_init` when
    /// exported), with `callback` answering the actor's host calls.
    pub fn new(
        compiled: &CompiledModule,
        limits: Limits,
        actor: Arc<str>,
        callback: Box<wapc::HostCallback>,
    ) -> Result<Instance, InvokeError> {
        let engine = WasmiEngine::new(compiled.clone(), limits, actor);
        let fault = engine.fault_cell();
        let usage = engine.usage_cell();
        let host = wapc::WapcHost::new(Box::new(engine), Some(callback)).map_err(|e| {
            InvokeError::Start(match e {
                wapc::errors::Error::InitFailed(text) => text,
                other => other.to_string(),
            })
        })?;
        Ok(Instance { host, fault, usage })
    }

    /// True when the engine stopped a guest call of this instance (its
    /// last call, or a call nested in it): its memory may be mid-update,
    /// so it must be replaced.
    pub fn faulted(&self) -> bool {
        self.fault.borrow().is_some()
    }

    /// What the last call used (fuel) and the memory the instance has.
    pub fn usage(&self) -> Usage {
        self.usage.get()
    }

    /// Calls `operation` with `payload` and returns the actor's reply.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, InvokeError> {
        self.fault.borrow_mut().take();
        match self.host.call(operation, payload) {
            Ok(reply) => Ok(reply),
            Err(error) => {
                let text = match error {
                    wapc::errors::Error::GuestCallFailure(text) => text,
                    other => other.to_string(),
                };
                Err(match self.fault.borrow().clone() {
                    Some(Fault::OutOfFuel) => InvokeError::OutOfFuel(text),
                    Some(Fault::MemoryLimit) => InvokeError::MemoryLimit(text),
                    Some(Fault::Trap(_)) => InvokeError::Trap(text),
                    None => InvokeError::Guest(text),
                })
            }
        }
    }
}
