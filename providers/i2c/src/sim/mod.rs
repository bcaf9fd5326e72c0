//! The simulated bus: devices that behave like the real parts, on buses
//! the provider setting `SIM_DEVICES` lays out, so actors and their
//! drivers run unchanged on a machine without I2C (this one, CI).
//!
//! `SIM_DEVICES = "1:0x76 bme280 temperature=21.5 pressure=1013.25
//! humidity=45; 1:0x48 lm75 temperature=25.5; 1:0x50 at24c02"`: entries separated by `;`, each a bus and
//! address, a part and its options. A transaction to an address where no
//! device sits fails as a real bus does: the address is not acknowledged.

mod bme280;
mod eeprom;
mod lm75;

use std::collections::BTreeMap;
use std::sync::Mutex;

use provider_sdk::codec::i2c::{Fault, FaultKind};

use crate::address;
use crate::backend::{Backend, BusError, Outcome, Step};

pub(crate) use self::bme280::{Bme280, Readings};
pub(crate) use self::eeprom::Eeprom;
pub(crate) use self::lm75::Lm75;

/// A simulated part, as a controller sees it after the address byte.
pub(crate) trait Device: Send {
    /// The bytes of a write operation.
    fn write(&mut self, bytes: &[u8]) -> Result<(), FaultKind>;
    /// Fills the buffer of a read operation.
    fn read(&mut self, buffer: &mut [u8]);
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
    /// Its address.
    pub(crate) address: u8,
    /// Which part.
    pub(crate) part: Part,
}

/// The parts the simulator has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    /// A BME280 measuring these readings.
    Bme280(Readings),
    /// A 24C02 EEPROM.
    At24c02,
    /// An LM75-compatible thermometer (LM75, TMP102, TMP105) measuring
    /// this many degrees Celsius.
    Lm75(f64),
}

impl Part {
    fn device(&self) -> Box<dyn Device> {
        match self {
            Part::Bme280(readings) => Box::new(Bme280::new(*readings)),
            Part::At24c02 => Box::new(Eeprom::new()),
            Part::Lm75(celsius) => Box::new(Lm75::new(*celsius)),
        }
    }
}

/// Reads `SIM_DEVICES`.
pub(crate) fn parse(text: &str) -> Result<Vec<Placed>, DevicesError> {
    let mut placed: Vec<Placed> = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let fail = |problem: String| DevicesError { entry: entry.to_owned(), problem };
        let mut words = entry.split_whitespace();
        let (Some(at), Some(part)) = (words.next(), words.next()) else {
            return Err(fail("expected a bus and address, a part and options, such as `1:0x76 bme280 temperature=21.5`".into()));
        };
        let (bus, address) = at
            .split_once(':')
            .and_then(|(bus, address)| Some((bus.parse::<u8>().ok()?, address::parse(address)?)))
            .ok_or_else(|| fail(format!("`{at}` is not a bus and address such as `1:0x76`")))?;
        address::check(address).map_err(|e| fail(e.to_string()))?;
        if placed.iter().any(|p| (p.bus, p.address) == (bus, address)) {
            return Err(fail(format!("{} already has a device", address::describe(bus, address))));
        }
        let options: Vec<(&str, &str)> = words
            .map(|w| w.split_once('=').ok_or_else(|| fail(format!("`{w}` is not an option of the form name=value"))))
            .collect::<Result<_, _>>()?;
        let part = match part {
            "bme280" => {
                let mut readings = Readings::default();
                for (name, value) in options {
                    let (slot, range) = match name {
                        "temperature" => (&mut readings.temperature, -40.0..=85.0),
                        "pressure" => (&mut readings.pressure, 300.0..=1100.0),
                        "humidity" => (&mut readings.humidity, 0.0..=100.0),
                        other => return Err(fail(format!("`{other}` is not an option of bme280; it takes temperature (°C), pressure (hPa) and humidity (%)"))),
                    };
                    *slot = value.parse::<f64>().ok().filter(|v| range.contains(v)).ok_or_else(|| {
                        fail(format!("{name} takes a number from {} to {}, not `{value}`", range.start(), range.end()))
                    })?;
                }
                Part::Bme280(readings)
            }
            "lm75" | "tmp105" => match options[..] {
                [] => Part::Lm75(25.0),
                [("temperature", value)] => Part::Lm75(value.parse::<f64>().ok().filter(|v| (-55.0..=125.0).contains(v)).ok_or_else(
                    || fail(format!("temperature takes a number from -55 to 125, not `{value}`")),
                )?),
                _ => return Err(fail(format!("{part} takes one option, temperature (°C)"))),
            },
            "at24c02" => match options.first() {
                Some((name, _)) => return Err(fail(format!("`{name}` is not an option of at24c02; it takes none"))),
                None => Part::At24c02,
            },
            other => return Err(fail(format!("`{other}` is not a simulated part: use bme280, lm75 (or tmp105) or at24c02"))),
        };
        placed.push(Placed { bus, address, part });
    }
    Ok(placed)
}

/// The devices on one bus, by address.
type Devices = BTreeMap<u8, Box<dyn Device>>;

/// The simulated buses.
pub(crate) struct Sim {
    /// Each bus's devices; a bus is locked for a whole transaction.
    buses: BTreeMap<u8, Mutex<Devices>>,
}

impl Sim {
    /// Buses `buses` (empty ones included), with the devices `placed`.
    pub(crate) fn new(buses: &[u8], placed: &[Placed]) -> Sim {
        let mut all: BTreeMap<u8, Devices> = buses.iter().map(|&bus| (bus, BTreeMap::new())).collect();
        for device in placed {
            all.entry(device.bus).or_default().insert(device.address, device.part.device());
        }
        Sim { buses: all.into_iter().map(|(bus, devices)| (bus, Mutex::new(devices))).collect() }
    }

    /// The bus numbers.
    pub(crate) fn buses(&self) -> Vec<u8> {
        self.buses.keys().copied().collect()
    }
}

impl Backend for Sim {
    fn transaction(&self, bus: u8, address: u8, steps: &mut [Step<'_>]) -> Outcome {
        let devices = self.buses.get(&bus).ok_or_else(|| BusError::Unusable {
            bus,
            why: format!("the simulated board has buses {:?} only", self.buses()),
        })?;
        let mut devices = devices.lock().unwrap_or_else(|e| e.into_inner());
        let Some(device) = devices.get_mut(&address) else {
            let message = format!("nothing acknowledged address 0x{address:02x} on bus {bus}");
            return Ok(Err(Fault { kind: FaultKind::NoAcknowledgeAddress, message }));
        };
        for step in steps {
            match step {
                Step::Write(bytes) => {
                    if let Err(kind) = device.write(bytes) {
                        let message = format!("{} did not acknowledge a byte", address::describe(bus, address));
                        return Ok(Err(Fault { kind, message }));
                    }
                }
                Step::Read(buffer) => device.read(buffer),
            }
        }
        Ok(Ok(()))
    }

    fn describe(&self) -> String {
        format!("the simulated buses {:?}", self.buses())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_places_a_part_on_a_bus_with_its_readings() {
        let placed = parse("1:0x76 bme280 temperature=23.5 humidity=40; 3:80 at24c02;").unwrap();
        assert_eq!(
            placed,
            [
                Placed { bus: 1, address: 0x76, part: Part::Bme280(Readings { temperature: 23.5, pressure: 1013.25, humidity: 40.0 }) },
                Placed { bus: 3, address: 0x50, part: Part::At24c02 },
            ]
        );
        assert_eq!(parse(" ").unwrap(), []);
    }

    #[test]
    fn a_mistake_is_refused_naming_the_entry_and_what_would_fit() {
        let err = |text: &str| parse(text).unwrap_err().to_string();
        assert_eq!(err("1:0x76 bme281"), "SIM_DEVICES: `1:0x76 bme281`: `bme281` is not a simulated part: use bme280, lm75 (or tmp105) or at24c02");
        assert!(err("1:0x48 tmp105 temperature=200").contains("temperature takes a number from -55 to 125"));
        assert!(err("1:0x76 bme280 temperature=hot").contains("temperature takes a number from -40 to 85, not `hot`"));
        assert!(err("1:0x76 bme280 temperature=900").contains("from -40 to 85"));
        assert!(err("1:0x00 at24c02").contains("0x00 is reserved"));
        assert!(err("1:0x50 at24c02; 1:0x50 bme280").contains("device 0x50 on bus 1 already has a device"));
        assert!(err("one:0x50 at24c02").contains("`one:0x50` is not a bus and address"));
    }

    #[test]
    fn an_address_without_a_device_is_not_acknowledged_and_a_missing_bus_is_unusable() {
        let sim = Sim::new(&[1], &parse("1:0x50 at24c02").unwrap());
        let mut steps = [Step::Write(&[0x00])];
        let fault = sim.transaction(1, 0x51, &mut steps).unwrap().unwrap_err();
        assert_eq!(fault.kind, FaultKind::NoAcknowledgeAddress);
        assert_eq!(fault.message, "nothing acknowledged address 0x51 on bus 1");
        let err = sim.transaction(2, 0x50, &mut steps).unwrap_err().to_string();
        assert_eq!(err, "I2C bus 2 cannot be used: the simulated board has buses [1] only");
    }

    #[test]
    fn a_write_then_a_read_is_one_transaction_on_the_device() {
        let sim = Sim::new(&[], &parse("1:0x50 at24c02").unwrap());
        sim.transaction(1, 0x50, &mut [Step::Write(&[0x20, 7, 8])]).unwrap().unwrap();
        let mut buffer = [0u8; 2];
        sim.transaction(1, 0x50, &mut [Step::Write(&[0x20]), Step::Read(&mut buffer)]).unwrap().unwrap();
        assert_eq!(buffer, [7, 8]);
    }
}
