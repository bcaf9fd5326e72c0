//! Routing: where each call goes, read from the [`Registry`] and nothing else.
//!
//! An actor's `__host_call` arrives with a binding, a namespace and an
//! operation. A namespace that is an actor's module key is a call to that
//! actor, which the caller's claims must allow by listing that key among
//! their `caps` (waSCC's rule): otherwise any actor could make another act
//! for it with the other's capabilities. Any other namespace is a
//! capability id, which the caller's claims must grant before anything
//! linked under it sees the call. A provider's call to an
//! actor is allowed only along a link between the two, and only while the
//! actor's claims grant the provider's capability. The router holds no state
//! of its own: it answers from a registry snapshot under a read lock, and
//! the call itself runs after the lock is released.

use std::collections::BTreeSet;
use std::sync::Arc;

use provider_abi::{ErrorKind, Failure};

use crate::actor::Actor;
use crate::capability::CapabilityId;
use crate::engine::InvokeError;
pub use crate::handler::CapabilityHandler;
use crate::registry::{LinkKey, LinkTarget, Registry, RunningActor};

/// Why a host call was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The namespace is neither an actor key nor a capability id.
    #[error("`{0}` is neither an actor key nor a capability id")]
    BadNamespace(String),
    /// The caller's claims do not grant the capability.
    #[error("actor {actor} is not authorized to use {capability}: its signed claims do not grant it")]
    NotGranted {
        /// The calling actor.
        actor: String,
        /// The capability it asked for.
        capability: CapabilityId,
    },
    /// The caller's claims do not allow calling the target actor.
    #[error(
        "actor {actor} is not authorized to call actor {target}: its signed claims do not list that module key \
         (sign the caller with `--call {target}`)"
    )]
    ActorNotGranted {
        /// The calling actor.
        actor: String,
        /// The actor it tried to call.
        target: String,
    },
    /// Nothing is linked to serve the capability for this actor.
    #[error("no provider is linked for {capability} under the binding `{binding}`")]
    NotLinked {
        /// The capability.
        capability: CapabilityId,
        /// The binding the actor named.
        binding: String,
    },
    /// The provider answered with an error.
    #[error("{capability}: {}", failure.message)]
    Provider {
        /// The capability.
        capability: CapabilityId,
        /// The provider's failure, typed.
        failure: Failure,
    },
    /// The target actor of an actor-to-actor call is not running here.
    #[error("no actor {0} is running on this host")]
    UnknownActor(String),
    /// An actor called itself, which would deadlock its own instance.
    #[error("an actor cannot call itself")]
    SelfCall,
    /// The target actor of an actor-to-actor call failed.
    #[error("actor call failed: {0}")]
    Actor(#[from] InvokeError),
}

impl DispatchError {
    /// The typed outcome the calling actor sees.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DispatchError::BadNamespace(_) => ErrorKind::BadRequest,
            DispatchError::NotGranted { .. } | DispatchError::ActorNotGranted { .. } | DispatchError::SelfCall => {
                ErrorKind::Denied
            }
            DispatchError::NotLinked { .. } => ErrorKind::NotLinked,
            DispatchError::Provider { failure, .. } => failure.kind,
            DispatchError::UnknownActor(_) => ErrorKind::Unavailable,
            DispatchError::Actor(e) => e.kind(),
        }
    }
}

/// The target of a host call, decoded from its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Another actor, by module key.
    Actor(String),
    /// A capability.
    Capability(CapabilityId),
}

impl Target {
    /// Decodes a `__host_call` namespace.
    pub fn parse(namespace: &str) -> Result<Target, DispatchError> {
        // A module key: 56 characters of base32 starting with `M`.
        if namespace.len() == 56
            && namespace.starts_with('M')
            && namespace.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        {
            return Ok(Target::Actor(namespace.to_owned()));
        }
        CapabilityId::parse(namespace)
            .map(Target::Capability)
            .map_err(|_| DispatchError::BadNamespace(namespace.to_owned()))
    }
}

/// What an actor's verified claims let it reach through `__host_call`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// The capabilities granted, canonical ids.
    pub capabilities: BTreeSet<CapabilityId>,
    /// The module keys of the actors it may call.
    pub actors: BTreeSet<String>,
}

impl Grants {
    /// What `actor`'s claims grant.
    pub fn of(actor: &Actor) -> Grants {
        Grants { capabilities: actor.capabilities().clone(), actors: actor.callable_actors().clone() }
    }
}

/// The capability check: the claims must grant what the call names.
pub fn authorize(
    actor: &str,
    granted: &BTreeSet<CapabilityId>,
    capability: &CapabilityId,
) -> Result<(), DispatchError> {
    if granted.contains(capability) {
        Ok(())
    } else {
        Err(DispatchError::NotGranted {
            actor: actor.to_owned(),
            capability: capability.clone(),
        })
    }
}

/// Where an actor's host call goes.
pub(crate) enum Route {
    /// To another actor's pool.
    Actor(Arc<RunningActor>),
    /// To whatever serves a capability.
    Capability(CapabilityId, LinkTarget),
}

/// Routes the host call of `caller` (whose claims grant `granted`).
pub(crate) fn route_call(
    registry: &Registry,
    caller: &str,
    granted: &Grants,
    binding: &str,
    namespace: &str,
) -> Result<Route, DispatchError> {
    match Target::parse(namespace)? {
        Target::Actor(target) => {
            if target == caller {
                return Err(DispatchError::SelfCall);
            }
            // Checked before the registry is asked, so an actor without the
            // grant cannot even learn which actors run here.
            if !granted.actors.contains(&target) {
                return Err(DispatchError::ActorNotGranted { actor: caller.to_owned(), target });
            }
            let running = registry.actor(&target).ok_or(DispatchError::UnknownActor(target))?;
            Ok(Route::Actor(Arc::clone(running)))
        }
        Target::Capability(capability) => {
            authorize(caller, &granted.capabilities, &capability)?;
            let key = LinkKey { actor: caller.to_owned(), capability, binding: binding.to_owned() };
            let link = registry.link(&key).ok_or_else(|| DispatchError::NotLinked {
                capability: key.capability.clone(),
                binding: key.binding.clone(),
            })?;
            Ok(Route::Capability(key.capability, link.target.clone()))
        }
    }
}

/// Routes a call from the provider instance `provider` to `actor`: allowed
/// only along a link between the two, while the actor's claims grant the
/// provider's capability.
pub(crate) fn route_delivery(registry: &Registry, provider: &str, actor: &str) -> Result<Arc<RunningActor>, Failure> {
    let capability = registry.delivery(provider, actor).ok_or_else(|| {
        Failure::new(ErrorKind::NotLinked, format!("actor {actor} is not linked to provider `{provider}`"))
    })?;
    let running = registry
        .actor(actor)
        .ok_or_else(|| Failure::new(ErrorKind::Unavailable, format!("no actor {actor} is running")))?;
    authorize(actor, running.actor.capabilities(), capability)
        .map_err(|e| Failure::new(ErrorKind::Denied, e.to_string()))?;
    Ok(Arc::clone(running))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::WellKnown;

    #[test]
    fn a_module_key_namespace_is_an_actor_call() {
        let key = "MB2ZQB6ROOMAYBO4ZCTFYWN7YIVBWA3MTKZYAQKJMTIHE2ELLRW2E3ZW";
        assert_eq!(Target::parse(key).unwrap(), Target::Actor(key.to_owned()));
    }

    #[test]
    fn an_alias_namespace_is_the_canonical_capability() {
        assert_eq!(
            Target::parse("wasmcloud:keyvalue").unwrap(),
            Target::Capability(WellKnown::KeyValue.into())
        );
    }

    #[test]
    fn an_ungranted_capability_is_refused_by_name() {
        let granted = BTreeSet::from([CapabilityId::from(WellKnown::Logging)]);
        let err = authorize("Mxyz", &granted, &WellKnown::KeyValue.into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "actor Mxyz is not authorized to use wascc:keyvalue: its signed claims do not grant it"
        );
        assert!(authorize("Mxyz", &granted, &WellKnown::Logging.into()).is_ok());
    }
}
