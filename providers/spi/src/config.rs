//! The provider's settings: which buses it drives (the machine's, or the
//! simulated ones and their parts). Read once at start; a link's own
//! values are read when it binds.

use std::path::PathBuf;

use provider_sdk::{Setting, SettingKind, SettingScope, Settings};

use crate::device;
use crate::sim::{self, DevicesError, Placed};

/// Which buses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Buses {
    /// The machine's, as `DEVICE_DIR/spidevB.C`.
    Linux(PathBuf),
    /// The simulated buses, with their parts.
    Sim {
        /// The bus numbers (`SIM_BUSES`, and each bus a part sits on).
        buses: Vec<u8>,
        /// The parts.
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
            doc: "`linux` drives the machine's buses (/dev/spidevB.C, the spidev module), `sim` the simulated ones".into(),
        },
        Setting::text("DEVICE_DIR", provider, Some("/dev"), "where the linux backend finds the devices' files spidevB.C"),
        Setting::text("SIM_BUSES", provider, Some("0"), "the simulated buses, even without parts: `0, 1`"),
        Setting::text("SIM_DEVICES", provider, Some(""), "the simulated parts: `0:0 mcp3008 vref=3.3 ch0=1.65 ch1=0.4`"),
        provider_sdk::schedule::setting(),
    ]
}

/// Reads the settings (the host has checked types and filled defaults).
pub(crate) fn read(settings: &Settings) -> Result<Buses, ConfigError> {
    let get = |name: &str| settings.get(name).map(String::as_str).unwrap_or_default();
    if get("BACKEND") != "sim" {
        return Ok(Buses::Linux(PathBuf::from(match get("DEVICE_DIR") {
            "" => "/dev",
            dir => dir,
        })));
    }
    let devices = sim::parse(get("SIM_DEVICES"))?;
    let mut buses: Vec<u8> = match settings.get("SIM_BUSES") {
        None => vec![0],
        Some(text) => text
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(|b| device::number(b).ok_or_else(|| ConfigError::Bus(b.to_owned())))
            .collect::<Result<_, _>>()?,
    };
    buses.extend(devices.iter().map(|d| d.bus));
    buses.sort_unstable();
    buses.dedup();
    Ok(Buses::Sim { buses, devices })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_machines_buses_are_the_default_and_the_simulator_has_bus_0_and_each_parts_bus() {
        assert_eq!(read(&settings(&[])).unwrap(), Buses::Linux("/dev".into()));
        let Buses::Sim { buses, devices } = read(&settings(&[("BACKEND", "sim"), ("SIM_DEVICES", "1:0 mcp3008")])).unwrap() else {
            panic!("not simulated")
        };
        assert_eq!((buses, devices.len()), (vec![0, 1], 1));
        let err = read(&settings(&[("BACKEND", "sim"), ("SIM_BUSES", "0, one")])).unwrap_err();
        assert_eq!(err.to_string(), "SIM_BUSES: `one` is not a bus number (0 to 255)");
    }
}
