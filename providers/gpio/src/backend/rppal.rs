//! Raspberry Pi boards through the rppal crate: registers through
//! `/dev/gpiomem`, edges through the kernel's GPIO character device, PWM in
//! software (rppal's thread per pin) or through the kernel's hardware PWM.
//!
//! Where the kernel's GPIO interrupts cannot be had (an old kernel, a
//! container without `/dev/gpiochip0` access), watched inputs are sampled
//! every `POLL_INTERVAL_US` instead, and the provider says so in the log.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use provider_sdk::codec::gpio::{Level, Pull};
use rppal::gpio::{Gpio, InputPin, Mode, OutputPin, Trigger};
use rppal::pwm::{Channel, Polarity, Pwm as HardwarePwm};

use super::{Backend, BackendError, EdgeSink, Function, Pwm, Result, Watching};
use crate::clock::now_us;
use crate::config::Safe;

/// A pin rppal holds for the provider.
enum Held {
    Input(InputPin),
    Output(OutputPin),
    /// An output rppal's PWM thread toggles.
    SoftwarePwm(OutputPin),
    Hardware(HardwarePwm),
}

/// Inputs sampled because interrupts are unavailable, with the level last
/// seen.
#[derive(Default)]
struct Sampled {
    pins: BTreeMap<u8, Level>,
}

struct Shared {
    held: Mutex<BTreeMap<u8, Held>>,
    sampled: Mutex<Sampled>,
    sink: EdgeSink,
    stop: AtomicBool,
}

/// The rppal backend.
pub(crate) struct Rppal {
    gpio: Gpio,
    shared: Arc<Shared>,
    interval: Duration,
    sampler: Mutex<Option<JoinHandle<()>>>,
}

fn level(rppal: rppal::gpio::Level) -> Level {
    Level::from(rppal == rppal::gpio::Level::High)
}

fn failed(pin: u8, what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError(format!("rppal could not {what} GPIO {pin}: {e}"))
}

impl Rppal {
    /// Opens the board's GPIO; edges go to `sink`, and inputs are sampled
    /// every `interval` where interrupts are unavailable.
    pub(crate) fn open(sink: EdgeSink, interval: Duration) -> Result<Rppal> {
        let gpio = Gpio::new().map_err(|e| {
            BackendError(format!(
                "rppal cannot open the GPIO ({e}); on a Raspberry Pi the user needs read and write access to \
                 /dev/gpiomem and /dev/gpiochip0 (the `gpio` group); elsewhere set BOARD = \"sim\""
            ))
        })?;
        let shared = Shared { held: Mutex::default(), sampled: Mutex::default(), sink, stop: AtomicBool::new(false) };
        Ok(Rppal { gpio, shared: Arc::new(shared), interval, sampler: Mutex::new(None) })
    }

    fn held(&self) -> MutexGuard<'_, BTreeMap<u8, Held>> {
        self.shared.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sampled(&self) -> MutexGuard<'_, Sampled> {
        self.shared.sampled.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `pin` from rppal afresh, dropping what the provider held of it
    /// first (without rppal's reset: the new mode follows at once).
    fn take(&self, held: &mut BTreeMap<u8, Held>, pin: u8) -> Result<rppal::gpio::Pin> {
        self.sampled().pins.remove(&pin);
        match held.remove(&pin) {
            Some(Held::Input(mut p)) => p.set_reset_on_drop(false),
            Some(Held::Output(mut p) | Held::SoftwarePwm(mut p)) => p.set_reset_on_drop(false),
            Some(Held::Hardware(_)) | None => {}
        }
        self.gpio.get(pin).map_err(|e| failed(pin, "take", e))
    }

    fn start_sampler(&self) {
        let mut sampler = self.sampler.lock().unwrap_or_else(|e| e.into_inner());
        if sampler.is_some() {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let interval = self.interval;
        let spawned = std::thread::Builder::new().name("gpio-sample".into()).spawn(move || sample(&shared, interval));
        *sampler = spawned.ok();
    }
}

/// Reads every sampled input each `interval` and reports the changes.
fn sample(shared: &Shared, interval: Duration) {
    while !shared.stop.load(Ordering::Relaxed) {
        let mut changes = Vec::new();
        {
            let held = shared.held.lock().unwrap_or_else(|e| e.into_inner());
            let mut sampled = shared.sampled.lock().unwrap_or_else(|e| e.into_inner());
            for (pin, last) in sampled.pins.iter_mut() {
                if let Some(Held::Input(input)) = held.get(pin) {
                    let now = level(input.read());
                    if now != *last {
                        *last = now;
                        changes.push((*pin, now));
                    }
                }
            }
        }
        let at = now_us();
        for (pin, now) in changes {
            (shared.sink)(pin, now, at);
        }
        std::thread::sleep(interval);
    }
}

impl Backend for Rppal {
    fn input(&self, pin: u8, pull: Pull) -> Result<Level> {
        let mut held = self.held();
        let raw = self.take(&mut held, pin)?;
        let input = match pull {
            Pull::None => raw.into_input(),
            Pull::Up => raw.into_input_pullup(),
            Pull::Down => raw.into_input_pulldown(),
        };
        let now = level(input.read());
        held.insert(pin, Held::Input(input));
        Ok(now)
    }

    fn output(&self, pin: u8, to: Level) -> Result<()> {
        let mut held = self.held();
        let raw = self.take(&mut held, pin)?;
        let output = match to {
            Level::Low => raw.into_output_low(),
            Level::High => raw.into_output_high(),
        };
        held.insert(pin, Held::Output(output));
        Ok(())
    }

    fn pwm(&self, pin: u8, pwm: Pwm) -> Result<()> {
        let mut held = self.held();
        if let Some(channel) = pwm.channel {
            if let Some(Held::Hardware(existing)) = held.get(&pin) {
                return existing.set_frequency(pwm.frequency_hz, pwm.duty_cycle).map_err(|e| failed(pin, "retune PWM on", e));
            }
            let channel = match channel {
                0 => Channel::Pwm0,
                1 => Channel::Pwm1,
                2 => Channel::Pwm2,
                3 => Channel::Pwm3,
                other => return Err(BackendError(format!("rppal has no hardware PWM channel {other}"))),
            };
            // Hand the pin back to the kernel's PWM function (set by the
            // device tree overlay) before the channel drives it.
            drop(self.take(&mut held, pin)?);
            let hardware = HardwarePwm::with_frequency(channel, pwm.frequency_hz, pwm.duty_cycle, Polarity::Normal, true)
                .map_err(|e| {
                    failed(pin, &format!("start hardware PWM {channel} (is the pwm overlay in config.txt?) on"), e)
                })?;
            held.insert(pin, Held::Hardware(hardware));
            return Ok(());
        }
        let mut output = match held.remove(&pin) {
            Some(Held::Output(output) | Held::SoftwarePwm(output)) => output,
            other => {
                if let Some(other) = other {
                    held.insert(pin, other);
                }
                self.take(&mut held, pin)?.into_output_low()
            }
        };
        let started = output.set_pwm_frequency(pwm.frequency_hz, pwm.duty_cycle);
        held.insert(pin, Held::SoftwarePwm(output));
        started.map_err(|e| failed(pin, "start software PWM on", e))
    }

    fn read(&self, pin: u8) -> Result<Level> {
        match self.held().get(&pin) {
            Some(Held::Input(p)) => Ok(level(p.read())),
            Some(Held::Output(p) | Held::SoftwarePwm(p)) => Ok(Level::from(p.is_set_high())),
            Some(Held::Hardware(_)) => Err(BackendError(format!("GPIO {pin} is driven by hardware PWM"))),
            None => Err(BackendError(format!("GPIO {pin} is not open"))),
        }
    }

    fn write(&self, pin: u8, to: Level) -> Result<()> {
        let mut held = self.held();
        let mut output = match held.remove(&pin) {
            Some(Held::Output(output)) => output,
            Some(Held::SoftwarePwm(mut output)) => {
                if let Err(e) = output.clear_pwm() {
                    held.insert(pin, Held::SoftwarePwm(output));
                    return Err(failed(pin, "stop software PWM on", e));
                }
                output
            }
            other => {
                if let Some(other) = other {
                    held.insert(pin, other);
                }
                return Err(BackendError(format!("GPIO {pin} is not an output")));
            }
        };
        match to {
            Level::Low => output.set_low(),
            Level::High => output.set_high(),
        }
        held.insert(pin, Held::Output(output));
        Ok(())
    }

    fn watch(&self, pin: u8) -> Result<Watching> {
        let mut held = self.held();
        let Some(Held::Input(input)) = held.get_mut(&pin) else {
            return Err(BackendError(format!("GPIO {pin} is not an input")));
        };
        // rppal's asynchronous interrupts request the line on their own
        // thread and keep a failure to themselves; the synchronous request
        // fails at once where the kernel cannot deliver interrupts.
        let probe = input.set_interrupt(Trigger::Both, None).and_then(|()| input.clear_interrupt());
        let sink = Arc::clone(&self.shared.sink);
        let interrupts = probe.and_then(|()| {
            input.set_async_interrupt(Trigger::Both, None, move |event| {
                let to = Level::from(event.trigger == Trigger::RisingEdge);
                sink(pin, to, event.timestamp.as_micros() as u64);
            })
        });
        match interrupts {
            Ok(()) => Ok(Watching::Interrupts),
            Err(e) => {
                let now = level(input.read());
                drop(held);
                self.sampled().pins.insert(pin, now);
                self.start_sampler();
                Ok(Watching::Sampling(format!("the kernel's GPIO interrupts are unavailable ({e})")))
            }
        }
    }

    fn release(&self, pin: u8, safe: Safe) -> Result<()> {
        let mut held = self.held();
        let raw = self.take(&mut held, pin)?;
        // Leave the pin as set: rppal would otherwise restore the mode it
        // had before the provider took it.
        match safe {
            Safe::Input => raw.into_input().set_reset_on_drop(false),
            Safe::Level(Level::Low) => raw.into_output_low().set_reset_on_drop(false),
            Safe::Level(Level::High) => raw.into_output_high().set_reset_on_drop(false),
        }
        Ok(())
    }

    fn function(&self, pin: u8) -> Result<Function> {
        let held = self.held();
        if held.contains_key(&pin) {
            return Ok(Function::Gpio);
        }
        // Reading the function select register changes nothing, and a bare
        // `Pin` (unlike an input or output) leaves its mode alone on drop.
        let raw = self.gpio.get(pin).map_err(|e| failed(pin, "read the function of", e))?;
        Ok(match raw.mode() {
            Mode::Input | Mode::Output | Mode::Null => Function::Gpio,
            Mode::Alt0 => Function::Alt(0),
            Mode::Alt1 => Function::Alt(1),
            Mode::Alt2 => Function::Alt(2),
            Mode::Alt3 => Function::Alt(3),
            Mode::Alt4 => Function::Alt(4),
            Mode::Alt5 => Function::Alt(5),
            Mode::Alt6 => Function::Alt(6),
            Mode::Alt7 => Function::Alt(7),
            Mode::Alt8 => Function::Alt(8),
        })
    }
}

impl Drop for Rppal {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(sampler) = self.sampler.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = sampler.join();
        }
    }
}
