//! Which devices an actor may reach: the bus and address checks every
//! transaction passes before the bus sees it.
//!
//! A grant rule for `iot:i2c` is written `BUS:ADDRESS` (`1:0x76`): its kind
//! is the bus number, its value one 7-bit address, in hex (`0x76`) or
//! decimal (`118`), or `*` for every device on that bus. A rule whose kind
//! is not a bus number permits nothing (fail closed, as every provider's
//! grants do).
//!
//! Some addresses are never a device's: 0x00 is the general call, which
//! every device on the bus may act on, so a grant for one device would
//! reach them all; 0x01-0x07 and 0x78-0x7F are reserved for other bus
//! protocols and 10-bit addressing. They are refused whatever the grant
//! says.

/// Why an address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AddressError {
    /// Wider than 7 bits.
    #[error("0x{0:02x} is not a 7-bit I2C address (0x08 to 0x77)")]
    TooWide(u8),
    /// One of the addresses the I2C specification reserves.
    #[error("0x{address:02x} is reserved by the I2C specification ({why}) and is never a device's")]
    Reserved {
        /// The address.
        address: u8,
        /// What it is reserved for.
        why: &'static str,
    },
}

/// Checks that `address` can name one device.
pub(crate) fn check(address: u8) -> Result<(), AddressError> {
    let why = match address {
        0x80.. => return Err(AddressError::TooWide(address)),
        0x00 => "the general call, heard by every device on the bus",
        0x01..=0x07 => "CBUS, other bus formats, high-speed mode",
        0x78..=0x7B => "10-bit addressing",
        0x7C..=0x7F => "device ids",
        _ => return Ok(()),
    };
    Err(AddressError::Reserved { address, why })
}

/// Whether a grant rule's kind is one this provider understands: a bus
/// number.
pub(crate) fn understood(kind: &str) -> bool {
    bus_of(kind).is_some()
}

/// Whether the rule `kind:value` permits `address` on `bus`.
pub(crate) fn permits(kind: &str, value: &str, bus: u8, address: u8) -> bool {
    bus_of(kind) == Some(bus) && (value == "*" || parse(value) == Some(address))
}

/// The bus a rule's kind names: a decimal number below 256 without sign
/// or leading zeros.
fn bus_of(kind: &str) -> Option<u8> {
    let canonical = kind == "0" || !kind.starts_with('0');
    kind.bytes().all(|b| b.is_ascii_digit()).then_some(()).filter(|()| canonical)?;
    kind.parse().ok()
}

/// An address as a rule writes it: `0x76` or `118`.
pub(crate) fn parse(text: &str) -> Option<u8> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.len() <= 2 => u8::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() && text.len() <= 3 => text.parse().ok(),
        None => None,
    }
}

/// How messages name a device: `0x76 on bus 1`.
pub(crate) fn describe(bus: u8, address: u8) -> String {
    format!("device 0x{address:02x} on bus {bus}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_rule_names_one_bus_and_one_address_or_every_address_on_it() {
        assert!(permits("1", "0x76", 1, 0x76));
        assert!(permits("1", "118", 1, 0x76));
        assert!(!permits("1", "0x76", 1, 0x77));
        assert!(!permits("1", "0x76", 0, 0x76), "another bus");
        assert!(permits("1", "*", 1, 0x48));
        assert!(!permits("1", "*", 2, 0x48));
    }

    #[test]
    fn a_rule_that_names_no_bus_permits_nothing() {
        for kind in ["bus", "01", "256", "-1", "", "1x"] {
            assert!(!understood(kind), "{kind}");
            assert!(!permits(kind, "*", 1, 0x76), "{kind}");
        }
        assert!(!permits("1", "0x176", 1, 0x76), "an address wider than a byte matches nothing");
        assert!(!permits("1", "seventy", 1, 0x76));
    }

    #[test]
    fn the_general_call_and_the_reserved_addresses_are_refused_whatever_the_grant() {
        let err = check(0x00).unwrap_err().to_string();
        assert!(err.contains("0x00 is reserved by the I2C specification (the general call, heard by every device"), "{err}");
        assert!(check(0x07).is_err());
        assert!(check(0x78).is_err());
        assert_eq!(check(0x80).unwrap_err().to_string(), "0x80 is not a 7-bit I2C address (0x08 to 0x77)");
        assert_eq!(check(0x08), Ok(()));
        assert_eq!(check(0x77), Ok(()));
    }

    proptest! {
        #[test]
        fn every_address_written_in_hex_or_decimal_reads_back(address in any::<u8>()) {
            prop_assert_eq!(parse(&format!("0x{address:02x}")), Some(address));
            prop_assert_eq!(parse(&format!("{address:#x}")), Some(address));
            prop_assert_eq!(parse(&address.to_string()), Some(address));
        }

        #[test]
        fn a_rule_permits_only_its_own_bus_and_address(
            rule_bus in any::<u8>(), rule_address in 0u8..0x80, bus in any::<u8>(), address in 0u8..0x80,
        ) {
            let permitted = permits(&rule_bus.to_string(), &format!("0x{rule_address:02x}"), bus, address);
            prop_assert_eq!(permitted, rule_bus == bus && rule_address == address);
        }

        #[test]
        fn parsing_any_text_never_panics(text in ".{0,12}") {
            let _ = parse(&text);
            let _ = understood(&text);
        }
    }
}
