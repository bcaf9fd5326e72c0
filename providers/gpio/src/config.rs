//! The provider's settings: which board, what its pins are called, where
//! outputs go when released, and the limits of edge delivery. All of it is
//! provider-level (the board is one per host), read once at start.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use boards::{Board, BoardError, DeviceTree};
use provider_sdk::codec::gpio::Level;
use provider_sdk::{Setting, SettingKind, SettingScope, Settings};

use boards::{PinMap, PinSettingError};

/// Where a released output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safe {
    /// An input without pull: the pin drives nothing.
    Input,
    /// An output held at this level (a relay that must stay off, an active-low LED).
    Level(Level),
}

/// Why the provider's settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// `BOARD` names no board, or a board file that cannot be used.
    #[error("BOARD: {0}")]
    Board(BoardError),
    /// `BOARD` is unset and the device tree names no known board.
    #[error(
        "no BOARD is set and this machine ({machine}) is not a board host-edge knows; set BOARD \
         (`host-edge boards` lists them, `sim` is the simulated board)"
    )]
    NoBoard {
        /// The machine, as its device tree describes it.
        machine: String,
    },
    /// `LABELS`, `SAFE_STATE` or `ALLOW_RESERVED` names pins wrongly.
    #[error(transparent)]
    Pins(#[from] PinSettingError),
    /// A `SIM_BUSES` entry names no bus of the board, or the board is not
    /// simulated.
    #[error("SIM_BUSES: {0}")]
    SimBuses(String),
    /// A `SAFE_STATE` entry is not `input`, `low` or `high`.
    #[error("SAFE_STATE: {pin} may be `input`, `low` or `high`, not `{value}`")]
    SafeState {
        /// The pin, as messages show it (`pin 17 (led)`).
        pin: String,
        /// The value given.
        value: String,
    },
}

/// The provider's configuration, checked.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) pins: PinMap,
    pub(crate) safe: BTreeMap<u8, Safe>,
    pub(crate) allow_reserved: BTreeSet<u8>,
    pub(crate) edge_queue: usize,
    pub(crate) poll_interval: Duration,
    pub(crate) sim_socket: PathBuf,
    pub(crate) sim_history: usize,
    /// The buses the simulated board has enabled.
    pub(crate) sim_buses: Vec<boards::Bus>,
}

/// The settings, for the host to check manifests against.
pub(crate) fn declared() -> Vec<Setting> {
    let text = |name: &str, default: Option<&str>, doc: &str| Setting {
        name: name.to_owned(),
        scope: SettingScope::Provider,
        kind: SettingKind::Text,
        default: default.map(str::to_owned),
        required: false,
        doc: doc.to_owned(),
    };
    let integer = |name: &str, min: i64, max: i64, default: &str, doc: &str| Setting {
        name: name.to_owned(),
        scope: SettingScope::Provider,
        kind: SettingKind::Integer { min: Some(min), max: Some(max) },
        default: Some(default.to_owned()),
        required: false,
        doc: doc.to_owned(),
    };
    vec![
        text("BOARD", None, "a board name (`host-edge boards`), `sim`, or a board file; detected from the device tree when absent"),
        text("LABELS", Some(""), "pin labels over the board's own: `led=17, button=27`"),
        text("SAFE_STATE", Some(""), "where released outputs go: `led=low, relay=high`; others become inputs"),
        text("ALLOW_RESERVED", Some(""), "reserved pins actors may use anyway, by number or label: `14, 15`"),
        integer("EDGE_QUEUE", 1, 65_536, "256", "edge events queued per actor before the oldest are dropped"),
        integer("POLL_INTERVAL_US", 100, 1_000_000, "1000", "how often inputs are sampled where the kernel's GPIO interrupts are missing"),
        text("SIM_SOCKET", Some("sim.sock"), "the simulated board's control socket, relative to the state directory"),
        integer("SIM_HISTORY", 16, 1_000_000, "10000", "pin changes the simulated board remembers"),
        text(
            "SIM_BUSES",
            Some(""),
            "buses the simulated board has enabled, as config.txt would (`i2c1, spi0`): their pins are the bus's, not GPIOs",
        ),
        Setting {
            name: "OPEN".to_owned(),
            scope: SettingScope::Link,
            kind: SettingKind::Text,
            default: Some(String::new()),
            required: false,
            doc: "pins opened for the actor when it is linked: `button in pull=up edge=falling debounce=20; led out`"
                .to_owned(),
        },
    ]
}

impl Config {
    /// Reads the settings (the host has checked types and filled defaults);
    /// the machine's device tree identifies the board when `BOARD` is unset.
    pub(crate) fn read(settings: &Settings, state_dir: &Path, machine: &DeviceTree) -> Result<Config, ConfigError> {
        let get = |name: &str| settings.get(name).map(String::as_str).unwrap_or_default();
        let board = board(settings.get("BOARD").map(String::as_str), machine)?;
        let pins = PinMap::new(board, get("LABELS"))?;
        let mut safe = BTreeMap::new();
        for (pin, value) in pins.assignments(get("SAFE_STATE"), "SAFE_STATE")? {
            let state = match value.as_str() {
                "input" => Safe::Input,
                "low" => Safe::Level(Level::Low),
                "high" => Safe::Level(Level::High),
                other => return Err(ConfigError::SafeState { pin: pins.describe(pin), value: other.to_owned() }),
            };
            safe.insert(pin, state);
        }
        let allow_reserved = pins.list(get("ALLOW_RESERVED"), "ALLOW_RESERVED")?.into_iter().collect();
        let number = |name: &str, default: u64| get(name).parse::<u64>().unwrap_or(default);
        Ok(Config {
            safe,
            allow_reserved,
            edge_queue: number("EDGE_QUEUE", 256) as usize,
            poll_interval: Duration::from_micros(number("POLL_INTERVAL_US", 1000)),
            sim_socket: state_dir.join(match get("SIM_SOCKET") {
                "" => "sim.sock",
                path => path,
            }),
            sim_history: number("SIM_HISTORY", 10_000) as usize,
            sim_buses: sim_buses(pins.board(), get("SIM_BUSES"))?,
            pins,
        })
    }

    /// Where `pin` goes when its holder lets go.
    pub(crate) fn safe_state(&self, pin: u8) -> Safe {
        self.safe.get(&pin).copied().unwrap_or(Safe::Input)
    }
}

/// The buses `SIM_BUSES` enables on the simulated `board`, by their tags
/// (`i2c1, spi0, serial0`).
fn sim_buses(board: &Board, text: &str) -> Result<Vec<boards::Bus>, ConfigError> {
    let tags: Vec<&str> = text.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    if !tags.is_empty() && board.backend != boards::Backend::Sim {
        return Err(ConfigError::SimBuses(format!(
            "only the simulated board takes it; on {} the firmware's config.txt enables buses",
            board.name
        )));
    }
    tags.into_iter()
        .map(|tag| {
            board.buses.iter().find(|bus| bus.tag() == tag).cloned().ok_or_else(|| {
                let known: Vec<String> = board.buses.iter().map(boards::Bus::tag).collect();
                ConfigError::SimBuses(format!(
                    "`{tag}` is not a bus of {}{}; its buses: {}",
                    board.name,
                    provider_sdk::abi::suggest::did_you_mean(tag, known.iter().map(String::as_str)),
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// The board `BOARD` names, or the one the device tree identifies.
fn board(name: Option<&str>, machine: &DeviceTree) -> Result<Board, ConfigError> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => boards::find(name).map_err(ConfigError::Board),
        None => machine.board().ok_or_else(|| ConfigError::NoBoard { machine: machine.describe() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_board_comes_from_the_setting_or_else_from_the_device_tree() {
        let dir = Path::new("/state");
        let pi4 = DeviceTree { model: Some("Raspberry Pi 4 Model B Rev 1.4\0".into()), compatible: None };
        let config = Config::read(&settings(&[("BOARD", "sim")]), dir, &pi4).unwrap();
        assert_eq!(config.pins.board().name, "sim");
        let config = Config::read(&settings(&[]), dir, &pi4).unwrap();
        assert_eq!(config.pins.board().name, "pi-4b");
        let virt = DeviceTree { model: Some("QEMU Virt\0".into()), compatible: Some("linux,dummy-virt\0".into()) };
        let err = Config::read(&settings(&[]), dir, &virt).unwrap_err().to_string();
        assert!(err.contains("(model `QEMU Virt`, compatible `linux,dummy-virt`) is not a board host-edge knows"), "{err}");
        let err = Config::read(&settings(&[]), dir, &DeviceTree::default()).unwrap_err().to_string();
        assert!(err.contains("no BOARD is set and this machine (no device tree)"), "{err}");
    }

    #[test]
    fn safe_states_and_allowed_reserved_pins_are_read_by_label() {
        let config = Config::read(
            &settings(&[("BOARD", "sim"), ("LABELS", "led=17, relay=22"), ("SAFE_STATE", "led=low, relay=high"), ("ALLOW_RESERVED", "txd, 15")]),
            Path::new("/state"),
            &DeviceTree::default(),
        )
        .unwrap();
        assert_eq!(config.safe_state(17), Safe::Level(Level::Low));
        assert_eq!(config.safe_state(22), Safe::Level(Level::High));
        assert_eq!(config.safe_state(23), Safe::Input);
        assert_eq!(config.allow_reserved, BTreeSet::from([14, 15]));
        assert_eq!(config.sim_socket, Path::new("/state/sim.sock"));
    }

    #[test]
    fn sim_buses_name_buses_of_the_simulated_board_only() {
        let config = Config::read(&settings(&[("BOARD", "sim"), ("SIM_BUSES", "i2c1, spi0")]), Path::new("/s"), &DeviceTree::default())
            .unwrap();
        let tags: Vec<String> = config.sim_buses.iter().map(boards::Bus::tag).collect();
        assert_eq!(tags, ["i2c1", "spi0"]);
        let err = Config::read(&settings(&[("BOARD", "sim"), ("SIM_BUSES", "i2c2")]), Path::new("/s"), &DeviceTree::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("SIM_BUSES: `i2c2` is not a bus of sim (did you mean `i2c1`?)"), "{err}");
        let err = Config::read(&settings(&[("BOARD", "pi-4b"), ("SIM_BUSES", "i2c1")]), Path::new("/s"), &DeviceTree::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("only the simulated board"), "{err}");
    }

    #[test]
    fn a_bad_safe_state_names_the_pin_and_the_choices() {
        let err = Config::read(&settings(&[("BOARD", "sim"), ("SAFE_STATE", "17=off")]), Path::new("/s"), &DeviceTree::default()).unwrap_err().to_string();
        assert!(err.contains("SAFE_STATE: pin 17 may be `input`, `low` or `high`, not `off`"), "{err}");
    }
}
