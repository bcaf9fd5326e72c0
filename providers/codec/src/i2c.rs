//! `iot:i2c`: an actor's transactions with the devices on the board's I2C
//! buses.
//!
//! Shaped after embedded-hal 1.0's `I2c` trait and the wasi-i2c proposal:
//! a [`Transaction`] is a list of [`Operation`]s (writes and reads) on one
//! 7-bit address of one bus, run with a repeated start between operations
//! and one stop at the end, so no other user of the bus comes between
//! them. `Write`, `Read` and `WriteRead` are the common one- and
//! two-operation transactions, for actors without the SDK. Every reply is a
//! [`Transfer`]: the bytes each read got, or the [`Fault`] the bus reported
//! (a device that did not acknowledge, a lost arbitration, a timeout), so
//! a driver sees the bus's own error kinds. A refusal (an address outside
//! the grant, a malformed request) is a host error instead.
//!
//! Drivers wait between a command and its result (a BME280 converts for
//! up to 40 ms): [`OP_DELAY`] waits on the host, so the interpreter does not
//! spin. A link may ask to be called every so often ([`OP_SAMPLE`]), for
//! an actor that reads a sensor on a schedule.
//!
//! waSCC had no I2C capability; this contract is host-edge's own, in the
//! style of the others (msgpack maps keyed by camelCase field names).

use serde::{Deserialize, Serialize};

/// The capability id.
pub const CAPABILITY_ID: &str = "iot:i2c";

/// Actor -> provider: run a [`Transaction`]; replies [`Transfer`].
pub const OP_TRANSACTION: &str = "Transaction";
/// Actor -> provider: write bytes to a device; carries [`WriteRequest`],
/// replies [`Transfer`] (with no reads).
pub const OP_WRITE: &str = "Write";
/// Actor -> provider: read bytes from a device; carries [`ReadRequest`],
/// replies [`Transfer`] with one read.
pub const OP_READ: &str = "Read";
/// Actor -> provider: write bytes, then read with a repeated start (a
/// register read); carries [`WriteReadRequest`], replies [`Transfer`] with
/// one read.
pub const OP_WRITE_READ: &str = "WriteRead";
/// Actor -> provider: wait on the host; carries [`DelayRequest`], replies
/// nothing (msgpack `nil`).
pub const OP_DELAY: &str = "Delay";
/// Provider -> actor: the link's sampling interval has come round; carries
/// [`Sample`], replies nothing.
pub const OP_SAMPLE: &str = crate::sample::OP_SAMPLE;

pub use crate::sample::Sample;

/// The most operations a transaction may hold (the Linux kernel's own
/// limit for one `I2C_RDWR`).
pub const MAX_OPERATIONS: usize = 42;
/// The most bytes one operation may write or read.
pub const MAX_OPERATION_BYTES: usize = 4096;
/// The most bytes a whole transaction may move.
pub const MAX_TRANSACTION_BYTES: usize = 8192;

/// One step of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// Write these bytes.
    Write(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Read this many bytes.
    Read(u32),
}

/// Operations on one device, run as one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    /// The bus number (`1` for `/dev/i2c-1`, the Pi header's SDA1/SCL1).
    pub bus: u8,
    /// The device's 7-bit address.
    pub address: u8,
    /// What to do, in order.
    pub operations: Vec<Operation>,
}

/// A write on its own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteRequest {
    /// The bus number.
    pub bus: u8,
    /// The device's 7-bit address.
    pub address: u8,
    /// The bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// A read on its own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadRequest {
    /// The bus number.
    pub bus: u8,
    /// The device's 7-bit address.
    pub address: u8,
    /// How many bytes.
    pub len: u32,
}

/// A write and a read with a repeated start between.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteReadRequest {
    /// The bus number.
    pub bus: u8,
    /// The device's 7-bit address.
    pub address: u8,
    /// The bytes written first (usually a register number).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// How many bytes are then read.
    pub len: u32,
}

impl From<WriteRequest> for Transaction {
    fn from(request: WriteRequest) -> Transaction {
        Transaction { bus: request.bus, address: request.address, operations: vec![Operation::Write(request.data)] }
    }
}

impl From<ReadRequest> for Transaction {
    fn from(request: ReadRequest) -> Transaction {
        Transaction { bus: request.bus, address: request.address, operations: vec![Operation::Read(request.len)] }
    }
}

impl From<WriteReadRequest> for Transaction {
    fn from(request: WriteReadRequest) -> Transaction {
        Transaction {
            bus: request.bus,
            address: request.address,
            operations: vec![Operation::Write(request.data), Operation::Read(request.len)],
        }
    }
}

/// What the bus reported when a transaction did not complete, in
/// embedded-hal's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// No device acknowledged the address.
    NoAcknowledgeAddress,
    /// The device did not acknowledge a byte written to it.
    NoAcknowledgeData,
    /// No acknowledge, and the bus cannot tell for what.
    NoAcknowledge,
    /// Another controller won the bus.
    ArbitrationLoss,
    /// The bus misbehaved (a start or stop out of place).
    Bus,
    /// The device held the clock too long, or the controller gave up.
    Timeout,
    /// Anything else the controller's driver reported.
    Other,
}

/// A transaction the bus did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// What happened.
    pub kind: FaultKind,
    /// The controller's own words (`Remote I/O error (os error 121)`).
    pub message: String,
}

/// The reply to every transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    /// The bytes each read operation got, in order; empty on a fault.
    #[serde(default)]
    pub reads: Vec<serde_bytes::ByteBuf>,
    /// Why the transaction did not complete; `None` when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
}

/// A wait on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelayRequest {
    /// How long, in nanoseconds.
    pub ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_is_a_map_of_camel_case_fields_with_tagged_operations() {
        let transaction = Transaction {
            bus: 1,
            address: 0x76,
            operations: vec![Operation::Write(vec![0xD0]), Operation::Read(1)],
        };
        let bytes = crate::serialize(&transaction).unwrap();
        assert_eq!(crate::deserialize::<Transaction>(&bytes).unwrap(), transaction);
        let text = String::from_utf8_lossy(&bytes);
        for field in ["bus", "address", "operations", "write", "read"] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
    }

    #[test]
    fn the_short_requests_are_transactions_of_one_or_two_operations() {
        let write_read = WriteReadRequest { bus: 1, address: 0x76, data: vec![0xF7], len: 8 };
        assert_eq!(
            Transaction::from(write_read).operations,
            [Operation::Write(vec![0xF7]), Operation::Read(8)]
        );
        assert_eq!(Transaction::from(ReadRequest { bus: 0, address: 0x48, len: 2 }).operations, [Operation::Read(2)]);
    }

    #[test]
    fn a_transfer_without_a_fault_omits_it() {
        let done = Transfer { reads: vec![serde_bytes::ByteBuf::from(vec![0x60])], fault: None };
        let bytes = crate::serialize(&done).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("fault"));
        assert_eq!(crate::deserialize::<Transfer>(&bytes).unwrap(), done);
        let failed = Transfer {
            reads: vec![],
            fault: Some(Fault { kind: FaultKind::NoAcknowledgeAddress, message: "no device at 0x77".into() }),
        };
        assert_eq!(crate::deserialize::<Transfer>(&crate::serialize(&failed).unwrap()).unwrap(), failed);
    }
}
