//! `wascc:logging`: log lines from actors.

use serde::{Deserialize, Serialize};

/// Actor -> provider: one log line; carries [`WriteLogRequest`].
pub const OP_LOG: &str = "WriteLog";

/// A log line. Levels: 1 error, 2 warn, 3 info, 4 debug, 5 trace.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteLogRequest {
    /// The level, 1 (error) to 5 (trace).
    pub level: u32,
    /// The text.
    pub body: String,
}
