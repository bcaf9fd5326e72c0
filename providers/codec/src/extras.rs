//! `wascc:extras`: GUIDs, sequence numbers and random numbers.

use serde::{Deserialize, Serialize};

/// Actor -> provider: a GUID; carries [`GeneratorRequest`].
pub const OP_REQUEST_GUID: &str = "RequestGuid";
/// Actor -> provider: the next sequence number; carries [`GeneratorRequest`].
pub const OP_REQUEST_SEQUENCE: &str = "RequestSequence";
/// Actor -> provider: a random number in `min..=max`; carries [`GeneratorRequest`].
pub const OP_REQUEST_RANDOM: &str = "RequestRandom";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorRequest {
    /// A GUID.
    pub guid: bool,
    /// A sequence number.
    pub sequence: bool,
    /// A random number.
    pub random: bool,
    /// Lower bound of the random number.
    pub min: u32,
    /// Upper bound of the random number.
    pub max: u32,
}

/// What was generated; fields not asked for are left at their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorResult {
    /// The GUID, if asked for.
    pub guid: Option<String>,
    /// The sequence number.
    pub sequence_number: u64,
    /// The random number.
    pub random_number: u32,
}
