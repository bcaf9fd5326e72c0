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
//! A provider comes one of two ways. A deployment may name a signed
//! provider archive already on the device, by its path inside the device's
//! provider folder (as a bundle installs them), or carry one: the operator's
//! CLI reads the archive beside the deployment file, checks its claims, and
//! signs its SHA-256, size, service key and revision into the deployment,
//! exactly as it does for a module; the archive then travels as modules do
//! ([`Shipment`]: retained chunks keyed by its SHA-256, or a URL) and is
//! kept beside them by its hash. Either way the device verifies the archive
//! under its own policy and clock before anything of it is loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::{self, Policy};
use host_edge_runtime::manifest::{ActorEntry, LinkEntry, Manifest, ProviderEntry};

/// Bytes of a module per MQTT message, by default.
pub const DEFAULT_CHUNK: u32 = 64 * 1024;

/// The smallest and largest chunk a deployment may use: a chunk and its
/// topic must fit the device's largest MQTT packet.
pub const CHUNK_SIZES: std::ops::RangeInclusive<u32> = 1024..=512 * 1024;

/// The largest module a deployment may carry.
pub const MAX_MODULE: u64 = 64 * 1024 * 1024;

/// The largest provider archive a deployment may carry, as a file (gzipped
/// or not); what it unpacks to is bounded again when it is read
/// ([`claims::archive::MAX_UNPACKED`]).
pub const MAX_ARCHIVE: u64 = 64 * 1024 * 1024;

/// The most bytes one deployment may carry, modules and provider archives
/// together: what a device may have to stage at once.
pub const MAX_SHIPPED: u64 = 256 * 1024 * 1024;

/// The most chunks one module or archive may come in (the largest file in
/// the smallest chunks).
pub const MAX_CHUNKS: u32 = 65_536;

/// The most providers one deployment may name.
pub const MAX_PROVIDERS: usize = 64;

/// The number of chunks of `chunk_size` bytes that `size` bytes come in: at
/// least one.
fn chunk_count(size: u64, chunk_size: u32) -> u32 {
    u32::try_from(size.div_ceil(u64::from(chunk_size.max(1)))).unwrap_or(u32::MAX).max(1)
}

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
        chunk_count(self.size, self.chunk_size)
    }
}

/// A provider archive a deployment carries: what the operator's CLI read
/// from its claims and bytes, signed into the deployment, so that the device
/// can fetch it and check it is that very archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployedArchive {
    /// The provider's service key (`V…`), from its claims.
    pub key: String,
    /// The capability its claims sign.
    pub capability: CapabilityId,
    /// Its `rev`, from its claims.
    #[serde(default)]
    pub rev: Option<i32>,
    /// SHA-256 of the archive file, lower-case hex.
    pub sha256: String,
    /// Size of the archive file, bytes.
    pub size: u64,
    /// Where the device fetches it; `None`: in chunks over MQTT.
    #[serde(default)]
    pub url: Option<String>,
    /// Bytes per chunk over MQTT.
    pub chunk_size: u32,
}

impl DeployedArchive {
    /// How many chunks the archive comes in.
    pub fn chunks(&self) -> u32 {
        chunk_count(self.size, self.chunk_size)
    }
}

/// One provider of a deployment: a signed archive already on the device
/// (`path`), or one the deployment carries (`archive`); exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployedProvider {
    /// The name links refer to.
    pub name: String,
    /// The provider file's path on the device, relative to its manifest,
    /// inside the device's provider folder (`[fleet] provider_dir`): never
    /// absolute, never through `..` or a symbolic link out of that folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The provider archive the deployment carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<DeployedArchive>,
    /// Provider-level settings.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

/// A file a deployment carries to the device, a module or a provider
/// archive: fetched from its URL or received in retained chunks keyed by
/// its SHA-256, checked against that hash, and kept under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    /// What it is, for messages: `module counter`, `provider archive kv`.
    pub what: String,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Its size, bytes.
    pub size: u64,
    /// Where to fetch it; `None`: in chunks over MQTT.
    pub url: Option<String>,
    /// Bytes per chunk over MQTT.
    pub chunk_size: u32,
    /// Where the device keeps it once checked.
    pub file: PathBuf,
}

impl Shipment {
    /// How many chunks it comes in.
    pub fn chunks(&self) -> u32 {
        chunk_count(self.size, self.chunk_size)
    }
}

/// Why a deployment's modules, providers or provider archives cannot be
/// run: what [`Deployment::validate`] refuses.
#[derive(Debug, thiserror::Error)]
pub enum ShipmentError {
    /// Not a SHA-256 in lower-case hex.
    #[error("{what}: `{sha256}` is not a SHA-256 in lower-case hex")]
    Hash {
        /// The module or archive.
        what: String,
        /// The value as signed.
        sha256: String,
    },
    /// A size of 0, or over the limit for its kind.
    #[error("{what}: a size of {size} bytes is not between 1 and {max}")]
    Size {
        /// The module or archive.
        what: String,
        /// The size as signed.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A chunk size out of [`CHUNK_SIZES`].
    #[error("{what}: a chunk size of {chunk_size} is not between {} and {}", CHUNK_SIZES.start(), CHUNK_SIZES.end())]
    ChunkSize {
        /// The module or archive.
        what: String,
        /// The chunk size as signed.
        chunk_size: u32,
    },
    /// More chunks than [`MAX_CHUNKS`].
    #[error("{what}: {chunks} chunks, over the limit of {MAX_CHUNKS}")]
    Chunks {
        /// The module or archive.
        what: String,
        /// How many.
        chunks: u32,
    },
    /// More bytes in all than [`MAX_SHIPPED`].
    #[error("the deployment carries {total} bytes of modules and provider archives, over the limit of {MAX_SHIPPED}")]
    TooLarge {
        /// The total.
        total: u64,
    },
    /// More providers than [`MAX_PROVIDERS`].
    #[error("{count} providers, over the limit of {MAX_PROVIDERS}")]
    TooManyProviders {
        /// How many.
        count: usize,
    },
    /// The same bytes named as a module and as a provider archive.
    #[error("`{sha256}` is named as a module and as a provider archive")]
    Twofold {
        /// The SHA-256.
        sha256: String,
    },
    /// A provider with neither `path` nor `archive`, or with both.
    #[error("provider `{name}`: give it a `path` (an archive on the device) or an `archive` the deployment carries, {problem}")]
    Source {
        /// The provider.
        name: String,
        /// `not both` or `one of them`.
        problem: &'static str,
    },
    /// An archive's provider key is not a service key.
    #[error("provider `{name}`: {detail}")]
    Key {
        /// The provider.
        name: String,
        /// What is wrong with the key.
        detail: String,
    },
}

/// Checks the transport fields of a module or archive: its SHA-256, its size
/// (up to `max`), its chunk size and its number of chunks.
fn check_shipment(what: &str, sha256: &str, size: u64, chunk_size: u32, max: u64) -> Result<(), ShipmentError> {
    if !is_sha256(sha256) {
        return Err(ShipmentError::Hash { what: what.to_owned(), sha256: sha256.to_owned() });
    }
    if size == 0 || size > max {
        return Err(ShipmentError::Size { what: what.to_owned(), size, max });
    }
    if !CHUNK_SIZES.contains(&chunk_size) {
        return Err(ShipmentError::ChunkSize { what: what.to_owned(), chunk_size });
    }
    let chunks = chunk_count(size, chunk_size);
    if chunks > MAX_CHUNKS {
        return Err(ShipmentError::Chunks { what: what.to_owned(), chunks });
    }
    Ok(())
}

/// Whether `text` is a SHA-256 in lower-case hex: what names a file in the
/// store, so nothing else may.
fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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
    host_edge_runtime::DEFAULT_BINDING.to_owned()
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
            providers: vec![DeployedProvider { name: "p".into(), path: Some(path.into()), archive: None, settings: BTreeMap::new() }],
            links: vec![],
            checks: vec![],
            probe_timeout: None,
        };
        let run = |path: &str| with(path).manifest(&base, &device.join("modules"), &providers, &BTreeMap::new());
        let evil = root.path().join("libevil.so");
        for path in [evil.to_str().unwrap(), "providers/../../libevil.so", "./providers/libkv.so", ""] {
            let err = with(path).validate().unwrap_err().to_string();
            assert!(err.contains("not a path relative"), "{path}: {err}");
            assert!(run(path).is_err(), "{path}");
        }
        let err = run("providers/libescape.so").unwrap_err().to_string();
        assert!(err.contains("outside the device's provider folder"), "{err}");
        let err = run("libbeside.so").unwrap_err().to_string();
        assert!(err.contains("outside the device's provider folder"), "a library beside the manifest: {err}");
        let manifest = run("providers/libkv.so").unwrap();
        assert_eq!(manifest.providers[0].path, device.join("providers/libkv.so"));
    }

    /// A signed provider archive of a stand-in library for this machine
    /// (nothing here opens it), and its issuer and subject.
    fn signed_archive(rev: i32, gzip: bool) -> (Vec<u8>, nkeys::KeyPair, nkeys::KeyPair) {
        let (issuer, subject) = (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_service());
        let options = claims::ProviderSignOptions {
            capability: CapabilityId::parse("wascc:keyvalue").unwrap(),
            name: Some("kv".into()),
            vendor: "tests".into(),
            rev: Some(rev),
            ver: None,
            issued_at: claims::policy::now_secs(),
            expires: None,
            not_before: None,
        };
        let library = (0..40_000u32).map(|i| (i % 253) as u8).collect::<Vec<u8>>();
        let target = claims::provider::HOST_TARGET.to_owned();
        let bytes = claims::sign_archive(&[(target, library)], &issuer, &subject, &options, gzip).unwrap();
        (bytes, issuer, subject)
    }

    /// A deployment file beside `archive` (written as `kv.par`) naming it
    /// with `provider` lines.
    fn file_with(dir: &Path, archive: &[u8], provider: &str) -> Result<DeploymentFile, FileError> {
        std::fs::write(dir.join("kv.par"), archive).unwrap();
        let path = dir.join("deployment.toml");
        std::fs::write(&path, format!("label = \"kv\"\n[[provider]]\nname = \"kv\"\n{provider}\n")).unwrap();
        DeploymentFile::load(&path, 4096)
    }

    #[test]
    fn a_deployment_file_carries_a_provider_archive_beside_it_by_its_hash_and_its_claims() {
        let dir = tempfile::tempdir().unwrap();
        for gzip in [false, true] {
            let (bytes, _, subject) = signed_archive(7, gzip);
            let file = file_with(dir.path(), &bytes, "archive = \"kv.par\"\nsettings = { MODE = \"wal\" }").unwrap();
            let provider = &file.deployment.providers[0];
            assert_eq!(provider.path, None);
            let archive = provider.archive.as_ref().expect("the archive is carried");
            assert_eq!((archive.sha256.as_str(), archive.size), (sha256_hex(&bytes).as_str(), bytes.len() as u64));
            assert_eq!((archive.key.clone(), archive.rev, archive.capability.as_str()), (subject.public_key(), Some(7), "wascc:keyvalue"));
            assert_eq!((archive.url.as_ref(), archive.chunk_size), (None, 4096));
            assert_eq!(file.modules.get(&archive.sha256), Some(&bytes), "sent in chunks");
            file.deployment.validate().unwrap();
            let topics = super::super::Topics::new("fleet").unwrap();
            let messages = file.chunk_messages(&topics);
            assert_eq!(messages.len() as u32, archive.chunks());
            assert_eq!(messages.iter().flat_map(|(_, c)| c.iter().copied()).collect::<Vec<u8>>(), bytes, "the chunks make the archive");
            assert!(messages[0].0.starts_with(&format!("fleet/modules/{}/4096/", archive.sha256)), "{}", messages[0].0);
            assert_eq!(file.deployment.describe(), "kv");

            // Laid over a device: the provider is the kept archive, wherever
            // the provider folder is.
            let base = Manifest::parse("", dir.path()).unwrap();
            let modules = dir.path().join("modules");
            let manifest = file.deployment.manifest(&base, &modules, &dir.path().join("absent"), &BTreeMap::new()).unwrap();
            assert_eq!(manifest.providers[0].path, archive_file(&modules, &archive.sha256));
            assert_eq!(file.deployment.shipments(&modules)[0].file, modules.join(format!("{}.par", archive.sha256)));
        }
        let (bytes, ..) = signed_archive(1, true);
        let file = file_with(dir.path(), &bytes, "archive = \"kv.par\"\nurl = \"https://files.lan/kv.par\"").unwrap();
        assert!(file.modules.is_empty() && file.chunk_messages(&super::super::Topics::new("f").unwrap()).is_empty(), "fetched, not sent");
    }

    #[test]
    fn the_operator_refuses_to_carry_a_tampered_or_unsigned_archive_or_a_provider_with_two_sources() {
        let dir = tempfile::tempdir().unwrap();
        let (mut bytes, ..) = signed_archive(1, false);
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1; // in the library, which is most of the archive
        let err = file_with(dir.path(), &bytes, "archive = \"kv.par\"").unwrap_err().to_string();
        assert!(err.contains("was changed after signing"), "{err}");
        let err = file_with(dir.path(), b"\x7fELF not an archive", "archive = \"kv.par\"").unwrap_err().to_string();
        assert!(err.contains("claims check `archive` failed"), "{err}");
        let (good, ..) = signed_archive(1, true);
        let err = file_with(dir.path(), &good, "archive = \"kv.par\"\npath = \"providers/kv.par\"").unwrap_err().to_string();
        assert!(err.contains("not both"), "{err}");
        let err = file_with(dir.path(), &good, "path = \"providers/kv.par\"\nurl = \"https://x\"").unwrap_err().to_string();
        assert!(err.contains("give the archive too"), "{err}");
        let err = file_with(dir.path(), &good, "archive = \"missing.par\"").unwrap_err().to_string();
        assert!(err.contains("missing.par"), "{err}");
    }

    fn carrying(archive: DeployedArchive) -> Deployment {
        Deployment {
            label: None,
            actors: vec![],
            providers: vec![DeployedProvider { name: "kv".into(), path: None, archive: Some(archive), settings: BTreeMap::new() }],
            links: vec![],
            checks: vec![],
            probe_timeout: None,
        }
    }

    fn archive(size: u64) -> DeployedArchive {
        DeployedArchive {
            key: nkeys::KeyPair::new_service().public_key(),
            capability: CapabilityId::parse("wascc:keyvalue").unwrap(),
            rev: Some(2),
            sha256: sha256_hex(b"kv"),
            size,
            url: None,
            chunk_size: DEFAULT_CHUNK,
        }
    }

    #[test]
    fn a_device_refuses_a_carried_archive_out_of_bounds_or_of_the_wrong_kind() {
        carrying(archive(1)).validate().unwrap();
        carrying(archive(MAX_ARCHIVE)).validate().unwrap();
        let refused = |deployment: Deployment, says: &str| {
            let err = deployment.validate().unwrap_err().to_string();
            assert!(err.contains(says), "{says}: {err}");
        };
        refused(carrying(archive(0)), "a size of 0 bytes is not between 1 and");
        refused(carrying(archive(MAX_ARCHIVE + 1)), "is not between 1 and 67108864");
        refused(carrying(DeployedArchive { sha256: "../../etc/passwd".into(), ..archive(1) }), "is not a SHA-256");
        refused(carrying(DeployedArchive { sha256: sha256_hex(b"kv").to_uppercase(), ..archive(1) }), "is not a SHA-256");
        refused(carrying(DeployedArchive { chunk_size: 10, ..archive(1) }), "a chunk size of 10");
        refused(carrying(DeployedArchive { key: nkeys::KeyPair::new_module().public_key(), ..archive(1) }), "provider `kv`");
        let mut both = carrying(archive(1));
        both.providers[0].path = Some("providers/kv.par".into());
        refused(both, "not both");
        let mut neither = carrying(archive(1));
        neither.providers[0].archive = None;
        refused(neither, "one of them");
        // Five archives at the limit each: more than a device stages at once.
        let mut many = carrying(archive(1));
        many.providers = (0..5u8)
            .map(|i| DeployedProvider {
                name: format!("p{i}"),
                path: None,
                archive: Some(DeployedArchive { sha256: sha256_hex(&[i]), ..archive(MAX_ARCHIVE) }),
                settings: BTreeMap::new(),
            })
            .collect();
        refused(many, "over the limit of 268435456");
        let mut crowd = carrying(archive(1));
        crowd.providers = (0..=MAX_PROVIDERS)
            .map(|i| DeployedProvider { name: format!("p{i}"), path: Some("providers/p.par".into()), archive: None, settings: BTreeMap::new() })
            .collect();
        refused(crowd, "providers, over the limit");
    }

    #[test]
    fn a_deployment_committed_before_provider_archives_still_reads_and_unknown_provider_fields_are_refused() {
        // What an earlier version committed: a provider by its path alone.
        let old = r#"{"actors":[],"providers":[{"name":"kv","path":"providers/kv.par"}],"links":[],"checks":[]}"#;
        let deployment: Deployment = serde_json::from_str(old).unwrap();
        assert_eq!(deployment.providers[0].path.as_deref(), Some(Path::new("providers/kv.par")));
        deployment.validate().unwrap();
        let json = serde_json::to_string(&deployment).unwrap();
        assert!(!json.contains("archive"), "a provider by path is written as before: {json}");
        let unknown = old.replace(r#""path""#, r#""library""#);
        assert!(serde_json::from_str::<Deployment>(&unknown).is_err(), "unknown fields are refused");
    }

    proptest::proptest! {
        /// Whatever a signed deployment says of a carried archive, it either
        /// validates, with a file in the modules folder, in bounds, that
        /// reads back the same, or it is refused.
        #[test]
        fn a_carried_archive_validates_only_in_bounds_and_names_a_file_in_the_modules_folder(
            sha in proptest::prop_oneof!["[0-9a-f]{64}", "[0-9a-fA-F./]{0,70}"],
            size in 0u64..(MAX_ARCHIVE + 4096),
            chunk_size in 0u32..(CHUNK_SIZES.end() + 4096),
            url in proptest::option::of("https://[a-z]{1,8}/[a-z]{1,8}"),
            path in proptest::option::of("[a-z./]{0,12}"),
        ) {
            let mut deployment = carrying(DeployedArchive { sha256: sha.clone(), size, chunk_size, url, ..archive(1) });
            deployment.providers[0].path = path.clone().map(PathBuf::from);
            let json = serde_json::to_string(&deployment).unwrap();
            proptest::prop_assert_eq!(&serde_json::from_str::<Deployment>(&json).unwrap(), &deployment);
            let valid = deployment.validate().is_ok();
            let expected = path.is_none() && is_sha256(&sha) && (1..=MAX_ARCHIVE).contains(&size) && CHUNK_SIZES.contains(&chunk_size);
            proptest::prop_assert_eq!(valid, expected);
            if valid {
                let modules = Path::new("/var/lib/host-edge/fleet/modules");
                let shipment = &deployment.shipments(modules)[0];
                proptest::prop_assert_eq!(shipment.file.parent(), Some(modules));
                proptest::prop_assert!(shipment.chunks() >= 1 && shipment.chunks() <= MAX_CHUNKS);
                proptest::prop_assert!(u64::from(shipment.chunks()) * u64::from(chunk_size) >= size);
            }
        }
    }

    #[test]
    fn placeholders_take_the_devices_values_and_a_missing_one_is_named() {
        let vars = BTreeMap::from([("HTTP_PORT".to_owned(), "8081".to_owned())]);
        assert_eq!(expand("127.0.0.1:${HTTP_PORT}/x", &vars).unwrap(), "127.0.0.1:8081/x");
        assert_eq!(expand("cost $$5, $x", &vars).unwrap(), "cost $5, $x");
        let err = expand("${PIN}", &vars).unwrap_err().to_string();
        assert!(err.contains("`${PIN}` has no value on this device"), "{err}");
        assert!(expand("${HTTP_PORT", &vars).unwrap_err().to_string().contains("without its"));
    }

    /// A malformed secret value was quoted whole in the error, which the
    /// device reports in an event and its retained status.
    #[test]
    fn a_malformed_placeholder_in_a_secret_value_is_not_quoted_in_the_error() {
        let err = expand("hunter2-${SECRET", &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("without its") && !err.contains("hunter2"), "{err}");
    }
}

impl Deployment {
    /// The manifest the device runs for this deployment: `base`'s own
    /// tables, and the deployment's entries with each actor at its file in
    /// `modules`, each provider archive the deployment carries at its file
    /// there too ([`archive_file`]), provider paths taken from `base`'s
    /// folder and refused unless they lead into `providers`, the device's
    /// provider folder ([`provider_library`]), and `${NAME}` in provider settings and link
    /// values replaced by the device's `vars`; a placeholder the device has
    /// no value for is an error naming it.
    pub fn manifest(&self, base: &Manifest, modules: &Path, providers: &Path, vars: &BTreeMap<String, String>) -> Result<Manifest, DeploymentError> {
        let folder = base.folder.clone();
        let expand = |values: &BTreeMap<String, String>, what: &str| -> Result<BTreeMap<String, String>, DeploymentError> {
            values
                .iter()
                .map(|(key, value)| {
                    expand(value, vars)
                        .map(|v| (key.clone(), v))
                        .map_err(|problem| DeploymentError::Placeholder { what: format!("{what} {key}"), problem })
                })
                .collect()
        };
        let mut entries = Vec::new();
        for p in &self.providers {
            let settings = expand(&p.settings, &format!("provider {} setting", p.name))?;
            let path = match (&p.path, &p.archive) {
                (Some(path), None) => provider_library(&p.name, path, &folder, providers)?,
                (None, Some(archive)) => archive_file(modules, &archive.sha256),
                (Some(_), Some(_)) => return Err(ShipmentError::Source { name: p.name.clone(), problem: "not both" }.into()),
                (None, None) => return Err(ShipmentError::Source { name: p.name.clone(), problem: "one of them" }.into()),
            };
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
    pub fn checks_for(&self, vars: &BTreeMap<String, String>) -> Result<Vec<HttpCheck>, DeploymentError> {
        self.checks
            .iter()
            .map(|c| {
                let url = expand(&c.url, vars).map_err(|problem| DeploymentError::Placeholder {
                    what: format!("check {}", provider_abi::redact::redact_url(&c.url)),
                    problem,
                })?;
                Ok(HttpCheck { url, status: c.status })
            })
            .collect()
    }

    /// Checks what a device relies on before it uses a deployment's fields:
    /// each module and provider archive named by a SHA-256 of 64 lower-case
    /// hex digits, with a size, chunk size and chunk count in bounds, and no
    /// more bytes in all than [`MAX_SHIPPED`]; each module with a module key
    /// and each archive with a service key; instances in bounds; provider
    /// names unique, each provider a `path` or an `archive`, and provider
    /// paths relative without `..` ([`check_provider_path`]).
    pub fn validate(&self) -> Result<(), DeploymentError> {
        for actor in &self.actors {
            let what = format!("actor {}", actor.name);
            check_shipment(&what, &actor.sha256, actor.size, actor.chunk_size, MAX_MODULE)?;
            if actor.instances == 0 || actor.instances > host_edge_runtime::manifest::MAX_INSTANCES {
                return Err(DeploymentError::Instances { what });
            }
            host_edge_runtime::claims::keys::check_public_key(&actor.key, host_edge_runtime::claims::keys::KeyRole::Module)
                .map_err(|source| DeploymentError::Key { what, source })?;
        }
        self.validate_providers()
    }

    /// The provider half of [`Deployment::validate`], and the bound on the
    /// bytes carried.
    fn validate_providers(&self) -> Result<(), DeploymentError> {
        if self.providers.len() > MAX_PROVIDERS {
            return Err(ShipmentError::TooManyProviders { count: self.providers.len() }.into());
        }
        let modules: std::collections::BTreeSet<&str> = self.actors.iter().map(|a| a.sha256.as_str()).collect();
        let mut names = std::collections::BTreeSet::new();
        for provider in &self.providers {
            if !names.insert(provider.name.as_str()) {
                return Err(DeploymentError::NamedTwice(provider.name.clone()));
            }
            let name = provider.name.clone();
            match (&provider.path, &provider.archive) {
                (Some(path), None) => check_provider_path(&provider.name, path)?,
                (None, Some(archive)) => {
                    let what = format!("provider archive {}", provider.name);
                    check_shipment(&what, &archive.sha256, archive.size, archive.chunk_size, MAX_ARCHIVE)?;
                    host_edge_runtime::claims::keys::check_public_key(&archive.key, host_edge_runtime::claims::keys::KeyRole::Service)
                        .map_err(|e| ShipmentError::Key { name, detail: e.to_string() })?;
                    if modules.contains(archive.sha256.as_str()) {
                        return Err(ShipmentError::Twofold { sha256: archive.sha256.clone() }.into());
                    }
                }
                (Some(_), Some(_)) => return Err(ShipmentError::Source { name, problem: "not both" }.into()),
                (None, None) => return Err(ShipmentError::Source { name, problem: "one of them" }.into()),
            }
        }
        // Each file once, however many entries name it.
        let mut sizes = BTreeMap::new();
        for shipment in self.shipments(Path::new("")) {
            sizes.insert(shipment.sha256, shipment.size);
        }
        let total = sizes.values().fold(0u64, |sum, size| sum.saturating_add(*size));
        if total > MAX_SHIPPED {
            return Err(ShipmentError::TooLarge { total }.into());
        }
        Ok(())
    }

    /// Every file the deployment carries, modules then provider archives,
    /// each with where the device keeps it in `modules`.
    pub fn shipments(&self, modules: &Path) -> Vec<Shipment> {
        let actors = self.actors.iter().map(|a| Shipment {
            what: format!("module {}", a.name),
            sha256: a.sha256.clone(),
            size: a.size,
            url: a.url.clone(),
            chunk_size: a.chunk_size,
            file: module_file(modules, &a.sha256),
        });
        let archives = self.providers.iter().filter_map(|p| {
            p.archive.as_ref().map(|a| Shipment {
                what: format!("provider archive {}", p.name),
                sha256: a.sha256.clone(),
                size: a.size,
                url: a.url.clone(),
                chunk_size: a.chunk_size,
                file: archive_file(modules, &a.sha256),
            })
        });
        actors.chain(archives).collect()
    }

    /// `label`, or a summary of the actors and the provider archives carried
    /// (`counter rev 2, provider kv rev 3`).
    pub fn describe(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            let actors: Vec<String> = self
                .actors
                .iter()
                .map(|a| format!("{} rev {}", a.name, a.rev.map_or("-".to_owned(), |r| r.to_string())))
                .collect();
            let archives = self.providers.iter().filter_map(|p| {
                p.archive.as_ref().map(|a| format!("provider {} rev {}", p.name, a.rev.map_or("-".to_owned(), |r| r.to_string())))
            });
            let all: Vec<String> = actors.into_iter().chain(archives).collect();
            if all.is_empty() { "no actors".to_owned() } else { all.join(", ") }
        })
    }
}

/// Why a placeholder cannot be filled. The value is never quoted: it may
/// be a secret, and the error is reported off the device; the caller names
/// the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    /// `${` with no `}`.
    #[error("it has a `${{` without its `}}`")]
    Unclosed,
    /// The device has no value for the name.
    #[error("`${{{0}}}` has no value on this device; give it in the device's [fleet] vars")]
    Missing(String),
}

/// `text` with every `${NAME}` replaced by `vars[NAME]`; `$$` is a `$`.
pub fn expand(text: &str, vars: &BTreeMap<String, String>) -> Result<String, PlaceholderError> {
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
            let end = tail.find('}').ok_or(PlaceholderError::Unclosed)?;
            let name = &tail[..end];
            let value = vars.get(name).ok_or_else(|| PlaceholderError::Missing(name.to_owned()))?;
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

/// Where a device keeps the provider archive `sha256`: beside the modules,
/// by its hash.
pub fn archive_file(modules: &Path, sha256: &str) -> PathBuf {
    modules.join(format!("{sha256}.par"))
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

/// A `[[provider]]` of a deployment file: a `path` on the device, or an
/// `archive` beside the deployment file that the deployment carries
/// (fetched from `url` when one is given, else sent in chunks).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProvider {
    name: String,
    path: Option<PathBuf>,
    archive: Option<PathBuf>,
    url: Option<String>,
    #[serde(default)]
    settings: BTreeMap<String, String>,
}

/// Why a signed deployment cannot be run on this device.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// A placeholder in a setting, a link value or a check's URL.
    #[error("{what}: {problem}")]
    Placeholder {
        /// Where (`provider kv setting PATH`, `check http://...`).
        what: String,
        /// Why.
        problem: PlaceholderError,
    },
    /// A module or archive out of bounds, or a provider given by neither
    /// or both of `path` and `archive`.
    #[error(transparent)]
    Shipment(#[from] ShipmentError),
    /// A provider path outside the provider folder.
    #[error(transparent)]
    ProviderPath(#[from] ProviderPathError),
    /// Instances out of bounds.
    #[error("{what}: instances must be between 1 and {max}", max = host_edge_runtime::manifest::MAX_INSTANCES)]
    Instances {
        /// The actor.
        what: String,
    },
    /// A key of the wrong kind, or not a key.
    #[error("{what}: {source}")]
    Key {
        /// The actor.
        what: String,
        /// Why.
        source: host_edge_runtime::claims::keys::KeyError,
    },
    /// Two providers of one name.
    #[error("provider `{0}` is named twice")]
    NamedTwice(String),
}

/// Why a deployment file cannot be read, or what it names cannot be
/// carried.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A chunk size out of bounds.
    #[error("a chunk size of {0} bytes is not between {min} and {max}", min = CHUNK_SIZES.start(), max = CHUNK_SIZES.end())]
    ChunkSize(u32),
    /// A file cannot be read.
    #[error("{what}{path}: {source}")]
    Read {
        /// `[[actor]] ` or nothing (the deployment file itself).
        what: &'static str,
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The deployment file is not TOML of a deployment.
    #[error("{path}: {source}")]
    Toml {
        /// The file.
        path: String,
        /// What the parser said.
        source: toml::de::Error,
    },
    /// `probe_timeout` does not read.
    #[error("{path}: probe_timeout `{text}` is not a duration such as \"30s\"")]
    ProbeTimeout {
        /// The file.
        path: String,
        /// What it says.
        text: String,
    },
    /// A module over [`MAX_MODULE`].
    #[error("[[actor]] {path}: {size} bytes, over the limit of {MAX_MODULE}")]
    ModuleTooLarge {
        /// The module file.
        path: String,
        /// Its size.
        size: usize,
    },
    /// A module whose claims do not verify.
    #[error("[[actor]] {path}: {source}")]
    Claims {
        /// The module file.
        path: String,
        /// The first check that failed.
        source: claims::verify::ClaimsError,
    },
    /// Instances out of bounds.
    #[error("[[actor]] {path}: instances must be between 1 and {max}", max = host_edge_runtime::manifest::MAX_INSTANCES)]
    Instances {
        /// The module file.
        path: String,
    },
    /// A provider archive that cannot be carried.
    #[error(transparent)]
    Archive(#[from] ArchiveFileError),
    /// A link to no provider of the deployment.
    #[error("[[link]] for {actor} names provider `{provider}`, which no [[provider]] defines")]
    LinkProvider {
        /// The actor the link is for.
        actor: String,
        /// The provider it names.
        provider: String,
    },
    /// A link for no actor of the deployment.
    #[error("[[link]] for {0}: no [[actor]] of the deployment has that name or key")]
    LinkActor(String),
}

/// Why a provider archive named by a deployment file cannot be carried.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveFileError {
    /// The file cannot be read.
    #[error("[[provider]] {name}: {path}: {error}")]
    Io {
        /// The provider.
        name: String,
        /// The archive file.
        path: String,
        /// What failed.
        error: std::io::Error,
    },
    /// Over [`MAX_ARCHIVE`].
    #[error("[[provider]] {name}: {path}: {size} bytes or more, over the limit of {MAX_ARCHIVE}")]
    TooLarge {
        /// The provider.
        name: String,
        /// The archive file.
        path: String,
        /// Its size.
        size: u64,
    },
    /// Not a provider archive, or one whose claims do not verify.
    #[error("[[provider]] {name}: {path}: {error}")]
    Refused {
        /// The provider.
        name: String,
        /// The archive file.
        path: String,
        /// The first check that failed.
        error: claims::verify::ClaimsError,
    },
    /// `url` without `archive`, or `path` and `archive` both.
    #[error("[[provider]] {name}: {problem}")]
    Entry {
        /// The provider.
        name: String,
        /// What is wrong.
        problem: &'static str,
    },
}

/// Reads the provider archive at `path` (at most [`MAX_ARCHIVE`] bytes) and
/// verifies its claims as the operator can, without a device's policy:
/// signature, times, and every library's hash (for the device's target, the
/// host's when the archive holds one, else its first). Returns the bytes
/// and what the deployment signs of them.
fn read_archive(name: &str, path: &Path, url: Option<String>, chunk_size: u32) -> Result<(Vec<u8>, DeployedArchive), ArchiveFileError> {
    use std::io::Read;
    let shown = path.display().to_string();
    let io = |error| ArchiveFileError::Io { name: name.to_owned(), path: shown.clone(), error };
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(MAX_ARCHIVE + 1).read_to_end(&mut bytes)).map_err(io)?;
    if bytes.len() as u64 > MAX_ARCHIVE {
        return Err(ArchiveFileError::TooLarge { name: name.to_owned(), path: shown, size: bytes.len() as u64 });
    }
    let refused = |error| ArchiveFileError::Refused { name: name.to_owned(), path: shown.clone(), error };
    let target = match claims::archive::read(&bytes[..], None) {
        Ok(contents) if contents.library(claims::provider::HOST_TARGET).is_some() => claims::provider::HOST_TARGET.to_owned(),
        Ok(contents) => contents.libraries.first().map_or_else(|| claims::provider::HOST_TARGET.to_owned(), |l| l.target.clone()),
        // The check below says what is wrong with it.
        Err(_) => claims::provider::HOST_TARGET.to_owned(),
    };
    let verified = claims::provider::verify_archive(&bytes[..], &target, &Policy::default(), claims::policy::now_secs()).map_err(refused)?;
    let archive = DeployedArchive {
        key: verified.subject().to_owned(),
        capability: verified.capability.clone(),
        rev: verified.metadata.rev,
        sha256: sha256_hex(&bytes),
        size: bytes.len() as u64,
        url,
        chunk_size,
    };
    Ok((bytes, archive))
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
    providers: Vec<FileProvider>,
    #[serde(default, rename = "link")]
    links: Vec<DeployedLink>,
    #[serde(default, rename = "check")]
    checks: Vec<HttpCheck>,
}

/// A deployment file read on the operator's machine: the deployment, and
/// the modules and provider archives to send in chunks (those without a
/// `url`).
#[derive(Debug, Clone)]
pub struct DeploymentFile {
    /// What goes into the signed command.
    pub deployment: Deployment,
    /// The modules and provider archives sent over MQTT, by SHA-256.
    pub modules: BTreeMap<String, Vec<u8>>,
}

impl DeploymentFile {
    /// The retained messages that carry every module and provider archive
    /// sent over MQTT, each file once: `(topic, chunk)`.
    pub fn chunk_messages(&self, topics: &super::Topics) -> Vec<(String, Vec<u8>)> {
        let mut messages = Vec::new();
        let mut sent = std::collections::BTreeSet::new();
        for shipment in self.deployment.shipments(Path::new("")) {
            let Some(bytes) = self.modules.get(&shipment.sha256) else { continue };
            if shipment.url.is_some() || !sent.insert(shipment.sha256.clone()) {
                continue;
            }
            for (index, chunk) in bytes.chunks(shipment.chunk_size.max(1) as usize).enumerate() {
                messages.push((topics.chunk(&shipment.sha256, shipment.chunk_size, index as u32), chunk.to_vec()));
            }
        }
        messages
    }

    /// Reads the deployment file at `path`: every actor file (relative to
    /// it) is read, its claims verified (signature, hash, times) and its
    /// name, key and revision taken from them; every provider `archive`
    /// (relative to it too) likewise, its service key, capability and
    /// revision taken from its claims. Chunks of `chunk_size`.
    pub fn load(path: &Path, chunk_size: u32) -> Result<DeploymentFile, FileError> {
        if !CHUNK_SIZES.contains(&chunk_size) {
            return Err(FileError::ChunkSize(chunk_size));
        }
        let shown = || path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read { what: "", path: shown(), source })?;
        let file: FileText = toml::from_str(&text).map_err(|source| FileError::Toml { path: shown(), source })?;
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let probe_timeout = match &file.probe_timeout {
            None => None,
            Some(text) => Some(
                humantime::parse_duration(text)
                    .map_err(|_| FileError::ProbeTimeout { path: shown(), text: text.clone() })?
                    .as_secs()
                    .max(1),
            ),
        };
        let mut actors = Vec::new();
        let mut modules = BTreeMap::new();
        for entry in &file.actors {
            let module_path = folder.join(&entry.path);
            let module = || module_path.display().to_string();
            let bytes = std::fs::read(&module_path).map_err(|source| FileError::Read { what: "[[actor]] ", path: module(), source })?;
            if bytes.len() as u64 > MAX_MODULE {
                return Err(FileError::ModuleTooLarge { path: module(), size: bytes.len() });
            }
            let verified = claims::verify(&bytes, &Policy::default(), claims::policy::now_secs())
                .map_err(|source| FileError::Claims { path: module(), source })?;
            if entry.instances == 0 || entry.instances > host_edge_runtime::manifest::MAX_INSTANCES {
                return Err(FileError::Instances { path: module() });
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
        let mut providers = Vec::new();
        for entry in &file.providers {
            let name = entry.name.clone();
            let archive = match (&entry.path, &entry.archive, &entry.url) {
                (_, None, Some(_)) => {
                    return Err(ArchiveFileError::Entry { name, problem: "`url` is where devices fetch an `archive` from; give the archive too" }.into())
                }
                (Some(_), Some(_), _) => {
                    return Err(ArchiveFileError::Entry { name, problem: "give `path` (an archive on the device) or `archive` (one the deployment carries), not both" }.into())
                }
                (_, Some(archive), url) => {
                    let (bytes, archive) = read_archive(&entry.name, &folder.join(archive), url.clone(), chunk_size)?;
                    if archive.url.is_none() {
                        modules.insert(archive.sha256.clone(), bytes);
                    }
                    Some(archive)
                }
                (_, None, None) => None,
            };
            providers.push(DeployedProvider { name, path: entry.path.clone(), archive, settings: entry.settings.clone() });
        }
        let names: std::collections::BTreeSet<&str> = providers.iter().map(|p| p.name.as_str()).collect();
        for link in &file.links {
            if !names.contains(link.provider.as_str()) {
                return Err(FileError::LinkProvider { actor: link.actor.clone(), provider: link.provider.clone() });
            }
            if !actors.iter().any(|a| a.name == link.actor || a.key == link.actor) {
                return Err(FileError::LinkActor(link.actor.clone()));
            }
        }
        let deployment = Deployment {
            label: file.label,
            actors,
            providers,
            links: file.links,
            checks: file.checks,
            probe_timeout,
        };
        Ok(DeploymentFile { deployment, modules })
    }
}
