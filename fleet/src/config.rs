//! The manifest's `[fleet]` table: which fleet the device is in, whom it
//! obeys, and how it reaches the broker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use mqtt_broker::{Broker, BrokerSettings, Spelling};

use host_edge_runtime::claims::keys::{check_public_key, KeyError, KeyRole};
pub use host_edge_runtime::manifest::FleetEntry;
use host_edge_runtime::Manifest;

use super::topics::{check_level, LevelError, Topics, ALL_GROUP};

/// The topic prefix when the manifest names none.
pub const DEFAULT_PREFIX: &str = "host-edge/fleet";

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

/// What is wrong with a `[fleet]` table.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `device` cannot be a topic level.
    #[error("[fleet] device: {0}")]
    Device(LevelError),
    /// A group cannot be a topic level.
    #[error("[fleet] groups: {0}")]
    Group(LevelError),
    /// No operator key.
    #[error(
        "[fleet] operators: name at least one operator key (O...) whose commands the device obeys; \
         `host-edge keys generate operator` makes one"
    )]
    NoOperators,
    /// An operator entry is not an operator's public key.
    #[error("[fleet] operators: {0}")]
    Operator(KeyError),
    /// The broker settings do not read.
    #[error("{0}")]
    Broker(String),
    /// The prefix cannot be topic levels.
    #[error("[fleet] prefix: {0}")]
    Prefix(LevelError),
    /// A duration does not read, or is zero.
    #[error("[fleet] {name}: `{text}` is not a duration above zero, such as \"30s\"")]
    Duration {
        /// The setting.
        name: &'static str,
        /// What it says.
        text: String,
    },
}

fn duration(name: &'static str, text: Option<&str>, default: Duration) -> Result<Duration, ConfigError> {
    match text {
        None => Ok(default),
        Some(text) => match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => Ok(d),
            _ => Err(ConfigError::Duration { name, text: text.to_owned() }),
        },
    }
}

impl FleetConfig {
    /// Checks the manifest's `[fleet]` table; file names are taken relative
    /// to `base`, the manifest's folder.
    pub fn from_entry(entry: &FleetEntry, base: &Path) -> Result<FleetConfig, ConfigError> {
        let this = entry;
        check_level(&this.device).map_err(ConfigError::Device)?;
        let mut groups = BTreeSet::from([ALL_GROUP.to_owned()]);
        for group in &this.groups {
            check_level(group).map_err(ConfigError::Group)?;
            groups.insert(group.clone());
        }
        if this.operators.is_empty() {
            return Err(ConfigError::NoOperators);
        }
        for key in &this.operators {
            check_public_key(key, KeyRole::Operator).map_err(ConfigError::Operator)?;
        }
        let settings = BrokerSettings {
            url: this.url.clone(),
            username: this.username.clone(),
            password: this.password.clone(),
            password_file: this.password_file.clone(),
            ca_file: this.ca_file.clone(),
            client_cert: this.client_cert.clone(),
            client_key: this.client_key.clone(),
        };
        let broker = settings.resolve(base, Spelling::Table("[fleet]")).map_err(|e| ConfigError::Broker(e.0))?;
        let prefix = this.prefix.clone().unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        let topics = Topics::new(&prefix).map_err(ConfigError::Prefix)?;
        Ok(FleetConfig {
            device: this.device.clone(),
            groups,
            operators: this.operators.iter().cloned().collect(),
            broker,
            topics,
            heartbeat: duration("heartbeat", this.heartbeat.as_deref(), Duration::from_secs(30))?,
            probe_timeout: duration("probe_timeout", this.probe_timeout.as_deref(), Duration::from_secs(60))?,
            stage_timeout: duration("stage_timeout", this.stage_timeout.as_deref(), Duration::from_secs(600))?,
            vars: this.vars.clone(),
            provider_dir: base.join(this.provider_dir.as_deref().unwrap_or(Path::new(DEFAULT_PROVIDER_DIR))),
        })
    }
}

/// The manifest's `[fleet]` table, checked, when there is one.
pub fn of_manifest(manifest: &Manifest) -> Option<Result<FleetConfig, ConfigError>> {
    manifest.fleet.as_ref().map(|entry| FleetConfig::from_entry(entry, &manifest.folder))
}
