//! `iot:gpio`: the actor's pins on the board, named by BCM number or by a
//! label from the manifest, and the edges they see.
//!
//! ```no_run
//! use host_edge_actor::prelude::*;
//! use host_edge_actor::gpio::{Edge, Level, Pull};
//!
//! actor_handlers! { gpio::HANDLE_EDGE => pressed }
//!
//! fn setup() -> Result<(), Error> {
//!     gpio::pin("led").open_output(Level::Low)?;
//!     gpio::pin("button").watch(Pull::Up, Edge::Falling, 20)?;
//!     Ok(())
//! }
//!
//! fn pressed(_edge: gpio::EdgeEvent) -> HandlerResult<()> {
//!     gpio::pin("led").toggle()?;
//!     Ok(())
//! }
//! ```
//!
//! Which pins an actor may use, and how, comes from its signed grants
//! (`out:17`, `in:27`: by BCM number or the board's own label); any other
//! pin is refused naming it.

use codec::gpio::{
    InputRequest, OutputRequest, PinRequest, PwmRequest, WriteRequest, CAPABILITY_ID, OP_OPEN_INPUT, OP_OPEN_OUTPUT,
    OP_OPEN_PWM, OP_READ, OP_RELEASE, OP_TOGGLE, OP_WRITE,
};

use crate::guest::{call, call_raw};
use crate::Error;

pub use codec::gpio::{Edge, EdgeEvent, Level, PinState, Pull};

/// The capability id.
pub const CAPABILITY: &str = CAPABILITY_ID;
/// Provider -> actor: an edge on a watched input; carries an
/// [`EdgeEvent`], replies `()`.
pub const HANDLE_EDGE: &str = codec::gpio::OP_HANDLE_EDGE;

/// The pin `name` (a BCM number such as `"17"` or a label such as
/// `"led"`) on the GPIO link `default`.
pub fn pin(name: &str) -> Pin {
    host("default").pin(name)
}

/// The GPIO link `binding`.
pub fn host(binding: &str) -> Gpio {
    Gpio { binding: binding.to_owned() }
}

/// One GPIO link.
#[derive(Debug, Clone)]
pub struct Gpio {
    binding: String,
}

impl Gpio {
    /// The pin `name` on this link.
    pub fn pin(&self, name: &str) -> Pin {
        Pin { binding: self.binding.clone(), name: name.to_owned() }
    }
}

/// A pin, by the name the actor uses for it. Every operation replies with
/// the pin's [`PinState`] (its BCM number, label and level).
#[derive(Debug, Clone)]
pub struct Pin {
    binding: String,
    name: String,
}

impl Pin {
    fn call<Q: serde::Serialize + 'static>(&self, operation: &'static str, request: &Q) -> Result<PinState, Error> {
        call(&self.binding, CAPABILITY, operation, request)
    }

    fn request(&self) -> PinRequest {
        PinRequest { pin: self.name.clone() }
    }

    /// Opens the pin as an output, driven to `level`.
    pub fn open_output(&self, level: Level) -> Result<PinState, Error> {
        self.call(OP_OPEN_OUTPUT, &OutputRequest { pin: self.name.clone(), level })
    }

    /// Opens the pin as an input with `pull`, without edge events.
    pub fn open_input(&self, pull: Pull) -> Result<PinState, Error> {
        self.watch(pull, Edge::None, 0)
    }

    /// Opens the pin as an input with `pull` whose `edge`s arrive as
    /// [`HANDLE_EDGE`] calls, ignoring changes shorter than `debounce_ms`.
    pub fn watch(&self, pull: Pull, edge: Edge, debounce_ms: u32) -> Result<PinState, Error> {
        self.call(OP_OPEN_INPUT, &InputRequest { pin: self.name.clone(), pull, edge, debounce_ms })
    }

    /// Opens (or re-tunes) the pin as PWM: `frequency_hz`, `duty_cycle`
    /// from 0.0 to 1.0, in hardware when `hardware` (the pin must have a
    /// PWM channel) or else in software.
    pub fn open_pwm(&self, frequency_hz: f64, duty_cycle: f64, hardware: bool) -> Result<PinState, Error> {
        self.call(OP_OPEN_PWM, &PwmRequest { pin: self.name.clone(), frequency_hz, duty_cycle, hardware })
    }

    /// The pin's level.
    pub fn read(&self) -> Result<Level, Error> {
        Ok(self.state()?.level)
    }

    /// The pin's state: its BCM number, label and level.
    pub fn state(&self) -> Result<PinState, Error> {
        self.call(OP_READ, &self.request())
    }

    /// Whether the pin reads high.
    pub fn is_high(&self) -> Result<bool, Error> {
        Ok(self.read()? == Level::High)
    }

    /// Drives the output to `level`.
    pub fn write(&self, level: Level) -> Result<PinState, Error> {
        self.call(OP_WRITE, &WriteRequest { pin: self.name.clone(), level })
    }

    /// Drives the output high.
    pub fn set_high(&self) -> Result<PinState, Error> {
        self.write(Level::High)
    }

    /// Drives the output low.
    pub fn set_low(&self) -> Result<PinState, Error> {
        self.write(Level::Low)
    }

    /// Inverts the output; the state has the new level.
    pub fn toggle(&self) -> Result<PinState, Error> {
        self.call(OP_TOGGLE, &self.request())
    }

    /// Releases the pin; an output returns to its safe state.
    pub fn release(&self) -> Result<(), Error> {
        call_raw(&self.binding, CAPABILITY, OP_RELEASE, &self.request()).map(drop)
    }
}
