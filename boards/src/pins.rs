//! Naming pins: BCM numbers and the labels the board and the manifest give
//! them. Actors, grants, settings and the simulator's control interface
//! all name pins through one [`PinMap`], so `led`, `17` and `gpio17` mean
//! the same pin everywhere: in the GPIO provider, and in the host's check
//! of which pins a manifest's links use.

use std::collections::BTreeMap;

use crate::Board;

/// The board's pins and their labels: the board's defaults, with the
/// manifest's `LABELS` over them.
#[derive(Debug, Clone)]
pub struct PinMap {
    board: Board,
    /// The board definition's own labels, which signed grants go by.
    board_labels: BTreeMap<String, u8>,
    by_label: BTreeMap<String, u8>,
    by_pin: BTreeMap<u8, String>,
}

/// Why a name is not a pin number of this board.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Neither a label nor `17`, `gpio17` or `bcm17`.
    #[error("`{name}` is neither a pin label nor a BCM number")]
    NotANumber {
        /// The name as given.
        name: String,
    },
    /// A BCM number the board's header does not have.
    #[error("GPIO {pin} is not on the header of {board}")]
    NotOnHeader {
        /// The BCM number.
        pin: u8,
        /// The board's name.
        board: String,
    },
}

/// Why a name does not resolve to a pin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// No label, and no pin number of this board.
    #[error("{problem}{did_you_mean}")]
    Unknown {
        /// Why it is not a pin number.
        problem: NumberError,
        /// ` (did you mean ...?)`, or empty.
        did_you_mean: String,
    },
    /// A signed rule names a pin by something other than a BCM number or
    /// one of the board definition's own labels.
    #[error(
        "signed rules name a pin by BCM number (`17`, `gpio17`) or by a label of board {board}'s own definition; \
         `{name}` is neither{}",
        if *.in_labels { " (LABELS names it, but LABELS cannot widen a signed grant)" } else { "" }
    )]
    NotSignable {
        /// The name in the rule.
        name: String,
        /// The board's name.
        board: String,
        /// Whether the manifest's `LABELS` names it.
        in_labels: bool,
    },
}

/// Why a setting that names pins (`LABELS`, `SAFE_STATE`,
/// `ALLOW_RESERVED`) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinSettingError {
    /// A `LABELS` entry whose label cannot be a label.
    #[error("LABELS: `{label}` cannot be a label: use lowercase letters, digits, `_` and `-`, starting with a letter")]
    BadLabel {
        /// The label as given.
        label: String,
    },
    /// A `LABELS` entry whose pin is not a pin number of this board.
    #[error("LABELS: {label}={pin}: {problem}")]
    LabelPin {
        /// The label.
        label: String,
        /// The pin as given.
        pin: String,
        /// Why it is not a pin number.
        problem: NumberError,
    },
    /// A pin the setting names does not resolve.
    #[error("{setting}: {problem}")]
    Pin {
        /// The setting.
        setting: String,
        /// Why the pin does not resolve.
        problem: PinError,
    },
    /// An entry that is not `name=value`.
    #[error("{setting}: `{pair}` is not of the form name=value")]
    NotAPair {
        /// The setting.
        setting: String,
        /// The entry as given.
        pair: String,
    },
}

impl PinMap {
    /// The board's labels, then `extra` (`led=17, button=gpio27`): a label
    /// from the manifest replaces the board's label of the same name, and
    /// becomes the name shown for its pin.
    pub fn new(board: Board, extra: &str) -> Result<PinMap, PinSettingError> {
        let mut map = PinMap { board_labels: board.labels(), by_label: board.labels(), by_pin: BTreeMap::new(), board };
        let mut by_pin: BTreeMap<u8, String> = map.by_label.iter().map(|(l, p)| (*p, l.clone())).collect();
        for (label, pin) in pairs(extra, "LABELS")? {
            if !crate::is_label(&label) {
                return Err(PinSettingError::BadLabel { label });
            }
            let number = match map.number(&pin) {
                Ok(number) => number,
                Err(problem) => return Err(PinSettingError::LabelPin { label, pin, problem }),
            };
            map.by_label.insert(label.clone(), number);
            by_pin.insert(number, label);
        }
        map.by_pin = by_pin;
        Ok(map)
    }

    /// The board.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The BCM number `name` means: a label, `17`, `gpio17` or `bcm17`; an
    /// error names what is wrong, with the closest label.
    pub fn resolve(&self, name: &str) -> Result<u8, PinError> {
        if let Some(pin) = self.by_label.get(name) {
            return Ok(*pin);
        }
        self.number(name).map_err(|problem| PinError::Unknown {
            problem,
            did_you_mean: provider_abi::suggest::did_you_mean(name, self.by_label.keys().map(String::as_str)),
        })
    }

    /// The BCM number a SIGNED grant rule's `name` means: one of the board
    /// definition's own labels, `17`, `gpio17` or `bcm17`. Never a label
    /// from `LABELS`: the manifest names pins for the actor's calls and the
    /// link's grant, but cannot decide which pin a signed rule reaches.
    pub fn resolve_signed(&self, name: &str) -> Result<u8, PinError> {
        if let Some(pin) = self.board_labels.get(name) {
            return Ok(*pin);
        }
        self.number(name).map_err(|_| PinError::NotSignable {
            name: name.to_owned(),
            board: self.board.name.clone(),
            in_labels: self.by_label.contains_key(name),
        })
    }

    /// A pin number, without labels.
    fn number(&self, name: &str) -> Result<u8, NumberError> {
        let lower = name.to_ascii_lowercase();
        let digits = ["gpio", "bcm"].iter().find_map(|p| lower.strip_prefix(p)).unwrap_or(&lower);
        let pin: u8 = digits.parse().map_err(|_| NumberError::NotANumber { name: name.to_owned() })?;
        if !self.board.has_gpio(pin) {
            return Err(NumberError::NotOnHeader { pin, board: self.board.name.clone() });
        }
        Ok(pin)
    }

    /// The label shown for `pin`, `""` when it has none.
    pub fn label(&self, pin: u8) -> &str {
        self.by_pin.get(&pin).map_or("", String::as_str)
    }

    /// `pin 17 (led)` or `pin 5`, for messages.
    pub fn describe(&self, pin: u8) -> String {
        match self.label(pin) {
            "" => format!("pin {pin}"),
            label => format!("pin {pin} ({label})"),
        }
    }

    /// Reads a list of pins (`14, 15, console`), as in `ALLOW_RESERVED`.
    pub fn list(&self, text: &str, setting: &str) -> Result<Vec<u8>, PinSettingError> {
        text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|name| self.resolve_in(setting, name)).collect()
    }

    /// Reads `name=value` pairs with pins as names (`led=low, 22=input`),
    /// as in `SAFE_STATE`.
    pub fn assignments(&self, text: &str, setting: &str) -> Result<Vec<(u8, String)>, PinSettingError> {
        pairs(text, setting)?.into_iter().map(|(name, value)| Ok((self.resolve_in(setting, &name)?, value))).collect()
    }

    /// [`PinMap::resolve`] for a pin that `setting` names.
    fn resolve_in(&self, setting: &str, name: &str) -> Result<u8, PinSettingError> {
        self.resolve(name).map_err(|problem| PinSettingError::Pin { setting: setting.to_owned(), problem })
    }
}

/// Splits `a=b, c=d` into trimmed pairs.
fn pairs(text: &str, setting: &str) -> Result<Vec<(String, String)>, PinSettingError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() && !value.trim().is_empty() => {
                Ok((name.trim().to_owned(), value.trim().to_ascii_lowercase()))
            }
            _ => Err(PinSettingError::NotAPair { setting: setting.to_owned(), pair: pair.to_owned() }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(extra: &str) -> Result<PinMap, PinSettingError> {
        PinMap::new(crate::find("sim").unwrap(), extra)
    }

    #[test]
    fn a_pin_is_found_by_label_number_or_gpio_name() {
        let pins = map("led=17, button=gpio27").unwrap();
        for name in ["led", "17", "gpio17", "GPIO17", "bcm17"] {
            assert_eq!(pins.resolve(name), Ok(17), "{name}");
        }
        assert_eq!(pins.resolve("button"), Ok(27));
        assert_eq!(pins.resolve("sda"), Ok(2), "the board's own labels stay");
        assert_eq!(pins.describe(17), "pin 17 (led)");
        assert_eq!(pins.describe(5), "pin 5");
    }

    #[test]
    fn a_signed_name_resolves_through_the_boards_own_labels_never_the_manifests() {
        // LABELS `sda=17, led=22`: the manifest moved the board's `sda` and
        // made up `led`; a signed `out:sda` or `out:led` must not follow.
        let pins = map("sda=17, led=22").unwrap();
        assert_eq!(pins.resolve("sda"), Ok(17), "calls by name follow LABELS");
        assert_eq!(pins.resolve_signed("sda"), Ok(2), "a signed label is the board's");
        let err = pins.resolve_signed("led").unwrap_err().to_string();
        assert!(err.contains("`led` is neither") && err.contains("LABELS cannot widen a signed grant"), "{err}");
        assert_eq!(pins.resolve_signed("gpio22"), Ok(22));
        assert_eq!(pins.resolve_signed("22"), Ok(22));
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_closest_label() {
        let pins = map("led=17").unwrap();
        let err = pins.resolve("lde").unwrap_err().to_string();
        assert!(err.contains("`lde` is neither a pin label nor a BCM number") && err.contains("`led`"), "{err}");
        assert_eq!(pins.resolve("40").unwrap_err().to_string(), "GPIO 40 is not on the header of sim");
    }

    #[test]
    fn bad_labels_are_refused_naming_the_setting() {
        assert!(map("LED=17").unwrap_err().to_string().contains("`LED` cannot be a label"));
        assert!(map("led").unwrap_err().to_string().contains("`led` is not of the form name=value"));
        assert!(map("led=99").unwrap_err().to_string().contains("LABELS: led=99: GPIO 99"));
    }
}
