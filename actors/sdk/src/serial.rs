//! `iot:serial`: the board's serial ports, by device name.
//!
//! ```no_run
//! use host_edge_actor::prelude::*;
//!
//! actor_handlers! { serial::RECEIVE => line }
//!
//! // The link opens the port: OPEN = "ttyS0 baud=9600 frame=line".
//! fn line(frame: serial::Frame) -> HandlerResult<()> {
//!     if frame.data.starts_with(b"$GPGGA") {
//!         serial::port("ttyS0").write(b"$PMTK220,1000*1F\r\n")?;
//!     }
//!     Ok(())
//! }
//! ```
//!
//! A port is held by one actor at a time. Opened with a framing (`Line`, a
//! delimiter, a length), what it receives arrives as [`RECEIVE`] calls;
//! otherwise the actor reads with a timeout. Which ports an actor may use
//! comes from its signed grant (`port:ttyS0`); any other is refused naming
//! it.

use codec::serial::{
    OpenRequest, PortRequest, PortState, ReadRequest, Received, WriteRequest, Written, CAPABILITY_ID, OP_CLOSE, OP_OPEN,
    OP_READ, OP_WRITE,
};

use crate::guest::call;
use crate::Error;

pub use codec::serial::{FlowControl, Frame, Framing, Parity};

/// The capability id.
pub const CAPABILITY: &str = CAPABILITY_ID;
/// Provider -> actor: a frame a port opened with a framing received;
/// carries a [`Frame`], replies `()`.
pub const RECEIVE: &str = codec::serial::OP_RECEIVE;

/// The port `name` (`ttyS0`, `ttyUSB0`) on the serial link `default`.
pub fn port(name: &str) -> Port {
    host("default").port(name)
}

/// The serial link `binding`.
pub fn host(binding: &str) -> Serial {
    Serial { binding: binding.to_owned() }
}

/// One serial link.
#[derive(Debug, Clone)]
pub struct Serial {
    binding: String,
}

impl Serial {
    /// The port `name` on this link.
    pub fn port(&self, name: &str) -> Port {
        Port { binding: self.binding.clone(), name: name.to_owned() }
    }
}

/// A port, by its device name.
#[derive(Debug, Clone)]
pub struct Port {
    binding: String,
    name: String,
}

impl Port {
    /// Opens the port with `settings` (whose `port` is replaced by this
    /// port's name).
    pub fn open(&self, settings: OpenRequest) -> Result<PortState, Error> {
        call(&self.binding, CAPABILITY, OP_OPEN, &OpenRequest { port: self.name.clone(), ..settings })
    }

    /// Opens the port at `baud_rate`, 8N1, its lines delivered to
    /// [`RECEIVE`].
    pub fn open_lines(&self, baud_rate: u32) -> Result<PortState, Error> {
        self.open(OpenRequest { baud_rate, framing: Framing::Line, ..OpenRequest::new(&self.name) })
    }

    /// Writes `bytes` (at most 4 KiB a call); returns how many went out.
    pub fn write(&self, bytes: &[u8]) -> Result<u32, Error> {
        let written: Written = call(&self.binding, CAPABILITY, OP_WRITE, &WriteRequest { port: self.name.clone(), data: bytes.to_vec() })?;
        Ok(written.written)
    }

    /// What the port received, at most `max` bytes, waiting up to
    /// `timeout_ms` (at most 5,000) for the first: empty when nothing came.
    pub fn read(&self, max: u32, timeout_ms: u32) -> Result<Vec<u8>, Error> {
        let received: Received = call(&self.binding, CAPABILITY, OP_READ, &ReadRequest { port: self.name.clone(), max, timeout_ms })?;
        Ok(received.data)
    }

    /// Closes the port.
    pub fn close(&self) -> Result<PortState, Error> {
        call(&self.binding, CAPABILITY, OP_CLOSE, &PortRequest { port: self.name.clone() })
    }
}
