//! Fleet control over MQTT: signed deployments with a health-checked commit
//! and automatic rollback, revocations, and status, verifiable offline.
//!
//! A device joins a fleet with a `[fleet]` table in its manifest
//! ([`config`]): its id and groups, the operator keys it obeys, and the
//! broker it already uses (the MQTT provider's settings). Operators publish
//! signed commands ([`command`]) as retained messages ([`topics`]); the
//! device's [`agent`] judges each one (signature, operator, audience,
//! sequence: no clock involved), stages a deployment's modules
//! ([`staging`]), applies it through the host's own lifecycle commands,
//! probes its health ([`probe`]) and commits it, or rolls back to the last
//! good state, which is on disk ([`store`]) so a reboot or a power cut
//! comes back on it, offline. It reports a retained status, heartbeats and
//! events ([`status`]) over the same connection ([`link`]). The operator's
//! side is [`operator`].
//!
//! Fleet control lives in the host, not in a provider: it has to start,
//! stop and replace actors and providers, change the trust policy, and
//! survive any provider failing, including the MQTT provider; and it must
//! decide what runs before any provider is loaded, at boot. A provider sees
//! only its own capability's calls, through an ABI built to keep it there.

pub mod agent;
pub mod command;
pub mod config;
pub mod deployment;
mod http;
mod lifecycle;
pub mod link;
pub mod operator;
pub mod probe;
pub mod staging;
pub mod status;
pub mod store;
pub mod topics;

pub use agent::{boot_manifest, own_manifest, Agent};
pub use config::{FleetConfig, FleetEntry};
pub use store::Store;
pub use topics::{Target, Topics};
