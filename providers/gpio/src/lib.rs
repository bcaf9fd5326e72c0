//! `iot:gpio`: actors drive and read the board's pins, under signed
//! per-pin grants, and hear about edges on their inputs.
//!
//! One provider instance drives one board, named by the provider setting
//! `BOARD` (a definition from `boards/`, `sim` for the simulated board, or
//! a file) or detected from the device tree's model string. A Raspberry Pi
//! is driven through rppal; the simulated board is driven from outside
//! through a control socket (`host-edge gpio`).
//!
//! Before a pin is opened, the provider checks, in this order: that the
//! name is a pin of the board; that the board does not reserve it (unless
//! `ALLOW_RESERVED` names it); that the actor's effective grant (signed,
//! narrowed by the link) permits the pin in that mode (`out:17`,
//! `in:27`, `pwm:18`, or `*` for any pin; a signed rule names a pin by
//! number or by the board definition's own label, never by one from
//! `LABELS`); and that no other actor
//! holds it as an output. Every refusal names the pin and why. When an
//! actor is unbound (stopped, replaced, unlinked) or the provider stops,
//! each pin it held is released to its safe state: an input, or the level
//! `SAFE_STATE` names.
//!
//! Provider settings (defaults in brackets): `BOARD` [detected], `LABELS`,
//! `SAFE_STATE`, `ALLOW_RESERVED`, `EDGE_QUEUE` [256], `POLL_INTERVAL_US`
//! [1000], `SIM_SOCKET` [`sim.sock`], `SIM_HISTORY` [10000], `SIM_BUSES`. See
//! docs/gpio.md.

mod backend;
mod clock;
mod config;
mod control;
mod edges;
mod link;
#[cfg(test)]
mod link_properties;
mod queue;
mod state;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use provider_sdk::bindings::read_grant;
use provider_sdk::codec::core::{CapabilityConfiguration, CONFIG_CLAIMS_NAME};
use provider_sdk::codec::gpio::{
    self as contract, InputRequest, Level, OutputRequest, PinRequest, PinState, PwmRequest, WriteRequest,
};
use provider_sdk::grant::{Grant, Source};
use provider_sdk::{export_provider, ErrorKind, Host, Level as LogLevel, Provider, ProviderError, Setting, Settings};

use backend::{Backend, BackendError, EdgeSink, Function, Pwm, Rppal, Sim, Watching};
use config::{Config, Safe};
use edges::Edges;
use queue::Queue;
use state::{Mode, Opening, Pins};

/// An actor bound to the provider.
struct Bound {
    /// The name in its claims, for messages.
    name: String,
    grant: Grant,
    /// Its edge events, once it watches an input.
    queue: Option<Arc<Queue>>,
}

#[derive(Default)]
struct State {
    pins: Pins,
    actors: BTreeMap<String, Bound>,
    /// The level each output was last driven to, for `Toggle`.
    driven: BTreeMap<u8, Level>,
    /// Whether the log has said that inputs are sampled.
    said_sampling: bool,
}

/// The GPIO provider.
pub struct GpioProvider {
    host: Host,
    config: Config,
    backend: Arc<dyn Backend>,
    edges: Arc<Edges>,
    state: Arc<Mutex<State>>,
    control: Option<control::Server>,
    /// Edge delivery threads, joined when the provider stops.
    deliveries: Mutex<Vec<JoinHandle<()>>>,
}

fn board_error(e: BackendError) -> ProviderError {
    ProviderError::unavailable(e.0)
}

impl State {
    /// Who holds which pin and how each actor's edge queue fares, for the
    /// simulated board's control socket.
    fn status(&self) -> serde_json::Value {
        let name = |key: &String| self.actors.get(key).map_or(key.clone(), |b| b.name.clone());
        let holders: Vec<_> = self
            .pins
            .all()
            .into_iter()
            .map(|(pin, mode, actors)| {
                let actors: Vec<String> = actors.iter().map(name).collect();
                serde_json::json!({"pin": pin, "mode": mode.name(), "actors": actors})
            })
            .collect();
        let actors: Vec<_> = self
            .actors
            .iter()
            .map(|(key, bound)| {
                let queue = bound.queue.as_ref().map(|q| q.stats());
                serde_json::json!({"actor": key, "name": bound.name, "edges": queue})
            })
            .collect();
        serde_json::json!({"holders": holders, "actors": actors})
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl GpioProvider {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The BCM number the actor's `name` means.
    fn resolve(&self, name: &str) -> Result<u8, ProviderError> {
        self.config.pins.resolve(name).map_err(|e| ProviderError::bad_request(e.to_string()))
    }

    /// Whether `actor` may open `pin` as `mode`: reserved pins, then the
    /// grant.
    fn check_access(&self, bound: &Bound, pin: u8, mode: Mode) -> Result<(), ProviderError> {
        let pins = &self.config.pins;
        if let Some(reason) = pins.board().reserved(pin) {
            if !self.config.allow_reserved.contains(&pin) {
                return Err(ProviderError::denied(format!(
                    "{} is reserved on {}: {reason}; the manifest may allow it with the provider setting ALLOW_RESERVED",
                    pins.describe(pin),
                    pins.board().name
                )));
            }
        }
        self.check_not_on_a_bus(pin)?;
        let subject = format!("{} as {}", pins.describe(pin), mode.name());
        // A signed rule's pin is read through the board's own labels only,
        // so the manifest's LABELS cannot point it at another pin; a link
        // rule is the manifest's own and may use its labels.
        let names = |source: Source, name: &str| match source {
            Source::Signed => pins.resolve_signed(name),
            Source::Link => pins.resolve(name),
        };
        bound
            .grant
            .check_by_source(
                contract::CAPABILITY_ID,
                &subject,
                |kind| matches!(kind, "in" | "out" | "pwm"),
                |source, rule| rule.kind() == mode.grant_kind() && (rule.value() == "*" || names(source, rule.value()) == Ok(pin)),
            )
            .map_err(|refusal| {
                // Say why a signed rule by label permitted nothing.
                let unresolved: Vec<String> = bound
                    .grant
                    .layers
                    .iter()
                    .filter(|layer| layer.source == Source::Signed)
                    .flat_map(|layer| &layer.rules)
                    .filter(|rule| rule.kind() == mode.grant_kind() && rule.value() != "*")
                    .filter_map(|rule| pins.resolve_signed(rule.value()).err().map(|why| format!("`{rule}`: {why}")))
                    .collect();
                if unresolved.is_empty() {
                    ProviderError::denied(refusal.to_string())
                } else {
                    ProviderError::denied(format!("{refusal}; {}", unresolved.join("; ")))
                }
            })
    }

    /// Refuses `pin` while an enabled bus holds it: the kernel has set it
    /// to one of the bus's alternate functions (config.txt's `dtparam` or
    /// `dtoverlay` did), so driving it as a GPIO would cut the bus off
    /// from its devices. A pin in a function no bus of the board uses (a
    /// PWM overlay's) is left to the checks that follow.
    fn check_not_on_a_bus(&self, pin: u8) -> Result<(), ProviderError> {
        let Function::Alt(alt) = self.backend.function(pin).map_err(board_error)? else {
            return Ok(());
        };
        let board = self.config.pins.board();
        match board.bus_in_function(pin, alt) {
            Some((bus, role)) => Err(ProviderError::of(
                ErrorKind::Unavailable,
                format!(
                    "{} is {bus}'s {} (set to ALT{alt}, as `{}` in config.txt leaves it); a bus pin cannot be opened as a GPIO \
                     while the bus is enabled",
                    self.config.pins.describe(pin),
                    role.to_uppercase(),
                    bus.enable
                ),
            )),
            None => Ok(()),
        }
    }

    /// Opens `pin` as `mode` for `actor`, configuring the board with
    /// `configure` unless the actor joins a shared input or already holds
    /// the pin so.
    fn open(
        &self,
        state: &mut State,
        actor: &str,
        pin: u8,
        mode: Mode,
        configure: impl FnOnce(Opening) -> Result<(), BackendError>,
    ) -> Result<(), ProviderError> {
        let bound = bound(state, actor)?;
        self.check_access(bound, pin, mode)?;
        let opening = state.pins.plan_open(actor, pin, mode).map_err(|conflict| {
            let holder = state.actors.get(&conflict.holder).map_or(conflict.holder.as_str(), |b| b.name.as_str());
            ProviderError::of(
                ErrorKind::Unavailable,
                format!(
                    "{} is held as an {} by actor `{holder}` ({}); an output has one holder",
                    self.config.pins.describe(pin),
                    conflict.mode.name(),
                    conflict.holder
                ),
            )
        })?;
        configure(opening).map_err(board_error)?;
        self.edges.unwatch(actor, pin);
        state.pins.commit_open(actor, pin, mode);
        Ok(())
    }

    fn reply(&self, pin: u8, level: Level) -> Result<Vec<u8>, ProviderError> {
        let label = self.config.pins.label(pin).to_owned();
        Ok(provider_sdk::codec::serialize(&PinState { pin, label, level })?)
    }

    fn open_input(&self, actor: &str, request: InputRequest) -> Result<Vec<u8>, ProviderError> {
        let mut state = self.state();
        let mode = Mode::Input(request.pull);
        let mut level = Level::Low;
        let pin = self.resolve(&request.pin)?;
        self.open(&mut state, actor, pin, mode, |opening| {
            level = match opening {
                Opening::Fresh | Opening::Reconfigure => self.backend.input(pin, request.pull)?,
                Opening::Shared | Opening::Same => self.backend.read(pin)?,
            };
            Ok(())
        })?;
        state.driven.remove(&pin);
        if request.edge != contract::Edge::None {
            let watching = self.backend.watch(pin).map_err(board_error)?;
            if let Watching::Sampling(why) = watching {
                if !std::mem::replace(&mut state.said_sampling, true) {
                    self.host.log(
                        LogLevel::Warn,
                        &format!("{why}: watched inputs are sampled every {:?} instead", self.config.poll_interval),
                    );
                }
            }
            let queue = self.queue_of(&mut state, actor)?;
            let label = self.config.pins.label(pin);
            self.edges.watch(actor, pin, label, request.edge, request.debounce_ms, level, queue);
        }
        self.reply(pin, level)
    }

    /// The actor's edge queue, started with its delivery thread on first use.
    fn queue_of(&self, state: &mut State, actor: &str) -> Result<Arc<Queue>, ProviderError> {
        let bound = state.actors.get_mut(actor).ok_or_else(|| not_bound(actor))?;
        if let Some(queue) = &bound.queue {
            return Ok(Arc::clone(queue));
        }
        let queue = Arc::new(Queue::new(self.config.edge_queue));
        let thread = queue::deliver(self.host.clone(), actor.to_owned(), Arc::clone(&queue))
            .map_err(|e| ProviderError::new(format!("cannot start edge delivery for actor {actor}: {e}")))?;
        let mut deliveries = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        deliveries.retain(|t| !t.is_finished());
        deliveries.push(thread);
        bound.queue = Some(Arc::clone(&queue));
        Ok(queue)
    }

    fn open_output(&self, actor: &str, request: OutputRequest) -> Result<Vec<u8>, ProviderError> {
        let mut state = self.state();
        let level = request.level;
        let pin = self.resolve(&request.pin)?;
        self.open(&mut state, actor, pin, Mode::Output, |opening| match opening {
            Opening::Same => self.backend.write(pin, level),
            _ => self.backend.output(pin, level),
        })?;
        state.driven.insert(pin, level);
        self.reply(pin, level)
    }

    fn open_pwm(&self, actor: &str, request: PwmRequest) -> Result<Vec<u8>, ProviderError> {
        if !(request.frequency_hz > 0.0 && request.frequency_hz.is_finite()) {
            return Err(ProviderError::bad_request(format!(
                "PWM frequency must be above 0 Hz, not {}",
                request.frequency_hz
            )));
        }
        if !(0.0..=1.0).contains(&request.duty_cycle) {
            return Err(ProviderError::bad_request(format!(
                "PWM duty cycle must be from 0.0 to 1.0, not {}",
                request.duty_cycle
            )));
        }
        let mut state = self.state();
        let pin = self.resolve(&request.pin)?;
        let channel = match request.hardware {
            false => None,
            true => Some(self.config.pins.board().pwm_channel(pin).ok_or_else(|| {
                ProviderError::bad_request(format!(
                    "{} has no hardware PWM channel on {}; use software PWM (hardware = false) or one of the pins \
                     `host-edge boards show {}` lists",
                    self.config.pins.describe(pin),
                    self.config.pins.board().name,
                    self.config.pins.board().name
                ))
            })?),
        };
        let pwm = Pwm { frequency_hz: request.frequency_hz, duty_cycle: request.duty_cycle, channel };
        self.open(&mut state, actor, pin, Mode::Pwm, |_| self.backend.pwm(pin, pwm))?;
        state.driven.remove(&pin);
        self.reply(pin, Level::from(request.duty_cycle >= 0.5))
    }

    /// The pin `name` names, which `actor` must hold, and its mode.
    fn held(&self, state: &State, actor: &str, name: &str) -> Result<(u8, Mode), ProviderError> {
        let pin = self.resolve(name)?;
        bound(state, actor)?;
        let mode = state.pins.mode_of(actor, pin).ok_or_else(|| {
            ProviderError::bad_request(format!(
                "{} is not open for this actor: open it first (OpenInput, OpenOutput or OpenPwm)",
                self.config.pins.describe(pin)
            ))
        })?;
        Ok((pin, mode))
    }

    fn write(&self, actor: &str, name: &str, level: Option<Level>) -> Result<Vec<u8>, ProviderError> {
        let mut state = self.state();
        let (pin, mode) = self.held(&state, actor, name)?;
        if mode == Mode::Pwm && level.is_none() || matches!(mode, Mode::Input(_)) {
            return Err(ProviderError::bad_request(format!(
                "{} is open as an {}: only outputs can be {}",
                self.config.pins.describe(pin),
                mode.name(),
                if level.is_some() { "written" } else { "toggled" }
            )));
        }
        // Writing drives the pin as a plain output (a PWM pin stops its
        // PWM): that takes an `out:` grant, which a `pwm:` one is not.
        self.check_access(bound(&state, actor)?, pin, Mode::Output)?;
        let level = level.unwrap_or_else(|| state.driven.get(&pin).copied().unwrap_or_default().inverted());
        self.backend.write(pin, level).map_err(board_error)?;
        state.pins.commit_open(actor, pin, Mode::Output);
        state.driven.insert(pin, level);
        self.reply(pin, level)
    }

    fn read(&self, actor: &str, name: &str) -> Result<Vec<u8>, ProviderError> {
        let state = self.state();
        let (pin, _) = self.held(&state, actor, name)?;
        let level = self.backend.read(pin).map_err(board_error)?;
        self.reply(pin, level)
    }

    fn release(&self, actor: &str, name: &str) -> Result<Vec<u8>, ProviderError> {
        let mut state = self.state();
        let (pin, _) = self.held(&state, actor, name)?;
        self.release_pin(&mut state, actor, pin)?;
        let level = self.backend.read(pin).unwrap_or_default();
        self.reply(pin, level)
    }

    /// Where `pin`, held as `mode` until now, goes: a released output to
    /// its safe state, an input stays an input.
    fn safe_state(&self, pin: u8, mode: Mode) -> Safe {
        if mode.drives() {
            self.config.safe_state(pin)
        } else {
            Safe::Input
        }
    }

    /// Lets go of one pin of `actor`; the last holder's release puts the
    /// pin in its safe state.
    fn release_pin(&self, state: &mut State, actor: &str, pin: u8) -> Result<(), ProviderError> {
        self.edges.unwatch(actor, pin);
        let Some(released) = state.pins.release(actor, pin) else { return Ok(()) };
        if !released.last {
            return Ok(());
        }
        state.driven.remove(&pin);
        self.backend.release(pin, self.safe_state(pin, released.mode)).map_err(board_error)
    }

    /// Lets go of every pin of `actor` and stops its edge delivery; a pin
    /// the board fails to release is logged, and the others still are.
    fn release_actor(&self, state: &mut State, actor: &str) {
        self.edges.unwatch_actor(actor);
        for (pin, released) in state.pins.release_all(actor) {
            if !released.last {
                continue;
            }
            state.driven.remove(&pin);
            if let Err(e) = self.backend.release(pin, self.safe_state(pin, released.mode)) {
                self.host.log(
                    LogLevel::Error,
                    &format!("actor={actor}: {} could not be put in its safe state: {e}", self.config.pins.describe(pin)),
                );
            }
        }
        if let Some(queue) = state.actors.get_mut(actor).and_then(|b| b.queue.take()) {
            queue.close();
        }
    }
}

fn not_bound(actor: &str) -> ProviderError {
    ProviderError::of(ErrorKind::NotLinked, format!("actor {actor} is not bound to this provider"))
}

fn bound<'a>(state: &'a State, actor: &str) -> Result<&'a Bound, ProviderError> {
    state.actors.get(actor).ok_or_else(|| not_bound(actor))
}

impl Provider for GpioProvider {
    const CAPABILITY_ID: &'static str = contract::CAPABILITY_ID;
    const NAME: &'static str = "GPIO (rppal or simulated board)";

    fn settings() -> Vec<Setting> {
        // Enforces grants: see `Setting::enforced_grant`.
        config::declared().into_iter().chain([Setting::enforced_grant()]).collect()
    }

    fn start(host: Host, settings: Settings) -> Result<GpioProvider, ProviderError> {
        let machine = boards::DeviceTree::read();
        let config = Config::read(&settings, host.state_dir(), &machine).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        let edges = Arc::new(Edges::new());
        let sink: EdgeSink = {
            let edges = Arc::clone(&edges);
            Arc::new(move |pin, level, at| edges.raw(pin, level, at))
        };
        let state: Arc<Mutex<State>> = Arc::default();
        let (backend, control): (Arc<dyn Backend>, _) = match config.pins.board().backend {
            boards::Backend::Rppal => {
                (Arc::new(Rppal::open(sink, config.poll_interval).map_err(board_error)?), None)
            }
            boards::Backend::Sim => {
                let sim = Arc::new(Sim::new(config.pins.clone(), &config.sim_buses, config.sim_history, sink));
                let status = {
                    let state = Arc::clone(&state);
                    Box::new(move || lock(&state).status())
                };
                let server = control::Server::start(&config.sim_socket, Arc::clone(&sim), status)
                    .map_err(|e| ProviderError::new(format!("cannot open the simulated board's control socket {}: {e}", config.sim_socket.display())))?;
                (sim as Arc<dyn Backend>, Some(server))
            }
        };
        {
            let edges = Arc::clone(&edges);
            std::thread::Builder::new()
                .name("gpio-debounce".into())
                .spawn(move || edges.run_timer())
                .map_err(|e| ProviderError::new(format!("cannot start the debounce timer: {e}")))?;
        }
        let board = config.pins.board();
        let mut message = format!("driving {} ({}) through the {:?} backend", board.title, board.name, board.backend);
        if let Some(server) = &control {
            message.push_str(&format!("; control socket {}", server.path().display()));
        }
        host.log(LogLevel::Info, &message);
        Ok(GpioProvider { host, config, backend, edges, state, control, deliveries: Mutex::default() })
    }

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let grant = read_grant(&config.values)?;
        let opens = link::parse(config.values.get("OPEN").map_or("", String::as_str)).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        let name = config.values.get(CONFIG_CLAIMS_NAME).cloned().unwrap_or_else(|| config.module.clone());
        let actor = config.module;
        {
            let mut state = self.state();
            // An update (a replaced actor) starts from nothing: what the old
            // version held goes to its safe state; the new one opens its pins.
            self.release_actor(&mut state, &actor);
            state.actors.insert(actor.clone(), Bound { name, grant, queue: None });
        }
        for open in opens {
            let opened = match open {
                link::Open::Input(request) => self.open_input(&actor, request),
                link::Open::Output(request) => self.open_output(&actor, request),
                link::Open::Pwm(request) => self.open_pwm(&actor, request),
            };
            if let Err(e) = opened {
                let mut state = self.state();
                self.release_actor(&mut state, &actor);
                state.actors.remove(&actor);
                return Err(ProviderError::of(e.kind(), format!("OPEN: {}", e.message())));
            }
        }
        Ok(())
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let mut state = self.state();
        self.release_actor(&mut state, &config.module);
        state.actors.remove(&config.module);
        Ok(())
    }

    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        use provider_sdk::codec::deserialize;
        match operation {
            contract::OP_OPEN_INPUT => self.open_input(actor, deserialize(payload)?),
            contract::OP_OPEN_OUTPUT => self.open_output(actor, deserialize(payload)?),
            contract::OP_OPEN_PWM => self.open_pwm(actor, deserialize(payload)?),
            contract::OP_READ => self.read(actor, &deserialize::<PinRequest>(payload)?.pin),
            contract::OP_WRITE => {
                let request: WriteRequest = deserialize(payload)?;
                self.write(actor, &request.pin, Some(request.level))
            }
            contract::OP_TOGGLE => self.write(actor, &deserialize::<PinRequest>(payload)?.pin, None),
            contract::OP_RELEASE => self.release(actor, &deserialize::<PinRequest>(payload)?.pin),
            other => Err(ProviderError::bad_request(format!(
                "iot:gpio has no operation `{other}`; it has OpenInput, OpenOutput, OpenPwm, Read, Write, Toggle and Release"
            ))),
        }
    }

    fn stop(&self) {
        {
            let mut state = self.state();
            let actors: Vec<String> = state.actors.keys().cloned().collect();
            for actor in actors {
                self.release_actor(&mut state, &actor);
            }
            state.actors.clear();
        }
        // Every queue is closed: each delivery thread ends after the event
        // in hand (whose handler may call back in, so the state is not
        // locked here).
        let deliveries = std::mem::take(&mut *self.deliveries.lock().unwrap_or_else(|e| e.into_inner()));
        for thread in deliveries {
            let _ = thread.join();
        }
        self.edges.stop();
        if let Some(control) = &self.control {
            control.stop();
        }
    }
}

export_provider!(GpioProvider);
