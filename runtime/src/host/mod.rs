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

//!
//! One concern a file: [`Host`] and its state here; the actors it runs
//! (`actors`), the providers it loads (`providers`), links (`links`) and
//! the configuration a link binds with (`binding`); the host calls actors
//! make (`calls`) and the calls providers make into actors (`delivery`);
//! and [`HostError`] (`error`).

mod actors;
mod binding;
mod calls;
mod delivery;
mod error;
mod links;
mod providers;

pub use error::HostError;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use crate::actor::Actor;
use crate::builtin::{BuiltinSettings, Builtins};
use crate::capability::CapabilityId;
use crate::claims::{Policy, TrustedClock};
use crate::command::{Command, Status};
use crate::pool::Scaling;
use crate::preflight::Prepared;
use crate::provider::{Provenance, ProviderTrust};
use crate::registry::Registry;
use crate::state_dir::CLOCK_FILE;
use links::unbind;

/// How long an actor waits for another actor it called, and a provider for
/// an actor it delivers to.
pub const ACTOR_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a replaced or stopped actor's calls in flight may take to
/// finish before the command returns; they still finish afterwards.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

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
}
