//! The simulated board: pins with nothing behind them, for development,
//! demos and tests. Inputs are driven from outside ([`Sim::drive`], through
//! the control socket and `host-edge gpio set`), outputs are observed, and
//! every change lands in a bounded history that `host-edge gpio watch`
//! follows.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use provider_sdk::codec::gpio::{Level, Pull};
use serde::Serialize;

use super::{Backend, BackendError, EdgeSink, Function, Pwm, Result, Watching};
use crate::clock::now_us;
use crate::config::Safe;
use boards::{PinError, PinMap};

/// Why a pin cannot be driven from outside.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DriveError {
    /// The name is not a pin.
    #[error(transparent)]
    Pin(#[from] PinError),
    /// The board refused.
    #[error("{0}")]
    Board(BackendError),
    /// The pin is an output: the board drives it.
    #[error("{pin} is an output: the board drives it, it cannot be driven from outside")]
    Output {
        /// The pin, as messages show it (`pin 17 (led)`).
        pin: String,
    },
}

/// One change of a pin, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Change {
    /// Counts every change since the board started, from 1.
    pub(crate) seq: u64,
    /// When, in microseconds of the monotonic clock.
    pub(crate) time_us: u64,
    /// The BCM number.
    pub(crate) pin: u8,
    /// Its label, or `""`.
    pub(crate) label: String,
    /// `input`, `output`, `pwm`, `write`, `drive` or `release`.
    pub(crate) event: &'static str,
    /// The level after the change.
    pub(crate) level: Level,
    /// Detail: the pull of an input, the PWM setting, the safe state.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) detail: String,
}

/// A pin as the board shows it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PinView {
    /// The BCM number.
    pub(crate) pin: u8,
    /// Its label, or `""`.
    pub(crate) label: String,
    /// `unused`, `input`, `output`, `pwm`, or the bus holding it (`i2c1`).
    pub(crate) mode: String,
    /// The line's level.
    pub(crate) level: Level,
    /// The level driven from outside, if any.
    pub(crate) driven: Option<Level>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SimMode {
    Unused,
    /// Set to a bus's alternate function, as config.txt leaves an enabled
    /// bus's pins.
    Alt(u8),
    Input(Pull),
    Output,
    Pwm(Pwm),
}

#[derive(Debug, Clone, Copy)]
struct SimPin {
    mode: SimMode,
    /// What an output drives.
    written: Level,
    /// What the outside drives.
    driven: Option<Level>,
    watched: bool,
}

impl SimPin {
    /// The line's level: an output's own, else the outside's, else the pull's.
    fn level(&self) -> Level {
        match self.mode {
            SimMode::Output => self.written,
            SimMode::Pwm(pwm) => Level::from(pwm.duty_cycle >= 0.5),
            SimMode::Input(pull) => self.driven.unwrap_or(Level::from(pull == Pull::Up)),
            SimMode::Unused | SimMode::Alt(_) => self.driven.unwrap_or(Level::Low),
        }
    }
}

struct State {
    pins: BTreeMap<u8, SimPin>,
    history: VecDeque<Change>,
    next_seq: u64,
}

/// The simulated board.
pub(crate) struct Sim {
    pins: PinMap,
    state: Mutex<State>,
    changed: Condvar,
    capacity: usize,
    sink: EdgeSink,
}

impl Sim {
    /// A board with every pin unused and low but the pins of the `enabled`
    /// buses, which are in their bus's function, remembering `capacity`
    /// changes.
    pub(crate) fn new(pins: PinMap, enabled: &[boards::Bus], capacity: usize, sink: EdgeSink) -> Sim {
        let unused = SimPin { mode: SimMode::Unused, written: Level::Low, driven: None, watched: false };
        let mut board: BTreeMap<u8, SimPin> = pins.board().gpios().keys().map(|pin| (*pin, unused)).collect();
        for bus in enabled {
            let alt = bus.function.first().copied().unwrap_or(0);
            for pin in bus.pins.values() {
                board.insert(*pin, SimPin { mode: SimMode::Alt(alt), ..unused });
            }
        }
        let state = State { pins: board, history: VecDeque::new(), next_seq: 1 };
        Sim { pins, state: Mutex::new(state), changed: Condvar::new(), capacity: capacity.max(1), sink }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a change to the history and wakes the watchers.
    fn record(&self, state: &mut State, pin: u8, event: &'static str, detail: String) {
        let level = state.pins[&pin].level();
        if state.history.len() == self.capacity {
            state.history.pop_front();
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        let label = self.pins.label(pin).to_owned();
        state.history.push_back(Change { seq, time_us: now_us(), pin, label, event, level, detail });
        self.changed.notify_all();
    }

    fn pin<'a>(&self, state: &'a mut State, pin: u8) -> Result<&'a mut SimPin> {
        state.pins.get_mut(&pin).ok_or_else(|| BackendError(format!("GPIO {pin} is not on the simulated board")))
    }

    /// Drives `name` to `level` from outside, as a button or a sensor
    /// would; an edge reaches the actors watching it. Returns the pin and
    /// whether its level changed. An output cannot be driven from outside.
    pub(crate) fn drive(&self, name: &str, level: Level) -> std::result::Result<(u8, bool), DriveError> {
        let pin = self.pins.resolve(name)?;
        let (changed, watched) = {
            let mut state = self.state();
            let sim = self.pin(&mut state, pin).map_err(DriveError::Board)?;
            if matches!(sim.mode, SimMode::Output | SimMode::Pwm(_)) {
                return Err(DriveError::Output { pin: self.pins.describe(pin) });
            }
            let before = sim.level();
            sim.driven = Some(level);
            let (changed, watched) = (sim.level() != before, sim.watched);
            self.record(&mut state, pin, "drive", String::new());
            (changed, watched)
        };
        if changed && watched {
            (self.sink)(pin, level, now_us());
        }
        Ok((pin, changed))
    }

    /// Drives `count` edges onto input `name`, one every `interval`, as a
    /// bouncing switch or a noisy line would. Returns the time it took.
    pub(crate) fn pulse(&self, name: &str, count: u32, interval: Duration) -> std::result::Result<Duration, DriveError> {
        let pin = self.pins.resolve(name)?;
        let start = Instant::now();
        let mut level = self.read(pin).map_err(DriveError::Board)?;
        for i in 0..count {
            level = level.inverted();
            self.drive(name, level)?;
            let next = start + interval * (i + 1);
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        Ok(start.elapsed())
    }

    /// Every pin as it is now.
    pub(crate) fn pins(&self) -> Vec<PinView> {
        let state = self.state();
        state
            .pins
            .iter()
            .map(|(pin, sim)| PinView {
                pin: *pin,
                label: self.pins.label(*pin).to_owned(),
                mode: match sim.mode {
                    SimMode::Unused => "unused".to_owned(),
                    SimMode::Alt(alt) => self.holding_bus(*pin, alt),
                    SimMode::Input(_) => "input".to_owned(),
                    SimMode::Output => "output".to_owned(),
                    SimMode::Pwm(_) => "pwm".to_owned(),
                },
                level: sim.level(),
                driven: sim.driven,
            })
            .collect()
    }

    /// What a pin in alternate function `alt` is: the bus's tag (`i2c1`),
    /// or `alt0` where no bus of the board uses it so.
    fn holding_bus(&self, pin: u8, alt: u8) -> String {
        let board = self.pins.board();
        board.bus_in_function(pin, alt).map_or_else(|| format!("alt{alt}"), |(bus, _)| bus.tag())
    }

    /// The changes after `since` still in the history, waiting up to
    /// `wait` for one when there is none yet.
    pub(crate) fn changes(&self, since: u64, wait: Duration) -> Vec<Change> {
        let mut state = self.state();
        if state.next_seq <= since + 1 && !wait.is_zero() {
            state = self
                .changed
                .wait_timeout_while(state, wait, |s| s.next_seq <= since + 1)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        state.history.iter().filter(|c| c.seq > since).cloned().collect()
    }

    /// Wakes every `changes` waiter (the control socket is closing).
    pub(crate) fn wake_watchers(&self) {
        self.changed.notify_all();
    }
}

impl Backend for Sim {
    fn input(&self, pin: u8, pull: Pull) -> Result<Level> {
        let mut state = self.state();
        let sim = self.pin(&mut state, pin)?;
        sim.mode = SimMode::Input(pull);
        sim.watched = false;
        let level = sim.level();
        let detail = format!("pull {}", match pull { Pull::None => "none", Pull::Up => "up", Pull::Down => "down" });
        self.record(&mut state, pin, "input", detail);
        Ok(level)
    }

    fn output(&self, pin: u8, level: Level) -> Result<()> {
        let mut state = self.state();
        let sim = self.pin(&mut state, pin)?;
        sim.mode = SimMode::Output;
        sim.written = level;
        sim.watched = false;
        self.record(&mut state, pin, "output", String::new());
        Ok(())
    }

    fn pwm(&self, pin: u8, pwm: Pwm) -> Result<()> {
        let mut state = self.state();
        let sim = self.pin(&mut state, pin)?;
        sim.mode = SimMode::Pwm(pwm);
        sim.watched = false;
        let kind = if pwm.channel.is_some() { "hardware" } else { "software" };
        let detail = format!("{} Hz, duty {:.3}, {kind}", pwm.frequency_hz, pwm.duty_cycle);
        self.record(&mut state, pin, "pwm", detail);
        Ok(())
    }

    fn read(&self, pin: u8) -> Result<Level> {
        let mut state = self.state();
        Ok(self.pin(&mut state, pin)?.level())
    }

    fn write(&self, pin: u8, level: Level) -> Result<()> {
        let mut state = self.state();
        let sim = self.pin(&mut state, pin)?;
        sim.mode = SimMode::Output;
        sim.written = level;
        self.record(&mut state, pin, "write", String::new());
        Ok(())
    }

    fn watch(&self, pin: u8) -> Result<Watching> {
        let mut state = self.state();
        self.pin(&mut state, pin)?.watched = true;
        Ok(Watching::Interrupts)
    }

    fn release(&self, pin: u8, safe: Safe) -> Result<()> {
        let mut state = self.state();
        let sim = self.pin(&mut state, pin)?;
        sim.watched = false;
        let detail = match safe {
            Safe::Input => {
                sim.mode = SimMode::Input(Pull::None);
                "safe state: input".to_owned()
            }
            Safe::Level(level) => {
                sim.mode = SimMode::Output;
                sim.written = level;
                format!("safe state: output {}", level.as_str())
            }
        };
        self.record(&mut state, pin, "release", detail);
        Ok(())
    }

    fn function(&self, pin: u8) -> Result<Function> {
        let mut state = self.state();
        Ok(match self.pin(&mut state, pin)?.mode {
            SimMode::Alt(alt) => Function::Alt(alt),
            _ => Function::Gpio,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    type Seen = Arc<Mutex<Vec<(u8, Level)>>>;

    fn board(capacity: usize) -> (Sim, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink_seen = Arc::clone(&seen);
        let pins = PinMap::new(boards::find("sim").unwrap(), "led=17, button=27").unwrap();
        let sink: EdgeSink = Arc::new(move |pin, level, _| sink_seen.lock().unwrap().push((pin, level)));
        (Sim::new(pins, &[], capacity, sink), seen)
    }

    #[test]
    fn a_driven_input_reaches_the_sink_only_when_watched_and_changed() {
        let (sim, seen) = board(100);
        assert_eq!(sim.input(27, Pull::Up), Ok(Level::High));
        sim.drive("button", Level::Low).unwrap();
        assert!(seen.lock().unwrap().is_empty(), "not watched yet");
        sim.watch(27).unwrap();
        sim.drive("button", Level::High).unwrap();
        assert_eq!(sim.drive("button", Level::High), Ok((27, false)));
        assert_eq!(*seen.lock().unwrap(), [(27, Level::High)]);
    }

    #[test]
    fn an_output_cannot_be_driven_from_outside() {
        let (sim, _) = board(100);
        sim.output(17, Level::High).unwrap();
        let err = sim.drive("led", Level::Low).unwrap_err().to_string();
        assert!(err.contains("pin 17 (led) is an output"), "{err}");
        assert_eq!(sim.read(17), Ok(Level::High));
    }

    #[test]
    fn the_history_keeps_every_change_up_to_its_capacity() {
        let (sim, _) = board(3);
        sim.output(17, Level::Low).unwrap();
        sim.write(17, Level::High).unwrap();
        sim.release(17, Safe::Input).unwrap();
        let all = sim.changes(0, Duration::ZERO);
        let events: Vec<_> = all.iter().map(|c| (c.seq, c.event, c.level)).collect();
        assert_eq!(events, [(1, "output", Level::Low), (2, "write", Level::High), (3, "release", Level::Low)]);
        sim.drive("button", Level::High).unwrap();
        let kept = sim.changes(0, Duration::ZERO);
        assert_eq!(kept.first().unwrap().seq, 2, "the oldest change makes room");
        assert_eq!(kept.last().unwrap().label, "button");
    }

    #[test]
    fn a_release_to_a_safe_level_keeps_driving_it() {
        let (sim, _) = board(10);
        sim.output(17, Level::High).unwrap();
        sim.release(17, Safe::Level(Level::Low)).unwrap();
        assert_eq!(sim.read(17), Ok(Level::Low));
        assert_eq!(sim.pins()[17].mode, "output");
    }
}
