//! What a device reports: its retained status and its events.
//!
//! The status is JSON, retained at `devices/ID/status` and published again
//! every heartbeat, so the operator (or `mosquitto_sub`) sees every device's
//! last word at once. Events (`devices/ID/events`) say what happened as it
//! happened: a refused command, a deployment's outcome, a revocation.

use serde::{Deserialize, Serialize};

use super::store::{FleetState, Outcome};
use host_edge_runtime::Host;

/// One actor, as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorReport {
    /// Name from its claims.
    pub name: String,
    /// Module key.
    pub key: String,
    /// `rev` from its claims.
    pub rev: Option<i32>,
    /// Instances serving it.
    pub instances: usize,
    /// Calls into it since the host started.
    pub calls: u64,
    /// Those that failed.
    pub errors: u64,
    /// Linear memory of its instances, bytes.
    pub memory_bytes: u64,
}

/// One provider, as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderReport {
    /// Its name.
    pub name: String,
    /// The capability it serves.
    pub capability: String,
    /// The revision its archive's claims sign, if they carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i32>,
    /// Whether its health check passes.
    pub healthy: bool,
    /// Why not, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The deployment a device runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentReport {
    /// Its sequence.
    pub seq: u64,
    /// What it is.
    pub label: String,
    /// When it was committed.
    pub committed_at: u64,
}

/// A device's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatus {
    /// Its id.
    pub device: String,
    /// Its groups.
    pub groups: Vec<String>,
    /// host-edge's version.
    pub version: String,
    /// When this status was made, by the device's trusted clock.
    pub at: u64,
    /// Seconds since the host started.
    pub uptime_secs: u64,
    /// The deployment it runs; `None`: its own manifest.
    pub deployment: Option<DeploymentReport>,
    /// A deployment under way, and how far it got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// How the last deployment ended.
    pub last_outcome: Option<Outcome>,
    /// What runs.
    pub actors: Vec<ActorReport>,
    /// Its providers.
    pub providers: Vec<ProviderReport>,
    /// The system clock, and whether it is behind the latest signed time
    /// seen (never set, or set back).
    pub clock: ClockReport,
    /// Bytes of modules received over MQTT or by URL since the host started.
    pub received_bytes: u64,
}

/// The device's clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockReport {
    /// The system clock.
    pub system: u64,
    /// The latest signed time seen.
    pub mark: u64,
    /// The system clock reads earlier than the mark.
    pub behind: bool,
}

impl DeviceStatus {
    /// The status of `host` as device `device` in `groups`, with the fleet
    /// state `state`.
    pub fn collect(
        host: &Host,
        device: &str,
        groups: &[String],
        state: &FleetState,
        uptime_secs: u64,
        received_bytes: u64,
    ) -> DeviceStatus {
        let status = host.status();
        let metrics = host_edge_runtime::metrics::global();
        let clock = host.clock();
        DeviceStatus {
            device: device.to_owned(),
            groups: groups.to_vec(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            at: clock.now(),
            uptime_secs,
            deployment: state.committed.as_ref().map(|c| DeploymentReport {
                seq: c.seq,
                label: c.deployment.describe(),
                committed_at: c.at,
            }),
            pending: state.pending.as_ref().map(|p| format!("{} ({}): {:?}", p.label, p.seq, p.phase).to_lowercase()),
            last_outcome: state.outcome.clone(),
            actors: status
                .actors
                .iter()
                .map(|a| {
                    let (calls, errors) = metrics.actor_totals(&a.key);
                    ActorReport {
                        name: a.name.clone(),
                        key: a.key.clone(),
                        rev: a.rev,
                        instances: a.instances,
                        calls,
                        errors,
                        memory_bytes: metrics.actor(&a.key, &a.name).memory_bytes(),
                    }
                })
                .collect(),
            providers: status
                .providers
                .iter()
                .map(|p| ProviderReport {
                    name: p.name.clone(),
                    capability: p.capability.to_string(),
                    rev: p.rev,
                    healthy: p.health.is_ok(),
                    problem: p.health.clone().err().map(|why| provider_abi::redact::redact_text(&why).into_owned()),
                })
                .collect(),
            clock: ClockReport { system: clock.system(), mark: clock.mark(), behind: clock.is_behind() },
            received_bytes,
        }
    }
}

/// Something that happened on a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The device.
    pub device: String,
    /// When, by its trusted clock.
    pub at: u64,
    /// `refused`, `deployment`, `revocation`.
    pub kind: String,
    /// The command's sequence, when it is known.
    #[serde(default)]
    pub seq: Option<u64>,
    /// The command's id, when it is known.
    #[serde(default)]
    pub jti: Option<String>,
    /// For a refusal, its reason (`replayed`, `older`, ...); for a
    /// deployment, how it ended (`committed`, `rolled-back`, ...).
    pub outcome: String,
    /// Why, in words.
    pub detail: String,
}
