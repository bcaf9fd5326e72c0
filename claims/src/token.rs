//! The actor token: wascap's JWT with host-edge's actor metadata.
//!
//! wascap's `Claims<T>` handles the JWT framing soundly and is generic over the
//! `wascap` metadata object. Its own component type drops the `caps` list, so
//! the metadata type here is written out in full, field for field as waSCC
//! signed it, plus host-edge's own optional `grants`, which other wascap
//! tools ignore.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wascap::jwt::WascapEntity;

/// The JWT claims of an actor, as wascap encodes and decodes them.
pub type ActorClaims = wascap::jwt::Claims<ActorMetadata>;

/// The `wascap` object of an actor token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorMetadata {
    /// A friendly name for the actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SHA-256, uppercase hex, of the module without its claims section.
    pub hash: String,
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Capability ids the actor may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    /// A monotonically increasing revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i32>,
    /// A human-friendly version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    /// True for capability providers; actors carry false.
    #[serde(default)]
    pub prov: bool,
    /// Fine-grained grants, host-edge's own field: for a capability id in
    /// `caps`, the rule texts (`prefix:sensors:`) that narrow what the actor
    /// may touch through it (see `provider_abi::grant`). Left out when the
    /// token carries none, so tokens without grants read as before, and
    /// other wascap tools skip it as an unknown field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<BTreeMap<String, Vec<String>>>,
}

impl WascapEntity for ActorMetadata {
    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "Anonymous".to_owned())
    }
}

/// The revision of the wascap claims layout host-edge writes. Current wascap
/// checks the module hash only for tokens that carry a revision of at least 3,
/// so writing it lets wascap-based tools verify our hashes too.
pub const WASCAP_REVISION: u32 = 3;

/// Builds a claims set. `wascap_revision` is private in wascap's type, so the
/// claims are assembled from their JSON form, the only public way to set it.
pub(crate) fn new_claims<T: Serialize + serde::de::DeserializeOwned + WascapEntity>(
    fields: ClaimsFields,
    metadata: T,
) -> Result<wascap::jwt::Claims<T>, serde_json::Error> {
    let mut value = serde_json::json!({
        "jti": fields.id,
        "iat": fields.issued_at,
        "iss": fields.issuer,
        "sub": fields.subject,
        "wascap": metadata,
        "wascap_revision": WASCAP_REVISION,
    });
    if let Some(exp) = fields.expires {
        value["exp"] = exp.into();
    }
    if let Some(nbf) = fields.not_before {
        value["nbf"] = nbf.into();
    }
    serde_json::from_value(value)
}

/// The registered JWT fields of a new token.
#[derive(Debug, Clone)]
pub(crate) struct ClaimsFields {
    pub id: String,
    pub issued_at: u64,
    pub issuer: String,
    pub subject: String,
    pub expires: Option<u64>,
    pub not_before: Option<u64>,
}
