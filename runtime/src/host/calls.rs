//! The host calls an actor's instances make: each checked against the
//! actor's claims and routed to a link, another actor or a built-in, and
//! counted in the metrics by capability, with the counters an instance
//! writes to kept at hand.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use provider_abi::Failure;

use super::{Host, ACTOR_CALL_TIMEOUT};
use crate::actor::Actor;
use crate::builtin::Caller;
use crate::capability::CapabilityId;
use crate::context;
use crate::metrics::HostCallMetrics;
use crate::pool::{self, CallbackFactory};
use crate::registry::LinkTarget;
use crate::router::{self, DispatchError, Grants, Route};

/// The most namespaces whose host-call counters an instance keeps at hand.
const MAX_CACHED_NAMESPACES: usize = 16;

impl Host {
    pub(super) fn callbacks(&self, actor: &Actor) -> CallbackFactory {
        let host = Arc::downgrade(&self.inner);
        let subject: Arc<str> = Arc::from(actor.subject());
        let name: Arc<str> = Arc::from(actor.name());
        let granted = Arc::new(Grants::of(actor));
        let metrics = crate::metrics::global().actor(actor.subject(), actor.name());
        Arc::new(move || {
            let host = Weak::clone(&host);
            let subject = Arc::clone(&subject);
            let name = Arc::clone(&name);
            let granted = Arc::clone(&granted);
            let metrics = Arc::clone(&metrics);
            // The counters by namespace as this instance's actor writes it:
            // a handful, looked up without allocating.
            let counters: Mutex<Vec<(String, HostCallMetrics)>> = Mutex::new(Vec::new());
            Box::new(move |_id, binding, namespace, operation, payload| {
                let inner = host.upgrade().ok_or("the host is shutting down")?;
                let caller = Caller { key: &subject, name: &name, binding };
                let started = Instant::now();
                let outcome = Host { inner }.dispatch(caller, &granted, namespace, operation, payload);
                let elapsed = started.elapsed();
                let failure = outcome.as_ref().err().map(DispatchError::kind);
                {
                    let mut counters = counters.lock().unwrap_or_else(|e| e.into_inner());
                    match counters.iter().find(|(seen, _)| seen == namespace) {
                        Some((_, known)) => known.record(elapsed, failure),
                        None => {
                            let fresh = metrics.host_calls(&metric_label(namespace, &granted.capabilities));
                            fresh.record(elapsed, failure);
                            // Bounded: an actor calling made-up namespaces
                            // is counted, under `other`, but not cached.
                            if counters.len() < MAX_CACHED_NAMESPACES {
                                counters.push((namespace.to_owned(), fresh));
                            }
                        }
                    }
                }
                outcome.map_err(|e| {
                    let kind = e.kind();
                    pool::note_host_failure(kind);
                    tracing::debug!(actor = %subject, namespace, operation, %kind, "host call failed: {e}");
                    Failure::new(kind, e.to_string()).to_string().into()
                })
            })
        })
    }

    fn dispatch(
        &self,
        caller: Caller<'_>,
        granted: &Grants,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, DispatchError> {
        if namespace == context::NAMESPACE {
            return context::answer(operation);
        }
        let route = router::route_call(&self.read(), caller.key, granted, caller.binding, namespace);
        let route = match route {
            // Nothing linked: the host serves it itself, if it is a built-in.
            Err(DispatchError::NotLinked { capability, binding }) => {
                return match self.inner.builtins.call(caller, &capability, operation, payload) {
                    Some(outcome) => outcome.map_err(|failure| DispatchError::Provider { capability, failure }),
                    None => Err(DispatchError::NotLinked { capability, binding }),
                };
            }
            route => route?,
        };
        let caller = caller.key;
        match route {
            Route::Actor(running) => {
                Ok(running.pool.call_timeout(Some(Arc::from(caller)), operation, payload, ACTOR_CALL_TIMEOUT)?)
            }
            Route::Capability(capability, LinkTarget::Provider(provider)) => provider
                .call(caller, operation, payload)
                .map_err(|e| DispatchError::Provider { capability, failure: e.failure() }),
            Route::Capability(capability, LinkTarget::Handler(handler)) => handler
                .handle(caller, operation, payload)
                .map_err(|failure| DispatchError::Provider { capability, failure }),
        }
    }
}

/// The `capability` label of a host call to `namespace`: a granted
/// capability by its canonical id, `actor` for a call to another actor, and
/// `other` for anything else, so an actor cannot grow the metrics without
/// bound by calling made-up namespaces.
fn metric_label<'a>(namespace: &'a str, granted: &BTreeSet<CapabilityId>) -> std::borrow::Cow<'a, str> {
    match CapabilityId::parse(namespace) {
        Ok(id) if granted.contains(&id) => match id.as_str() == namespace {
            true => std::borrow::Cow::Borrowed(namespace),
            false => std::borrow::Cow::Owned(id.as_str().to_owned()),
        },
        _ if namespace.len() == 56 && namespace.starts_with('M') => std::borrow::Cow::Borrowed("actor"),
        _ => std::borrow::Cow::Borrowed("other"),
    }
}
