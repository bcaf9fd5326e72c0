//! Links: an actor bound to a provider (or an in-process handler) for one
//! capability under one binding name, made only when the actor's claims
//! grant the capability and the provider accepts the binding.

use std::collections::BTreeMap;
use std::sync::Arc;

use provider_abi::settings::{self, Scope};

use super::binding::binding_configuration;
use super::{Host, HostError};
use crate::capability::CapabilityId;
use crate::command::LinkSpec;
use crate::registry::{Link, LinkKey, LinkTarget};
use crate::router::CapabilityHandler;

impl Host {
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
}

/// Unbinds `actor` at the provider of `link`, logging a refusal: the link
/// is gone from the host either way.
pub(super) fn unbind(actor: &str, link: &Link) {
    if let LinkTarget::Provider(provider) = &link.target {
        match provider.remove_actor(&link.config) {
            Ok(()) => tracing::info!(actor, provider = provider.name(), capability = %link.spec.capability, "unbound"),
            Err(e) => tracing::warn!(actor, provider = provider.name(), "unbinding failed: {e}"),
        }
    }
}
