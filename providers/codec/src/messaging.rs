//! `wascc:messaging`: publish/subscribe and request/reply.

use serde::{Deserialize, Serialize};

/// Actor -> provider: publish; carries [`BrokerMessage`].
pub const OP_PUBLISH_MESSAGE: &str = "Publish";
/// Provider -> actor: a message arrived; carries [`BrokerMessage`].
pub const OP_DELIVER_MESSAGE: &str = "DeliverMessage";
/// Actor -> provider: request and wait for a reply; carries [`RequestMessage`].
pub const OP_PERFORM_REQUEST: &str = "Request";

/// A published or delivered message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerMessage {
    /// The subject (topic).
    pub subject: String,
    /// Where replies go; `""` for none.
    pub reply_to: String,
    /// The payload.
    #[serde(default, with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// A request expecting one reply.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestMessage {
    /// The subject (topic).
    pub subject: String,
    /// The payload.
    #[serde(default, with = "serde_bytes")]
    pub body: Vec<u8>,
    /// How long to wait, in milliseconds.
    #[serde(rename = "timeout")]
    pub timeout_ms: i64,
}
