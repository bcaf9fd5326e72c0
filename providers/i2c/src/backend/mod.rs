//! The buses the provider can drive, behind one narrow trait, as
//! embedded-hal puts hardware behind traits: grants, limits and the
//! contract are the same on a Raspberry Pi's `/dev/i2c-1` and on the
//! simulated bus, and a new kind of controller is one more module here.

mod linux;

use provider_sdk::codec::i2c::Fault;

pub(crate) use self::linux::Linux;

/// One step of a transaction, with the caller's buffers.
#[derive(Debug)]
pub(crate) enum Step<'a> {
    /// Write these bytes.
    Write(&'a [u8]),
    /// Fill this buffer.
    Read(&'a mut [u8]),
}

/// Why a transaction never reached a bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BusError {
    /// The bus does not exist on this machine, or cannot be opened.
    #[error("I2C bus {bus} cannot be used: {why}")]
    Unusable {
        /// The bus number.
        bus: u8,
        /// Why (`/dev/i2c-3: No such file or directory`).
        why: String,
    },
}

/// The outcome of a transaction that reached its bus: done, or the
/// bus's fault.
pub(crate) type Outcome = Result<Result<(), Fault>, BusError>;

/// A machine's I2C buses. Every method may be called from several
/// threads; one transaction has the bus to itself.
pub(crate) trait Backend: Send + Sync {
    /// Runs `steps` on the device at `address` (checked: 7 bits, not
    /// reserved) of `bus`, with a repeated start between steps and a stop
    /// at the end.
    fn transaction(&self, bus: u8, address: u8, steps: &mut [Step<'_>]) -> Outcome;
    /// What the backend drives, for the log (`/dev/i2c-*`).
    fn describe(&self) -> String;
}
