//! `iot:serial`: an actor's serial ports (a GPS module that speaks NMEA, a
//! Modbus RTU device, a microcontroller on a UART).
//!
//! An actor opens a port by its device name (`ttyAMA0`, `ttyUSB0`,
//! `serial0`) with the line settings the device needs ([`OpenRequest`]);
//! one actor holds a port at a time. It writes bytes, reads with a timeout,
//! or, when the port was opened with a [`Framing`], hears what the port
//! receives as [`OP_RECEIVE`] calls, one a frame: a line, a run of bytes up
//! to a delimiter, or a fixed length. Those wait in a bounded queue per
//! port; when it is full the oldest are dropped and counted.
//!
//! waSCC had no serial capability; this contract is host-edge's own, in
//! the style of the others (msgpack maps keyed by camelCase field names).

use serde::{Deserialize, Serialize};

/// The capability id.
pub const CAPABILITY_ID: &str = "iot:serial";

/// Actor -> provider: open a port; carries [`OpenRequest`], replies
/// [`PortState`].
pub const OP_OPEN: &str = "Open";
/// Actor -> provider: write bytes to an open port; carries
/// [`WriteRequest`], replies [`Written`].
pub const OP_WRITE: &str = "Write";
/// Actor -> provider: read what the port received, waiting up to a
/// timeout for the first byte; carries [`ReadRequest`], replies
/// [`Received`]. Not for a port opened with a framing (its bytes go to
/// [`OP_RECEIVE`]).
pub const OP_READ: &str = "Read";
/// Actor -> provider: close a port; carries [`PortRequest`], replies
/// [`PortState`].
pub const OP_CLOSE: &str = "Close";
/// Provider -> actor: a frame the port received; carries [`Frame`],
/// replies nothing (msgpack `nil`).
pub const OP_RECEIVE: &str = "Receive";

/// The longest a read may wait, in milliseconds.
pub const MAX_READ_TIMEOUT_MS: u32 = 5_000;
/// The most bytes one read or write may move.
pub const MAX_TRANSFER_BYTES: usize = 4096;
/// The longest frame; a longer run without its delimiter is delivered as
/// it stands, marked cut.
pub const MAX_FRAME_BYTES: usize = 4096;

/// The parity bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parity {
    /// None.
    #[default]
    None,
    /// Even.
    Even,
    /// Odd.
    Odd,
}

/// Flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowControl {
    /// None.
    #[default]
    None,
    /// XON/XOFF.
    Software,
    /// RTS/CTS.
    Hardware,
}

/// How received bytes are cut into the frames delivered to the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Framing {
    /// Not delivered: the actor reads ([`OP_READ`]).
    #[default]
    None,
    /// Lines ending in `\n` (a `\r` before it is dropped too), as NMEA
    /// sentences and most text protocols send them.
    Line,
    /// Runs of bytes ending in this byte (which is kept).
    Delimiter(u8),
    /// Runs of this many bytes.
    Length(u32),
}

/// Open a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenRequest {
    /// The port's device name (`ttyAMA0`, `ttyUSB0`, `serial0`).
    pub port: String,
    /// Bits per second.
    #[serde(default = "default_baud")]
    pub baud_rate: u32,
    /// Data bits, 5 to 8.
    #[serde(default = "default_data_bits")]
    pub data_bits: u8,
    /// The parity bit.
    #[serde(default)]
    pub parity: Parity,
    /// Stop bits, 1 or 2.
    #[serde(default = "default_stop_bits")]
    pub stop_bits: u8,
    /// Flow control.
    #[serde(default)]
    pub flow_control: FlowControl,
    /// How received bytes reach the actor.
    #[serde(default)]
    pub framing: Framing,
}

fn default_baud() -> u32 {
    9600
}

fn default_data_bits() -> u8 {
    8
}

fn default_stop_bits() -> u8 {
    1
}

impl OpenRequest {
    /// `port` at 9600 baud, 8N1, no flow control, read by the actor.
    pub fn new(port: &str) -> OpenRequest {
        OpenRequest {
            port: port.to_owned(),
            baud_rate: default_baud(),
            data_bits: default_data_bits(),
            parity: Parity::None,
            stop_bits: default_stop_bits(),
            flow_control: FlowControl::None,
            framing: Framing::None,
        }
    }
}

/// A port, by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortRequest {
    /// The port's device name.
    pub port: String,
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteRequest {
    /// The port's device name.
    pub port: String,
    /// The bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// What a write sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    /// How many bytes went out.
    pub written: u32,
}

/// A read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadRequest {
    /// The port's device name.
    pub port: String,
    /// The most bytes to return.
    pub max: u32,
    /// How long to wait for the first byte, in milliseconds.
    pub timeout_ms: u32,
}

/// What a read got: empty when the timeout passed first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    /// The bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// An open port.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortState {
    /// The name the actor used.
    pub port: String,
    /// The device it is (`/dev/ttyAMA0`, a link resolved).
    pub device: String,
    /// Whether it is open now.
    pub open: bool,
}

/// A frame the port received.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    /// The port's device name.
    pub port: String,
    /// The frame's bytes (a line without its `\r\n`).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Counts the frames of this opening, from 1.
    pub sequence: u64,
    /// Frames dropped before this one since the last delivered, because
    /// the queue was full.
    pub dropped: u64,
    /// Whether the frame was cut at the longest frame before its delimiter
    /// came.
    pub cut: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_request_with_only_a_port_is_9600_8n1_read_by_the_actor() {
        let bytes = crate::serialize(&PortRequest { port: "ttyAMA0".into() }).unwrap();
        let open: OpenRequest = crate::deserialize(&bytes).unwrap();
        assert_eq!(open, OpenRequest::new("ttyAMA0"));
    }

    #[test]
    fn a_framing_is_a_word_or_a_map_of_its_value() {
        let open = OpenRequest { framing: Framing::Delimiter(b';'), ..OpenRequest::new("ttyUSB0") };
        assert_eq!(crate::deserialize::<OpenRequest>(&crate::serialize(&open).unwrap()).unwrap(), open);
        let line = OpenRequest { framing: Framing::Line, ..OpenRequest::new("ttyUSB0") };
        assert!(String::from_utf8_lossy(&crate::serialize(&line).unwrap()).contains("line"));
    }
}
