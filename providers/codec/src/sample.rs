//! The sampling call: a link that sets `SAMPLE_EVERY` has its provider call
//! the actor's `Sample` handler on a schedule, so an actor that reads a
//! sensor needs no request from outside to do it (waPC has no timers).
//! Shared by the bus contracts ([`crate::i2c`], [`crate::spi`]).

use serde::{Deserialize, Serialize};

/// Provider -> actor: the link's sampling interval has come round; carries
/// [`Sample`], replies nothing (msgpack `nil`).
pub const OP_SAMPLE: &str = "Sample";

/// The sampling call a link asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// How many sampling calls came before this one since the link was
    /// made.
    pub sequence: u64,
    /// Intervals that passed while the actor was still busy with an
    /// earlier call (they are skipped, not queued).
    pub missed: u64,
}
