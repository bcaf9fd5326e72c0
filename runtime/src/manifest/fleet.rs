//! The manifest's `[fleet]` table as written: which fleet the device is
//! in, whom it obeys, and how it reaches the broker. Plain data here; fleet
//! control (the `host-edge-fleet` crate) checks it and acts on it, and a
//! build without fleet control refuses a manifest that has one.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The `[fleet]` table as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetEntry {
    /// The line of the `[fleet]` header, for messages (0: not known).
    #[serde(skip)]
    pub line: usize,
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

