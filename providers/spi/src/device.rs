//! Which devices an actor may reach: a device is a chip select on a bus,
//! and a grant rule for `iot:spi` names one, `BUS:CS` (`0:0` for
//! `/dev/spidev0.0`, CE0 of the Pi header's SPI0), or every chip select of
//! a bus (`0:*`). A rule whose kind is not a bus number permits nothing
//! (fail closed, as every provider's grants do). The rule is written with
//! a colon, not as spidev's `0.0`, because every grant rule is
//! `kind:value`.

/// Whether a grant rule's kind is one this provider understands: a bus
/// number.
pub(crate) fn understood(kind: &str) -> bool {
    number(kind).is_some()
}

/// Whether the rule `kind:value` permits chip select `cs` on `bus`.
pub(crate) fn permits(kind: &str, value: &str, bus: u8, cs: u8) -> bool {
    number(kind) == Some(bus) && (value == "*" || number(value) == Some(cs))
}

/// A decimal number below 256 without sign or leading zeros.
pub(crate) fn number(text: &str) -> Option<u8> {
    let canonical = text == "0" || !text.starts_with('0');
    (canonical && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok())?
}

/// How messages name a device: `chip select 0 of SPI bus 0`.
pub(crate) fn describe(bus: u8, cs: u8) -> String {
    format!("chip select {cs} of SPI bus {bus}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_rule_names_one_chip_select_of_one_bus_or_all_of_them() {
        assert!(permits("0", "0", 0, 0));
        assert!(!permits("0", "0", 0, 1));
        assert!(!permits("0", "0", 1, 0));
        assert!(permits("0", "*", 0, 1));
        assert!(!permits("0", "*", 1, 1));
    }

    #[test]
    fn a_rule_that_names_no_bus_permits_nothing() {
        for kind in ["spi", "00", "256", "", "0x0"] {
            assert!(!understood(kind), "{kind}");
            assert!(!permits(kind, "*", 0, 0), "{kind}");
        }
        assert!(!permits("0", "01", 0, 1), "a chip select with a leading zero matches nothing");
    }

    proptest! {
        #[test]
        fn a_rule_permits_only_its_own_bus_and_chip_select(rule_bus in any::<u8>(), rule_cs in any::<u8>(), bus in any::<u8>(), cs in any::<u8>()) {
            prop_assert_eq!(permits(&rule_bus.to_string(), &rule_cs.to_string(), bus, cs), rule_bus == bus && rule_cs == cs);
        }
    }
}
