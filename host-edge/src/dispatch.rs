//! Routing an actor's host calls, and the capability check on each one.
//!
//! Every `__host_call` an actor makes arrives here with its binding, namespace
//! and operation. A namespace that is an actor's module key is a call to that
//! actor; any other is a capability id, which the caller's claims must grant
//! before anything linked under it sees the call.

use std::collections::BTreeSet;

use crate::capability::CapabilityId;
use crate::engine::InvokeError;

/// Something that serves a capability for actors: a provider, through
/// whatever interface it is loaded by.
pub trait CapabilityHandler: Send + Sync {
    /// Handles `operation` with `payload` from the actor `actor` (its
    /// module key), returning the reply payload or an error text for the
    /// actor.
    fn handle(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String>;
}

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
    /// Nothing is linked to serve the capability for this actor.
    #[error("no provider is linked for {capability} under the binding `{binding}`")]
    NotLinked {
        /// The capability.
        capability: CapabilityId,
        /// The binding the actor named.
        binding: String,
    },
    /// The provider answered with an error.
    #[error("{capability}: {message}")]
    Provider {
        /// The capability.
        capability: CapabilityId,
        /// The provider's error text.
        message: String,
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
