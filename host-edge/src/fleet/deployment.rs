//! A deployment: the desired state an operator signs for devices.
//!
//! The operator writes a deployment file, a manifest's `[[actor]]`,
//! `[[provider]]` and `[[link]]` entries plus health checks
//! ([`DeploymentFile`]). Signing turns each actor file into what a device
//! needs to fetch and verify it (its SHA-256, size, module key and where to
//! get it) and the result, a [`Deployment`], goes into the signed command.
//! On the device, [`Deployment::manifest`] lays it over the device's own
//! manifest: the device keeps its `[host]`, `[policy]`, `[limits]` and
//! `[fleet]`, and runs the deployment's actors, providers and links.
//!
//! Provider libraries are native code: a deployment names them by their
//! path on the device (relative to its manifest, as a bundle installs them)
//! and never ships them. Actors are signed wasm, verified before they run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::capability::CapabilityId;
use crate::claims::{self, Policy};
use crate::manifest::{ActorEntry, LinkEntry, Manifest, ProviderEntry};

/// Bytes of a module per MQTT message, by default.
pub const DEFAULT_CHUNK: u32 = 64 * 1024;

/// The smallest and largest chunk a deployment may use: a chunk and its
/// topic must fit the device's largest MQTT packet.
pub const CHUNK_SIZES: std::ops::RangeInclusive<u32> = 1024..=512 * 1024;

/// The largest module a deployment may carry.
pub const MAX_MODULE: u64 = 64 * 1024 * 1024;

/// One actor of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedActor {
    /// Its name, from its claims (for links and messages).
    pub name: String,
    /// Its module key, from its claims.
    pub key: String,
    /// Its `rev`, from its claims.
    #[serde(default)]
    pub rev: Option<i32>,
    /// SHA-256 of the signed module file, lower-case hex: what the device
    /// checks the bytes it got against.
    pub sha256: String,
    /// Size of the signed module, bytes.
    pub size: u64,
    /// Where the device fetches it; `None`: in chunks over MQTT.
    #[serde(default)]
    pub url: Option<String>,
    /// Bytes per chunk over MQTT.
    pub chunk_size: u32,
    /// Instances.
    pub instances: usize,
    /// Fuel per call, overriding the device's `[limits]`.
    #[serde(default)]
    pub fuel_per_call: Option<u64>,
    /// Memory ceiling, overriding the device's `[limits]`.
    #[serde(default)]
    pub max_memory_bytes: Option<u64>,
}

impl DeployedActor {
    /// How many chunks the module comes in.
    pub fn chunks(&self) -> u32 {
        u32::try_from(self.size.div_ceil(u64::from(self.chunk_size.max(1)))).unwrap_or(u32::MAX).max(1)
    }
}

/// One provider of a deployment: a library already on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployedProvider {
    /// The name links refer to.
    pub name: String,
    /// The library's path on the device, relative to its manifest, inside
    /// the device's provider folder (`[fleet] provider_dir`): never
    /// absolute, never through `..` or a symbolic link out of that folder.
    pub path: PathBuf,
    /// Provider-level settings.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

/// One link of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployedLink {
    /// The actor, by name or module key.
    pub actor: String,
    /// The capability.
    pub capability: CapabilityId,
    /// The provider, by name.
    pub provider: String,
    /// The binding.
    #[serde(default = "default_binding")]
    pub binding: String,
    /// Link values.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// Grant rules narrowing the signed ones.
    #[serde(default)]
    pub grant: Vec<String>,
}

fn default_binding() -> String {
    crate::engine::DEFAULT_BINDING.to_owned()
}

/// An HTTP check of a deployment's health probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// What to GET (on the device: `http://127.0.0.1:8080/hits`).
    pub url: String,
    /// The status that passes (default 200).
    #[serde(default = "ok")]
    pub status: u16,
}

fn ok() -> u16 {
    200
}

/// The desired state a device is asked to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// A label the operator chose (`counter 2`), shown in statuses.
    #[serde(default)]
    pub label: Option<String>,
    /// The actors.
    #[serde(default)]
    pub actors: Vec<DeployedActor>,
    /// The providers.
    #[serde(default)]
    pub providers: Vec<DeployedProvider>,
    /// The links.
    #[serde(default)]
    pub links: Vec<DeployedLink>,
    /// HTTP checks the health probe makes besides asking every actor and
    /// provider.
    #[serde(default)]
    pub checks: Vec<HttpCheck>,
    /// Seconds the health probe may take to pass; the device's default
    /// when absent.
    #[serde(default)]
    pub probe_timeout: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deployment could make the device `dlopen` any library on it (one
    /// a local user left in `/tmp`, say) by an absolute path, a path
    /// through `..`, or a symbolic link in the provider folder leading out.
    #[test]
    fn a_deployment_naming_a_provider_library_outside_the_provider_folder_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let device = root.path().join("device");
        let providers = device.join("providers");
        std::fs::create_dir_all(&providers).unwrap();
        std::fs::write(providers.join("libkv.so"), b"\x7fELF").unwrap();
        std::fs::write(root.path().join("libevil.so"), b"\x7fELF").unwrap();
        std::os::unix::fs::symlink(root.path().join("libevil.so"), providers.join("libescape.so")).unwrap();
        std::fs::write(device.join("libbeside.so"), b"\x7fELF").unwrap();
        let base = Manifest::parse("", &device).unwrap();
        let with = |path: &str| Deployment {
            label: None,
            actors: vec![],
            providers: vec![DeployedProvider { name: "p".into(), path: path.into(), settings: BTreeMap::new() }],
            links: vec![],
            checks: vec![],
            probe_timeout: None,
        };
        let run = |path: &str| with(path).manifest(&base, &device.join("modules"), &providers, &BTreeMap::new());
        let evil = root.path().join("libevil.so");
        for path in [evil.to_str().unwrap(), "providers/../../libevil.so", "./providers/libkv.so", ""] {
            let err = with(path).validate().unwrap_err();
            assert!(err.contains("not a path relative"), "{path}: {err}");
            assert!(run(path).is_err(), "{path}");
        }
        let err = run("providers/libescape.so").unwrap_err();
        assert!(err.contains("outside the device's provider folder"), "{err}");
        let err = run("libbeside.so").unwrap_err();
        assert!(err.contains("outside the device's provider folder"), "a library beside the manifest: {err}");
        let manifest = run("providers/libkv.so").unwrap();
        assert_eq!(manifest.providers[0].path, device.join("providers/libkv.so"));
    }

    #[test]
    fn placeholders_take_the_devices_values_and_a_missing_one_is_named() {
        let vars = BTreeMap::from([("HTTP_PORT".to_owned(), "8081".to_owned())]);
        assert_eq!(expand("127.0.0.1:${HTTP_PORT}/x", &vars).unwrap(), "127.0.0.1:8081/x");
        assert_eq!(expand("cost $$5, $x", &vars).unwrap(), "cost $5, $x");
        let err = expand("${PIN}", &vars).unwrap_err();
        assert!(err.contains("`${PIN}` has no value on this device"), "{err}");
        assert!(expand("${HTTP_PORT", &vars).unwrap_err().contains("without its"));
    }

    /// A malformed secret value was quoted whole in the error, which the
    /// device reports in an event and its retained status.
    #[test]
    fn a_malformed_placeholder_in_a_secret_value_is_not_quoted_in_the_error() {
        let err = expand("hunter2-${SECRET", &BTreeMap::new()).unwrap_err();
        assert!(err.contains("without its") && !err.contains("hunter2"), "{err}");
    }
}

impl Deployment {
    /// The manifest the device runs for this deployment: `base`'s own
    /// tables, and the deployment's entries with each actor at its file in
    /// `modules`, provider paths taken from `base`'s folder and refused
    /// unless they lead into `providers`, the device's provider folder
    /// ([`provider_library`]), and `${NAME}` in provider settings and link
    /// values replaced by the device's `vars`; a placeholder the device has
    /// no value for is an error naming it.
    pub fn manifest(&self, base: &Manifest, modules: &Path, providers: &Path, vars: &BTreeMap<String, String>) -> Result<Manifest, String> {
        let folder = base.folder.clone();
        let expand = |values: &BTreeMap<String, String>, what: &str| -> Result<BTreeMap<String, String>, String> {
            values
                .iter()
                .map(|(key, value)| expand(value, vars).map(|v| (key.clone(), v)).map_err(|e| format!("{what} {key}: {e}")))
                .collect()
        };
        let mut entries = Vec::new();
        for p in &self.providers {
            let settings = expand(&p.settings, &format!("provider {} setting", p.name))?;
            let path = provider_library(&p.name, &p.path, &folder, providers).map_err(|e| e.to_string())?;
            entries.push(ProviderEntry { line: 0, name: p.name.clone(), path, settings });
        }
        let mut links = Vec::new();
        for l in &self.links {
            let values = expand(&l.values, &format!("link of {} to {}, value", l.actor, l.capability))?;
            links.push(LinkEntry {
                line: 0,
                actor: l.actor.clone(),
                capability: l.capability.clone(),
                provider: l.provider.clone(),
                binding: l.binding.clone(),
                values,
                grant: l.grant.clone(),
            });
        }
        Ok(Manifest {
            actors: self
                .actors
                .iter()
                .map(|a| ActorEntry {
                    line: 0,
                    path: module_file(modules, &a.sha256),
                    instances: a.instances,
                    fuel_per_call: a.fuel_per_call,
                    max_memory_bytes: a.max_memory_bytes,
                })
                .collect(),
            providers: entries,
            links,
            ..base.clone()
        })
    }

    /// The health checks with the device's `vars` in their URLs.
    pub fn checks_for(&self, vars: &BTreeMap<String, String>) -> Result<Vec<HttpCheck>, String> {
        self.checks
            .iter()
            .map(|c| {
                let url = expand(&c.url, vars).map_err(|e| format!("check {}: {e}", provider_abi::redact::redact_url(&c.url)))?;
                Ok(HttpCheck { url, status: c.status })
            })
            .collect()
    }

    /// Checks what a device relies on before it uses a deployment's fields:
    /// each module named by a SHA-256 of 64 lower-case hex digits, with a
    /// size and chunk size in bounds and a module key; instances in bounds;
    /// provider names unique, and provider paths relative without `..`
    /// ([`check_provider_path`]).
    pub fn validate(&self) -> Result<(), String> {
        for actor in &self.actors {
            let what = format!("actor {}", actor.name);
            if actor.sha256.len() != 64 || !actor.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(format!("{what}: `{}` is not a SHA-256 in lower-case hex", actor.sha256));
            }
            if actor.size == 0 || actor.size > MAX_MODULE {
                return Err(format!("{what}: a size of {} bytes is not between 1 and {MAX_MODULE}", actor.size));
            }
            if !CHUNK_SIZES.contains(&actor.chunk_size) {
                return Err(format!("{what}: a chunk size of {} is not between {} and {}", actor.chunk_size, CHUNK_SIZES.start(), CHUNK_SIZES.end()));
            }
            if actor.instances == 0 || actor.instances > crate::manifest::MAX_INSTANCES {
                return Err(format!("{what}: instances must be between 1 and {}", crate::manifest::MAX_INSTANCES));
            }
            crate::claims::keys::check_public_key(&actor.key, crate::claims::keys::KeyRole::Module).map_err(|e| format!("{what}: {e}"))?;
        }
        let mut names = std::collections::BTreeSet::new();
        for provider in &self.providers {
            if !names.insert(provider.name.as_str()) {
                return Err(format!("provider `{}` is named twice", provider.name));
            }
            check_provider_path(&provider.name, &provider.path).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// `label`, or a summary of the actors (`counter rev 2`).
    pub fn describe(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            let actors: Vec<String> = self
                .actors
                .iter()
                .map(|a| format!("{} rev {}", a.name, a.rev.map_or("-".to_owned(), |r| r.to_string())))
                .collect();
            if actors.is_empty() { "no actors".to_owned() } else { actors.join(", ") }
        })
    }
}

/// `text` with every `${NAME}` replaced by `vars[NAME]`; `$$` is a `$`.
pub fn expand(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            // The value is not quoted: it may be a secret, and the error is
            // reported off the device; the caller names the setting.
            let end = tail.find('}').ok_or_else(|| "it has a `${` without its `}`".to_owned())?;
            let name = &tail[..end];
            let value = vars.get(name).ok_or_else(|| {
                format!("`${{{name}}}` has no value on this device; give it in the device's [fleet] vars")
            })?;
            out.push_str(value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Why a deployment's provider library is refused.
#[derive(Debug, thiserror::Error)]
pub enum ProviderPathError {
    /// The path is absolute, empty, or goes through `..`.
    #[error("provider `{name}`: `{path}` is not a path relative to the device's manifest without `..`; a deployment may only name libraries in the device's provider folder")]
    NotRelative {
        /// The provider.
        name: String,
        /// The path as signed.
        path: String,
    },
    /// The library or the provider folder cannot be found.
    #[error("provider `{name}`: {path}: {error}")]
    Io {
        /// The provider.
        name: String,
        /// The file or folder.
        path: String,
        /// What failed.
        error: std::io::Error,
    },
    /// The path leads out of the provider folder (a symbolic link).
    #[error("provider `{name}`: `{path}` leads to {resolved}, outside the device's provider folder {folder}")]
    Outside {
        /// The provider.
        name: String,
        /// The path as signed.
        path: String,
        /// Where it leads.
        resolved: String,
        /// The provider folder.
        folder: String,
    },
}

/// Checks the form of a provider library's path in a deployment: relative,
/// not empty, and every part a name (no `..`, `.` or root).
pub fn check_provider_path(name: &str, path: &Path) -> Result<(), ProviderPathError> {
    let plain = !path.as_os_str().is_empty() && path.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err(ProviderPathError::NotRelative { name: name.to_owned(), path: path.display().to_string() })
    }
}

/// Where the provider library `path` of a deployment is on the device:
/// `folder` (the manifest's) joined with it, once it is of the right form
/// ([`check_provider_path`]) and, every symbolic link followed, a file in
/// `providers` (the device's provider folder).
pub fn provider_library(name: &str, path: &Path, folder: &Path, providers: &Path) -> Result<PathBuf, ProviderPathError> {
    check_provider_path(name, path)?;
    let io = |at: &Path| {
        let at = at.display().to_string();
        move |error| ProviderPathError::Io { name: name.to_owned(), path: at, error }
    };
    let allowed = providers.canonicalize().map_err(io(providers))?;
    let joined = folder.join(path);
    let resolved = joined.canonicalize().map_err(io(&joined))?;
    if !resolved.starts_with(&allowed) || !resolved.is_file() {
        return Err(ProviderPathError::Outside {
            name: name.to_owned(),
            path: path.display().to_string(),
            resolved: resolved.display().to_string(),
            folder: allowed.display().to_string(),
        });
    }
    Ok(joined)
}

/// Where a device keeps the module `sha256`.
pub fn module_file(modules: &Path, sha256: &str) -> PathBuf {
    modules.join(format!("{sha256}.wasm"))
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

/// An `[[actor]]` of a deployment file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileActor {
    path: PathBuf,
    url: Option<String>,
    #[serde(default = "one")]
    instances: usize,
    fuel_per_call: Option<u64>,
    max_memory_bytes: Option<u64>,
}

fn one() -> usize {
    1
}

/// A deployment file as the operator writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    label: Option<String>,
    probe_timeout: Option<String>,
    #[serde(default, rename = "actor")]
    actors: Vec<FileActor>,
    #[serde(default, rename = "provider")]
    providers: Vec<DeployedProvider>,
    #[serde(default, rename = "link")]
    links: Vec<DeployedLink>,
    #[serde(default, rename = "check")]
    checks: Vec<HttpCheck>,
}

/// A deployment file read on the operator's machine: the deployment, and
/// the modules to send in chunks (those without a `url`).
#[derive(Debug, Clone)]
pub struct DeploymentFile {
    /// What goes into the signed command.
    pub deployment: Deployment,
    /// The modules sent over MQTT, by SHA-256.
    pub modules: BTreeMap<String, Vec<u8>>,
}

impl DeploymentFile {
    /// Reads the deployment file at `path`: every actor file (relative to
    /// it) is read, its claims verified (signature, hash, times) and its
    /// name, key and revision taken from them. Chunks of `chunk_size`.
    pub fn load(path: &Path, chunk_size: u32) -> Result<DeploymentFile, String> {
        if !CHUNK_SIZES.contains(&chunk_size) {
            return Err(format!("a chunk size of {chunk_size} bytes is not between {} and {}", CHUNK_SIZES.start(), CHUNK_SIZES.end()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: FileText = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let probe_timeout = match &file.probe_timeout {
            None => None,
            Some(text) => Some(
                humantime::parse_duration(text)
                    .map_err(|_| format!("{}: probe_timeout `{text}` is not a duration such as \"30s\"", path.display()))?
                    .as_secs()
                    .max(1),
            ),
        };
        let mut actors = Vec::new();
        let mut modules = BTreeMap::new();
        for entry in &file.actors {
            let module_path = folder.join(&entry.path);
            let bytes = std::fs::read(&module_path).map_err(|e| format!("[[actor]] {}: {e}", module_path.display()))?;
            if bytes.len() as u64 > MAX_MODULE {
                return Err(format!("[[actor]] {}: {} bytes, over the limit of {MAX_MODULE}", module_path.display(), bytes.len()));
            }
            let verified = claims::verify(&bytes, &Policy::default(), claims::policy::now_secs())
                .map_err(|e| format!("[[actor]] {}: {e}", module_path.display()))?;
            if entry.instances == 0 || entry.instances > crate::manifest::MAX_INSTANCES {
                return Err(format!("[[actor]] {}: instances must be between 1 and {}", module_path.display(), crate::manifest::MAX_INSTANCES));
            }
            let sha256 = sha256_hex(&bytes);
            actors.push(DeployedActor {
                name: verified.display_name().to_owned(),
                key: verified.subject().to_owned(),
                rev: verified.metadata.rev,
                sha256: sha256.clone(),
                size: bytes.len() as u64,
                url: entry.url.clone(),
                chunk_size,
                instances: entry.instances,
                fuel_per_call: entry.fuel_per_call,
                max_memory_bytes: entry.max_memory_bytes,
            });
            if entry.url.is_none() {
                modules.insert(sha256, bytes);
            }
        }
        let names: std::collections::BTreeSet<&str> = file.providers.iter().map(|p| p.name.as_str()).collect();
        for link in &file.links {
            if !names.contains(link.provider.as_str()) {
                return Err(format!("[[link]] for {} names provider `{}`, which no [[provider]] defines", link.actor, link.provider));
            }
            if !actors.iter().any(|a| a.name == link.actor || a.key == link.actor) {
                return Err(format!("[[link]] for {}: no [[actor]] of the deployment has that name or key", link.actor));
            }
        }
        let deployment = Deployment {
            label: file.label,
            actors,
            providers: file.providers,
            links: file.links,
            checks: file.checks,
            probe_timeout,
        };
        Ok(DeploymentFile { deployment, modules })
    }
}
