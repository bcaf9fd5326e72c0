//! `iot:i2c`: the devices on the board's I2C buses, through embedded-hal
//! 1.0's traits, so a driver crate from crates.io works in an actor as it
//! is.
//!
//! ```no_run
//! use host_edge_actor::prelude::*;
//!
//! actor_handlers! { i2c::SAMPLE => sample }
//!
//! fn sample(_tick: i2c::Sample) -> HandlerResult<()> {
//!     // Any embedded-hal 1.0 driver takes the bus and a delay.
//!     use host_edge_actor::embedded_hal::i2c::I2c;
//!     let mut bus = i2c::bus(1);
//!     let mut id = [0u8];
//!     bus.write_read(0x76, &[0xD0], &mut id)?;
//!     // Or, without a driver: one device's registers.
//!     let id = i2c::bus(1).device(0x76).read_register(0xD0)?;
//!     info!("chip id {id:#04x}");
//!     Ok(())
//! }
//! ```
//!
//! A transaction is one host call, however many operations it holds, run
//! with repeated starts between them as one transaction on the bus. Which
//! buses and addresses an actor may reach comes from its signed grant
//! (`1:0x76`, `1:*`); anything else is refused naming the device. A bus
//! fault (no device acknowledged, a lost arbitration) comes back as an
//! [`I2cError::Bus`] with embedded-hal's kind, as from a bus on a
//! microcontroller.
//!
//! [`Delay`] waits on the host (embedded-hal's `DelayNs`), so a driver's
//! wait for a conversion costs no interpreted instructions.

use codec::i2c::{DelayRequest, Fault, FaultKind, Operation, Transaction, Transfer, CAPABILITY_ID, OP_DELAY, OP_TRANSACTION};
use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};

use crate::guest::{call, call_raw};
use crate::Error;

pub use codec::i2c::Sample;

/// The capability id.
pub const CAPABILITY: &str = CAPABILITY_ID;
/// Provider -> actor: the link's sampling interval (`SAMPLE_EVERY`) came
/// round; carries a [`Sample`], replies `()`.
pub const SAMPLE: &str = codec::i2c::OP_SAMPLE;

/// The longest wait one host call asks for; longer delays are several.
const DELAY_STEP_NS: u64 = 100_000_000;

/// Bus `number` (`1` for the Pi header's SDA1/SCL1) on the I2C link
/// `default`.
pub fn bus(number: u8) -> Bus {
    host("default").bus(number)
}

/// A delay on the I2C link `default`.
pub fn delay() -> Delay {
    host("default").delay()
}

/// The I2C link `binding`.
pub fn host(binding: &str) -> I2c {
    I2c { binding: binding.to_owned() }
}

/// One I2C link.
#[derive(Debug, Clone)]
pub struct I2c {
    binding: String,
}

impl I2c {
    /// Bus `number` on this link.
    pub fn bus(&self, number: u8) -> Bus {
        Bus { binding: self.binding.clone(), number }
    }

    /// A delay that waits on the host behind this link.
    pub fn delay(&self) -> Delay {
        Delay { binding: self.binding.clone(), error: None }
    }
}

/// Why an I2C operation did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum I2cError {
    /// The transaction reached the bus and the bus reported a fault.
    Bus(Fault),
    /// The host refused or failed the call (outside the grant, no such
    /// bus, no link).
    Host(Error),
}

impl std::fmt::Display for I2cError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            I2cError::Bus(fault) => f.write_str(&fault.message),
            I2cError::Host(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for I2cError {}

impl From<Error> for I2cError {
    fn from(error: Error) -> I2cError {
        I2cError::Host(error)
    }
}

impl embedded_hal::i2c::Error for I2cError {
    fn kind(&self) -> ErrorKind {
        let I2cError::Bus(fault) = self else { return ErrorKind::Other };
        match fault.kind {
            FaultKind::NoAcknowledgeAddress => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address),
            FaultKind::NoAcknowledgeData => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data),
            FaultKind::NoAcknowledge => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Unknown),
            FaultKind::ArbitrationLoss => ErrorKind::ArbitrationLoss,
            FaultKind::Bus => ErrorKind::Bus,
            FaultKind::Timeout | FaultKind::Other => ErrorKind::Other,
        }
    }
}

/// One bus: what embedded-hal drivers take (`BME280::new_primary(bus)`).
#[derive(Debug, Clone)]
pub struct Bus {
    binding: String,
    number: u8,
}

impl Bus {
    /// The device at 7-bit `address` on this bus.
    pub fn device(&self, address: u8) -> Device {
        Device { bus: self.clone(), address }
    }

    /// Runs `operations` on the device at `address` as one transaction;
    /// the reads' bytes come back in order.
    pub fn run(&self, address: u8, operations: Vec<Operation>) -> Result<Vec<Vec<u8>>, I2cError> {
        let transaction = Transaction { bus: self.number, address, operations };
        let transfer: Transfer = call(&self.binding, CAPABILITY, OP_TRANSACTION, &transaction)?;
        match transfer.fault {
            Some(fault) => Err(I2cError::Bus(fault)),
            None => Ok(transfer.reads.into_iter().map(serde_bytes::ByteBuf::into_vec).collect()),
        }
    }
}

impl embedded_hal::i2c::ErrorType for Bus {
    type Error = I2cError;
}

impl embedded_hal::i2c::I2c for Bus {
    fn transaction(&mut self, address: u8, operations: &mut [embedded_hal::i2c::Operation<'_>]) -> Result<(), I2cError> {
        use embedded_hal::i2c::Operation as Hal;
        let asked = operations
            .iter()
            .map(|operation| match operation {
                Hal::Write(bytes) => Operation::Write(bytes.to_vec()),
                Hal::Read(buffer) => Operation::Read(buffer.len() as u32),
            })
            .collect();
        let mut reads = self.run(address, asked)?.into_iter();
        for operation in operations {
            if let Hal::Read(buffer) = operation {
                let got = reads.next().unwrap_or_default();
                if got.len() != buffer.len() {
                    return Err(I2cError::Host(Error::Codec {
                        capability: CAPABILITY,
                        operation: OP_TRANSACTION,
                        message: format!("a read of {} bytes came back with {}", buffer.len(), got.len()),
                    }));
                }
                buffer.copy_from_slice(&got);
            }
        }
        Ok(())
    }
}

/// One device on a bus, for actors that talk to registers without a
/// driver.
#[derive(Debug, Clone)]
pub struct Device {
    bus: Bus,
    address: u8,
}

impl Device {
    /// Writes `bytes`.
    pub fn write(&self, bytes: &[u8]) -> Result<(), I2cError> {
        self.bus.run(self.address, vec![Operation::Write(bytes.to_vec())]).map(drop)
    }

    /// Reads `len` bytes.
    pub fn read(&self, len: usize) -> Result<Vec<u8>, I2cError> {
        let mut reads = self.bus.run(self.address, vec![Operation::Read(len as u32)])?;
        Ok(reads.pop().unwrap_or_default())
    }

    /// Writes `bytes`, then reads `len` bytes after a repeated start.
    pub fn write_read(&self, bytes: &[u8], len: usize) -> Result<Vec<u8>, I2cError> {
        let mut reads = self.bus.run(self.address, vec![Operation::Write(bytes.to_vec()), Operation::Read(len as u32)])?;
        Ok(reads.pop().unwrap_or_default())
    }

    /// The 8-bit register `register`.
    pub fn read_register(&self, register: u8) -> Result<u8, I2cError> {
        Ok(self.write_read(&[register], 1)?.first().copied().unwrap_or_default())
    }

    /// Sets the 8-bit register `register` to `value`.
    pub fn write_register(&self, register: u8, value: u8) -> Result<(), I2cError> {
        self.write(&[register, value])
    }
}

/// embedded-hal's `DelayNs`, waiting on the host: a driver's wait between
/// a command and its result costs one host call per 100 ms, not a spin
/// of the interpreter. `DelayNs` cannot fail, so a refused wait (no link,
/// longer than the provider's `MAX_DELAY_MS`) is kept: [`Delay::check`]
/// returns it.
#[derive(Debug, Clone)]
pub struct Delay {
    binding: String,
    error: Option<Error>,
}

impl Delay {
    /// The first wait the host refused since the last check, if any.
    pub fn check(&mut self) -> Result<(), Error> {
        self.error.take().map_or(Ok(()), Err)
    }

    fn wait(&mut self, mut ns: u64) {
        while ns > 0 && self.error.is_none() {
            let step = ns.min(DELAY_STEP_NS);
            if let Err(e) = call_raw(&self.binding, CAPABILITY, OP_DELAY, &DelayRequest { ns: step }) {
                self.error = Some(e);
            }
            ns -= step;
        }
    }
}

impl embedded_hal::delay::DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        self.wait(u64::from(ns));
    }

    fn delay_us(&mut self, us: u32) {
        self.wait(u64::from(us) * 1_000);
    }

    fn delay_ms(&mut self, ms: u32) {
        self.wait(u64::from(ms) * 1_000_000);
    }
}
