//! The buses the provider can drive, behind one narrow trait: grants,
//! limits and the contract are the same on a Raspberry Pi's
//! `/dev/spidev0.0` and on the simulated bus.

mod linux;

use provider_sdk::codec::spi::{Fault, Mode};

pub(crate) use self::linux::Linux;

/// One step of a transaction, with the caller's buffers.
#[derive(Debug)]
pub(crate) enum Step<'a> {
    /// Clock out these bytes.
    Write(&'a [u8]),
    /// Clock in into this buffer, sending zeros.
    Read(&'a mut [u8]),
    /// Clock out the buffer's bytes and replace them with what came in.
    Transfer(&'a mut [u8]),
    /// Wait, the chip select held.
    Delay(u32),
}

/// How a transaction clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clocking {
    /// SPI mode 0 to 3.
    pub(crate) mode: Mode,
    /// The clock, in hertz.
    pub(crate) speed_hz: u32,
    /// Bits per word, 1 to 32.
    pub(crate) bits_per_word: u8,
}

/// Why a transaction never reached a bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BusError {
    /// The device does not exist on this machine, or cannot be opened.
    #[error("{device} cannot be used: {why}")]
    Unusable {
        /// The device, as messages name it.
        device: String,
        /// Why (`/dev/spidev0.1: No such file or directory`).
        why: String,
    },
}

/// The outcome of a transaction that reached its bus: done, or the
/// controller's fault.
pub(crate) type Outcome = Result<Result<(), Fault>, BusError>;

/// A machine's SPI buses. Every method may be called from several
/// threads; one transaction has its device to itself.
pub(crate) trait Backend: Send + Sync {
    /// Runs `steps` on chip select `cs` of `bus`, the chip select asserted
    /// from the first step to the last.
    fn transaction(&self, bus: u8, cs: u8, clocking: Clocking, steps: &mut [Step<'_>]) -> Outcome;
    /// What the backend drives, for the log.
    fn describe(&self) -> String;
}
