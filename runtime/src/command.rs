//! The commands that change a running host, and the status it reports.
//!
//! The host's state (actors, providers, links) changes only through a
//! [`Command`]: the manifest loader turns a manifest into commands, a SIGHUP
//! reload turns the difference between two manifests into commands, and the
//! local control socket (`host-edge ctl`) sends them one at a time. Keeping
//! them one serialisable type means every way in is checked and logged the
//! same way, and fleet control can send the same commands later.

use std::collections::BTreeMap;
use std::path::PathBuf;

use provider_abi::redact::{redact_text, redact_values};
use serde::{Deserialize, Serialize};

use crate::capability::CapabilityId;
use crate::engine::Limits;

/// One change to a running host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    /// Verify the signed module at `path` and start `instances` instances.
    StartActor {
        /// The signed module.
        path: PathBuf,
        /// Instances serving calls in parallel.
        instances: usize,
        /// Fuel and memory limits per instance.
        limits: Limits,
    },
    /// Stop an actor (module key or name): unlink it everywhere, unbind it
    /// at its providers, and let calls in flight finish.
    StopActor {
        /// Module key or name.
        actor: String,
    },
    /// Replace a running actor with the signed module at `path`, which must
    /// carry the same module key. Calls in flight finish on the old
    /// instances; new calls go to the new ones.
    ReplaceActor {
        /// The new signed module.
        path: PathBuf,
        /// Accept a lower `rev` than the running one (a deliberate rollback).
        #[serde(default)]
        force: bool,
        /// Instances of the new version; `None` keeps the running count.
        #[serde(default)]
        instances: Option<usize>,
        /// Limits of the new version; `None` keeps the running limits.
        #[serde(default)]
        limits: Option<Limits>,
    },
    /// Load a provider library as the instance `name`.
    AddProvider {
        /// The name links refer to.
        name: String,
        /// The signed provider archive (a bare shared library only where
        /// the host allows unsigned providers).
        path: PathBuf,
        /// Provider-level settings, checked against what it declares.
        #[serde(default)]
        settings: BTreeMap<String, String>,
    },
    /// Unlink everything linked to a provider and stop it.
    RemoveProvider {
        /// The provider's name.
        name: String,
    },
    /// Link an actor's capability to a provider under a binding.
    Link(LinkSpec),
    /// Remove a link and unbind the actor at its provider.
    Unlink {
        /// Module key or name.
        actor: String,
        /// The capability.
        capability: CapabilityId,
        /// The binding (`default` unless the actor names one).
        binding: String,
    },
}

impl Command {
    /// This command with every secret value (passwords, tokens, keys, and
    /// passwords in URLs) masked, as [`provider_abi::redact`] decides: what
    /// a log line may show. Link values and provider settings are where a
    /// manifest keeps its credentials.
    pub fn redacted(&self) -> Command {
        match self {
            Command::AddProvider { name, path, settings } => Command::AddProvider {
                name: name.clone(),
                path: path.clone(),
                settings: redact_values(settings),
            },
            Command::Link(spec) => Command::Link(LinkSpec { values: redact_values(&spec.values), ..spec.clone() }),
            other => other.clone(),
        }
    }

    /// The command as JSON for a log line, an error or a report sent off
    /// the device: [`Command::redacted`], and credentials in URLs anywhere
    /// in it redacted too.
    pub fn loggable(&self) -> String {
        redact_text(&serde_json::to_string(&self.redacted()).unwrap_or_default()).into_owned()
    }
}

/// What a link binds: an actor's capability under a binding, to a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSpec {
    /// Module key or name.
    pub actor: String,
    /// The capability.
    pub capability: CapabilityId,
    /// The binding name the actor uses.
    pub binding: String,
    /// The provider, by name.
    pub provider: String,
    /// Link values handed to the provider with `BindActor`.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// Grant rules narrowing what the signed claims allow for this link
    /// (e.g. `prefix:sensors:`); empty leaves the claims alone.
    #[serde(default)]
    pub grant: Vec<String>,
}

/// What the host runs, as `host-edge ctl status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Running actors, by module key.
    pub actors: Vec<ActorStatus>,
    /// Loaded providers, by name.
    pub providers: Vec<ProviderStatus>,
    /// Links, sorted by actor, capability and binding.
    pub links: Vec<LinkStatus>,
    /// Capabilities the host serves itself to actors with no link for them.
    #[serde(default)]
    pub builtins: Vec<CapabilityId>,
}

/// One running actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorStatus {
    /// Module key.
    pub key: String,
    /// Name from its claims.
    pub name: String,
    /// `rev` from its claims.
    pub rev: Option<i32>,
    /// `ver` from its claims.
    pub ver: Option<String>,
    /// The module hash from its claims.
    pub hash: String,
    /// Where it was loaded from, when it came from a file.
    pub path: Option<PathBuf>,
    /// The most instances serving it (its `instances`).
    pub instances: usize,
    /// Instances it has now: fewer than `instances` while idle.
    #[serde(default)]
    pub live_instances: usize,
    /// Linear memory of its instances now, bytes.
    #[serde(default)]
    pub memory_bytes: u64,
    /// Its limits.
    pub limits: Limits,
    /// How many times it has been replaced since it was started.
    pub generation: u64,
}

/// One loaded provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStatus {
    /// The manifest's name for it.
    pub name: String,
    /// The capability it serves.
    pub capability: CapabilityId,
    /// How it describes itself.
    pub description: String,
    /// The library.
    pub path: PathBuf,
    /// Its provider-level settings.
    pub settings: BTreeMap<String, String>,
    /// The revision its archive's claims sign, if they carry one.
    #[serde(default)]
    pub rev: Option<i32>,
    /// Whether its health check passes, and why not.
    pub health: Result<(), String>,
}

/// One link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStatus {
    /// Module key.
    pub actor: String,
    /// The capability.
    pub capability: CapabilityId,
    /// The binding.
    pub binding: String,
    /// The provider's name.
    pub provider: String,
    /// The link values.
    pub values: BTreeMap<String, String>,
    /// The effective grant handed to the provider, one layer a line
    /// (`signed: …`, `link: …`); empty when unrestricted.
    pub grant: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_as_logged_shows_no_password_or_key() {
        let link = Command::Link(LinkSpec {
            actor: "counter".into(),
            capability: CapabilityId::parse("wascc:keyvalue").unwrap(),
            binding: "default".into(),
            provider: "redis".into(),
            values: BTreeMap::from([
                ("URL".to_owned(), "redis://app:hunter2@127.0.0.1:6379".to_owned()),
                ("API_KEY".to_owned(), "sk-live-123".to_owned()),
                ("POOL_SIZE".to_owned(), "8".to_owned()),
            ]),
            grant: Vec::new(),
        });
        let add = Command::AddProvider {
            name: "mqtt".into(),
            path: "libmqtt.so".into(),
            settings: BTreeMap::from([("PASSWORD".to_owned(), "s3cret".to_owned())]),
        };
        for command in [link, add] {
            let logged = format!("{:?}", command.redacted());
            for secret in ["hunter2", "sk-live-123", "s3cret"] {
                assert!(!logged.contains(secret), "{logged}");
            }
        }
    }
}
