//! The buses a board brings out on its header: which pins each one takes,
//! which pin function connects them to it, and the `config.txt` line that
//! enables it.
//!
//! The GPIO provider reads them to refuse a bus's pins while the bus holds
//! them (the kernel has switched the pins to the bus's function), `host-edge
//! check` to refuse a link to a bus the board does not have and a pin used
//! twice, and `host-edge boards show` to mark them on the header.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// What kind of bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    /// An I2C bus, numbered as Linux numbers `/dev/i2c-N`.
    I2c,
    /// An SPI controller, numbered as Linux numbers `/dev/spidevB.C`.
    Spi,
    /// A UART, named as its device is (`serial0`).
    Serial,
}

impl BusKind {
    /// The pin roles this kind of bus may have, the required ones first.
    fn roles(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            BusKind::I2c => (&["sda", "scl"], &[]),
            BusKind::Spi => (&["mosi", "miso", "sclk"], &["ce0", "ce1", "ce2"]),
            BusKind::Serial => (&["txd", "rxd"], &["rts", "cts"]),
        }
    }

    /// `I2C`, `SPI`, `serial`.
    pub fn title(self) -> &'static str {
        match self {
            BusKind::I2c => "I2C",
            BusKind::Spi => "SPI",
            BusKind::Serial => "serial",
        }
    }
}

/// How a bus's entry in a board definition is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusProblem {
    /// A pin the kind of bus needs is not given.
    #[error("has no `{0}` pin")]
    MissingPin(&'static str),
    /// A role this kind of bus does not have.
    #[error("has a pin role `{role}`; its roles are {roles}")]
    UnknownRole {
        /// The role given.
        role: String,
        /// The roles it may have.
        roles: String,
    },
    /// An SPI bus without a chip select.
    #[error("has no chip select (`ce0`...)")]
    NoChipSelect,
    /// An I2C or SPI bus named other than by its number.
    #[error("must be numbered (`bus = \"1\"`)")]
    Unnumbered,
    /// A pin that is not a GPIO of the header.
    #[error("its `{role}` pin, GPIO {pin}, is not on the header")]
    OffHeader {
        /// The pin's role.
        role: String,
        /// The BCM number.
        pin: u8,
    },
    /// The same bus listed twice.
    #[error("is listed twice")]
    Twice,
}

/// One bus on the header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    /// Its kind.
    pub kind: BusKind,
    /// Its number (`1` for `/dev/i2c-1`, `0` for `/dev/spidev0.*`) or, for
    /// a serial port, its device name (`serial0`).
    pub bus: String,
    /// Its pins, by role (`sda`, `scl`; `mosi`, `miso`, `sclk`, `ce0`...;
    /// `txd`, `rxd`), as BCM numbers.
    pub pins: BTreeMap<String, u8>,
    /// The alternate functions (`ALT0` is 0) that connect the pins to this
    /// bus; empty where any alternate function may.
    #[serde(default)]
    pub function: Vec<u8>,
    /// What enables it, as a line of the firmware's `config.txt`.
    pub enable: String,
}

impl Bus {
    /// Its number, for an I2C or SPI bus.
    pub fn number(&self) -> Option<u8> {
        match self.kind {
            BusKind::Serial => None,
            BusKind::I2c | BusKind::Spi => self.bus.parse().ok(),
        }
    }

    /// Whether `bus` names it: a number for I2C and SPI, a device name for
    /// a serial port.
    pub fn is(&self, kind: BusKind, bus: &str) -> bool {
        self.kind == kind && self.bus == bus
    }

    /// The pins a device on it uses: every pin but the chip selects of an
    /// SPI bus, and of those only `chip_select`'s (every one when `None`).
    pub fn pins_for(&self, chip_select: Option<u8>) -> Vec<(&str, u8)> {
        self.pins
            .iter()
            .filter(|(role, _)| match (role.strip_prefix("ce"), chip_select) {
                (Some(cs), Some(wanted)) => cs.parse() == Ok(wanted),
                _ => true,
            })
            .map(|(role, pin)| (role.as_str(), *pin))
            .collect()
    }

    /// The chip selects of an SPI bus (`ce0` is 0).
    pub fn chip_selects(&self) -> Vec<u8> {
        self.pins.keys().filter_map(|role| role.strip_prefix("ce")?.parse().ok()).collect()
    }

    /// Whether a pin found in alternate function `alt` is connected to
    /// this bus.
    pub fn connects(&self, alt: u8) -> bool {
        self.function.is_empty() || self.function.contains(&alt)
    }

    /// The short name the header table marks its pins with: `i2c1`,
    /// `spi0`, `serial0`.
    pub fn tag(&self) -> String {
        match self.kind {
            BusKind::I2c => format!("i2c{}", self.bus),
            BusKind::Spi => format!("spi{}", self.bus),
            BusKind::Serial => self.bus.clone(),
        }
    }

    /// The device Linux shows it as: `/dev/i2c-1`, `/dev/spidev0.*`,
    /// `/dev/serial0`.
    pub fn device(&self) -> String {
        match self.kind {
            BusKind::I2c => format!("/dev/i2c-{}", self.bus),
            BusKind::Spi => format!("/dev/spidev{}.*", self.bus),
            BusKind::Serial => format!("/dev/{}", self.bus),
        }
    }

    /// Checks the roles: the required ones present, no unknown ones.
    pub(crate) fn check_roles(&self) -> Result<(), BusProblem> {
        let (required, optional) = self.kind.roles();
        if let Some(missing) = required.iter().find(|r| !self.pins.contains_key(**r)) {
            return Err(BusProblem::MissingPin(missing));
        }
        if let Some(unknown) = self.pins.keys().find(|r| !required.contains(&r.as_str()) && !optional.contains(&r.as_str())) {
            let all: Vec<&str> = required.iter().chain(optional).copied().collect();
            return Err(BusProblem::UnknownRole { role: unknown.clone(), roles: all.join(", ") });
        }
        if self.kind == BusKind::Spi && self.chip_selects().is_empty() {
            return Err(BusProblem::NoChipSelect);
        }
        if self.kind != BusKind::Serial && self.number().is_none_or(|n| n.to_string() != self.bus) {
            return Err(BusProblem::Unnumbered);
        }
        Ok(())
    }
}

impl fmt::Display for Bus {
    /// `I2C bus 1`, `SPI bus 0`, `serial port serial0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            BusKind::Serial => write!(f, "serial port {}", self.bus),
            kind => write!(f, "{} bus {}", kind.title(), self.bus),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spi() -> Bus {
        Bus {
            kind: BusKind::Spi,
            bus: "0".into(),
            pins: [("mosi", 10), ("miso", 9), ("sclk", 11), ("ce0", 8), ("ce1", 7)].map(|(r, p)| (r.to_owned(), p)).into(),
            function: vec![0],
            enable: "dtparam=spi=on".into(),
        }
    }

    #[test]
    fn a_device_on_one_chip_select_uses_the_clock_and_data_pins_and_its_own_select_only() {
        let pins: Vec<u8> = spi().pins_for(Some(1)).into_iter().map(|(_, p)| p).collect();
        assert_eq!(pins, [7, 9, 10, 11]);
        assert_eq!(spi().pins_for(None).len(), 5);
        assert_eq!(spi().chip_selects(), [0, 1]);
    }

    #[test]
    fn roles_are_checked_per_kind() {
        assert_eq!(spi().check_roles(), Ok(()));
        let mut no_clock = spi();
        no_clock.pins.remove("sclk");
        assert_eq!(no_clock.check_roles(), Err(BusProblem::MissingPin("sclk")));
        let mut stray = spi();
        stray.pins.insert("sda".into(), 2);
        assert!(stray.check_roles().unwrap_err().to_string().contains("`sda`"));
        let mut unnumbered = spi();
        unnumbered.bus = "spi0".into();
        assert_eq!(unnumbered.check_roles(), Err(BusProblem::Unnumbered));
    }

    #[test]
    fn only_the_listed_functions_connect_a_pin_to_the_bus() {
        assert!(spi().connects(0) && !spi().connects(4));
        assert!(Bus { function: vec![], ..spi() }.connects(4));
        assert_eq!(spi().to_string(), "SPI bus 0");
    }
}
