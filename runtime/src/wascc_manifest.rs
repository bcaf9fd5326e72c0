//! waSCC's host manifest (YAML or JSON), read as a host-edge manifest.
//!
//! A waSCC user has a `manifest.yaml` naming actor files, the provider
//! libraries to load (`capabilities`) and the links between them
//! (`bindings`, actors by module key, with `values`). host-edge cannot
//! load waSCC's provider libraries (another ABI), but it serves the same
//! capability ids: each waSCC library is mapped to host-edge's library for
//! its capability (or to the built-in logging and extras), and every link
//! keeps its values. What cannot be mapped is reported, all of it, each
//! naming the entry and why, and nothing starts. The result is an
//! ordinary [`Manifest`](crate::Manifest), checked and run as one written
//! in TOML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::capability::{CapabilityId, WellKnown};

/// The environment variable naming the folder of host-edge's provider
/// libraries, when they are not beside the binary (`bin/../providers` in a
/// bundle, or the binary's own folder in a cargo build).
pub const PROVIDERS_ENV: &str = "HOST_EDGE_PROVIDERS";

/// waSCC's `HostManifest` (wascc-host 0.10 to 0.14): the three lists are
/// required and unknown keys ignored, as waSCC read it.
#[derive(Debug, Deserialize)]
struct HostManifest {
    /// Host labels; host-edge has none, so they are ignored.
    #[serde(default)]
    #[allow(dead_code)]
    labels: BTreeMap<String, String>,
    /// Actor module files.
    actors: Vec<String>,
    /// Provider libraries.
    capabilities: Vec<CapabilityEntry>,
    /// Links from actors to capabilities.
    bindings: Vec<BindingEntry>,
}

#[derive(Debug, Deserialize)]
struct CapabilityEntry {
    path: String,
    #[serde(default)]
    binding_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BindingEntry {
    actor: String,
    capability: String,
    #[serde(default)]
    binding: Option<String>,
    #[serde(default)]
    values: Option<BTreeMap<String, String>>,
}

/// What host-edge serves in place of one of waSCC's provider libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replacement {
    /// host-edge's provider library of this name (`libNAME.so`).
    Library(&'static str),
    /// The host's built-in logging or extras.
    BuiltIn,
    /// Nothing: why, and what to do instead.
    None(&'static str),
}

/// waSCC's first-party provider libraries, by file stem (the crate names
/// of wascc/capability-providers, and the names before their April 2020
/// renames): the capability each served and host-edge's replacement.
const WASCC_LIBRARIES: [(&str, &str, Replacement); 15] = [
    ("wascc_httpsrv", "wascc:http_server", Replacement::Library("http_server")),
    ("wascc_httpclient", "wascc:http_client", Replacement::Library("http_client")),
    ("http_client_provider", "wascc:http_client", Replacement::Library("http_client")),
    ("wascc_redis", "wascc:keyvalue", Replacement::Library("keyvalue_redis")),
    ("redis_provider", "wascc:keyvalue", Replacement::Library("keyvalue_redis")),
    ("keyvalue", "wascc:keyvalue", Replacement::Library("keyvalue_sqlite")),
    ("wascc_logging", "wascc:logging", Replacement::BuiltIn),
    ("wascc_log", "wascc:logging", Replacement::BuiltIn),
    ("wascc_fs", "wascc:blobstore", Replacement::Library("blobstore_fs")),
    ("fs_provider", "wascc:blobstore", Replacement::Library("blobstore_fs")),
    (
        "wascc_nats",
        "wascc:messaging",
        Replacement::None("host-edge has no NATS provider; serve wascc:messaging with libmessaging_mqtt.so and `SUBJECTS = \"nats\"` (docs/messaging.md)"),
    ),
    (
        "nats_provider",
        "wascc:messaging",
        Replacement::None("host-edge has no NATS provider; serve wascc:messaging with libmessaging_mqtt.so and `SUBJECTS = \"nats\"` (docs/messaging.md)"),
    ),
    ("wascc_s3", "wascc:blobstore", Replacement::None("host-edge has no S3 provider; serve wascc:blobstore with libblobstore_fs.so")),
    ("s3_provider", "wascc:blobstore", Replacement::None("host-edge has no S3 provider; serve wascc:blobstore with libblobstore_fs.so")),
    ("wascc_streams_redis", "wascc:eventstreams", Replacement::None("host-edge has no event-stream capability")),
];

/// host-edge's own provider libraries, by file stem, and what they serve.
const HOST_EDGE_LIBRARIES: [(&str, WellKnown); 10] = [
    ("keyvalue_sqlite", WellKnown::KeyValue),
    ("keyvalue_redis", WellKnown::KeyValue),
    ("http_server", WellKnown::HttpServer),
    ("http_client", WellKnown::HttpClient),
    ("messaging_mqtt", WellKnown::Messaging),
    ("blobstore_fs", WellKnown::Blobstore),
    ("gpio", WellKnown::Gpio),
    ("i2c", WellKnown::I2c),
    ("spi", WellKnown::Spi),
    ("serial", WellKnown::Serial),
];

/// Whether `path` names a waSCC manifest (by its extension).
pub fn is_wascc_manifest(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

/// Why a waSCC manifest cannot be translated.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// Not YAML or JSON of a waSCC manifest.
    #[error("not a waSCC manifest: {0}")]
    NotWascc(String),
    /// What it names cannot be served: every problem, one a line.
    #[error("cannot be run as a host-edge manifest:\n  {}", .0.join("\n  "))]
    Problems(Vec<String>),
}

/// The host-edge manifest (TOML) for the waSCC manifest `text`, whose
/// relative paths are taken from `base`; or every problem found, one a
/// line.
pub fn translate(text: &str, json: bool, base: &Path, providers: &[PathBuf]) -> Result<String, TranslateError> {
    // As waSCC's host expanded them (envmnt): `${VAR}` and
    // `${VAR:default}`; an unset variable without a default stays as written.
    let mut options = envmnt::ExpandOptions::new();
    options.expansion_type = Some(envmnt::ExpansionType::UnixBracketsWithDefaults);
    options.default_to_empty = false;
    let text = envmnt::expand(text, Some(options));
    let manifest: HostManifest = if json {
        serde_json::from_str(&text).map_err(|e| TranslateError::NotWascc(e.to_string()))?
    } else {
        serde_saphyr::from_str(&text).map_err(|e| TranslateError::NotWascc(e.to_string()))?
    };
    let mut problems = Vec::new();
    let mut out = toml::Table::new();

    let mut actors = Vec::new();
    for actor in &manifest.actors {
        match locate(base, actor) {
            Some(path) => actors.push(table([("path", path.display().to_string().into())])),
            None => problems.push(format!("actors: `{actor}` is not a file (looked in {} and the current folder)", base.display())),
        }
    }

    // (capability, binding) -> the provider entry serving it.
    let mut served: BTreeMap<(&'static str, String), Option<String>> = BTreeMap::new();
    let mut libraries = Vec::new();
    for entry in &manifest.capabilities {
        let binding = entry.binding_name.clone().unwrap_or_else(|| crate::engine::DEFAULT_BINDING.to_owned());
        let stem = library_stem(&entry.path);
        let (id, replacement) = match (HOST_EDGE_LIBRARIES.iter().find(|(s, _)| *s == stem), WASCC_LIBRARIES.iter().find(|(s, _, _)| *s == stem)) {
            (Some((name, known)), _) => (known.id(), Replacement::Library(name)),
            (None, Some((_, id, replacement))) => (*id, *replacement),
            (None, None) => {
                let names: Vec<&str> = WASCC_LIBRARIES.iter().map(|(s, _, _)| *s).chain(HOST_EDGE_LIBRARIES.iter().map(|(s, _)| *s)).collect();
                problems.push(format!(
                    "capabilities: `{}` is neither one of waSCC's provider libraries nor one of host-edge's{}; list host-edge's library for its capability instead",
                    entry.path,
                    provider_abi::suggest::did_you_mean(&stem, names)
                ));
                continue;
            }
        };
        match replacement {
            Replacement::BuiltIn => {
                served.insert((id, binding), None);
            }
            Replacement::None(why) => problems.push(format!("capabilities: `{}` ({id}): {why}", entry.path)),
            Replacement::Library(library) => match find_library(providers, library) {
                Some(path) => {
                    let name = if binding == crate::engine::DEFAULT_BINDING { library.to_owned() } else { format!("{library}-{binding}") };
                    libraries.push(table([("name", name.clone().into()), ("path", path.display().to_string().into())]));
                    served.insert((id, binding), Some(name));
                }
                None => problems.push(format!(
                    "capabilities: `{}` ({id}) maps to host-edge's {library} provider ({library}.par.gz), which is not in {} (set {PROVIDERS_ENV} to the folder holding it)",
                    entry.path,
                    providers.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" or ")
                )),
            },
        }
    }

    let mut links = Vec::new();
    for binding in &manifest.bindings {
        let name = binding.binding.clone().unwrap_or_else(|| crate::engine::DEFAULT_BINDING.to_owned());
        let what = format!("bindings: {} -> {} (binding `{name}`)", binding.actor, binding.capability);
        let Some(known) = CapabilityId::parse(&binding.capability).ok().and_then(|id| id.well_known()) else {
            problems.push(format!("{what}: `{}` is not a capability host-edge serves", binding.capability));
            continue;
        };
        match served.get(&(known.id(), name.clone())) {
            Some(Some(provider)) => {
                let values: toml::Table =
                    binding.values.clone().unwrap_or_default().into_iter().map(|(k, v)| (k, toml::Value::String(v))).collect();
                links.push(table([
                    ("actor", binding.actor.clone().into()),
                    ("capability", known.id().into()),
                    ("provider", provider.clone().into()),
                    ("binding", name.into()),
                    ("values", toml::Value::Table(values)),
                ]));
            }
            // Served by the host itself; its values configure nothing.
            Some(None) => {}
            None if matches!(known, WellKnown::Logging | WellKnown::Extras) => {}
            None => problems.push(format!("{what}: no entry in `capabilities` serves {} under the binding name `{name}`", known.id())),
        }
    }

    if !problems.is_empty() {
        return Err(TranslateError::Problems(problems));
    }
    out.insert("actor".into(), toml::Value::Array(actors));
    out.insert("provider".into(), toml::Value::Array(libraries));
    out.insert("link".into(), toml::Value::Array(links));
    toml::to_string(&out).map_err(|e| TranslateError::Problems(vec![format!("the translation does not write as TOML: {e}")]))
}

/// The folders searched for host-edge's provider libraries:
/// `$HOST_EDGE_PROVIDERS`, then `../providers` and the folder of the
/// running binary.
pub fn provider_folders() -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = std::env::var_os(PROVIDERS_ENV).map(PathBuf::from).into_iter().collect();
    if let Some(bin) = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf)) {
        folders.push(bin.join("../providers"));
        folders.push(bin);
    }
    folders
}

fn table<const N: usize>(pairs: [(&str, toml::Value); N]) -> toml::Value {
    toml::Value::Table(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `libredis_provider.so` -> `redis_provider`.
fn library_stem(path: &str) -> String {
    let file = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or(path);
    file.strip_prefix("lib").unwrap_or(file).to_owned()
}

/// `path` relative to `base`, else to the current folder, if it is a file.
fn locate(base: &Path, path: &str) -> Option<PathBuf> {
    [base.join(path), PathBuf::from(path)].into_iter().find(|p| p.is_file()).and_then(|p| p.canonicalize().ok())
}

/// The provider `name` in the first of `folders` that has it: its signed
/// archive (`name.par.gz`, `name.par`, as bundles ship them), else its bare
/// library (`libname.so`, which the host loads only where unsigned
/// providers are allowed).
fn find_library(folders: &[PathBuf], name: &str) -> Option<PathBuf> {
    let files = [
        format!("{name}.par.gz"),
        format!("{name}.par"),
        format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX),
    ];
    folders
        .iter()
        .flat_map(|folder| files.iter().map(move |file| folder.join(file)))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn providers(dir: &Path) -> Vec<PathBuf> {
        for name in ["keyvalue_redis", "http_server", "keyvalue_sqlite"] {
            std::fs::write(dir.join(format!("lib{name}.so")), b"").unwrap();
        }
        vec![dir.to_owned()]
    }

    const KVCOUNTER: &str = r#"
labels:
  sample: "wascc kvcounter"
actors:
  - ./kvcounter.wasm
capabilities:
  - path: ./libwascc_httpsrv.so
  - path: ./libwascc_redis.so
  - path: ./libwascc_logging.so
bindings:
  - actor: "MASCXFM4R6X63UD5MSCDZYCJNPBVSIU6RKMXUPXRKAOSBQ6UY3VT3NPZ"
    capability: "wascc:keyvalue"
    values:
      URL: redis://127.0.0.1:6379
  - actor: "MASCXFM4R6X63UD5MSCDZYCJNPBVSIU6RKMXUPXRKAOSBQ6UY3VT3NPZ"
    capability: "wascc:http_server"
    values:
      PORT: "${NO_SUCH_PORT_VARIABLE:8081}"
      GREETING: "${HOME}"
  - actor: "MASCXFM4R6X63UD5MSCDZYCJNPBVSIU6RKMXUPXRKAOSBQ6UY3VT3NPZ"
    capability: "wascc:logging"
"#;

    #[test]
    fn wasccs_libraries_become_host_edges_and_every_binding_a_link_with_its_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kvcounter.wasm"), b"").unwrap();
        let folders = providers(dir.path());
        let toml = translate(KVCOUNTER, false, dir.path(), &folders).unwrap();
        let manifest = crate::Manifest::parse(&toml, dir.path()).unwrap();
        assert_eq!(manifest.actors.len(), 1);
        let names: Vec<&str> = manifest.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["http_server", "keyvalue_redis"], "logging is built in");
        assert_eq!(manifest.links.len(), 2);
        let kv = &manifest.links[0];
        assert_eq!((kv.capability.as_str(), kv.provider.as_str(), kv.values["URL"].as_str()), ("wascc:keyvalue", "keyvalue_redis", "redis://127.0.0.1:6379"));
        assert_eq!(manifest.links[1].values["PORT"], "8081");
        assert_eq!(manifest.links[1].values["GREETING"], std::env::var("HOME").unwrap(), "`${{VAR}}` is expanded");
    }

    #[test]
    fn everything_that_cannot_be_mapped_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let folders = providers(dir.path());
        let yaml = r#"
actors: [./missing.wasm]
capabilities:
  - path: ./libwascc_nats.so
  - path: ./libmystery.so
  - path: ./libwascc_httpsrv.so
    binding_name: admin
bindings:
  - actor: MA
    capability: wascc:http_server
  - actor: MA
    capability: acme:thermostat
"#;
        let err = translate(yaml, false, dir.path(), &folders).unwrap_err().to_string();
        for expected in [
            "actors: `./missing.wasm` is not a file",
            "`./libwascc_nats.so` (wascc:messaging): host-edge has no NATS provider",
            "`./libmystery.so` is neither one of waSCC's provider libraries nor one of host-edge's",
            "bindings: MA -> wascc:http_server (binding `default`): no entry in `capabilities` serves wascc:http_server under the binding name `default`",
            "bindings: MA -> acme:thermostat (binding `default`): `acme:thermostat` is not a capability host-edge serves",
        ] {
            assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
        }
    }

    #[test]
    fn an_unset_variable_stays_as_written_and_a_missing_list_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = "actors: [\"${NO_SUCH_VARIABLE_HERE}\"]\ncapabilities: []\nbindings: []";
        let err = translate(yaml, false, dir.path(), &[]).unwrap_err().to_string();
        assert!(err.contains("`${NO_SUCH_VARIABLE_HERE}` is not a file"), "{err}");
        let err = translate("actrs: []\ncapabilities: []\nbindings: []", false, dir.path(), &[]).unwrap_err().to_string();
        assert!(err.contains("actors"), "{err}");
    }
}
