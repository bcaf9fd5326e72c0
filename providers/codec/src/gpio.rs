//! `iot:gpio`: an actor's pins on the board, and the edges they see.
//!
//! waSCC had no GPIO capability; this contract is host-edge's own, in the
//! same style (msgpack maps keyed by camelCase field names). A pin is named
//! as the actor likes: by BCM number (`"17"`, `"gpio17"`) or by a label the
//! manifest or the board definition maps to a number (`"led"`), as the
//! wasi-gpio proposal does. Every reply to a pin operation is a
//! [`PinState`], so the actor learns which BCM pin its label meant.
//!
//! An actor first opens a pin in a mode (input, output or PWM), then reads,
//! writes, toggles or re-tunes it, and releases it when done; the host
//! releases every pin of an actor that stops, returning outputs to their
//! safe state. Edges on an input opened with an [`Edge`] other than
//! [`Edge::None`] arrive as [`OP_HANDLE_EDGE`] calls carrying an
//! [`EdgeEvent`].

use serde::{Deserialize, Serialize};

/// The capability id.
pub const CAPABILITY_ID: &str = "iot:gpio";

/// Actor -> provider: open a pin as an input; carries [`InputRequest`],
/// replies [`PinState`].
pub const OP_OPEN_INPUT: &str = "OpenInput";
/// Actor -> provider: open a pin as an output; carries [`OutputRequest`],
/// replies [`PinState`].
pub const OP_OPEN_OUTPUT: &str = "OpenOutput";
/// Actor -> provider: open a pin as a PWM output, or change the frequency
/// and duty cycle of one already open; carries [`PwmRequest`], replies
/// [`PinState`].
pub const OP_OPEN_PWM: &str = "OpenPwm";
/// Actor -> provider: read the level of an open pin; carries [`PinRequest`],
/// replies [`PinState`].
pub const OP_READ: &str = "Read";
/// Actor -> provider: set the level of an output; carries [`WriteRequest`],
/// replies [`PinState`].
pub const OP_WRITE: &str = "Write";
/// Actor -> provider: invert the level of an output; carries [`PinRequest`],
/// replies [`PinState`] with the new level.
pub const OP_TOGGLE: &str = "Toggle";
/// Actor -> provider: give a pin back; an output returns to its safe state.
/// Carries [`PinRequest`], replies [`PinState`] with the level it was left
/// at.
pub const OP_RELEASE: &str = "Release";
/// Provider -> actor: an edge on an input the actor opened; carries
/// [`EdgeEvent`], replies nothing (msgpack `nil`).
pub const OP_HANDLE_EDGE: &str = "HandleEdge";

/// A logic level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 0 V.
    #[default]
    Low,
    /// 3.3 V.
    High,
}

impl Level {
    /// The other level.
    pub fn inverted(self) -> Level {
        match self {
            Level::Low => Level::High,
            Level::High => Level::Low,
        }
    }

    /// `"low"` or `"high"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::High => "high",
        }
    }
}

impl From<bool> for Level {
    fn from(high: bool) -> Level {
        if high {
            Level::High
        } else {
            Level::Low
        }
    }
}

/// The internal resistor of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pull {
    /// Floating: the circuit drives the line.
    #[default]
    None,
    /// Pulled up to 3.3 V (a button to ground reads low when pressed).
    Up,
    /// Pulled down to ground.
    Down,
}

/// Which changes of an input the actor wants to hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Edge {
    /// None: the actor reads the pin when it wants to.
    #[default]
    None,
    /// Low to high.
    Rising,
    /// High to low.
    Falling,
    /// Both.
    Both,
}

impl Edge {
    /// Whether a change to `level` is an edge of this kind.
    pub fn matches(self, level: Level) -> bool {
        match self {
            Edge::None => false,
            Edge::Rising => level == Level::High,
            Edge::Falling => level == Level::Low,
            Edge::Both => true,
        }
    }
}

/// Open a pin as an input.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRequest {
    /// BCM number (`"17"`) or label (`"button"`).
    pub pin: String,
    /// The internal resistor.
    #[serde(default)]
    pub pull: Pull,
    /// The edges delivered as [`OP_HANDLE_EDGE`].
    #[serde(default)]
    pub edge: Edge,
    /// Changes within this many milliseconds of a delivered edge are
    /// treated as bounce; the level the line settles at is delivered once
    /// the time has passed. 0 turns debouncing off.
    #[serde(default)]
    pub debounce_ms: u32,
}

/// Open a pin as an output.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputRequest {
    /// BCM number or label.
    pub pin: String,
    /// The level the pin starts at.
    #[serde(default)]
    pub level: Level,
}

/// Open a pin as a PWM output, or retune one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PwmRequest {
    /// BCM number or label.
    pub pin: String,
    /// Cycles per second.
    pub frequency_hz: f64,
    /// The share of each cycle spent high, from 0.0 to 1.0.
    pub duty_cycle: f64,
    /// Use the board's hardware PWM channel for this pin (refused where the
    /// board has none); software PWM, on any pin, otherwise.
    #[serde(default)]
    pub hardware: bool,
}

/// Name one pin the actor has open.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinRequest {
    /// BCM number or label.
    pub pin: String,
}

/// Set an output's level.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteRequest {
    /// BCM number or label.
    pub pin: String,
    /// The level to drive.
    pub level: Level,
}

/// A pin as the provider left it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinState {
    /// The BCM number.
    pub pin: u8,
    /// Its label, `""` when it has none.
    pub label: String,
    /// The level read or driven.
    pub level: Level,
}

/// An edge on an input.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeEvent {
    /// The BCM number.
    pub pin: u8,
    /// Its label, `""` when it has none.
    pub label: String,
    /// The level after the edge.
    pub level: Level,
    /// [`Edge::Rising`] or [`Edge::Falling`].
    pub edge: Edge,
    /// When the edge was seen, in microseconds of the provider's monotonic
    /// clock (not wall time: a board without a real-time clock has none
    /// worth trusting). Differences between events are exact.
    pub timestamp_us: u64,
    /// Counts the edges seen on this pin since it was opened, from 1; a gap
    /// is an edge that was dropped.
    pub sequence: u64,
    /// Edges on this pin dropped since the last one delivered, because the
    /// actor's queue was full.
    pub dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_pulls_and_edges_are_lowercase_strings() {
        let bytes = crate::serialize(&InputRequest {
            pin: "button".into(),
            pull: Pull::Up,
            edge: Edge::Both,
            debounce_ms: 20,
        })
        .unwrap();
        for word in [&b"up"[..], b"both", b"debounceMs"] {
            assert!(bytes.windows(word.len()).any(|w| w == word), "{bytes:x?}");
        }
        let back: InputRequest = crate::deserialize(&bytes).unwrap();
        assert_eq!(back.pull, Pull::Up);
    }

    #[test]
    fn an_input_request_with_only_a_pin_is_a_plain_input_without_edges() {
        // fixmap of 1: "pin": "17"
        let request: InputRequest = crate::deserialize(&[0x81, 0xa3, b'p', b'i', b'n', 0xa2, b'1', b'7']).unwrap();
        assert_eq!(request, InputRequest { pin: "17".into(), ..InputRequest::default() });
    }

    #[test]
    fn an_edge_matches_the_levels_it_names() {
        assert!(Edge::Rising.matches(Level::High) && !Edge::Rising.matches(Level::Low));
        assert!(Edge::Falling.matches(Level::Low) && !Edge::Falling.matches(Level::High));
        assert!(Edge::Both.matches(Level::Low) && Edge::Both.matches(Level::High));
        assert!(!Edge::None.matches(Level::High));
    }
}
