//! How a call's outcome reaches its caller: a thread waiting on a channel
//! ([`ActorPool::call`](super::ActorPool::call)), or a callback run by the
//! worker that finished it ([`ActorPool::call_then`](super::ActorPool::call_then)),
//! so that a caller with an event loop (the HTTP server's runtime) needs no
//! thread of its own waiting. Either way it is answered exactly once: a job
//! dropped unanswered (its pool stopped) answers `unavailable`.

use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::engine::InvokeError;

/// A call's outcome.
pub(super) type Outcome = Result<Vec<u8>, InvokeError>;

/// Runs once with the outcome of [`ActorPool::call_then`](super::ActorPool::call_then).
pub type Then = Box<dyn FnOnce(Result<Vec<u8>, InvokeError>) + Send>;

/// Where one job's outcome goes.
pub(super) struct Reply {
    to: Option<To>,
}

enum To {
    /// A thread waits on the other end; dropping the sender wakes it.
    Wait(Sender<Outcome>),
    /// Called with the outcome; with `unavailable` if never answered.
    Then { actor: Arc<str>, then: Then },
}

impl Reply {
    /// An answer for a waiting thread.
    pub(super) fn wait(sender: Sender<Outcome>) -> Reply {
        Reply { to: Some(To::Wait(sender)) }
    }

    /// An answer for `then`, on behalf of a call to `actor`.
    pub(super) fn then(actor: Arc<str>, then: Then) -> Reply {
        Reply { to: Some(To::Then { actor, then }) }
    }

    /// Hands the outcome over.
    pub(super) fn send(mut self, outcome: Outcome) {
        match self.to.take() {
            Some(To::Wait(sender)) => {
                // The caller may have stopped waiting (a timeout): nothing to do.
                let _ = sender.send(outcome);
            }
            Some(To::Then { then, .. }) => then(outcome),
            None => {}
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(To::Then { actor, then }) = self.to.take() {
            then(Err(super::shut_down(&actor)));
        }
    }
}
