//! The host: running actors, their links to capabilities, and the routing of
//! every call between them.
//!
//! The host owns one [`ActorPool`] per actor and every loaded provider. Each
//! instance's host calls come back through [`Host`]'s dispatch, which applies
//! the capability check against the actor's verified claims before anything
//! linked sees the call. Calls from a provider to an actor come back through
//! [`Host`]'s delivery, which lets a provider reach only the actors linked to
//! it whose claims grant its capability.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use codec::core::{self as core_messages, CapabilityConfiguration};

use crate::actor::{Actor, LoadError};
use crate::capability::CapabilityId;
use crate::claims::{policy::now_secs, Policy};
use crate::dispatch::{authorize, CapabilityHandler, DispatchError, Target};
use crate::engine::{InvokeError, Limits};
use crate::pool::{ActorPool, CallbackFactory};
use crate::provider::{NativeProvider, ProviderError};

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
    /// A provider could not be loaded, or refused a binding.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A provider with the same name is already loaded.
    #[error("a provider named `{0}` is already loaded")]
    ProviderExists(String),
    /// No provider has that name.
    #[error("no provider named `{0}` is loaded")]
    UnknownProvider(String),
    /// A link was refused before reaching the provider.
    #[error("link of {actor} to {capability}: {reason}")]
    Link {
        /// The actor.
        actor: String,
        /// The capability.
        capability: CapabilityId,
        /// Why.
        reason: String,
    },
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

struct Link {
    handler: Arc<dyn CapabilityHandler>,
    /// The provider instance serving it, when it is a loaded provider.
    provider: Option<Arc<NativeProvider>>,
    /// What was sent with `BindActor`, sent again with `RemoveActor`.
    config: Vec<u8>,
}

struct Inner {
    policy: Policy,
    actors: RwLock<HashMap<String, Arc<Running>>>,
    links: RwLock<HashMap<LinkKey, Link>>,
    providers: RwLock<BTreeMap<String, Arc<NativeProvider>>>,
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
                providers: RwLock::new(BTreeMap::new()),
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
            .insert(key, Link { handler, provider: None, config: Vec::new() });
    }

    /// Loads the provider library at `path` as the instance `name`.
    /// Returns its capability id.
    pub fn add_provider(&self, name: &str, path: &Path) -> Result<CapabilityId, HostError> {
        if self.inner.providers.read().unwrap_or_else(|e| e.into_inner()).contains_key(name) {
            return Err(HostError::ProviderExists(name.to_owned()));
        }
        let host = Arc::downgrade(&self.inner);
        let provider_name = name.to_owned();
        let deliver = Arc::new(move |actor: &str, operation: &str, payload: &[u8]| {
            let inner = host.upgrade().ok_or("the host is shutting down")?;
            Host { inner }.deliver(&provider_name, actor, operation, payload)
        });
        let provider = Arc::new(NativeProvider::load(name, path, deliver)?);
        let capability = provider.capability().clone();
        let mut providers = self.inner.providers.write().unwrap_or_else(|e| e.into_inner());
        if providers.contains_key(name) {
            drop(providers);
            provider.stop();
            return Err(HostError::ProviderExists(name.to_owned()));
        }
        providers.insert(name.to_owned(), provider);
        Ok(capability)
    }

    /// The loaded providers: (name, capability id, human-friendly name).
    pub fn providers(&self) -> Vec<(String, CapabilityId, String)> {
        self.inner
            .providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|p| (p.name().to_owned(), p.capability().clone(), p.display_name().to_owned()))
            .collect()
    }

    /// Links the running actor `actor` (module key or name) to the provider
    /// `provider` for `capability` under `binding`, binding it there with
    /// `values` (plus the `__wascc_*` claims keys, as waSCC did).
    ///
    /// Refused when the provider serves another capability, when the actor's
    /// claims do not grant it, or when the provider refuses the binding.
    pub fn link_provider(
        &self,
        actor: &str,
        capability: &CapabilityId,
        binding: &str,
        provider: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<(), HostError> {
        let running = self.find(actor).ok_or_else(|| HostError::UnknownActor(actor.to_owned()))?;
        let subject = running.actor.subject().to_owned();
        let refuse = |reason: String| HostError::Link { actor: subject.clone(), capability: capability.clone(), reason };
        let native = self
            .inner
            .providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(provider)
            .cloned()
            .ok_or_else(|| HostError::UnknownProvider(provider.to_owned()))?;
        if native.capability() != capability {
            return Err(refuse(format!("provider `{provider}` serves {}, not {capability}", native.capability())));
        }
        if !running.actor.may_use(capability) {
            return Err(refuse("the actor's signed claims do not grant it".to_owned()));
        }
        let key = LinkKey { actor: subject.clone(), capability: capability.clone(), binding: binding.to_owned() };
        if self.inner.links.read().unwrap_or_else(|e| e.into_inner()).contains_key(&key) {
            return Err(refuse(format!("the binding `{binding}` is already linked")));
        }
        let config = codec::serialize(&binding_configuration(&running.actor, values))
            .map_err(|e| refuse(e.to_string()))?;
        native.bind_actor(&config)?;
        tracing::info!(actor = %subject, capability = %capability, binding, provider, "linked");
        let link = Link { handler: native.clone(), provider: Some(native), config };
        self.inner.links.write().unwrap_or_else(|e| e.into_inner()).insert(key, link);
        Ok(())
    }

    /// Unbinds every actor from its providers, stops the providers (so no
    /// new calls arrive), then stops every actor.
    pub fn shutdown(&self) {
        let links: Vec<_> = self.inner.links.write().unwrap_or_else(|e| e.into_inner()).drain().collect();
        for (key, link) in links {
            if let Some(provider) = link.provider {
                if let Err(e) = provider.remove_actor(&link.config) {
                    tracing::warn!(actor = %key.actor, provider = provider.name(), "unbinding failed: {e}");
                }
            }
        }
        let providers = std::mem::take(&mut *self.inner.providers.write().unwrap_or_else(|e| e.into_inner()));
        for provider in providers.values() {
            provider.stop();
        }
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
    }

    /// A call from the provider instance `provider` to `actor`: allowed only
    /// when a link binds that actor to that provider and the actor's claims
    /// grant the provider's capability.
    fn deliver(&self, provider: &str, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let capability = self
            .inner
            .links
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(key, link)| key.actor == actor && link.provider.as_ref().is_some_and(|p| p.name() == provider))
            .map(|(key, _)| key.capability.clone())
            .ok_or_else(|| format!("actor {actor} is not linked to provider `{provider}`"))?;
        let running = self.find(actor).ok_or_else(|| format!("no actor {actor} is running"))?;
        authorize(actor, running.actor.capabilities(), &capability).map_err(|e| e.to_string())?;
        running.pool.call_timeout(operation, payload, ACTOR_CALL_TIMEOUT).map_err(|e| e.to_string())
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
                    .map(|link| Arc::clone(&link.handler))
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

/// The `BindActor` configuration: the link's values plus the claims keys
/// waSCC's host added.
fn binding_configuration(actor: &Actor, values: &BTreeMap<String, String>) -> CapabilityConfiguration {
    let claims = actor.claims();
    let mut values = values.clone();
    let caps: Vec<String> = actor.capabilities().iter().map(|c| c.to_string()).collect();
    values.insert(core_messages::CONFIG_CLAIMS_ISSUER.to_owned(), claims.issuer().to_owned());
    values.insert(core_messages::CONFIG_CLAIMS_CAPABILITIES.to_owned(), caps.join(","));
    values.insert(core_messages::CONFIG_CLAIMS_NAME.to_owned(), actor.name().to_owned());
    values.insert(
        core_messages::CONFIG_CLAIMS_EXPIRES.to_owned(),
        claims.claims.expires.map(|e| e.to_string()).unwrap_or_default(),
    );
    values.insert(
        core_messages::CONFIG_CLAIMS_TAGS.to_owned(),
        claims.metadata.tags.clone().unwrap_or_default().join(","),
    );
    CapabilityConfiguration { module: actor.subject().to_owned(), values }
}
