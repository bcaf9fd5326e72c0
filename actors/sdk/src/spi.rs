//! `iot:spi`: the devices on the board's SPI buses, one chip select each,
//! through embedded-hal 1.0's `SpiDevice`, so a driver crate from
//! crates.io works in an actor as it is.
//!
//! ```no_run
//! use host_edge_actor::prelude::*;
//! use host_edge_actor::embedded_hal::spi::SpiDevice;
//!
//! actor_handlers! { spi::SAMPLE => sample }
//!
//! fn sample(_tick: spi::Sample) -> HandlerResult<()> {
//!     // An MCP3008 on CE0 of SPI0: start bit, single-ended channel 0.
//!     let mut adc = spi::device(0, 0);
//!     let mut frame = [0x01, 0x80, 0x00];
//!     adc.transfer_in_place(&mut frame)?;
//!     let code = u16::from(frame[1] & 0x03) << 8 | u16::from(frame[2]);
//!     info!("channel 0: {code}");
//!     Ok(())
//! }
//! ```
//!
//! A transaction is one host call, however many operations it holds, run
//! with the chip select held from the first to the last. Which buses and
//! chip selects an actor may reach comes from its signed grant (`0:0`,
//! `0:*`); anything else is refused naming the device. A controller fault
//! comes back as an [`SpiError::Bus`] with embedded-hal's kind.
//!
//! A [`Device`] is an `SpiDevice<u8>` (8-bit words, or fewer bits with
//! [`Device::with_bits_per_word`]) and an `SpiDevice<u16>` (16-bit words, or
//! 9 to 15 bits), for drivers of parts with wider words; the words go to
//! the controller as Linux's spidev lays them out, least significant byte
//! first.

use codec::spi::{Fault, FaultKind, Mode, Operation, Transaction, Transferred, CAPABILITY_ID, DEFAULT_BITS_PER_WORD, OP_TRANSACTION};
use embedded_hal::spi::ErrorKind;

use crate::guest::call;
use crate::Error;

pub use codec::spi::Sample;

/// The capability id.
pub const CAPABILITY: &str = CAPABILITY_ID;
/// Provider -> actor: the link's sampling interval (`SAMPLE_EVERY`) came
/// round; carries a [`Sample`], replies `()`.
pub const SAMPLE: &str = codec::spi::OP_SAMPLE;

/// Chip select `chip_select` of bus `bus` on the SPI link `default`, in
/// mode 0 at 1 MHz.
pub fn device(bus: u8, chip_select: u8) -> Device {
    host("default").device(bus, chip_select)
}

/// The SPI link `binding`.
pub fn host(binding: &str) -> Spi {
    Spi { binding: binding.to_owned() }
}

/// One SPI link.
#[derive(Debug, Clone)]
pub struct Spi {
    binding: String,
}

impl Spi {
    /// Chip select `chip_select` of bus `bus` on this link, in mode 0 at
    /// 1 MHz.
    pub fn device(&self, bus: u8, chip_select: u8) -> Device {
        Device { binding: self.binding.clone(), bus, chip_select, mode: 0, speed_hz: 1_000_000, bits_per_word: DEFAULT_BITS_PER_WORD }
    }
}

/// Why an SPI transaction did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpiError {
    /// The transaction reached the controller and it reported a fault.
    Bus(Fault),
    /// The host refused or failed the call (outside the grant, no such
    /// device, no link).
    Host(Error),
}

impl std::fmt::Display for SpiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpiError::Bus(fault) => f.write_str(&fault.message),
            SpiError::Host(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for SpiError {}

impl From<Error> for SpiError {
    fn from(error: Error) -> SpiError {
        SpiError::Host(error)
    }
}

impl embedded_hal::spi::Error for SpiError {
    fn kind(&self) -> ErrorKind {
        let SpiError::Bus(fault) = self else { return ErrorKind::Other };
        match fault.kind {
            FaultKind::Overrun => ErrorKind::Overrun,
            FaultKind::ModeFault => ErrorKind::ModeFault,
            FaultKind::FrameFormat => ErrorKind::FrameFormat,
            FaultKind::ChipSelectFault => ErrorKind::ChipSelectFault,
            FaultKind::Other => ErrorKind::Other,
        }
    }
}

/// One device: a chip select of a bus, with its clocking. What
/// embedded-hal drivers take.
#[derive(Debug, Clone)]
pub struct Device {
    binding: String,
    bus: u8,
    chip_select: u8,
    mode: Mode,
    speed_hz: u32,
    bits_per_word: u8,
}

impl Device {
    /// This device in SPI `mode` (0 to 3).
    pub fn with_mode(self, mode: Mode) -> Device {
        Device { mode, ..self }
    }

    /// This device clocked at `speed_hz`.
    pub fn with_speed(self, speed_hz: u32) -> Device {
        Device { speed_hz, ..self }
    }

    /// This device with words of `bits` bits (1 to 32; 8 unless set): for
    /// [`Device::run`], and for the embedded-hal traits where the word type
    /// holds them (1 to 8 bits as `u8`, 9 to 16 as `u16`).
    pub fn with_bits_per_word(self, bits: u8) -> Device {
        Device { bits_per_word: bits, ..self }
    }

    /// Runs `operations` as one transaction; the bytes each read and
    /// transfer clocked in come back in order. With words wider than 8
    /// bits, every operation's bytes are whole words, least significant
    /// byte first.
    pub fn run(&self, operations: Vec<Operation>) -> Result<Vec<Vec<u8>>, SpiError> {
        self.run_words(self.bits_per_word, operations)
    }

    fn run_words(&self, bits_per_word: u8, operations: Vec<Operation>) -> Result<Vec<Vec<u8>>, SpiError> {
        let transaction = Transaction {
            bus: self.bus,
            chip_select: self.chip_select,
            mode: self.mode,
            speed_hz: self.speed_hz,
            bits_per_word,
            operations,
        };
        let transferred: Transferred = call(&self.binding, CAPABILITY, OP_TRANSACTION, &transaction)?;
        match transferred.fault {
            Some(fault) => Err(SpiError::Bus(fault)),
            None => Ok(transferred.reads.into_iter().map(serde_bytes::ByteBuf::into_vec).collect()),
        }
    }

    /// An embedded-hal transaction of `W` words of `bits` bits.
    fn hal_transaction<W: Word>(&self, bits: u8, operations: &mut [embedded_hal::spi::Operation<'_, W>]) -> Result<(), SpiError> {
        use embedded_hal::spi::Operation as Hal;
        let bytes = |words: &[W]| words.iter().flat_map(|w| w.bytes()).collect::<Vec<u8>>();
        let asked = operations
            .iter()
            .map(|operation| match operation {
                Hal::Read(buffer) => Operation::Read((buffer.len() * W::SIZE) as u32),
                Hal::Write(words) => Operation::Write(bytes(words)),
                // Clocks as many words as the longer of the two; the write
                // is padded with zeros, the read keeps its own length.
                Hal::Transfer(read, write) => {
                    let mut out = bytes(write);
                    out.resize(read.len().max(write.len()) * W::SIZE, 0);
                    Operation::Transfer(out)
                }
                Hal::TransferInPlace(buffer) => Operation::Transfer(bytes(buffer)),
                Hal::DelayNs(ns) => Operation::DelayNs(*ns),
            })
            .collect();
        let mut reads = self.run_words(bits, asked)?.into_iter();
        for operation in operations {
            let buffer: &mut [W] = match operation {
                Hal::Read(buffer) | Hal::TransferInPlace(buffer) => buffer,
                Hal::Transfer(read, _) => read,
                Hal::Write(_) | Hal::DelayNs(_) => continue,
            };
            let got = reads.next().unwrap_or_default();
            if got.len() < buffer.len() * W::SIZE {
                return Err(SpiError::Host(Error::Codec {
                    capability: CAPABILITY,
                    operation: OP_TRANSACTION,
                    message: format!("a read of {} bytes came back with {}", buffer.len() * W::SIZE, got.len()),
                }));
            }
            for (word, chunk) in buffer.iter_mut().zip(got.chunks_exact(W::SIZE)) {
                *word = W::from_bytes(chunk);
            }
        }
        Ok(())
    }
}

/// A word type embedded-hal's `SpiDevice` carries, as spidev lays it out.
trait Word: Copy {
    /// Bytes a word takes.
    const SIZE: usize;
    /// Its bytes, least significant first.
    fn bytes(self) -> impl Iterator<Item = u8>;
    /// The word from `SIZE` bytes, least significant first.
    fn from_bytes(bytes: &[u8]) -> Self;
}

impl Word for u8 {
    const SIZE: usize = 1;
    fn bytes(self) -> impl Iterator<Item = u8> {
        std::iter::once(self)
    }
    fn from_bytes(bytes: &[u8]) -> u8 {
        bytes[0]
    }
}

impl Word for u16 {
    const SIZE: usize = 2;
    fn bytes(self) -> impl Iterator<Item = u8> {
        self.to_le_bytes().into_iter()
    }
    fn from_bytes(bytes: &[u8]) -> u16 {
        u16::from_le_bytes([bytes[0], bytes[1]])
    }
}

impl embedded_hal::spi::ErrorType for Device {
    type Error = SpiError;
}

impl embedded_hal::spi::SpiDevice<u8> for Device {
    /// 8-bit words, or the device's word size where it is 1 to 7 bits.
    fn transaction(&mut self, operations: &mut [embedded_hal::spi::Operation<'_, u8>]) -> Result<(), SpiError> {
        let bits = if (1..=8).contains(&self.bits_per_word) { self.bits_per_word } else { 8 };
        self.hal_transaction(bits, operations)
    }
}

impl embedded_hal::spi::SpiDevice<u16> for Device {
    /// 16-bit words, or the device's word size where it is 9 to 15 bits.
    fn transaction(&mut self, operations: &mut [embedded_hal::spi::Operation<'_, u16>]) -> Result<(), SpiError> {
        let bits = if (9..=16).contains(&self.bits_per_word) { self.bits_per_word } else { 16 };
        self.hal_transaction(bits, operations)
    }
}
