//! The actors a host runs: starting, replacing (with the checks that can
//! refuse it first), stopping and calling them, and draining a retired
//! version's calls in flight.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use provider_abi::settings;

use super::binding::binding_configuration;
use super::links::unbind;
use super::{Host, HostError, DRAIN_TIMEOUT};
use crate::actor::Actor;
use crate::claims::Policy;
use crate::engine::Limits;
use crate::pool::ActorPool;
use crate::registry::{Link, LinkTarget, RunningActor};

impl Host {
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

    pub(super) fn load_file(&self, path: &Path) -> Result<Actor, HostError> {
        let policy = self.policy();
        let actor = Actor::from_file(path, &policy, self.inner.clock.now())?;
        self.observe_signed_time(&policy, &actor);
        Ok(actor)
    }

    /// Moves the clock's mark to the issue time of a token a trusted issuer
    /// signed. With no trusted issuers, anyone could sign a token dated far
    /// ahead and expire every other, so the mark is left alone.
    pub(super) fn observe_signed_time(&self, policy: &Policy, actor: &Actor) {
        let claims = &actor.claims().claims;
        if policy.trusted_issuers.contains(&claims.issuer) {
            if let Err(e) = self.inner.clock.observe(claims.issued_at) {
                tracing::warn!(actor = %claims.subject, "the clock's mark was not kept: {e}");
            }
        }
    }

    pub(super) fn start(&self, actor: Actor, path: Option<PathBuf>, instances: usize, limits: Limits) -> Result<String, HostError> {
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
    pub(super) fn replace(
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
