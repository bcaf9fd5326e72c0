//! Calls from a provider to an actor along a link: refused when no link
//! allows them, run nested on the instance that waits in the provider for
//! that same actor, or else queued on the actor's pool.

use std::sync::{Arc, Weak};

use provider_abi::{ErrorKind, Failure};

use super::{Host, Inner, ACTOR_CALL_TIMEOUT};
use crate::engine::reentry;
use crate::pool;
use crate::provider::{Answer, Delivery};
use crate::registry::RunningActor;
use crate::router;

impl Host {
    /// A call from the provider instance `provider` to `actor`, along a
    /// link. From inside the provider's handling of a call by that same
    /// actor, it runs nested on the waiting instance (see `reentry`).
    fn deliver(&self, provider: &str, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, Failure> {
        match self.delivery(provider, actor, operation, payload) {
            Delivered::Answered(outcome) => outcome,
            Delivered::Queue(running) => {
                running.pool.call_timeout(None, operation, payload, ACTOR_CALL_TIMEOUT).map_err(|e| e.failure())
            }
        }
    }

    /// [`Host::deliver`] without waiting: `answer` gets the outcome from the
    /// worker that runs the call. No timeout: the provider sets its own.
    fn deliver_then(&self, provider: &str, actor: &str, operation: &str, payload: &[u8], answer: Answer) {
        match self.delivery(provider, actor, operation, payload) {
            Delivered::Answered(outcome) => answer(outcome),
            Delivered::Queue(running) => running
                .pool
                .call_then(operation, payload, Box::new(move |outcome| answer(outcome.map_err(|e| e.failure())))),
        }
    }

    /// What both kinds of delivery do first: refuse a call no link allows,
    /// or run it nested on the instance waiting on this thread.
    fn delivery(&self, provider: &str, actor: &str, operation: &str, payload: &[u8]) -> Delivered {
        let running = match router::route_delivery(&self.read(), provider, actor) {
            Ok(running) => running,
            Err(refused) => return Delivered::Answered(Err(refused)),
        };
        // Nested on the waiting instance, the call is the provider's: the
        // instance must not answer `Caller` with the actor it was serving.
        match pool::with_origin(None, || reentry::call_waiting(actor, operation, payload)) {
            Some(outcome) => Delivered::Answered(outcome.map_err(|e| e.failure())),
            None => Delivered::Queue(running),
        }
    }
}

/// Where a provider's call to an actor stands after its checks.
enum Delivered {
    /// Refused, or already run nested on the waiting caller.
    Answered(Result<Vec<u8>, Failure>),
    /// To be queued on this actor's pool.
    Queue(Arc<RunningActor>),
}

/// How a provider's calls reach actors: through the host, while it runs.
pub(super) struct ProviderDelivery {
    pub(super) host: Weak<Inner>,
    pub(super) provider: String,
}

impl ProviderDelivery {
    fn host(&self) -> Result<Host, Failure> {
        let inner = self.host.upgrade().ok_or_else(|| Failure::new(ErrorKind::Unavailable, "the host is shutting down"))?;
        Ok(Host { inner })
    }
}

impl Delivery for ProviderDelivery {
    fn deliver(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, Failure> {
        self.host()?.deliver(&self.provider, actor, operation, payload)
    }

    fn deliver_then(&self, actor: &str, operation: &str, payload: &[u8], answer: Answer) {
        match self.host() {
            Ok(host) => host.deliver_then(&self.provider, actor, operation, payload, answer),
            Err(gone) => answer(Err(gone)),
        }
    }
}
