//! The configuration a link binds an actor with at its provider: the link's
//! values, the effective grant (signed, narrowed by the link) and the
//! claims keys waSCC's host added, which providers written for waSCC read.

use codec::core::{self as core_messages, CapabilityConfiguration};
use provider_abi::grant::{self, Grant, Rule};

use crate::actor::Actor;
use crate::capability::CapabilityId;
use crate::command::LinkSpec;

/// The `BindActor` configuration of a link, and its effective grant: the
/// link's values, the grant under `__host_edge_grant`, and the claims keys
/// waSCC's host added.
///
/// Refused when the link's values set `__host_edge_grant` themselves (only
/// the host speaks there), and when the grant narrows the capability but the
/// provider does not declare that it enforces grants (`enforces_grants`):
/// bound anyway, the actor would be unrestricted and nothing would say so.
pub(super) fn binding_configuration(
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
pub(super) enum BindingError {
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
