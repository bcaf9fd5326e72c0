//! The host: applying commands to what runs, and carrying every call.
//!
//! The host's state lives in one [`Registry`] and changes only through a
//! [`Command`] ([`Host::execute`]; the typed methods below are the same
//! commands for callers that hold an [`Actor`] or a handler). Commands run
//! one at a time: each does its I/O first (verifying a module, starting a
//! pool, binding at a provider) and records the outcome in the registry
//! under a short write lock, so a command that fails leaves nothing half
//! done and calls keep flowing meanwhile. Calls read the registry through
//! the [`router`](crate::router) under a read lock and run after it is
//! released.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::{Duration, Instant};

use codec::core::{self as core_messages, CapabilityConfiguration};
use provider_abi::grant::{self, Grant, Rule};
use provider_abi::settings::{self, Scope};
use provider_abi::{ErrorKind, Failure};

use crate::actor::{Actor, LoadError};
use crate::builtin::{BuiltinSettings, Builtins, Caller};
use crate::capability::CapabilityId;
use crate::claims::{Policy, TrustedClock};
use crate::command::{Command, LinkSpec, Status};
use crate::context;
use crate::engine::{reentry, InvokeError, Limits};
use crate::metrics::HostCallMetrics;
use crate::pool::{self, ActorPool, CallbackFactory, Scaling};
use crate::preflight::Prepared;
use crate::provider::{trust, Answer, Delivery, NativeProvider, Provenance, ProviderError, ProviderLibrary, ProviderTrust};
use crate::registry::{Link, LinkKey, LinkTarget, Registry, RunningActor};
use crate::router::{self, CapabilityHandler, DispatchError, Grants, Route};

/// How long an actor waits for another actor it called, and a provider for
/// an actor it delivers to.
pub const ACTOR_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The most namespaces whose host-call counters an instance keeps at hand.
const MAX_CACHED_NAMESPACES: usize = 16;

/// The file in the state directory that keeps the clock's mark.
pub const CLOCK_FILE: &str = "clock";

/// How long a replaced or stopped actor's calls in flight may take to
/// finish before the command returns; they still finish afterwards.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the host could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The actor could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The actor's instances could not start.
    #[error("actor {actor}: {error}")]
    Start {
        /// The actor.
        actor: String,
        /// Why.
        error: InvokeError,
    },
    /// An actor with the same module key is already running.
    #[error("actor {0} is already running; to run a new version of it, replace it")]
    AlreadyRunning(String),
    /// No running actor has that key or name.
    #[error("no actor {0} is running")]
    UnknownActor(String),
    /// A replacement was refused; the running version keeps serving.
    #[error("replacing {actor}: {reason}; the running version keeps serving")]
    Replace {
        /// The running actor.
        actor: String,
        /// Why.
        reason: String,
    },
    /// The call into the actor failed.
    #[error(transparent)]
    Invoke(#[from] InvokeError),
    /// A provider could not be loaded, or refused a binding.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A provider name that cannot name its state folder.
    #[error(
        "`{0}` cannot name a provider: use letters, digits, `_` and `-`, starting with a letter or digit, \
         at most 64 characters, and none of clock, fleet, extras (the host's own files)"
    )]
    ProviderName(String),
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
    /// No such link exists.
    #[error("{actor} has no link for {capability} under the binding `{binding}`")]
    NotLinked {
        /// The actor.
        actor: String,
        /// The capability.
        capability: CapabilityId,
        /// The binding.
        binding: String,
    },
}

/// The names of what the host itself keeps in the state directory: the
/// clock's mark, the fleet store, the built-in extras' sequences.
const RESERVED_STATE_NAMES: [&str; 3] = [CLOCK_FILE, "fleet", "extras"];

/// Whether `name` may name a provider: it names the provider's state folder
/// too, so nothing that could leave the state directory or hide in it
/// (`..`, `/`, a leading dot), nor the name of what the host keeps there.
pub fn is_provider_name(name: &str) -> bool {
    !RESERVED_STATE_NAMES.contains(&name)
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A capability an actor's claims grant that nothing on the host serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unserved {
    /// The actor's module key.
    pub actor: String,
    /// The actor's name.
    pub name: String,
    /// The capability.
    pub capability: CapabilityId,
}

struct Inner {
    /// The trust policy; fleet revocations change it while the host runs.
    policy: RwLock<Policy>,
    /// The clock claims are checked against: never behind the latest
    /// signed time seen.
    clock: Arc<TrustedClock>,
    state_root: PathBuf,
    registry: RwLock<Registry>,
    /// The capabilities the host serves itself where nothing is linked.
    builtins: Builtins,
    /// Commands run one at a time.
    commands: Mutex<()>,
    /// How the pools of actors started from now on grow and shrink.
    scaling: RwLock<Scaling>,
    /// Whether bare provider libraries, with no signature, may be loaded.
    unsigned_providers: std::sync::atomic::AtomicBool,
    /// The state directory is the host's own temporary folder
    /// ([`Host::new`]), removed at [`Host::shutdown`].
    temporary_state: bool,
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
    /// A host with no actors, applying `policy` to every module it loads,
    /// keeping provider state in a folder of its own under the system's
    /// temporary folder, removed by [`Host::shutdown`]. A deployment names
    /// its state directory with [`Host::with_state_dir`].
    pub fn new(policy: Policy) -> Host {
        // One folder a host: several hosts of one process must not share
        // (and remove) each other's.
        static HOSTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = HOSTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("host-edge-{}-{n}", std::process::id()));
        let mut host = Host::with_state_dir(policy, dir);
        if let Some(inner) = Arc::get_mut(&mut host.inner) {
            inner.temporary_state = true;
        }
        host
    }

    /// A host with no actors whose providers keep their files under
    /// `state_root` (each in a folder named after it), serving the built-in
    /// capabilities with their default settings.
    pub fn with_state_dir(policy: Policy, state_root: PathBuf) -> Host {
        Host::with_builtins(policy, state_root, &BuiltinSettings::default())
    }

    /// A host as [`Host::with_state_dir`] makes one, serving the built-in
    /// capabilities `builtins` turns on. Its [`TrustedClock`] keeps its mark
    /// in `clock` in the state directory; a mark that cannot be read is
    /// logged and the clock starts from the system's (`host-edge run` opens
    /// it first and refuses to start instead: [`Host::with_clock`]).
    pub fn with_builtins(policy: Policy, state_root: PathBuf, builtins: &BuiltinSettings) -> Host {
        let clock = TrustedClock::open(&state_root.join(CLOCK_FILE)).unwrap_or_else(|e| {
            tracing::error!("the clock's mark is lost, claims are checked against the system clock alone: {e}");
            TrustedClock::in_memory(0)
        });
        Host::with_clock(policy, state_root, builtins, Arc::new(clock))
    }

    /// A host as [`Host::with_builtins`] makes one, checking claims against
    /// `clock`.
    pub fn with_clock(policy: Policy, state_root: PathBuf, builtins: &BuiltinSettings, clock: Arc<TrustedClock>) -> Host {
        Host {
            inner: Arc::new(Inner {
                policy: RwLock::new(policy),
                clock,
                builtins: Builtins::new(builtins, &state_root),
                state_root,
                registry: RwLock::new(Registry::default()),
                commands: Mutex::new(()),
                scaling: RwLock::new(Scaling::DEFAULT),
                unsigned_providers: std::sync::atomic::AtomicBool::new(false),
                temporary_state: false,
            }),
        }
    }

    /// The trust policy, as it stands now.
    pub fn policy(&self) -> Policy {
        self.inner.policy.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The clock claims are checked against.
    pub fn clock(&self) -> &Arc<TrustedClock> {
        &self.inner.clock
    }

    /// Changes the trust policy (a fleet revocation), then removes every
    /// provider and stops every running actor whose token the new policy
    /// revokes. Returns what was stopped, one line each.
    pub fn update_policy(&self, change: impl FnOnce(&mut Policy)) -> Vec<String> {
        let policy = {
            let mut policy = self.inner.policy.write().unwrap_or_else(|e| e.into_inner());
            change(&mut policy);
            policy.clone()
        };
        let revoked: Vec<(String, String)> = self
            .read()
            .actors()
            .filter_map(|running| {
                let claims = running.actor.claims();
                policy
                    .revocation(claims.subject(), &claims.claims.id, claims.claims.issued_at)
                    .map(|why| (claims.subject().to_owned(), why))
            })
            .collect();
        let revoked_providers: Vec<(String, String)> = self
            .read()
            .providers()
            .filter_map(|provider| match provider.provenance() {
                Provenance::Signed(signature) => signature.revocation(&policy).map(|why| (provider.name().to_owned(), why)),
                Provenance::Unsigned => None,
            })
            .collect();
        let mut stopped = Vec::new();
        for (name, why) in revoked_providers {
            tracing::warn!(provider = %name, "removing a revoked provider: {why}");
            match self.remove_provider(&name) {
                Ok(done) => stopped.push(format!("{done} ({why})")),
                Err(e) => tracing::warn!(provider = %name, "the revoked provider could not be removed: {e}"),
            }
        }
        for (key, why) in revoked {
            tracing::warn!(actor = %key, "stopping a revoked actor: {why}");
            match self.stop_actor(&key) {
                Ok(done) => stopped.push(format!("{done} ({why})")),
                Err(e) => tracing::warn!(actor = %key, "the revoked actor could not be stopped: {e}"),
            }
        }
        stopped
    }

    /// Sets how the pools of actors started (or replaced) from now on grow
    /// and shrink; [`Scaling::DEFAULT`] until then.
    pub fn set_scaling(&self, scaling: Scaling) {
        *self.inner.scaling.write().unwrap_or_else(|e| e.into_inner()) = scaling;
    }

    /// Lets bare provider libraries, with no signature, be loaded from now
    /// on (`[host] allow_unsigned_providers`, for development); off until
    /// then: only verified provider archives load.
    pub fn set_unsigned_providers(&self, allowed: bool) {
        self.inner.unsigned_providers.store(allowed, std::sync::atomic::Ordering::SeqCst);
    }

    /// What a provider file must satisfy to be loaded now: the host's
    /// policy, its clock, and whether unsigned libraries are allowed.
    pub fn provider_trust(&self) -> ProviderTrust {
        ProviderTrust {
            policy: self.policy(),
            now: self.inner.clock.now(),
            allow_unsigned: self.inner.unsigned_providers.load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// Where providers keep their files.
    pub fn state_root(&self) -> &Path {
        &self.inner.state_root
    }

    /// Verifies `module` under the host's policy, now by its clock.
    pub fn load(&self, module: &[u8]) -> Result<Actor, HostError> {
        let policy = self.policy();
        let actor = Actor::from_bytes(module, &policy, self.inner.clock.now())?;
        self.observe_signed_time(&policy, &actor);
        Ok(actor)
    }

    /// Applies one command; returns what was done, in one line.
    pub fn execute(&self, command: Command) -> Result<String, HostError> {
        self.execute_prepared(command, &mut Prepared::default())
    }

    /// Applies `command` as [`Host::execute`] does, but takes the actor or
    /// provider library it names from `prepared` where the manifest's check
    /// already verified, compiled or opened it from the same file, so that
    /// a start does that work once.
    pub fn execute_prepared(&self, command: Command, prepared: &mut Prepared) -> Result<String, HostError> {
        match command {
            Command::StartActor { path, instances, limits } => {
                let actor = match prepared.take_actor(&path) {
                    Some(actor) => {
                        self.observe_signed_time(&self.policy(), &actor);
                        actor
                    }
                    None => self.load_file(&path)?,
                };
                let name = actor.name().to_owned();
                let key = self.start(actor, Some(path), instances, limits)?;
                Ok(format!("started {name} ({key})"))
            }
            Command::StopActor { actor } => self.stop_actor(&actor),
            Command::ReplaceActor { path, force, instances, limits } => {
                let actor = self.load_file(&path)?;
                self.replace(actor, Some(path), force, instances, limits)
            }
            Command::AddProvider { name, path, settings } => {
                let opened = prepared.take_library(&name, &path);
                let capability = self.add_provider_from(&name, opened, &path, &settings)?;
                Ok(format!("provider {name} serves {capability}"))
            }
            Command::RemoveProvider { name } => self.remove_provider(&name),
            Command::Link(spec) => {
                let (actor, capability, binding) = (spec.actor.clone(), spec.capability.clone(), spec.binding.clone());
                self.link(spec)?;
                Ok(format!("linked {actor} to {capability} under `{binding}`"))
            }
            Command::Unlink { actor, capability, binding } => {
                self.unlink(&actor, &capability, &binding)?;
                Ok(format!("unlinked {actor} from {capability} under `{binding}`"))
            }
        }
    }

    /// What runs now, with each provider's health.
    pub fn status(&self) -> Status {
        let (mut status, providers) = {
            let registry = self.read();
            (registry.status(), registry.providers().cloned().collect::<Vec<_>>())
        };
        for (entry, provider) in status.providers.iter_mut().zip(providers) {
            entry.health = provider.health().map_err(|e| e.to_string());
        }
        status.builtins = self.inner.builtins.capabilities();
        status
    }

    /// Capabilities the running actors' claims grant that nothing serves:
    /// no link, under any binding, and no built-in. Their calls fail with
    /// `not-linked`; `host-edge run` says so at start.
    pub fn unserved(&self) -> Vec<Unserved> {
        let registry = self.read();
        let mut unserved = Vec::new();
        for running in registry.actors() {
            let key = running.actor.subject();
            let linked: BTreeSet<CapabilityId> =
                registry.links_of(key).into_iter().map(|(link, _)| link.capability).collect();
            for capability in running.actor.capabilities() {
                if !linked.contains(capability) && !self.inner.builtins.serves(capability) {
                    unserved.push(Unserved {
                        actor: key.to_owned(),
                        name: running.actor.name().to_owned(),
                        capability: capability.clone(),
                    });
                }
            }
        }
        unserved.sort_by(|a, b| (&a.name, &a.actor, &a.capability).cmp(&(&b.name, &b.actor, &b.capability)));
        unserved
    }

    /// Starts `instances` instances of `actor` with `limits`; returns its
    /// module key.
    pub fn start_actor(&self, actor: Actor, instances: usize, limits: Limits) -> Result<String, HostError> {
        self.start(actor, None, instances, limits)
    }

    /// Replaces the running actor with the same module key by `actor`,
    /// keeping its links; see [`Command::ReplaceActor`].
    pub fn replace_actor(&self, actor: Actor, force: bool) -> Result<String, HostError> {
        self.replace(actor, None, force, None, None)
    }

    /// Stops an actor (module key or name): unlinks it everywhere, unbinds
    /// it at its providers and lets calls in flight finish.
    pub fn stop_actor(&self, actor: &str) -> Result<String, HostError> {
        let _command = self.command();
        let key = self.key_of(actor)?;
        let (running, links) = self.write().remove_actor(&key).ok_or_else(|| HostError::UnknownActor(key.clone()))?;
        for link in &links {
            unbind(&key, link);
        }
        let name = running.actor.name().to_owned();
        let drained = drain(running);
        tracing::info!(actor = %key, name, links = links.len(), "actor stopped");
        Ok(format!("stopped {name} ({key}); {} links removed{drained}", links.len()))
    }

    /// Calls `operation` on the actor with module key or name `actor`.
    pub fn call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, HostError> {
        let running = self.read().find(actor).cloned().ok_or_else(|| HostError::UnknownActor(actor.to_owned()))?;
        Ok(running.pool.call(operation, payload)?)
    }

    /// The running actors: (module key, name).
    pub fn actors(&self) -> Vec<(String, String)> {
        let mut list: Vec<_> =
            self.read().actors().map(|r| (r.actor.subject().to_owned(), r.actor.name().to_owned())).collect();
        list.sort();
        list
    }

    /// Links an in-process `handler` to serve `capability` under `binding`
    /// for `actor` (module key). The actor's claims are still checked on
    /// every call.
    pub fn link_handler(
        &self,
        actor: &str,
        capability: CapabilityId,
        binding: &str,
        handler: Arc<dyn CapabilityHandler>,
    ) {
        let _command = self.command();
        let spec = LinkSpec {
            actor: actor.to_owned(),
            capability: capability.clone(),
            binding: binding.to_owned(),
            provider: "(in-process)".to_owned(),
            values: BTreeMap::new(),
            grant: Vec::new(),
        };
        let key = LinkKey { actor: actor.to_owned(), capability, binding: binding.to_owned() };
        let link = Link { spec, target: LinkTarget::Handler(handler), config: Vec::new(), grant: Vec::new() };
        self.write().put_link(key, Arc::new(link));
    }

    /// Loads the provider at `path` (a signed archive, or a bare library
    /// where the host allows unsigned providers) as the instance `name`,
    /// with no provider-level settings. Returns its capability id.
    pub fn add_provider(&self, name: &str, path: &Path) -> Result<CapabilityId, HostError> {
        self.add_provider_with(name, path, &BTreeMap::new())
    }

    /// Loads the provider at `path` as the instance `name` with
    /// provider-level `settings`, checked against what it declares.
    pub fn add_provider_with(
        &self,
        name: &str,
        path: &Path,
        settings: &BTreeMap<String, String>,
    ) -> Result<CapabilityId, HostError> {
        self.add_provider_from(name, None, path, settings)
    }

    /// Starts the provider `name` from `opened`, the library at `path` a
    /// check already opened, or else from `path` opened now, once the name
    /// is known to be free.
    fn add_provider_from(
        &self,
        name: &str,
        opened: Option<ProviderLibrary>,
        path: &Path,
        settings: &BTreeMap<String, String>,
    ) -> Result<CapabilityId, HostError> {
        let _command = self.command();
        if !is_provider_name(name) {
            return Err(HostError::ProviderName(name.to_owned()));
        }
        if self.read().provider(name).is_some() {
            return Err(HostError::ProviderExists(name.to_owned()));
        }
        let library = Arc::new(match opened {
            Some(library) => library,
            None => trust::open(path, &self.provider_trust(), &self.inner.state_root)?,
        });
        let deliver = Arc::new(ProviderDelivery { host: Arc::downgrade(&self.inner), provider: name.to_owned() });
        let provider = NativeProvider::start(name, library, settings, deliver, &self.inner.state_root)?;
        let capability = provider.capability().clone();
        if let Provenance::Signed(signature) = provider.provenance() {
            // A trusted signature proves the time it was made has passed.
            if self.policy().trusted_issuers.contains(&signature.issuer) {
                if let Err(e) = self.inner.clock.observe(signature.issued_at) {
                    tracing::warn!(provider = %signature.subject, "the clock's mark was not kept: {e}");
                }
            }
        }
        self.write().put_provider(Arc::new(provider));
        Ok(capability)
    }

    /// Unlinks everything linked to the provider `name` and stops it.
    pub fn remove_provider(&self, name: &str) -> Result<String, HostError> {
        let _command = self.command();
        let (provider, links) =
            self.write().remove_provider(name).ok_or_else(|| HostError::UnknownProvider(name.to_owned()))?;
        for link in &links {
            unbind(&link.spec.actor, link);
        }
        provider.stop();
        Ok(format!("removed provider {name}; {} links removed", links.len()))
    }

    /// The loaded providers: (name, capability id, description).
    pub fn providers(&self) -> Vec<(String, CapabilityId, String)> {
        self.read()
            .providers()
            .map(|p| (p.name().to_owned(), p.capability().clone(), p.description().to_owned()))
            .collect()
    }

    /// Links the running actor `actor` (module key or name) to the provider
    /// `provider` for `capability` under `binding`, with `values`.
    pub fn link_provider(
        &self,
        actor: &str,
        capability: &CapabilityId,
        binding: &str,
        provider: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<(), HostError> {
        self.link(LinkSpec {
            actor: actor.to_owned(),
            capability: capability.clone(),
            binding: binding.to_owned(),
            provider: provider.to_owned(),
            values: values.clone(),
            grant: Vec::new(),
        })
    }

    /// Makes the link `spec` describes, binding the actor at the provider
    /// with the link's values (declared defaults filled in), the effective
    /// grant, and the `__wascc_*` claims keys waSCC's host added.
    ///
    /// Refused when the provider serves another capability, when the
    /// actor's claims do not grant it, when the values do not fit what the
    /// provider declares, or when the provider refuses the binding.
    pub fn link(&self, spec: LinkSpec) -> Result<(), HostError> {
        let _command = self.command();
        let (running, native) = {
            let registry = self.read();
            let running = registry.find(&spec.actor).cloned().ok_or_else(|| HostError::UnknownActor(spec.actor.clone()))?;
            let native =
                registry.provider(&spec.provider).cloned().ok_or_else(|| HostError::UnknownProvider(spec.provider.clone()))?;
            (running, native)
        };
        let key = LinkKey {
            actor: running.actor.subject().to_owned(),
            capability: spec.capability.clone(),
            binding: spec.binding.clone(),
        };
        let refuse = |reason: String| HostError::Link { actor: key.actor.clone(), capability: key.capability.clone(), reason };
        if native.capability() != &spec.capability {
            return Err(refuse(format!("provider `{}` serves {}, not {}", spec.provider, native.capability(), spec.capability)));
        }
        if !running.actor.may_use(&spec.capability) {
            return Err(refuse("the actor's signed claims do not grant it".to_owned()));
        }
        if self.read().link(&key).is_some() {
            return Err(refuse(format!("the binding `{}` is already linked; unlink it first", spec.binding)));
        }
        let values = native.library().settle(native.name(), Scope::Link, &spec.values)?;
        let spec = LinkSpec { actor: key.actor.clone(), values, ..spec };
        let enforces = settings::enforces_grants(native.library().settings());
        let (config, grant) = binding_configuration(&running.actor, &spec, enforces).map_err(|e| refuse(e.to_string()))?;
        tracing::debug!(
            actor = %key.actor,
            capability = %key.capability,
            binding = %key.binding,
            provider = %spec.provider,
            values = ?spec.values.keys().collect::<Vec<_>>(),
            grant = ?grant,
            "binding at the provider: claims grant the capability, values fit its declaration"
        );
        // Recorded before the provider binds: what it delivers from the
        // moment it serves (a request on the port it just opened, a retained
        // message) must find the link, not fail as `not-linked`.
        let link = Arc::new(Link { spec, target: LinkTarget::Provider(Arc::clone(&native)), config, grant });
        self.write().put_link(key.clone(), Arc::clone(&link));
        if let Err(refused) = native.bind_actor(&link.config) {
            self.write().remove_link(&key);
            return Err(refused.into());
        }
        tracing::info!(actor = %key.actor, capability = %key.capability, binding = %key.binding, provider = %link.spec.provider, "linked");
        Ok(())
    }

    /// Removes a link and unbinds the actor at its provider.
    pub fn unlink(&self, actor: &str, capability: &CapabilityId, binding: &str) -> Result<(), HostError> {
        let _command = self.command();
        let key = LinkKey { actor: self.key_of(actor)?, capability: capability.clone(), binding: binding.to_owned() };
        let link = self.write().remove_link(&key).ok_or_else(|| HostError::NotLinked {
            actor: actor.to_owned(),
            capability: capability.clone(),
            binding: binding.to_owned(),
        })?;
        unbind(&key.actor, &link);
        tracing::info!(actor = %key.actor, capability = %key.capability, binding = %key.binding, "unlinked");
        Ok(())
    }

    /// Unbinds every actor from its providers, stops the providers (so no
    /// new calls arrive), then stops every actor.
    pub fn shutdown(&self) {
        let _command = self.command();
        let (actors, providers) = {
            let mut registry = self.write();
            let keys: Vec<String> = registry.actors().map(|r| r.actor.subject().to_owned()).collect();
            let actors: Vec<_> = keys.iter().filter_map(|k| registry.remove_actor(k)).collect();
            let names: Vec<String> = registry.providers().map(|p| p.name().to_owned()).collect();
            let providers: Vec<_> = names.iter().filter_map(|n| registry.remove_provider(n)).collect();
            (actors, providers)
        };
        for (running, links) in &actors {
            for link in links {
                unbind(running.actor.subject(), link);
            }
        }
        for (provider, links) in &providers {
            for link in links {
                unbind(&link.spec.actor, link);
            }
            provider.stop();
        }
        for (running, _) in actors {
            let key = running.actor.subject().to_owned();
            drop(running);
            tracing::info!(actor = %key, "actor stopped");
        }
        if self.inner.temporary_state {
            // Its verified provider libraries and the providers' files: a
            // host made by `Host::new` keeps nothing once it is shut down.
            let _ = std::fs::remove_dir_all(&self.inner.state_root);
        }
    }

    fn load_file(&self, path: &Path) -> Result<Actor, HostError> {
        let policy = self.policy();
        let actor = Actor::from_file(path, &policy, self.inner.clock.now())?;
        self.observe_signed_time(&policy, &actor);
        Ok(actor)
    }

    /// Moves the clock's mark to the issue time of a token a trusted issuer
    /// signed. With no trusted issuers, anyone could sign a token dated far
    /// ahead and expire every other, so the mark is left alone.
    fn observe_signed_time(&self, policy: &Policy, actor: &Actor) {
        let claims = &actor.claims().claims;
        if policy.trusted_issuers.contains(&claims.issuer) {
            if let Err(e) = self.inner.clock.observe(claims.issued_at) {
                tracing::warn!(actor = %claims.subject, "the clock's mark was not kept: {e}");
            }
        }
    }

    fn start(&self, actor: Actor, path: Option<PathBuf>, instances: usize, limits: Limits) -> Result<String, HostError> {
        let _command = self.command();
        let subject = actor.subject().to_owned();
        if self.read().actor(&subject).is_some() {
            return Err(HostError::AlreadyRunning(subject));
        }
        let pool = self.start_pool(&actor, instances, limits)?;
        tracing::info!(actor = %subject, name = actor.name(), instances = pool.instances(), max_instances = pool.max_instances(), "actor started");
        self.write().put_actor(Arc::new(RunningActor { actor, pool, path, limits, generation: 0 }));
        Ok(subject)
    }

    fn start_pool(&self, actor: &Actor, instances: usize, limits: Limits) -> Result<ActorPool, HostError> {
        let subject = actor.subject();
        let metrics = crate::metrics::global().actor(subject, actor.name());
        let scaling = *self.inner.scaling.read().unwrap_or_else(|e| e.into_inner());
        ActorPool::start(Arc::from(subject), actor.compiled(), instances, limits, scaling, self.callbacks(actor), metrics).map_err(
            |error| HostError::Start { actor: format!("{} ({subject})", actor.name()), error },
        )
    }

    /// The replacement: everything that can refuse it runs before anything
    /// changes (the claims, the key, the revision, the links the new claims
    /// must still grant, the new instances, the providers' updated
    /// bindings); then one registry write sends new calls to the new pool,
    /// and the old pool finishes the calls it already has.
    fn replace(
        &self,
        actor: Actor,
        path: Option<PathBuf>,
        force: bool,
        instances: Option<usize>,
        limits: Option<Limits>,
    ) -> Result<String, HostError> {
        let _command = self.command();
        let key = actor.subject().to_owned();
        let refuse = |reason: String| HostError::Replace { actor: key.clone(), reason };
        let Some(old) = self.read().actor(&key).cloned() else {
            let running: Vec<String> =
                self.read().actors().map(|r| format!("{} ({})", r.actor.name(), r.actor.subject())).collect();
            return Err(HostError::Replace {
                actor: actor.name().to_owned(),
                reason: format!(
                    "no running actor has the module key {key}; a new version must be signed with the same module key \
                     as the one it replaces (running: {})",
                    if running.is_empty() { "none".to_owned() } else { running.join(", ") }
                ),
            });
        };
        let (old_rev, new_rev) = (old.actor.claims().metadata.rev, actor.claims().metadata.rev);
        if new_rev.unwrap_or(0) < old_rev.unwrap_or(0) && !force {
            return Err(refuse(format!(
                "its revision {} is lower than the running revision {}; a rollback needs --force",
                new_rev.unwrap_or(0),
                old_rev.unwrap_or(0)
            )));
        }
        let links = self.read().links_of(&key);
        let mut rebinds = Vec::new();
        for (link_key, link) in &links {
            if !actor.may_use(&link_key.capability) {
                return Err(refuse(format!(
                    "the new version's claims do not grant {}, which is linked; unlink it first",
                    link_key.capability
                )));
            }
            if let LinkTarget::Provider(provider) = &link.target {
                let enforces = settings::enforces_grants(provider.library().settings());
                let (config, grant) = binding_configuration(&actor, &link.spec, enforces).map_err(|e| refuse(e.to_string()))?;
                if config != link.config {
                    rebinds.push((link_key.clone(), Arc::clone(link), Arc::clone(provider), config, grant));
                }
            }
        }
        let instances = instances.unwrap_or(old.pool.max_instances());
        let limits = limits.unwrap_or(old.limits);
        let pool = self.start_pool(&actor, instances, limits)?;
        for (done, (_, link, provider, config, _)) in rebinds.iter().enumerate() {
            if let Err(e) = provider.bind_actor(config) {
                for (_, link, provider, _, _) in &rebinds[..done] {
                    if let Err(e) = provider.bind_actor(&link.config) {
                        tracing::error!(actor = %key, provider = provider.name(), "restoring the old binding failed: {e}");
                    }
                }
                return Err(refuse(format!("provider `{}` refused the new binding: {e}", link.spec.provider)));
            }
        }
        let name = actor.name().to_owned();
        let path = path.or_else(|| old.path.clone());
        let running = Arc::new(RunningActor { actor, pool, path, limits, generation: old.generation + 1 });
        {
            let mut registry = self.write();
            registry.put_actor(running);
            for (link_key, link, _, config, grant) in rebinds {
                let updated = Link { spec: link.spec.clone(), target: link.target.clone(), config, grant };
                registry.put_link(link_key, Arc::new(updated));
            }
        }
        tracing::info!(actor = %key, name, rev = ?new_rev, previous_rev = ?old_rev, "actor replaced; new calls go to the new version");
        let drained = drain(old);
        Ok(format!(
            "replaced {name} ({key}) rev {} with rev {}{drained}",
            old_rev.map_or("-".to_owned(), |r| r.to_string()),
            new_rev.map_or("-".to_owned(), |r| r.to_string())
        ))
    }

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

    fn key_of(&self, actor: &str) -> Result<String, HostError> {
        self.read()
            .find(actor)
            .map(|r| r.actor.subject().to_owned())
            .ok_or_else(|| HostError::UnknownActor(actor.to_owned()))
    }

    fn read(&self) -> RwLockReadGuard<'_, Registry> {
        self.inner.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.inner.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    fn command(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.commands.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn callbacks(&self, actor: &Actor) -> CallbackFactory {
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

/// Unbinds `actor` at the provider of `link`, logging a refusal: the link
/// is gone from the host either way.
fn unbind(actor: &str, link: &Link) {
    if let LinkTarget::Provider(provider) = &link.target {
        match provider.remove_actor(&link.config) {
            Ok(()) => tracing::info!(actor, provider = provider.name(), capability = %link.spec.capability, "unbound"),
            Err(e) => tracing::warn!(actor, provider = provider.name(), "unbinding failed: {e}"),
        }
    }
}

/// Lets a retired version's calls in flight finish: waits until no caller
/// holds it any more, then stops its pool. Past [`DRAIN_TIMEOUT`] the wait
/// goes on in the background. Returns a note for the command's answer.
fn drain(retired: Arc<RunningActor>) -> String {
    let started = Instant::now();
    while Arc::strong_count(&retired) > 1 && started.elapsed() < DRAIN_TIMEOUT {
        std::thread::sleep(Duration::from_millis(5));
    }
    if Arc::strong_count(&retired) > 1 {
        let key = retired.actor.subject().to_owned();
        std::thread::spawn(move || {
            while Arc::strong_count(&retired) > 1 {
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(retired);
            tracing::info!(actor = %key, "retired version drained");
        });
        return format!("; calls still in flight after {}s finish in the background", DRAIN_TIMEOUT.as_secs());
    }
    drop(retired);
    format!("; calls in flight drained in {} ms", started.elapsed().as_millis())
}

/// The `BindActor` configuration of a link, and its effective grant: the
/// link's values, the grant under `__host_edge_grant`, and the claims keys
/// waSCC's host added.
///
/// Refused when the link's values set `__host_edge_grant` themselves (only
/// the host speaks there), and when the grant narrows the capability but the
/// provider does not declare that it enforces grants (`enforces_grants`):
/// bound anyway, the actor would be unrestricted and nothing would say so.
fn binding_configuration(
    actor: &Actor,
    spec: &LinkSpec,
    enforces_grants: bool,
) -> Result<(Vec<u8>, Vec<String>), BindingError> {
    let claims = actor.claims();
    if spec.values.contains_key(grant::GRANT_KEY) {
        return Err(BindingError::ReservedValue);
    }
    let mut values = spec.values.clone();
    let grant = effective_grant(actor, &spec.capability, &spec.grant)?;
    if let Some(value) = grant.to_value() {
        if !enforces_grants {
            return Err(BindingError::NotEnforced { provider: spec.provider.clone(), grant: grant.describe() });
        }
        values.insert(grant::GRANT_KEY.to_owned(), value);
    }
    let caps: Vec<String> = actor.capabilities().iter().map(|c| c.to_string()).collect();
    values.insert(core_messages::CONFIG_CLAIMS_ISSUER.to_owned(), claims.issuer().to_owned());
    values.insert(core_messages::CONFIG_CLAIMS_CAPABILITIES.to_owned(), caps.join(","));
    values.insert(core_messages::CONFIG_CLAIMS_NAME.to_owned(), actor.name().to_owned());
    values.insert(
        core_messages::CONFIG_CLAIMS_EXPIRES.to_owned(),
        claims.claims.expires.map(|e| e.to_string()).unwrap_or_default(),
    );
    values.insert(core_messages::CONFIG_CLAIMS_TAGS.to_owned(), claims.metadata.tags.clone().unwrap_or_default().join(","));
    values.insert(core_messages::CONFIG_VERSION.to_owned(), claims.claims.id.clone());
    let config = CapabilityConfiguration { module: actor.subject().to_owned(), values };
    let bytes = codec::serialize(&config)?;
    Ok((bytes, grant.describe()))
}

/// Why a link's binding configuration cannot be made.
#[derive(Debug, thiserror::Error)]
enum BindingError {
    /// The link's values set the grant, which only the host sets.
    #[error("the link values set `{key}`, which only the host sets; a link narrows a grant with `grant = [...]`", key = grant::GRANT_KEY)]
    ReservedValue,
    /// The actor has a grant and the provider would not hold it.
    #[error(
        "provider `{provider}` does not declare that it enforces grants (no `{key}` link setting), so the grant \
         ({}) would not hold; link a provider that enforces grants, or sign the actor without one",
        grant.join("; "),
        key = grant::GRANT_KEY
    )]
    NotEnforced {
        /// The provider.
        provider: String,
        /// The grant, described.
        grant: Vec<String>,
    },
    /// A link's grant rule does not read.
    #[error("grant rule: {0}")]
    Rule(#[from] grant::GrantError),
    /// The configuration cannot be encoded.
    #[error(transparent)]
    Encode(#[from] codec::CodecError),
}

/// The signed grant for `capability` narrowed by the link's rules.
fn effective_grant(actor: &Actor, capability: &CapabilityId, link_rules: &[String]) -> Result<Grant, BindingError> {
    let link = link_rules.iter().map(|r| r.parse::<Rule>()).collect::<Result<Vec<_>, _>>()?;
    Ok(Grant::effective(actor.signed_grant(capability).as_deref(), &link))
}

/// Where a provider's call to an actor stands after its checks.
enum Delivered {
    /// Refused, or already run nested on the waiting caller.
    Answered(Result<Vec<u8>, Failure>),
    /// To be queued on this actor's pool.
    Queue(Arc<RunningActor>),
}

/// How a provider's calls reach actors: through the host, while it runs.
struct ProviderDelivery {
    host: Weak<Inner>,
    provider: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_cannot_leave_the_state_directory() {
        for good in ["kv", "http-server", "kv_2", "9"] {
            assert!(is_provider_name(good), "{good}");
        }
        for bad in ["", "..", "../etc", "a/b", ".libraries", "-x", "kv.so", "k v", "fleet", "clock", "extras", &"x".repeat(65)] {
            assert!(!is_provider_name(bad), "{bad}");
        }
        let host = Host::with_state_dir(Policy::default(), std::env::temp_dir().join("host-edge-names"));
        let err = host.add_provider("../escape", Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(err, HostError::ProviderName(_)), "{err}");
    }
}
