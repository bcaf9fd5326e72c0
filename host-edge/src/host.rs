//! The host: running actors, their links to capabilities, and the routing of
//! every call between them.
//!
//! The host owns one [`ActorPool`] per actor. Each instance's host calls come
//! back through [`Host`]'s dispatch, which applies the capability check
//! against the actor's verified claims before anything linked sees the call.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use crate::actor::{Actor, LoadError};
use crate::capability::CapabilityId;
use crate::claims::{policy::now_secs, Policy};
use crate::dispatch::{authorize, CapabilityHandler, DispatchError, Target};
use crate::engine::{InvokeError, Limits};
use crate::pool::{ActorPool, CallbackFactory};

/// How long an actor waits for another actor it called.
pub const ACTOR_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the host could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The actor could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The actor's instances could not start.
    #[error("actor {actor}: {source}")]
    Start {
        /// The actor.
        actor: String,
        /// Why.
        source: InvokeError,
    },
    /// An actor with the same module key is already running.
    #[error("actor {0} is already running")]
    AlreadyRunning(String),
    /// No running actor has that key or name.
    #[error("no actor {0} is running")]
    UnknownActor(String),
    /// The call into the actor failed.
    #[error(transparent)]
    Invoke(#[from] InvokeError),
}

struct Running {
    actor: Actor,
    pool: ActorPool,
}

#[derive(Hash, PartialEq, Eq)]
struct LinkKey {
    actor: String,
    capability: CapabilityId,
    binding: String,
}

struct Inner {
    policy: Policy,
    actors: RwLock<HashMap<String, Arc<Running>>>,
    links: RwLock<HashMap<LinkKey, Arc<dyn CapabilityHandler>>>,
}

/// A running host. Cheap to clone; clones share the same actors.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("actors", &self.actors()).finish()
    }
}

impl Host {
    /// A host with no actors, applying `policy` to every module it loads.
    /// An empty `trusted_issuers` is reported per actor, with its identity,
    /// by the `trusted-issuer` check when the actor is loaded.
    pub fn new(policy: Policy) -> Host {
        Host {
            inner: Arc::new(Inner {
                policy,
                actors: RwLock::new(HashMap::new()),
                links: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The trust policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Verifies `module` under the host's policy, now.
    pub fn load(&self, module: &[u8]) -> Result<Actor, HostError> {
        Ok(Actor::from_bytes(module, &self.inner.policy, now_secs())?)
    }

    /// Starts `instances` instances of `actor` with `limits`; returns its
    /// module key.
    pub fn start_actor(&self, actor: Actor, instances: usize, limits: Limits) -> Result<String, HostError> {
        let subject = actor.subject().to_owned();
        if self.read_actors().contains_key(&subject) {
            return Err(HostError::AlreadyRunning(subject));
        }
        let callbacks = self.callbacks(&actor);
        let pool = ActorPool::start(Arc::from(subject.as_str()), actor.compiled(), instances, limits, callbacks)
            .map_err(|source| HostError::Start {
                actor: format!("{} ({})", actor.name(), subject),
                source,
            })?;
        tracing::info!(actor = %subject, name = actor.name(), instances = pool.size(), "actor started");
        let mut actors = self.inner.actors.write().unwrap_or_else(|e| e.into_inner());
        if actors.contains_key(&subject) {
            return Err(HostError::AlreadyRunning(subject));
        }
        actors.insert(subject.clone(), Arc::new(Running { actor, pool }));
        Ok(subject)
    }

    /// Stops an actor, letting calls already taken finish. Returns false if
    /// it was not running.
    pub fn stop_actor(&self, actor: &str) -> bool {
        let removed = self
            .inner
            .actors
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(actor);
        if removed.is_some() {
            tracing::info!(actor = %actor, "actor stopped");
        }
        removed.is_some()
    }

    /// Calls `operation` on the actor with module key or name `actor`.
    pub fn call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, HostError> {
        let running = self.find(actor).ok_or_else(|| HostError::UnknownActor(actor.to_owned()))?;
        Ok(running.pool.call(operation, payload)?)
    }

    /// The running actors: (module key, name).
    pub fn actors(&self) -> Vec<(String, String)> {
        let mut list: Vec<_> = self
            .read_actors()
            .values()
            .map(|r| (r.actor.subject().to_owned(), r.actor.name().to_owned()))
            .collect();
        list.sort();
        list
    }

    /// Links `handler` to serve `capability` under `binding` for `actor`.
    /// The actor's claims are still checked on every call.
    pub fn link(&self, actor: &str, capability: CapabilityId, binding: &str, handler: Arc<dyn CapabilityHandler>) {
        let key = LinkKey {
            actor: actor.to_owned(),
            capability,
            binding: binding.to_owned(),
        };
        self.inner
            .links
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, handler);
    }

    /// Stops every actor.
    pub fn shutdown(&self) {
        let drained: Vec<_> = self
            .inner
            .actors
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (subject, running) in drained {
            drop(running);
            tracing::info!(actor = %subject, "actor stopped");
        }
        self.inner.links.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn read_actors(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Running>>> {
        self.inner.actors.read().unwrap_or_else(|e| e.into_inner())
    }

    fn find(&self, actor: &str) -> Option<Arc<Running>> {
        let actors = self.read_actors();
        actors
            .get(actor)
            .or_else(|| actors.values().find(|r| r.actor.name() == actor))
            .cloned()
    }

    fn callbacks(&self, actor: &Actor) -> CallbackFactory {
        let host = Arc::downgrade(&self.inner);
        let subject: Arc<str> = Arc::from(actor.subject());
        let granted = Arc::new(actor.capabilities().clone());
        Arc::new(move || {
            let host = Weak::clone(&host);
            let subject = Arc::clone(&subject);
            let granted = Arc::clone(&granted);
            Box::new(move |_id, binding, namespace, operation, payload| {
                let inner = host.upgrade().ok_or("the host is shutting down")?;
                Host { inner }
                    .dispatch(&subject, &granted, binding, namespace, operation, payload)
                    .map_err(|e| {
                        tracing::debug!(actor = %subject, namespace, operation, "host call refused: {e}");
                        e.to_string().into()
                    })
            })
        })
    }

    fn dispatch(
        &self,
        caller: &str,
        granted: &BTreeSet<CapabilityId>,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, DispatchError> {
        match Target::parse(namespace)? {
            Target::Actor(target) => {
                if target == caller {
                    return Err(DispatchError::SelfCall);
                }
                let running = self.find(&target).ok_or(DispatchError::UnknownActor(target))?;
                Ok(running.pool.call_timeout(operation, payload, ACTOR_CALL_TIMEOUT)?)
            }
            Target::Capability(capability) => {
                authorize(caller, granted, &capability)?;
                let key = LinkKey {
                    actor: caller.to_owned(),
                    capability,
                    binding: binding.to_owned(),
                };
                let handler = self
                    .inner
                    .links
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| DispatchError::NotLinked {
                        capability: key.capability.clone(),
                        binding: key.binding.clone(),
                    })?;
                handler
                    .handle(caller, operation, payload)
                    .map_err(|message| DispatchError::Provider {
                        capability: key.capability,
                        message,
                    })
            }
        }
    }
}
