//! The simulated bus: parts that behave like the real ones, at the chip
//! selects the provider setting `SIM_DEVICES` gives them, so actors and
//! their drivers run unchanged on a machine without SPI (this one, CI).
//!
//! `SIM_DEVICES = "0:0 mcp3008 vref=3.3 ch0=1.65 ch1=0.4; 0:1 w25q80"`: entries
//! separated by `;`, each a bus and chip select, a part and its options.
//! A chip select with no part reads all zeros, as an unconnected MISO line
//! with a pull-down does.
//!
//! Words of 16, 24 or 32 bits go out most significant bit first, as a
//! controller clocks them: the bytes of each word (least significant first
//! in the operation, as spidev lays them out) reach the part from the top
//! byte down, and what comes back is laid out the same way. Words that are
//! not whole bytes are refused: the parts here exchange bytes.

mod mcp3008;
mod w25q80;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use provider_sdk::codec::spi::Fault;

use crate::backend::{Backend, BusError, Clocking, Outcome, Step};
use crate::device;

pub(crate) use self::mcp3008::Mcp3008;
pub(crate) use self::w25q80::W25q80;

/// A simulated part, as the controller sees it.
pub(crate) trait Device: Send {
    /// Whether the part can be clocked so.
    fn check(&self, clocking: Clocking) -> Result<(), Fault>;
    /// The chip select fell: a new conversation starts.
    fn select(&mut self);
    /// One byte out, one byte in, most significant bit first.
    fn exchange(&mut self, mosi: u8) -> u8;
}

/// Why `SIM_DEVICES` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SIM_DEVICES: `{entry}`: {problem}")]
pub(crate) struct DevicesError {
    /// The entry as given.
    pub(crate) entry: String,
    /// What is wrong with it.
    pub(crate) problem: String,
}

/// One device of `SIM_DEVICES`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placed {
    /// Its bus.
    pub(crate) bus: u8,
    /// Its chip select.
    pub(crate) cs: u8,
    /// Which part.
    pub(crate) part: Part,
}

/// The parts the simulator has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    /// An MCP3008 with this reference and these input voltages.
    Mcp3008 {
        /// The reference voltage.
        vref: f64,
        /// Each channel's voltage.
        inputs: [f64; 8],
    },
    /// A W25Q80 NOR flash, erased.
    W25q80,
}

/// Reads `SIM_DEVICES`.
pub(crate) fn parse(text: &str) -> Result<Vec<Placed>, DevicesError> {
    let mut placed: Vec<Placed> = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let fail = |problem: String| DevicesError { entry: entry.to_owned(), problem };
        let mut words = entry.split_whitespace();
        let (Some(at), Some(part)) = (words.next(), words.next()) else {
            return Err(fail("expected a bus and chip select, a part and options, such as `0:0 mcp3008 ch0=1.65`".into()));
        };
        let (bus, cs) = at
            .split_once(':')
            .and_then(|(bus, cs)| Some((device::number(bus)?, device::number(cs)?)))
            .ok_or_else(|| fail(format!("`{at}` is not a bus and chip select such as `0:0`")))?;
        if placed.iter().any(|p| (p.bus, p.cs) == (bus, cs)) {
            return Err(fail(format!("{} already has a device", device::describe(bus, cs))));
        }
        let part = match part {
            "mcp3008" => {
                let (mut vref, mut inputs) = (3.3, [0.0; 8]);
                for word in words {
                    let (name, value) =
                        word.split_once('=').ok_or_else(|| fail(format!("`{word}` is not an option of the form name=value")))?;
                    let volts = value
                        .parse::<f64>()
                        .ok()
                        .filter(|v| (0.0..=5.5).contains(v))
                        .ok_or_else(|| fail(format!("{name} takes volts from 0 to 5.5, not `{value}`")))?;
                    match (name, name.strip_prefix("ch").and_then(|n| n.parse::<usize>().ok())) {
                        ("vref", _) if volts > 0.0 => vref = volts,
                        ("vref", _) => return Err(fail("vref takes volts above 0".into())),
                        (_, Some(channel)) if channel < 8 => inputs[channel] = volts,
                        _ => return Err(fail(format!("`{name}` is not an option of mcp3008; it takes vref (above 0) and ch0 to ch7"))),
                    }
                }
                Part::Mcp3008 { vref, inputs }
            }
            "w25q80" => match words.next() {
                Some(word) => return Err(fail(format!("`{word}`: w25q80 takes no options"))),
                None => Part::W25q80,
            },
            other => return Err(fail(format!("`{other}` is not a simulated part: use mcp3008 or w25q80"))),
        };
        placed.push(Placed { bus, cs, part });
    }
    Ok(placed)
}

/// The parts on one bus, by chip select.
type Parts = BTreeMap<u8, Box<dyn Device>>;

/// The simulated buses.
pub(crate) struct Sim {
    /// Each bus's parts; a bus is locked for a whole transaction, as one
    /// controller serves one transfer at a time.
    buses: BTreeMap<u8, Mutex<Parts>>,
}

impl Sim {
    /// Buses `buses` (empty ones included), with the parts `placed`.
    pub(crate) fn new(buses: &[u8], placed: &[Placed]) -> Sim {
        let mut all: BTreeMap<u8, Parts> = buses.iter().map(|&bus| (bus, BTreeMap::new())).collect();
        for device in placed {
            let part: Box<dyn Device> = match device.part {
                Part::Mcp3008 { vref, inputs } => Box::new(Mcp3008::new(vref, inputs)),
                Part::W25q80 => Box::new(W25q80::new()),
            };
            all.entry(device.bus).or_default().insert(device.cs, part);
        }
        Sim { buses: all.into_iter().map(|(bus, parts)| (bus, Mutex::new(parts))).collect() }
    }

    /// The bus numbers.
    pub(crate) fn buses(&self) -> Vec<u8> {
        self.buses.keys().copied().collect()
    }
}

impl Backend for Sim {
    fn transaction(&self, bus: u8, cs: u8, clocking: Clocking, steps: &mut [Step<'_>]) -> Outcome {
        let parts = self.buses.get(&bus).ok_or_else(|| BusError::Unusable {
            device: device::describe(bus, cs),
            why: format!("the simulated board has SPI buses {:?} only", self.buses()),
        })?;
        if !clocking.bits_per_word.is_multiple_of(8) {
            let message = format!(
                "the simulated bus clocks whole bytes: words of 8, 16, 24 or 32 bits, not {}",
                clocking.bits_per_word
            );
            return Ok(Err(Fault { kind: provider_sdk::codec::spi::FaultKind::FrameFormat, message }));
        }
        let word = usize::from(clocking.bits_per_word / 8).max(1);
        let mut parts = parts.lock().unwrap_or_else(|e| e.into_inner());
        let mut part = parts.get_mut(&cs);
        if let Some(part) = part.as_mut() {
            if let Err(fault) = part.check(clocking) {
                return Ok(Err(fault));
            }
            part.select();
        }
        let mut exchange = |byte: u8| part.as_mut().map_or(0, |p| p.exchange(byte));
        // Each word's bytes in wire order: the most significant first.
        let mut clock = |bytes: &mut [u8]| {
            for chunk in bytes.chunks_mut(word) {
                for b in chunk.iter_mut().rev() {
                    *b = exchange(*b);
                }
            }
        };
        for step in steps {
            match step {
                Step::Write(bytes) => clock(&mut bytes.to_vec()),
                Step::Read(buffer) => {
                    buffer.fill(0);
                    clock(buffer);
                }
                Step::Transfer(buffer) => clock(buffer),
                Step::Delay(ns) => std::thread::sleep(Duration::from_nanos(u64::from(*ns))),
            }
        }
        Ok(Ok(()))
    }

    fn describe(&self) -> String {
        format!("the simulated SPI buses {:?}", self.buses())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_places_a_part_at_a_chip_select_with_its_voltages() {
        let placed = parse("0:1 mcp3008 vref=5 ch0=2.5 ch7=1;").unwrap();
        let mut inputs = [0.0; 8];
        inputs[0] = 2.5;
        inputs[7] = 1.0;
        assert_eq!(placed, [Placed { bus: 0, cs: 1, part: Part::Mcp3008 { vref: 5.0, inputs } }]);
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn a_mistake_is_refused_naming_the_entry_and_what_would_fit() {
        let err = |text: &str| parse(text).unwrap_err().to_string();
        assert_eq!(err("0:0 mcp3004"), "SIM_DEVICES: `0:0 mcp3004`: `mcp3004` is not a simulated part: use mcp3008 or w25q80");
        assert!(err("0:0 mcp3008 ch8=1").contains("`ch8` is not an option of mcp3008"));
        assert!(err("0:0 mcp3008 ch0=9").contains("ch0 takes volts from 0 to 5.5, not `9`"));
        assert!(err("0:0 mcp3008 vref=0").contains("vref takes volts above 0"));
        assert!(err("0:0 mcp3008; 0:0 mcp3008").contains("chip select 0 of SPI bus 0 already has a device"));
        assert!(err("0.0 mcp3008").contains("`0.0` is not a bus and chip select such as `0:0`"));
    }

    #[test]
    fn a_transfer_reaches_the_part_and_an_empty_chip_select_reads_zeros() {
        let sim = Sim::new(&[0], &parse("0:0 mcp3008 ch2=3.3").unwrap());
        let clocking = Clocking { mode: 0, speed_hz: 1_000_000, bits_per_word: 8 };
        let mut frame = [0x01, 0xA0, 0x00];
        sim.transaction(0, 0, clocking, &mut [Step::Transfer(&mut frame)]).unwrap().unwrap();
        assert_eq!(u16::from(frame[1] & 3) << 8 | u16::from(frame[2]), 1023);
        let mut nothing = [0xFF; 3];
        sim.transaction(0, 1, clocking, &mut [Step::Transfer(&mut nothing)]).unwrap().unwrap();
        assert_eq!(nothing, [0, 0, 0]);
        // The same conversion in 16-bit words: 0x0180 then 0x0000 on the
        // wire, each word's low byte first in the buffer.
        let sixteen = Clocking { bits_per_word: 16, ..clocking };
        let mut words = [0xA0, 0x01, 0x00, 0x00];
        sim.transaction(0, 0, sixteen, &mut [Step::Transfer(&mut words)]).unwrap().unwrap();
        let (first, second) = (u16::from_le_bytes([words[0], words[1]]), u16::from_le_bytes([words[2], words[3]]));
        assert_eq!((first & 3) << 8 | second >> 8, 1023);
        let twelve = Clocking { bits_per_word: 12, ..clocking };
        let fault = sim.transaction(0, 0, twelve, &mut [Step::Transfer(&mut [0, 0])]).unwrap().unwrap_err();
        assert!(fault.message.contains("words of 8, 16, 24 or 32 bits, not 12"), "{}", fault.message);
        let err = sim.transaction(1, 0, clocking, &mut [Step::Read(&mut [0])]).unwrap_err().to_string();
        assert_eq!(err, "chip select 0 of SPI bus 1 cannot be used: the simulated board has SPI buses [0] only");
    }
}
