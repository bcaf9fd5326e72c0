//! The manifest's `[fleet]` table: which fleet the device is in, whom it
//! obeys, and how it reaches the broker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use mqtt_broker::{Broker, BrokerSettings, Spelling};
use serde::Deserialize;

use crate::claims::keys::{check_public_key, KeyRole};

use super::topics::{check_level, Topics, ALL_GROUP};

/// The topic prefix when the manifest names none.
pub const DEFAULT_PREFIX: &str = "host-edge/fleet";

/// The `[fleet]` table as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetEntry {
    /// This device's id, unique in the fleet (one topic level).
    pub device: String,
    /// The groups it belongs to, besides `all`.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Operator keys (`O…`) whose signed commands it obeys.
    pub operators: Vec<String>,
    /// The broker: `mqtt://host:port` or `mqtts://host:port`.
    pub url: Option<String>,
    /// User name at the broker.
    pub username: Option<String>,
    /// Password (prefer `password_file`).
    pub password: Option<String>,
    /// A file holding the password, relative to the manifest.
    pub password_file: Option<std::path::PathBuf>,
    /// PEM certificates to trust for `mqtts://`.
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate, with `client_key`.
    pub client_cert: Option<std::path::PathBuf>,
    /// Its private key.
    pub client_key: Option<std::path::PathBuf>,
    /// The topic prefix (default `host-edge/fleet`).
    pub prefix: Option<String>,
    /// How often the status is published again (default `30s`).
    pub heartbeat: Option<String>,
    /// How long a deployment's health probe may take to pass when the
    /// deployment says nothing (default `60s`).
    pub probe_timeout: Option<String>,
    /// How long fetching a deployment's modules may take (default `10m`).
    pub stage_timeout: Option<String>,
    /// The folder a deployment's provider libraries must be in, relative
    /// to the manifest (default `providers`): a deployment naming a library
    /// elsewhere is refused.
    pub provider_dir: Option<std::path::PathBuf>,
    /// This device's own values for a deployment's `${NAME}` placeholders
    /// (a port, a pin, a sensor's id), so one deployment fits every device
    /// of a group.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

/// The `[fleet]` table, checked.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The device id.
    pub device: String,
    /// Its groups, `all` included.
    pub groups: BTreeSet<String>,
    /// The operator keys it obeys.
    pub operators: BTreeSet<String>,
    /// The broker.
    pub broker: Broker,
    /// Where its topics are.
    pub topics: Topics,
    /// Status heartbeat.
    pub heartbeat: Duration,
    /// Default probe timeout.
    pub probe_timeout: Duration,
    /// Staging timeout.
    pub stage_timeout: Duration,
    /// Values for a deployment's placeholders.
    pub vars: BTreeMap<String, String>,
    /// The folder a deployment's provider libraries must be in.
    pub provider_dir: std::path::PathBuf,
}

/// The provider folder when the manifest names none, relative to it.
pub const DEFAULT_PROVIDER_DIR: &str = "providers";

fn duration(name: &str, text: Option<&str>, default: Duration) -> Result<Duration, String> {
    match text {
        None => Ok(default),
        Some(text) => match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => Ok(d),
            _ => Err(format!("[fleet] {name}: `{text}` is not a duration above zero, such as \"30s\"")),
        },
    }
}

impl FleetEntry {
    /// Checks the table; file names are taken relative to `base`, the
    /// manifest's folder.
    pub fn resolve(&self, base: &Path) -> Result<FleetConfig, String> {
        check_level(&self.device).map_err(|e| format!("[fleet] device: {e}"))?;
        let mut groups = BTreeSet::from([ALL_GROUP.to_owned()]);
        for group in &self.groups {
            check_level(group).map_err(|e| format!("[fleet] groups: {e}"))?;
            groups.insert(group.clone());
        }
        if self.operators.is_empty() {
            return Err("[fleet] operators: name at least one operator key (O...) whose commands the device obeys; \
                        `host-edge keys generate operator` makes one"
                .to_owned());
        }
        for key in &self.operators {
            check_public_key(key, KeyRole::Operator).map_err(|e| format!("[fleet] operators: {e}"))?;
        }
        let settings = BrokerSettings {
            url: self.url.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            password_file: self.password_file.clone(),
            ca_file: self.ca_file.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
        };
        let broker = settings.resolve(base, Spelling::Table("[fleet]")).map_err(|e| e.0)?;
        let prefix = self.prefix.clone().unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        let topics = Topics::new(&prefix).map_err(|e| format!("[fleet] prefix: {e}"))?;
        Ok(FleetConfig {
            device: self.device.clone(),
            groups,
            operators: self.operators.iter().cloned().collect(),
            broker,
            topics,
            heartbeat: duration("heartbeat", self.heartbeat.as_deref(), Duration::from_secs(30))?,
            probe_timeout: duration("probe_timeout", self.probe_timeout.as_deref(), Duration::from_secs(60))?,
            stage_timeout: duration("stage_timeout", self.stage_timeout.as_deref(), Duration::from_secs(600))?,
            vars: self.vars.clone(),
            provider_dir: base.join(self.provider_dir.as_deref().unwrap_or(Path::new(DEFAULT_PROVIDER_DIR))),
        })
    }
}
