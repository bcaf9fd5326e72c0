//! Messages between the host and providers about the host itself: binding
//! actors, health, descriptors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The actor name the host uses for messages it originates.
pub const SYSTEM_ACTOR: &str = "system";
/// Host -> provider: an actor is linked; carries [`CapabilityConfiguration`].
pub const OP_BIND_ACTOR: &str = "BindActor";
/// Host -> provider: an actor's link is gone; carries [`CapabilityConfiguration`].
pub const OP_REMOVE_ACTOR: &str = "RemoveActor";
/// Host -> actor: a liveness probe; carries [`HealthRequest`].
pub const OP_HEALTH_REQUEST: &str = "HealthRequest";
/// Host -> provider: describe yourself; replies [`CapabilityDescriptor`].
pub const OP_GET_CAPABILITY_DESCRIPTOR: &str = "GetCapabilityDescriptor";

/// `values` key the host adds: the actor's issuer (account key).
pub const CONFIG_CLAIMS_ISSUER: &str = "__wascc_issuer";
/// `values` key the host adds: the actor's capabilities, comma-joined.
pub const CONFIG_CLAIMS_CAPABILITIES: &str = "__wascc_capabilities";
/// `values` key the host adds: the actor's name.
pub const CONFIG_CLAIMS_NAME: &str = "__wascc_name";
/// `values` key the host adds: the actor's expiry (seconds since the epoch, or empty).
pub const CONFIG_CLAIMS_EXPIRES: &str = "__wascc_expires";
/// `values` key the host adds: the actor's tags, comma-joined.
pub const CONFIG_CLAIMS_TAGS: &str = "__wascc_tags";
/// `values` key host-edge adds: the id of the actor's token, different for
/// every signed version, so replacing an actor always rebinds it and a
/// provider learns that a new version took over (the GPIO provider returns
/// the old version's outputs to their safe state).
pub const CONFIG_VERSION: &str = "__host_edge_version";

/// An actor's link configuration, sent when it is bound or removed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CapabilityConfiguration {
    /// The actor's module key.
    pub module: String,
    /// The link's values, plus the `__wascc_*` claims keys.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

/// A liveness probe sent to an actor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HealthRequest {
    /// Unused; waSCC's message has this one field.
    pub placeholder: bool,
}

/// What a provider says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CapabilityDescriptor {
    /// The capability id it serves.
    pub id: String,
    /// A human-friendly name.
    pub name: String,
    /// A version string.
    pub version: String,
    /// A monotonically increasing revision.
    pub revision: u32,
    /// A longer description.
    pub long_description: String,
    /// The operations it supports.
    pub supported_operations: Vec<OperationDescriptor>,
}

/// One operation in a [`CapabilityDescriptor`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OperationDescriptor {
    /// The operation name.
    pub name: String,
    /// `ToActor`, `ToProvider` or `Both`, as waSCC wrote it.
    pub direction: String,
    /// What it does.
    pub doctext: String,
}
