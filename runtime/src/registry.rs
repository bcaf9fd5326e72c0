//! The registry: what the host runs — actors, providers, links — and the
//! indexes the router reads, as plain data.
//!
//! Nothing here starts, stops or calls anything: [`crate::Host`] does the
//! I/O of a command (instantiating a pool, binding at a provider) and then
//! records the outcome here, under one write lock. Links are indexed both
//! by (actor, capability, binding), for an actor's host calls, and by
//! (provider, actor), for a provider's calls to an actor, so neither
//! direction scans.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use provider_abi::redact::redact_values;

use crate::actor::Actor;
use crate::capability::CapabilityId;
use crate::command::{ActorStatus, LinkSpec, LinkStatus, ProviderStatus, Status};
use crate::engine::Limits;
use crate::pool::ActorPool;
use crate::provider::{NativeProvider, Provenance};
use crate::handler::CapabilityHandler;

/// A running actor: its verified module and the pool serving it.
pub(crate) struct RunningActor {
    pub actor: Actor,
    pub pool: ActorPool,
    pub path: Option<PathBuf>,
    pub limits: Limits,
    pub generation: u64,
}

/// What serves a link.
#[derive(Clone)]
pub(crate) enum LinkTarget {
    /// A loaded provider instance.
    Provider(Arc<NativeProvider>),
    /// A handler in the host's own process.
    Handler(Arc<dyn CapabilityHandler>),
}

/// The (actor, capability, binding) an actor's host call names.
#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LinkKey {
    pub actor: String,
    pub capability: CapabilityId,
    pub binding: String,
}

/// One link.
pub(crate) struct Link {
    /// What the link was made from (actor by module key).
    pub spec: LinkSpec,
    pub target: LinkTarget,
    /// The `BindActor` configuration the provider got, sent again with
    /// `RemoveActor`.
    pub config: Vec<u8>,
    /// The effective grant, one layer a line.
    pub grant: Vec<String>,
}

impl Link {
    fn provider(&self) -> Option<&Arc<NativeProvider>> {
        match &self.target {
            LinkTarget::Provider(p) => Some(p),
            LinkTarget::Handler(_) => None,
        }
    }
}

/// Everything the host runs.
#[derive(Default)]
pub(crate) struct Registry {
    actors: HashMap<String, Arc<RunningActor>>,
    providers: BTreeMap<String, Arc<NativeProvider>>,
    links: HashMap<LinkKey, Arc<Link>>,
    /// (provider, actor) -> the capability and how many links join them.
    deliveries: HashMap<(String, String), (CapabilityId, usize)>,
}

impl Registry {
    /// The actor with module key `key`.
    pub fn actor(&self, key: &str) -> Option<&Arc<RunningActor>> {
        self.actors.get(key)
    }

    /// The actor with module key or name `actor`.
    pub fn find(&self, actor: &str) -> Option<&Arc<RunningActor>> {
        self.actors.get(actor).or_else(|| {
            let mut named: Vec<_> = self.actors.values().filter(|r| r.actor.name() == actor).collect();
            named.sort_by(|a, b| a.actor.subject().cmp(b.actor.subject()));
            named.into_iter().next()
        })
    }

    /// Every running actor.
    pub fn actors(&self) -> impl Iterator<Item = &Arc<RunningActor>> {
        self.actors.values()
    }

    /// Records a started actor, or the new version of a running one;
    /// returns the version it replaces.
    pub fn put_actor(&mut self, running: Arc<RunningActor>) -> Option<Arc<RunningActor>> {
        self.actors.insert(running.actor.subject().to_owned(), running)
    }

    /// Forgets an actor and every link of it; returns both.
    pub fn remove_actor(&mut self, key: &str) -> Option<(Arc<RunningActor>, Vec<Arc<Link>>)> {
        let running = self.actors.remove(key)?;
        let keys: Vec<LinkKey> = self.links.keys().filter(|k| k.actor == key).cloned().collect();
        let links = keys.iter().filter_map(|k| self.remove_link(k)).collect();
        Some((running, links))
    }

    /// The provider instance called `name`.
    pub fn provider(&self, name: &str) -> Option<&Arc<NativeProvider>> {
        self.providers.get(name)
    }

    /// Every provider instance.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<NativeProvider>> {
        self.providers.values()
    }

    /// Records a started provider instance.
    pub fn put_provider(&mut self, provider: Arc<NativeProvider>) {
        self.providers.insert(provider.name().to_owned(), provider);
    }

    /// Forgets a provider and every link to it; returns both.
    pub fn remove_provider(&mut self, name: &str) -> Option<(Arc<NativeProvider>, Vec<Arc<Link>>)> {
        let provider = self.providers.remove(name)?;
        let keys: Vec<LinkKey> = self
            .links
            .iter()
            .filter(|(_, l)| l.provider().is_some_and(|p| p.name() == name))
            .map(|(k, _)| k.clone())
            .collect();
        let links = keys.iter().filter_map(|k| self.remove_link(k)).collect();
        Some((provider, links))
    }

    /// The link at `key`.
    pub fn link(&self, key: &LinkKey) -> Option<&Arc<Link>> {
        self.links.get(key)
    }

    /// Every link of the actor `key`.
    pub fn links_of(&self, key: &str) -> Vec<(LinkKey, Arc<Link>)> {
        let mut links: Vec<_> =
            self.links.iter().filter(|(k, _)| k.actor == key).map(|(k, l)| (k.clone(), Arc::clone(l))).collect();
        links.sort_by(|a, b| a.0.cmp(&b.0));
        links
    }

    /// Records a link (replacing the one at the same key, whose delivery
    /// index entry it takes over).
    pub fn put_link(&mut self, key: LinkKey, link: Arc<Link>) {
        if let Some(old) = self.links.remove(&key) {
            self.forget_delivery(&key, &old);
        }
        if let Some(provider) = link.provider() {
            self.deliveries
                .entry((provider.name().to_owned(), key.actor.clone()))
                .or_insert_with(|| (key.capability.clone(), 0))
                .1 += 1;
        }
        self.links.insert(key, link);
    }

    /// Forgets the link at `key`.
    pub fn remove_link(&mut self, key: &LinkKey) -> Option<Arc<Link>> {
        let link = self.links.remove(key)?;
        self.forget_delivery(key, &link);
        Some(link)
    }

    fn forget_delivery(&mut self, key: &LinkKey, link: &Link) {
        if let Some(provider) = link.provider() {
            let index = (provider.name().to_owned(), key.actor.clone());
            if let Some(entry) = self.deliveries.get_mut(&index) {
                entry.1 -= 1;
                if entry.1 == 0 {
                    self.deliveries.remove(&index);
                }
            }
        }
    }

    /// The capability a link joins `provider` to `actor` by, if one does.
    pub fn delivery(&self, provider: &str, actor: &str) -> Option<&CapabilityId> {
        self.deliveries.get(&(provider.to_owned(), actor.to_owned())).map(|(c, _)| c)
    }

    /// What runs, without provider health (which calls into providers).
    /// Provider settings and link values are shown as
    /// [`redact_values`] shows them: secrets hidden, credentials in URLs
    /// redacted, since the status is printed and sent over the control
    /// socket.
    pub fn status(&self) -> Status {
        let mut actors: Vec<ActorStatus> = self
            .actors
            .values()
            .map(|r| {
                let metadata = &r.actor.claims().metadata;
                ActorStatus {
                    key: r.actor.subject().to_owned(),
                    name: r.actor.name().to_owned(),
                    rev: metadata.rev,
                    ver: metadata.ver.clone(),
                    hash: metadata.hash.clone(),
                    path: r.path.clone(),
                    instances: r.pool.max_instances(),
                    live_instances: r.pool.instances(),
                    memory_bytes: r.pool.memory_bytes(),
                    limits: r.limits,
                    generation: r.generation,
                }
            })
            .collect();
        actors.sort_by(|a, b| (&a.name, &a.key).cmp(&(&b.name, &b.key)));
        let providers = self
            .providers
            .values()
            .map(|p| ProviderStatus {
                name: p.name().to_owned(),
                capability: p.capability().clone(),
                description: p.description().to_owned(),
                path: p.library().path().to_path_buf(),
                settings: redact_values(p.settings()),
                rev: match p.library().provenance() {
                    Provenance::Signed(signature) => signature.revision,
                    Provenance::Unsigned => None,
                },
                health: Ok(()),
            })
            .collect();
        let mut links: Vec<(&LinkKey, &Arc<Link>)> = self.links.iter().collect();
        links.sort_by(|a, b| a.0.cmp(b.0));
        let links = links
            .into_iter()
            .map(|(key, link)| LinkStatus {
                actor: key.actor.clone(),
                capability: key.capability.clone(),
                binding: key.binding.clone(),
                provider: link.spec.provider.clone(),
                values: redact_values(&link.spec.values),
                grant: link.grant.clone(),
            })
            .collect();
        Status { actors, providers, links, builtins: Vec::new() }
    }
}
