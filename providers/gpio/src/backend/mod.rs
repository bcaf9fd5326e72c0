//! The boards the provider can drive, behind one narrow trait, as
//! embedded-hal puts hardware behind traits: everything above it (grants,
//! holders, debouncing, queues) is the same on a Raspberry Pi and on the
//! simulated board, and a new kind of board is one more module here.

mod rppal;
mod sim;

use std::sync::Arc;

use provider_sdk::codec::gpio::{Level, Pull};

use crate::config::Safe;

pub(crate) use self::rppal::Rppal;
pub(crate) use self::sim::Sim;

/// A board refused or failed an operation; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackendError(pub(crate) String);

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a backend returns.
pub(crate) type Result<T> = std::result::Result<T, BackendError>;

/// Where a backend reports every change of a watched input's level, with
/// the time it saw it (microseconds of the monotonic clock). Called from
/// the backend's own threads; it must not block.
pub(crate) type EdgeSink = Arc<dyn Fn(u8, Level, u64) + Send + Sync>;

/// How a watched input's changes are noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Watching {
    /// By the kernel's interrupts (or the simulator's own signal).
    Interrupts,
    /// By sampling the level, because interrupts are unavailable: why.
    Sampling(String),
}

/// A PWM setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pwm {
    /// Cycles per second.
    pub(crate) frequency_hz: f64,
    /// High share of a cycle, 0.0..=1.0.
    pub(crate) duty_cycle: f64,
    /// The board's hardware channel, or `None` for software PWM.
    pub(crate) channel: Option<u8>,
}

/// What a pin is connected to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    /// A GPIO: an input or an output.
    Gpio,
    /// A peripheral, through alternate function N (`ALT0` is 0): a bus the
    /// kernel set it to when config.txt enabled one, or PWM.
    Alt(u8),
}

/// One board's pins. Pins are BCM numbers the provider has checked against
/// the board definition; every method may be called from several threads.
pub(crate) trait Backend: Send + Sync {
    /// Configures `pin` as an input with `pull`; returns its level.
    fn input(&self, pin: u8, pull: Pull) -> Result<Level>;
    /// Configures `pin` as an output at `level`.
    fn output(&self, pin: u8, level: Level) -> Result<()>;
    /// Configures `pin` as a PWM output, or retunes it.
    fn pwm(&self, pin: u8, pwm: Pwm) -> Result<()>;
    /// The level of `pin`.
    fn read(&self, pin: u8) -> Result<Level>;
    /// Drives output `pin` to `level` (stopping PWM on it).
    fn write(&self, pin: u8, level: Level) -> Result<()>;
    /// Starts reporting the level changes of input `pin` to the sink.
    fn watch(&self, pin: u8) -> Result<Watching>;
    /// Lets go of `pin`, leaving it in `safe`.
    fn release(&self, pin: u8, safe: Safe) -> Result<()>;
    /// What `pin` is connected to now; a pin the provider holds is a GPIO.
    fn function(&self, pin: u8) -> Result<Function>;
}
