//! `iot:spi`: an actor's transactions with the devices on the board's SPI
//! buses, one chip select each.
//!
//! Shaped after embedded-hal 1.0's `SpiDevice`: a [`Transaction`] holds
//! [`Operation`]s (writes, reads, full-duplex transfers and waits) run with
//! the device's chip select held asserted from the first to the last, so
//! no other user of the bus comes between them; the clock mode and speed
//! are the transaction's own. Every reply is a [`Transferred`]: the bytes
//! each read and transfer clocked in, or the [`Fault`] the controller
//! reported. A refusal (a device outside the grant, a malformed request)
//! is a host error instead.
//!
//! waSCC had no SPI capability; this contract is host-edge's own, in the
//! style of the others (msgpack maps keyed by camelCase field names).

use serde::{Deserialize, Serialize};

/// The capability id.
pub const CAPABILITY_ID: &str = "iot:spi";

/// Actor -> provider: run a [`Transaction`]; replies [`Transferred`].
pub const OP_TRANSACTION: &str = "Transaction";
/// Actor -> provider: one full-duplex transfer; carries
/// [`TransferRequest`], replies [`Transferred`] with one read.
pub const OP_TRANSFER: &str = "Transfer";
/// Provider -> actor: the link's sampling interval has come round; carries
/// [`Sample`], replies nothing.
pub const OP_SAMPLE: &str = crate::sample::OP_SAMPLE;

pub use crate::sample::Sample;

/// The most operations a transaction may hold.
pub const MAX_OPERATIONS: usize = 32;
/// The most bytes one operation may move (the kernel's spidev buffer is
/// 4 KiB by default).
pub const MAX_OPERATION_BYTES: usize = 4096;
/// The most bytes a whole transaction may move.
pub const MAX_TRANSACTION_BYTES: usize = 8192;
/// The longest wait inside a transaction, in nanoseconds (the chip select
/// stays asserted meanwhile).
pub const MAX_DELAY_NS: u32 = 10_000_000;
/// The fastest clock a transaction may ask for.
pub const MAX_SPEED_HZ: u32 = 125_000_000;

/// One step of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// Clock out these bytes, ignoring what comes in.
    Write(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Clock in this many bytes, sending zeros.
    Read(u32),
    /// Clock out these bytes and keep the as many that come in.
    Transfer(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Wait this many nanoseconds, the chip select still asserted.
    DelayNs(u32),
}

/// The clock polarity and phase, as SPI modes 0-3 number them.
pub type Mode = u8;

/// The word size when a transaction names none, and the only one the
/// Raspberry Pi's SPI controllers clock.
pub const DEFAULT_BITS_PER_WORD: u8 = 8;

/// How many bytes one word of `bits` bits takes in an operation's bytes,
/// as Linux's spidev lays them out: one for 1 to 8 bits, two for 9 to 16,
/// four for 17 to 32, least significant byte first; `None` outside 1 to 32.
pub fn word_size(bits: u8) -> Option<usize> {
    match bits {
        1..=8 => Some(1),
        9..=16 => Some(2),
        17..=32 => Some(4),
        _ => None,
    }
}

fn default_bits() -> u8 {
    DEFAULT_BITS_PER_WORD
}

/// Operations on one device, run with its chip select held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    /// The bus number (`0` for `/dev/spidev0.*`, the Pi header's SPI0).
    pub bus: u8,
    /// The chip select on that bus (`0` for CE0).
    pub chip_select: u8,
    /// The SPI mode, 0 to 3 (clock polarity and phase).
    #[serde(default)]
    pub mode: Mode,
    /// The clock, in hertz.
    #[serde(default = "default_speed")]
    pub speed_hz: u32,
    /// What to do, in order.
    pub operations: Vec<Operation>,
    /// Bits per word, 1 to 32; 8 where a sender leaves it out. Every
    /// operation's bytes are whole words ([`word_size`]). Last, and always
    /// written: a field left out of msgpack's positional (array) form
    /// would shift the ones after it, and a trailing one missing from an
    /// older sender's array takes its default.
    #[serde(default = "default_bits")]
    pub bits_per_word: u8,
}

/// One full-duplex transfer on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferRequest {
    /// The bus number.
    pub bus: u8,
    /// The chip select.
    pub chip_select: u8,
    /// The SPI mode, 0 to 3.
    #[serde(default)]
    pub mode: Mode,
    /// The clock, in hertz.
    #[serde(default = "default_speed")]
    pub speed_hz: u32,
    /// The bytes clocked out; as many come back.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Bits per word, as [`Transaction::bits_per_word`]; last, for the
    /// same reason.
    #[serde(default = "default_bits")]
    pub bits_per_word: u8,
}

fn default_speed() -> u32 {
    1_000_000
}

impl From<TransferRequest> for Transaction {
    fn from(request: TransferRequest) -> Transaction {
        Transaction {
            bus: request.bus,
            chip_select: request.chip_select,
            mode: request.mode,
            speed_hz: request.speed_hz,
            bits_per_word: request.bits_per_word,
            operations: vec![Operation::Transfer(request.data)],
        }
    }
}

/// What the controller reported when a transaction did not complete, in
/// embedded-hal's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// Data came in faster than it was read.
    Overrun,
    /// The controller saw another master drive its chip select.
    ModeFault,
    /// The controller cannot do the mode, speed or word size asked for.
    FrameFormat,
    /// The chip select could not be driven.
    ChipSelectFault,
    /// Anything else the controller's driver reported.
    Other,
}

/// A transaction the controller did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// What happened.
    pub kind: FaultKind,
    /// The controller's own words.
    pub message: String,
}

/// The reply to every transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transferred {
    /// The bytes each read and transfer operation clocked in, in order;
    /// empty on a fault.
    #[serde(default)]
    pub reads: Vec<serde_bytes::ByteBuf>,
    /// Why the transaction did not complete; `None` when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_without_mode_or_speed_reads_as_mode_0_at_1_mhz() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Bare {
            bus: u8,
            chip_select: u8,
            operations: Vec<Operation>,
        }
        let bytes = crate::serialize(&Bare { bus: 0, chip_select: 1, operations: vec![Operation::Read(3)] }).unwrap();
        let transaction: Transaction = crate::deserialize(&bytes).unwrap();
        assert_eq!((transaction.mode, transaction.speed_hz, transaction.bits_per_word), (0, 1_000_000, 8));
        assert_eq!(crate::deserialize::<Transaction>(&crate::serialize(&transaction).unwrap()).unwrap(), transaction);
    }

    #[test]
    fn a_word_size_survives_the_array_form_and_an_older_array_without_one_reads_as_eight_bits() {
        // Found by the codec fuzz target: with the field left out of an
        // 8-bit request, its array form put the data where the word size
        // belongs, and it no longer decoded.
        let request = TransferRequest { bus: 1, chip_select: 0, mode: 0, speed_hz: 1_000_000, data: vec![60, 139, 1], bits_per_word: 8 };
        let back: TransferRequest = crate::deserialize(&rmp_serde::to_vec(&request).unwrap()).unwrap();
        assert_eq!(back, request);
        let sixteen = Transaction { bus: 0, chip_select: 0, mode: 0, speed_hz: 1, operations: vec![Operation::Read(2)], bits_per_word: 16 };
        assert_eq!(crate::deserialize::<Transaction>(&rmp_serde::to_vec(&sixteen).unwrap()).unwrap(), sixteen);
        assert_eq!(crate::deserialize::<Transaction>(&crate::serialize(&sixteen).unwrap()).unwrap(), sixteen);
        // An older sender's array: five fields, no word size.
        let older = rmp_serde::to_vec(&(0u8, 1u8, 3u8, 500_000u32, vec![Operation::Read(1)])).unwrap();
        let read: Transaction = crate::deserialize(&older).unwrap();
        assert_eq!((read.chip_select, read.mode, read.bits_per_word), (1, 3, 8));
        assert_eq!((word_size(8), word_size(9), word_size(16), word_size(17), word_size(0), word_size(33)), (Some(1), Some(2), Some(2), Some(4), None, None));
    }

    #[test]
    fn a_transfer_request_is_a_transaction_of_one_transfer() {
        let request = TransferRequest { bus: 0, chip_select: 0, mode: 3, speed_hz: 500_000, bits_per_word: 8, data: vec![1, 0x80, 0] };
        let transaction = Transaction::from(request);
        assert_eq!(transaction.operations, [Operation::Transfer(vec![1, 0x80, 0])]);
        assert_eq!(transaction.mode, 3);
    }
}
