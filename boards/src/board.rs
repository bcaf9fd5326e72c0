//! One board: its definition as read from TOML, checked for consistency.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::bus::{Bus, BusKind, BusProblem};

/// Why a board definition cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// The TOML does not parse or does not fit the schema.
    #[error("board definition {source_name}: {message}")]
    Syntax {
        /// Where the definition came from.
        source_name: String,
        /// The parser's message.
        message: String,
    },
    /// The definition parses but contradicts itself.
    #[error("board definition {source_name}: {problem}")]
    Inconsistent {
        /// Where the definition came from.
        source_name: String,
        /// What is wrong.
        problem: Inconsistency,
    },
    /// A board file cannot be read.
    #[error("cannot read the board definition {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The system's message.
        message: String,
    },
    /// No board has this name.
    #[error("there is no board named `{name}`{hint}; known boards: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// ` (did you mean ...?)`, or empty.
        hint: String,
        /// The names of the built-in boards.
        known: String,
    },
}

/// How a board definition contradicts itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    /// A header pin numbered 0, or listed twice.
    #[error("header pin {pin} is 0 or listed twice")]
    HeaderPin {
        /// The physical pin.
        pin: u8,
    },
    /// One GPIO on two header pins.
    #[error("GPIO {bcm} sits on two header pins")]
    GpioTwice {
        /// The BCM number.
        bcm: u8,
    },
    /// A power pin that is not 3V3, 5V or GND.
    #[error("header pin {pin}: power must be 3V3, 5V or GND, not `{power}`")]
    Power {
        /// The physical pin.
        pin: u8,
        /// What it says.
        power: String,
    },
    /// A header pin with neither `bcm` nor `power`, or with both, or a
    /// labelled power pin.
    #[error("header pin {pin} must have either `bcm` (and maybe `label`) or `power`")]
    BcmOrPower {
        /// The physical pin.
        pin: u8,
    },
    /// A label that cannot be a label, or is used twice.
    #[error("label `{label}` is not a valid label or is used twice")]
    Label {
        /// The label.
        label: String,
    },
    /// A reserved GPIO that is not on the header.
    #[error("reserved GPIO {bcm} is not on the header")]
    Reserved {
        /// The BCM number.
        bcm: u8,
    },
    /// A bus with a pin off the header, a missing or unknown pin role, or
    /// listed twice.
    #[error("{bus}: {problem}")]
    Bus {
        /// The bus, as messages name it (`I2C bus 1`).
        bus: String,
        /// What is wrong.
        problem: BusProblem,
    },
    /// A PWM channel on a GPIO that is not on the header.
    #[error("PWM channel {channel} names GPIO {bcm}, which is not on the header")]
    Pwm {
        /// The channel.
        channel: u8,
        /// The BCM number.
        bcm: u8,
    },
}

/// Which GPIO backend drives a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A Raspberry Pi, through the rppal crate.
    Rppal,
    /// The simulated board.
    Sim,
}

/// One pin of the header: a GPIO (with its BCM number and an optional
/// default label) or a power or ground pin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderPin {
    /// The physical pin number, from 1.
    pub pin: u8,
    /// The BCM (SoC) GPIO number, for a GPIO pin.
    #[serde(default)]
    pub bcm: Option<u8>,
    /// `3V3`, `5V` or `GND`, for a power or ground pin.
    #[serde(default)]
    pub power: Option<String>,
    /// The default label actors may use for the pin.
    #[serde(default)]
    pub label: Option<String>,
}

/// A pin the board needs for something else, refused unless the manifest
/// allows it by name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reserved {
    /// The BCM number.
    pub bcm: u8,
    /// What the board uses it for.
    pub reason: String,
}

/// A pin a hardware PWM channel can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PwmChannel {
    /// The BCM number.
    pub bcm: u8,
    /// The channel (rppal's `Pwm0` is 0).
    pub channel: u8,
}

/// A board definition.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Board {
    /// The short name manifests use (`pi-4b`).
    pub name: String,
    /// The full name (`Raspberry Pi 4 Model B`).
    pub title: String,
    /// The system on chip.
    pub soc: String,
    /// The backend that drives it.
    pub backend: Backend,
    /// An entry of the device tree's `compatible` list that only this board
    /// has (`raspberrypi,4-model-b`), when it can be detected.
    #[serde(default)]
    pub compatible: Option<String>,
    /// The start of the device tree's `model` on this board, the fallback
    /// for detecting it.
    #[serde(default)]
    pub model: Option<String>,
    /// The header, by physical pin.
    pub header: Vec<HeaderPin>,
    /// Reserved pins.
    #[serde(default)]
    pub reserved: Vec<Reserved>,
    /// Hardware PWM channels.
    #[serde(default)]
    pub pwm: Vec<PwmChannel>,
    /// The buses on the header.
    #[serde(default)]
    pub buses: Vec<Bus>,
}

impl Board {
    /// Parses and checks a definition; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Board, BoardError> {
        let board: Board = toml::from_str(text)
            .map_err(|e| BoardError::Syntax { source_name: source_name.to_owned(), message: e.to_string() })?;
        board
            .check()
            .map_err(|problem| BoardError::Inconsistent { source_name: source_name.to_owned(), problem })?;
        Ok(board)
    }

    /// Every rule a definition must keep, so the provider can trust it.
    fn check(&self) -> Result<(), Inconsistency> {
        let mut physical = BTreeSet::new();
        let mut bcm = BTreeSet::new();
        let mut labels = BTreeSet::new();
        for pin in &self.header {
            if pin.pin == 0 || !physical.insert(pin.pin) {
                return Err(Inconsistency::HeaderPin { pin: pin.pin });
            }
            match (&pin.bcm, &pin.power) {
                (Some(n), None) => {
                    if !bcm.insert(*n) {
                        return Err(Inconsistency::GpioTwice { bcm: *n });
                    }
                }
                (None, Some(power)) if pin.label.is_none() => {
                    if !["3V3", "5V", "GND"].contains(&power.as_str()) {
                        return Err(Inconsistency::Power { pin: pin.pin, power: power.clone() });
                    }
                }
                _ => return Err(Inconsistency::BcmOrPower { pin: pin.pin }),
            }
            if let Some(label) = &pin.label {
                if !is_label(label) || !labels.insert(label.clone()) {
                    return Err(Inconsistency::Label { label: label.clone() });
                }
            }
        }
        for r in &self.reserved {
            if !bcm.contains(&r.bcm) {
                return Err(Inconsistency::Reserved { bcm: r.bcm });
            }
        }
        for p in &self.pwm {
            if !bcm.contains(&p.bcm) {
                return Err(Inconsistency::Pwm { channel: p.channel, bcm: p.bcm });
            }
        }
        let mut buses = BTreeSet::new();
        for bus in &self.buses {
            let problem = |problem: BusProblem| Inconsistency::Bus { bus: bus.to_string(), problem };
            bus.check_roles().map_err(problem)?;
            if let Some((role, pin)) = bus.pins.iter().find(|(_, pin)| !bcm.contains(pin)) {
                return Err(problem(BusProblem::OffHeader { role: role.clone(), pin: *pin }));
            }
            if !buses.insert((bus.kind, bus.bus.as_str())) {
                return Err(problem(BusProblem::Twice));
            }
        }
        Ok(())
    }

    /// The GPIO pins as BCM number -> header pin.
    pub fn gpios(&self) -> BTreeMap<u8, &HeaderPin> {
        self.header.iter().filter_map(|p| p.bcm.map(|n| (n, p))).collect()
    }

    /// Whether GPIO `bcm` is on the header.
    pub fn has_gpio(&self, bcm: u8) -> bool {
        self.header.iter().any(|p| p.bcm == Some(bcm))
    }

    /// The default labels, label -> BCM number.
    pub fn labels(&self) -> BTreeMap<String, u8> {
        self.header.iter().filter_map(|p| Some((p.label.clone()?, p.bcm?))).collect()
    }

    /// Why GPIO `bcm` is reserved, if it is.
    pub fn reserved(&self, bcm: u8) -> Option<&str> {
        self.reserved.iter().find(|r| r.bcm == bcm).map(|r| r.reason.as_str())
    }

    /// The bus of `kind` that `bus` names (`1`, `serial0`), if the board
    /// has it.
    pub fn bus(&self, kind: BusKind, bus: &str) -> Option<&Bus> {
        self.buses.iter().find(|b| b.is(kind, bus))
    }

    /// The buses of `kind`, as their names (`1`, `serial0`).
    pub fn bus_names(&self, kind: BusKind) -> Vec<&str> {
        self.buses.iter().filter(|b| b.kind == kind).map(|b| b.bus.as_str()).collect()
    }

    /// The buses that can take GPIO `bcm`, each with the pin's role on it.
    pub fn buses_on(&self, bcm: u8) -> Vec<(&Bus, &str)> {
        self.buses
            .iter()
            .filter_map(|bus| bus.pins.iter().find(|(_, pin)| **pin == bcm).map(|(role, _)| (bus, role.as_str())))
            .collect()
    }

    /// The bus that GPIO `bcm` belongs to while it is in alternate function
    /// `alt`, with the pin's role on it: what an enabled bus holds.
    pub fn bus_in_function(&self, bcm: u8, alt: u8) -> Option<(&Bus, &str)> {
        self.buses_on(bcm).into_iter().find(|(bus, _)| bus.connects(alt))
    }

    /// The hardware PWM channel that drives GPIO `bcm`, if any.
    pub fn pwm_channel(&self, bcm: u8) -> Option<u8> {
        self.pwm.iter().find(|p| p.bcm == bcm).map(|p| p.channel)
    }
}

/// Whether `text` can be a pin label: it starts with a lowercase letter and
/// holds lowercase letters, digits, `_` and `-`, and is not a pin number in
/// disguise (`gpio17`, `bcm17`).
pub fn is_label(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && !["gpio", "bcm"].iter().any(|p| text.strip_prefix(p).is_some_and(|n| n.parse::<u8>().is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"
        name = "tiny"
        title = "Tiny"
        soc = "none"
        backend = "sim"
        header = [
          { pin = 1, power = "3V3" }, { pin = 2, bcm = 4, label = "led" },
          { pin = 3, bcm = 5 },       { pin = 4, power = "GND" },
        ]
        reserved = [{ bcm = 5, reason = "console" }]
        pwm = [{ bcm = 4, channel = 0 }]
        buses = [{ kind = "i2c", bus = "1", pins = { sda = 4, scl = 5 }, function = [0], enable = "dtparam=i2c_arm=on" }]
    "#;

    #[test]
    fn a_definition_maps_labels_reserved_pins_and_pwm_channels() {
        let board = Board::parse(TINY, "tiny.toml").unwrap();
        assert_eq!(board.labels().get("led"), Some(&4));
        assert_eq!(board.reserved(5), Some("console"));
        assert_eq!(board.reserved(4), None);
        assert_eq!(board.pwm_channel(4), Some(0));
        assert!(board.has_gpio(5) && !board.has_gpio(6));
    }

    #[test]
    fn a_gpio_on_two_header_pins_is_refused() {
        let text = TINY.replace("{ pin = 3, bcm = 5 }", "{ pin = 3, bcm = 4 }");
        let err = Board::parse(&text, "tiny.toml").unwrap_err().to_string();
        assert!(err.contains("tiny.toml") && err.contains("GPIO 4 sits on two header pins"), "{err}");
    }

    #[test]
    fn a_reserved_pin_off_the_header_is_refused() {
        let text = TINY.replace("{ bcm = 5, reason", "{ bcm = 9, reason");
        let err = Board::parse(&text, "tiny.toml").unwrap_err().to_string();
        assert!(err.contains("reserved GPIO 9"), "{err}");
    }

    #[test]
    fn an_unknown_field_is_refused_by_name() {
        let text = TINY.replace("soc = \"none\"", "soc = \"none\"\ncolour = \"green\"");
        let err = Board::parse(&text, "tiny.toml").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn a_bus_knows_its_pins_and_a_pin_its_buses() {
        let board = Board::parse(TINY, "tiny.toml").unwrap();
        let i2c = board.bus(BusKind::I2c, "1").unwrap();
        assert_eq!(i2c.to_string(), "I2C bus 1");
        assert!(board.bus(BusKind::I2c, "2").is_none() && board.bus(BusKind::Spi, "1").is_none());
        assert_eq!(board.buses_on(5), [(i2c, "scl")]);
        assert!(board.buses_on(6).is_empty());
        assert_eq!(board.bus_names(BusKind::I2c), ["1"]);
        assert_eq!(board.bus_in_function(4, 0), Some((i2c, "sda")), "ALT0 connects it");
        assert_eq!(board.bus_in_function(4, 5), None, "another function does not");
    }

    #[test]
    fn a_bus_pin_off_the_header_or_a_bus_listed_twice_is_refused() {
        let text = TINY.replace("scl = 5", "scl = 9");
        let err = Board::parse(&text, "tiny.toml").unwrap_err().to_string();
        assert!(err.contains("I2C bus 1: its `scl` pin, GPIO 9, is not on the header"), "{err}");
        let twice = TINY.replace("buses = [{", "buses = [{ kind = \"i2c\", bus = \"1\", pins = { sda = 4, scl = 5 }, enable = \"x\" }, {");
        let err = Board::parse(&twice, "tiny.toml").unwrap_err().to_string();
        assert!(err.contains("I2C bus 1: is listed twice"), "{err}");
    }

    #[test]
    fn labels_cannot_pass_for_pin_numbers() {
        assert!(is_label("led") && is_label("relay_2") && is_label("gpio-expander"));
        assert!(!is_label("gpio17") && !is_label("bcm4") && !is_label("17") && !is_label("Led") && !is_label(""));
    }
}
