//! The provider's settings: which buses it drives (the machine's, or the
//! simulated ones and their parts), and how long an actor may make it wait.
//! Read once at start; a link's own values are read when it binds.

use std::path::PathBuf;
use std::time::Duration;

use provider_sdk::{Setting, SettingKind, SettingScope, Settings};

use crate::sim::{self, DevicesError, Placed};

/// Which buses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Buses {
    /// The machine's, as `DEVICE_DIR/i2c-N`.
    Linux(PathBuf),
    /// The simulated buses, with their devices.
    Sim {
        /// The bus numbers (`SIM_BUSES`, and each bus a device sits on).
        buses: Vec<u8>,
        /// The devices.
        devices: Vec<Placed>,
    },
}

/// Why the provider's settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ConfigError {
    /// `SIM_DEVICES` cannot be read.
    #[error(transparent)]
    Devices(#[from] DevicesError),
    /// `SIM_BUSES` names something other than bus numbers.
    #[error("SIM_BUSES: `{0}` is not a bus number (0 to 255)")]
    Bus(String),
}

/// The provider's configuration, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    pub(crate) buses: Buses,
    /// The longest one `Delay` call may wait.
    pub(crate) max_delay: Duration,
}

/// The settings, for the host to check manifests against.
pub(crate) fn declared() -> Vec<Setting> {
    let provider = SettingScope::Provider;
    vec![
        Setting {
            name: "BACKEND".to_owned(),
            scope: provider,
            kind: SettingKind::Choice(vec!["linux".into(), "sim".into()]),
            default: Some("linux".into()),
            required: false,
            doc: "`linux` drives the machine's buses (/dev/i2c-N, the i2c-dev module), `sim` the simulated ones".into(),
        },
        Setting::text("DEVICE_DIR", provider, Some("/dev"), "where the linux backend finds the buses' device files i2c-N"),
        Setting::text("SIM_BUSES", provider, Some("1"), "the simulated buses, even without devices: `0, 1`"),
        Setting::text(
            "SIM_DEVICES",
            provider,
            Some(""),
            "the simulated devices: `1:0x76 bme280 temperature=21.5 pressure=1013.25 humidity=45; 1:0x50 at24c02`",
        ),
        // At least the SDK's step (100 ms), so a driver's longer wait, which
        // the SDK splits, is never refused.
        Setting::integer("MAX_DELAY_MS", provider, 100, Some(60_000), "1000", "the longest one Delay call may wait, in milliseconds"),
        provider_sdk::schedule::setting(),
    ]
}

impl Config {
    /// Reads the settings (the host has checked types and filled defaults).
    pub(crate) fn read(settings: &Settings) -> Result<Config, ConfigError> {
        let get = |name: &str| settings.get(name).map(String::as_str).unwrap_or_default();
        let buses = match get("BACKEND") {
            "sim" => {
                let devices = sim::parse(get("SIM_DEVICES"))?;
                let mut buses: Vec<u8> = match settings.get("SIM_BUSES") {
                    None => vec![1],
                    Some(text) => text
                        .split(',')
                        .map(str::trim)
                        .filter(|b| !b.is_empty())
                        .map(|b| b.parse::<u8>().map_err(|_| ConfigError::Bus(b.to_owned())))
                        .collect::<Result<_, _>>()?,
                };
                buses.extend(devices.iter().map(|d| d.bus));
                buses.sort_unstable();
                buses.dedup();
                Buses::Sim { buses, devices }
            }
            _ => Buses::Linux(PathBuf::from(match get("DEVICE_DIR") {
                "" => "/dev",
                dir => dir,
            })),
        };
        let max_delay = Duration::from_millis(get("MAX_DELAY_MS").parse().unwrap_or(1000));
        Ok(Config { buses, max_delay })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_machines_buses_are_the_default_and_the_simulator_has_bus_1_and_each_devices_bus() {
        assert_eq!(Config::read(&settings(&[])).unwrap().buses, Buses::Linux("/dev".into()));
        let config = Config::read(&settings(&[("BACKEND", "sim"), ("SIM_DEVICES", "3:0x50 at24c02")])).unwrap();
        let Buses::Sim { buses, devices } = config.buses else { panic!("not simulated") };
        assert_eq!((buses, devices.len()), (vec![1, 3], 1));
        assert_eq!(config.max_delay, Duration::from_secs(1));
        let err = Config::read(&settings(&[("BACKEND", "sim"), ("SIM_BUSES", "1, one")])).unwrap_err();
        assert_eq!(err.to_string(), "SIM_BUSES: `one` is not a bus number (0 to 255)");
    }
}
