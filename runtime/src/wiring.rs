//! Which of the board's pins a manifest's links use, checked before
//! anything starts: a link to an I2C or SPI bus the board does not have,
//! and a pin used twice (by two buses, or by a bus and as a GPIO), are
//! refused with both users named.
//!
//! What a link reaches is what every layer of its grant names (the signed
//! rules and the link's own, intersected, as the providers enforce them),
//! plus the pins and ports its `OPEN` value opens. A layer with a wildcard
//! (`out:*`, `1:*` for chip selects, `port:*`) names no pin here; the GPIO
//! provider refuses an enabled bus's pins when they are asked for. A serial
//! port counts as the board's UART only under the board's name for it
//! (`serial0`): a USB adapter (`ttyUSB0`) takes no header pin.

use std::collections::{BTreeMap, BTreeSet};

use boards::{BusKind, PinMap};

use crate::capability::WellKnown;
use crate::grant::{Rule, Source};
use crate::manifest::Problem;

/// One link as the wiring check sees it.
pub(crate) struct WiredLink<'a> {
    /// The manifest line of the `[[link]]`.
    pub(crate) line: usize,
    /// How messages name it: ``[[link]] weather iot:i2c -> `i2c` ``.
    pub(crate) what: String,
    /// Its capability, where it is one with pins.
    pub(crate) capability: WellKnown,
    /// The layers of its grant that are present: the signed rules, the
    /// link's rules.
    pub(crate) layers: Vec<(Source, Vec<Rule>)>,
    /// Its `OPEN` value.
    pub(crate) open: &'a str,
}

/// Whom a pin belongs to, for telling two users apart: a bus (by tag) or
/// the GPIO provider.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Bus(String),
    Gpio,
}

/// One use of a pin.
struct Use {
    owner: Owner,
    /// `I2C bus 1's SDA`, `a GPIO`.
    role: String,
    /// The link, as messages name it, with its line.
    by: String,
    line: usize,
}

/// Every problem with how `links` use the pins of `pins`'s board, whose
/// names `pins` reads as the GPIO provider does (its `LABELS` for calls,
/// `OPEN` and link rules; the board's own labels for signed rules).
pub(crate) fn check(pins: &PinMap, links: &[WiredLink<'_>]) -> Vec<Problem> {
    let board = pins.board();
    let mut problems = Vec::new();
    let mut uses: BTreeMap<u8, Vec<Use>> = BTreeMap::new();
    for link in links {
        let mut note = |message: String| problems.push(Problem { line: link.line, message: format!("{}: {message}", link.what) });
        let by = format!("{} (line {})", link.what, link.line);
        let mut add = |pin: u8, owner: Owner, role: String| {
            uses.entry(pin).or_default().push(Use { owner, role, by: by.clone(), line: link.line });
        };
        match link.capability {
            WellKnown::I2c | WellKnown::Spi => {
                let kind = if link.capability == WellKnown::I2c { BusKind::I2c } else { BusKind::Spi };
                for (bus_name, selects) in reached_buses(&link.layers) {
                    let Some(bus) = board.bus(kind, &bus_name) else {
                        let known = board.bus_names(kind);
                        note(format!(
                            "{} bus {bus_name} is not a bus of {} ({}); `host-edge boards show {}` lists its buses",
                            kind.title(),
                            board.name,
                            if known.is_empty() { format!("it has no {} bus", kind.title()) } else { format!("its {} buses: {}", kind.title(), known.join(", ")) },
                            board.name
                        ));
                        continue;
                    };
                    let selects: Vec<Option<u8>> = match selects {
                        Some(selects) if kind == BusKind::Spi => selects.into_iter().map(Some).collect(),
                        _ => vec![None],
                    };
                    for select in selects {
                        if let Some(cs) = select.filter(|cs| !bus.chip_selects().contains(cs)) {
                            let known: Vec<String> = bus.chip_selects().iter().map(u8::to_string).collect();
                            note(format!("{bus} has no chip select {cs} (its chip selects: {})", known.join(", ")));
                            continue;
                        }
                        for (role, pin) in bus.pins_for(select) {
                            add(pin, Owner::Bus(bus.tag()), format!("{bus}'s {}", role.to_uppercase()));
                        }
                    }
                }
            }
            WellKnown::Serial => {
                let mut ports: BTreeSet<String> = opened(link.open).map(str::to_owned).collect();
                ports.extend(reached_values(&link.layers, |_, rule| (rule.kind() == "port").then(|| rule.value().to_owned())));
                for bus in ports.iter().filter_map(|port| board.bus(BusKind::Serial, port)) {
                    for (role, pin) in bus.pins_for(None) {
                        add(pin, Owner::Bus(bus.tag()), format!("{bus}'s {}", role.to_uppercase()));
                    }
                }
            }
            WellKnown::Gpio => {
                let mut taken: BTreeSet<u8> = opened(link.open).filter_map(|name| pins.resolve(name).ok()).collect();
                taken.extend(reached_values(&link.layers, |source, rule| {
                    let resolve = |name| match source {
                        Source::Signed => pins.resolve_signed(name),
                        Source::Link => pins.resolve(name),
                    };
                    matches!(rule.kind(), "in" | "out" | "pwm").then(|| resolve(rule.value()).ok()).flatten()
                }));
                for pin in taken {
                    add(pin, Owner::Gpio, "a GPIO".to_owned());
                }
            }
            _ => {}
        }
    }
    for (pin, uses) in &uses {
        let Some(first) = uses.first() else { continue };
        // One report per pin: at the first use by another owner.
        if let Some(other) = uses.iter().find(|u| u.owner != first.owner) {
            let header = board.header.iter().find(|p| p.bcm == Some(*pin)).map_or(String::new(), |p| format!(", header pin {},", p.pin));
            problems.push(Problem {
                line: other.line,
                message: format!(
                    "GPIO {pin}{header} is used twice: as {} by {}, and as {} by {}; a pin serves one bus, or is a GPIO, at a time",
                    first.role, first.by, other.role, other.by
                ),
            });
        }
    }
    problems
}

/// The first word of each `;`-separated entry of an `OPEN` value: the
/// pin or port it opens.
fn opened(open: &str) -> impl Iterator<Item = &str> {
    open.split(';').filter_map(|entry| entry.split_whitespace().next())
}

/// The buses every layer names, each with the chip selects every layer
/// names on it (`None`: a layer has `*`, every chip select). A rule's kind
/// is the bus number (`1:0x76`, `0:1`).
fn reached_buses(layers: &[(Source, Vec<Rule>)]) -> BTreeMap<String, Option<BTreeSet<u8>>> {
    let mut reached: Option<BTreeMap<String, Option<BTreeSet<u8>>>> = None;
    for (_, layer) in layers {
        let mut this: BTreeMap<String, Option<BTreeSet<u8>>> = BTreeMap::new();
        for rule in layer.iter().filter(|rule| rule.kind().parse::<u8>().is_ok()) {
            let entry = this.entry(rule.kind().to_owned()).or_insert_with(|| Some(BTreeSet::new()));
            match rule.value().parse::<u8>() {
                Ok(cs) => {
                    if let Some(selects) = entry {
                        selects.insert(cs);
                    }
                }
                Err(_) => *entry = None,
            }
        }
        reached = Some(match reached {
            None => this,
            Some(before) => before
                .into_iter()
                .filter_map(|(bus, selects)| {
                    let other = this.get(&bus)?;
                    Some((bus, match (selects, other) {
                        (None, other) => other.clone(),
                        (selects, None) => selects,
                        (Some(a), Some(b)) => Some(a.intersection(b).copied().collect()),
                    }))
                })
                .collect(),
        });
    }
    reached.unwrap_or_default()
}

/// The values every layer names through `name` (a pin, a port; given the
/// layer's source), where no layer has a wildcard; empty where one has,
/// or where there are no layers.
fn reached_values<T: Ord + Clone>(layers: &[(Source, Vec<Rule>)], name: impl Fn(Source, &Rule) -> Option<T>) -> BTreeSet<T> {
    let mut reached: Option<BTreeSet<T>> = None;
    for (source, layer) in layers {
        if layer.iter().any(|rule| rule.value() == "*") {
            continue;
        }
        let this: BTreeSet<T> = layer.iter().filter_map(|rule| name(*source, rule)).collect();
        reached = Some(match reached {
            None => this,
            Some(before) => before.intersection(&this).cloned().collect(),
        });
    }
    reached.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &[&str]) -> Vec<Rule> {
        text.iter().map(|r| r.parse().unwrap()).collect()
    }

    /// A link whose first layer is signed and whose second is the link's.
    fn link(line: usize, capability: WellKnown, layers: &[&[&str]], open: &'static str) -> WiredLink<'static> {
        let sources = [Source::Signed, Source::Link];
        WiredLink {
            line,
            what: format!("[[link]] a{line} {}", capability.id()),
            capability,
            layers: layers.iter().zip(sources).map(|(l, source)| (source, rules(l))).collect(),
            open,
        }
    }

    fn problems(board: &str, links: &[WiredLink<'_>]) -> Vec<String> {
        let pins = PinMap::new(boards::find(board).unwrap(), "led=17").unwrap();
        check(&pins, links).into_iter().map(|p| format!("{}: {}", p.line, p.message)).collect()
    }

    #[test]
    fn a_link_to_an_i2c_bus_the_board_does_not_have_is_refused_naming_its_buses() {
        let found = problems("pi-3b", &[link(10, WellKnown::I2c, &[&["3:0x76"]], "")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("10: [[link]] a10 iot:i2c: I2C bus 3 is not a bus of pi-3b (its I2C buses: 1, 0)"), "{found:?}");
        assert!(problems("pi-4b", &[link(10, WellKnown::I2c, &[&["3:0x76"]], "")]).is_empty(), "the Pi 4 has I2C bus 3");
    }

    #[test]
    fn the_link_grant_narrows_which_buses_a_portable_actor_reaches() {
        let portable: &[&str] = &["1:0x76", "3:0x76"];
        assert_eq!(problems("pi-3b", &[link(10, WellKnown::I2c, &[portable], "")]).len(), 1);
        assert!(problems("pi-3b", &[link(10, WellKnown::I2c, &[portable, &["1:0x76"]], "")]).is_empty());
    }

    #[test]
    fn a_gpio_on_a_pin_of_a_bus_in_use_is_refused_naming_both_links() {
        let found = problems(
            "pi-4b",
            &[link(10, WellKnown::I2c, &[&["1:0x76"]], ""), link(20, WellKnown::Gpio, &[&["out:*"]], "sda out; led out")],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "20: GPIO 2, header pin 3, is used twice: as I2C bus 1's SDA by [[link]] a10 iot:i2c (line 10), and as a GPIO by [[link]] a20 iot:gpio (line 20)"
            ),
            "{found:?}"
        );
    }

    #[test]
    fn a_gpio_grant_by_number_counts_and_a_wildcard_does_not() {
        let spi = link(10, WellKnown::Spi, &[&["0:0"]], "");
        assert_eq!(problems("pi-4b", &[spi, link(20, WellKnown::Gpio, &[&["out:10"]], "")]).len(), 1, "MOSI");
        let spi = link(10, WellKnown::Spi, &[&["0:0"]], "");
        assert!(problems("pi-4b", &[spi, link(20, WellKnown::Gpio, &[&["out:*"]], "")]).is_empty());
    }

    #[test]
    fn a_signed_gpio_rule_names_pins_as_the_provider_reads_it_never_through_labels() {
        let spi = || link(10, WellKnown::Spi, &[&["0:0"]], "");
        // LABELS moves `led` onto 17; a signed `out:ce0` is the board's CE0, GPIO 8.
        assert_eq!(problems("pi-4b", &[spi(), link(20, WellKnown::Gpio, &[&["out:ce0"]], "")]).len(), 1);
        let labels_only = PinMap::new(boards::find("pi-4b").unwrap(), "led=8").unwrap();
        let signed_led = [spi(), link(20, WellKnown::Gpio, &[&["out:led"]], "")];
        assert!(check(&labels_only, &signed_led).is_empty(), "LABELS cannot point a signed rule at a pin");
        let narrowed = [spi(), link(20, WellKnown::Gpio, &[&["out:*"], &["out:led"]], "")];
        assert_eq!(check(&labels_only, &narrowed).len(), 1, "a link rule goes by LABELS");
        assert_eq!(problems("pi-4b", &[spi(), link(20, WellKnown::Gpio, &[], "BCM8 out")]).len(), 1, "any spelling of a number");
    }

    #[test]
    fn an_spi_device_takes_its_own_chip_select_only() {
        let spi = || link(10, WellKnown::Spi, &[&["0:0"]], "");
        assert!(problems("pi-4b", &[spi(), link(20, WellKnown::Gpio, &[&["out:7"]], "")]).is_empty(), "CE1 is free");
        assert_eq!(problems("pi-4b", &[spi(), link(20, WellKnown::Gpio, &[&["out:8"]], "")]).len(), 1, "CE0 is not");
        let all = link(10, WellKnown::Spi, &[&["0:*"]], "");
        assert_eq!(problems("pi-4b", &[all, link(20, WellKnown::Gpio, &[&["out:7"]], "")]).len(), 1, "0:* takes every one");
        let found = problems("pi-4b", &[link(10, WellKnown::Spi, &[&["0:2"]], "")]);
        assert!(found[0].contains("SPI bus 0 has no chip select 2 (its chip selects: 0, 1)"), "{found:?}");
    }

    #[test]
    fn two_buses_sharing_a_pin_are_refused_and_two_actors_on_one_bus_are_not() {
        let found = problems("pi-4b", &[link(10, WellKnown::Spi, &[&["0:0"]], ""), link(20, WellKnown::I2c, &[&["4:0x48"]], "")]);
        assert!(found.iter().any(|p| p.contains("GPIO 8") && p.contains("SPI bus 0's CE0") && p.contains("I2C bus 4's SDA")), "{found:?}");
        let two = [link(10, WellKnown::I2c, &[&["1:0x76"]], ""), link(20, WellKnown::I2c, &[&["1:0x48"]], "")];
        assert!(problems("pi-4b", &two).is_empty());
    }

    #[test]
    fn the_header_uart_counts_by_the_boards_name_and_a_usb_adapter_takes_no_pin() {
        let gpio = || link(20, WellKnown::Gpio, &[], "txd out");
        assert_eq!(problems("pi-4b", &[link(10, WellKnown::Serial, &[&["port:serial0"]], ""), gpio()]).len(), 1);
        assert_eq!(problems("pi-4b", &[link(10, WellKnown::Serial, &[], "serial0 baud=9600"), gpio()]).len(), 1);
        assert!(problems("pi-4b", &[link(10, WellKnown::Serial, &[&["port:ttyUSB0"]], ""), gpio()]).is_empty());
    }
}
