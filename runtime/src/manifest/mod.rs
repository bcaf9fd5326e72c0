//! The manifest: what `host-edge run` loads, and under which policy.
//!
//! One TOML file describes a deployment: the trust policy, default limits,
//! the actors (path, instances, limits), the native providers and the links
//! that bind an actor's capability to a provider. Relative paths are resolved
//! against the manifest's own folder, so a bundle can be moved as a whole.
//! `boards/examples/manifest.toml` is the commented example.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::builtin::{BuiltinSettings, LogLimit};
use crate::capability::{CapabilityId, WellKnown};
use crate::command::{Command, LinkSpec};
use crate::claims::Policy;
use crate::engine::Limits;

mod fleet;

pub use fleet::FleetEntry;

/// The most instances one actor may have.
pub const MAX_INSTANCES: usize = 256;

/// The port of the health and metrics endpoint by default.
pub const DEFAULT_METRICS_PORT: u16 = 9464;

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
#[error("manifest {path}: {message}")]
pub struct ManifestError {
    /// The manifest file.
    pub path: String,
    /// What is wrong, with the line when the parser knows it.
    pub message: String,
}

/// A parsed, validated manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Where the host keeps its files and its control socket.
    #[serde(default)]
    pub host: HostEntry,
    /// The trust policy applied to every actor.
    #[serde(default)]
    pub policy: Policy,
    /// Default limits for every actor instance.
    #[serde(default)]
    pub limits: Limits,
    /// The actors to run.
    #[serde(default, rename = "actor")]
    pub actors: Vec<ActorEntry>,
    /// The native capability providers to load.
    #[serde(default, rename = "provider")]
    pub providers: Vec<ProviderEntry>,
    /// Links from an actor's capability to a provider.
    #[serde(default, rename = "link")]
    pub links: Vec<LinkEntry>,
    /// Fleet control: the device's id, its operators and their broker.
    #[serde(default)]
    pub fleet: Option<FleetEntry>,
    /// The folder relative paths were resolved against (the manifest's).
    #[serde(skip)]
    pub folder: PathBuf,
}

/// The `[host]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    /// The state directory: each provider gets a private folder in it.
    /// Default: systemd's `$STATE_DIRECTORY`, else `state` beside the
    /// manifest.
    pub state_dir: Option<PathBuf>,
    /// The local control socket (`host-edge ctl`). Default: see
    /// `host-edge ctl --help`.
    pub control_socket: Option<PathBuf>,
    /// How often providers are asked for their health while the host serves
    /// (`10s`, `1m`). Default: 10 s.
    pub health_interval: Option<String>,
    /// The capabilities the host serves itself to every actor whose claims
    /// grant them and that has no link for them: `wascc:logging` and
    /// `wascc:extras`, as waSCC did. Default: both; `[]` turns them off.
    pub builtins: Option<Vec<CapabilityId>>,
    /// Lines a second each actor may log through the built-in
    /// `wascc:logging`; past it, lines are dropped and counted. Default: 50.
    pub actor_log_rate: Option<u32>,
    /// Lines an actor may log at once after a quiet spell. Default: 4 times
    /// `actor_log_rate`.
    pub actor_log_burst: Option<u32>,
    /// Where the liveness, readiness and metrics endpoint listens
    /// (`/livez`, `/readyz`, `/metrics`). Default: `127.0.0.1:9464`, on
    /// loopback; `off` turns it off.
    pub metrics_address: Option<String>,
    /// Instances of each actor kept while it is idle; a pool grows up to
    /// the actor's `instances` under load. `0` lets an idle actor go to no
    /// instance at all (its next call waits for a new one). Default: 1.
    pub min_instances: Option<usize>,
    /// How long an instance above `min_instances` waits without a call
    /// before it is dropped (`30s`, `5m`). Default: 30 s.
    pub idle_timeout: Option<String>,
    /// Whether a `[[provider]]` may name a bare library, with no signature,
    /// instead of a signed provider archive: for development only, and
    /// logged as a warning at every start. Default: false.
    pub allow_unsigned_providers: Option<bool>,
}

impl HostEntry {
    /// The built-in capabilities and their settings, checked when the
    /// manifest is parsed.
    pub fn builtins(&self) -> BuiltinSettings {
        let defaults = BuiltinSettings::default();
        let per_second = self.actor_log_rate.unwrap_or(defaults.log_limit.per_second);
        let log_limit = LogLimit { per_second, burst: self.actor_log_burst.unwrap_or(per_second.saturating_mul(4)) };
        match &self.builtins {
            None => BuiltinSettings { log_limit, ..defaults },
            Some(listed) => BuiltinSettings {
                logging: listed.iter().any(|c| c.well_known() == Some(WellKnown::Logging)),
                extras: listed.iter().any(|c| c.well_known() == Some(WellKnown::Extras)),
                log_limit,
            },
        }
    }

    /// Where the health and metrics endpoint listens; `None` when it is off.
    /// Checked when the manifest is parsed.
    pub fn metrics_address(&self) -> Option<std::net::SocketAddr> {
        match self.metrics_address.as_deref() {
            Some("off") => None,
            Some(text) => text.parse().ok(),
            None => Some(std::net::SocketAddr::from(([127, 0, 0, 1], DEFAULT_METRICS_PORT))),
        }
    }

    /// How actors' pools grow and shrink, checked when the manifest is
    /// parsed.
    pub fn scaling(&self) -> crate::pool::Scaling {
        let default = crate::pool::Scaling::DEFAULT;
        crate::pool::Scaling {
            min: self.min_instances.unwrap_or(default.min),
            idle: self
                .idle_timeout
                .as_deref()
                .and_then(|text| humantime::parse_duration(text).ok())
                .unwrap_or(default.idle),
        }
    }

    /// The health interval, checked when the manifest is parsed.
    pub fn health_interval(&self) -> std::time::Duration {
        self.health_interval
            .as_deref()
            .and_then(|text| humantime::parse_duration(text).ok())
            .unwrap_or(std::time::Duration::from_secs(10))
    }
}

/// An `[[actor]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorEntry {
    /// The manifest line of its `[[actor]]` header (1-based; 0 when unknown).
    #[serde(skip)]
    pub line: usize,
    /// The signed module.
    pub path: PathBuf,
    /// How many instances serve calls in parallel.
    #[serde(default = "one")]
    pub instances: usize,
    /// Fuel per call for this actor, overriding `[limits]`.
    pub fuel_per_call: Option<u64>,
    /// Memory ceiling for this actor, overriding `[limits]`.
    pub max_memory_bytes: Option<u64>,
}

fn one() -> usize {
    1
}

/// A `[[provider]]` entry: a native provider library.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// The manifest line of its `[[provider]]` header (1-based; 0 when unknown).
    #[serde(skip)]
    pub line: usize,
    /// The name links refer to it by.
    pub name: String,
    /// The signed provider archive (`.par.gz`), or, where `[host]
    /// allow_unsigned_providers` is on, a bare shared library (`.so`).
    pub path: PathBuf,
    /// Provider-level settings, handed to the provider when it is loaded and
    /// checked against the settings it declares.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

/// A `[[link]]` entry: which provider serves an actor's capability.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkEntry {
    /// The manifest line of its `[[link]]` header (1-based; 0 when unknown).
    #[serde(skip)]
    pub line: usize,
    /// The actor, by module key or by the name in its claims.
    pub actor: String,
    /// The capability id (any accepted spelling).
    pub capability: CapabilityId,
    /// The provider, by its `name`.
    pub provider: String,
    /// The binding name the actor uses (`default` unless it names one).
    #[serde(default = "default_binding")]
    pub binding: String,
    /// Configuration handed to the provider when the actor is bound.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// Grant rules narrowing what the actor's signed claims allow through
    /// this link (e.g. `prefix:sensors:`); empty leaves the claims alone.
    #[serde(default)]
    pub grant: Vec<String>,
}

fn default_binding() -> String {
    crate::engine::DEFAULT_BINDING.to_owned()
}

impl LinkEntry {
    /// The link command's description of this entry.
    pub fn spec(&self) -> LinkSpec {
        LinkSpec {
            actor: self.actor.clone(),
            capability: self.capability.clone(),
            binding: self.binding.clone(),
            provider: self.provider.clone(),
            values: self.values.clone(),
            grant: self.grant.clone(),
        }
    }
}

impl ActorEntry {
    /// This actor's limits: its own settings over the manifest's defaults.
    pub fn limits(&self, defaults: Limits) -> Limits {
        Limits {
            fuel_per_call: self.fuel_per_call.unwrap_or(defaults.fuel_per_call),
            max_memory_bytes: self.max_memory_bytes.unwrap_or(defaults.max_memory_bytes),
        }
    }
}

impl Manifest {
    /// The commands that bring an empty host to this manifest: providers,
    /// then actors, then links.
    pub fn commands(&self) -> Vec<Command> {
        let providers = self.providers.iter().map(|p| Command::AddProvider {
            name: p.name.clone(),
            path: p.path.clone(),
            settings: p.settings.clone(),
        });
        let actors = self.actors.iter().map(|a| Command::StartActor {
            path: a.path.clone(),
            instances: a.instances,
            limits: a.limits(self.limits),
        });
        let links = self.links.iter().map(|l| Command::Link(l.spec()));
        providers.chain(actors).chain(links).collect()
    }

    /// The state directory, resolved.
    pub fn state_dir(&self) -> PathBuf {
        self.host.state_dir.clone().unwrap_or_else(|| PathBuf::from("state"))
    }

    /// Reads, parses and validates the manifest at `path`; relative paths in
    /// it become relative to its folder.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        match Manifest::load_all(path)? {
            (Some(manifest), problems) if problems.is_empty() => Ok(manifest),
            (_, problems) => Err(ManifestError {
                path: path.display().to_string(),
                message: problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n"),
            }),
        }
    }

    /// Reads and parses the manifest at `path` as far as it goes (see
    /// [`Manifest::parse_all`]): the manifest of what reads and every
    /// problem, for `check` and `run` to list with what they find. An error
    /// only when the file cannot be read, or a waSCC manifest translated.
    pub fn load_all(path: &Path) -> Result<(Option<Manifest>, Vec<Problem>), ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        // Paths in the manifest are relative to its folder, made absolute so
        // that a bare `libx.so` is that file, not a search of the system's
        // library folders.
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let base = parent.canonicalize().unwrap_or_else(|_| parent.to_path_buf());
        if crate::wascc_manifest::is_wascc_manifest(path) {
            let json = path.extension().is_some_and(|e| e == "json");
            let error = |message| ManifestError { path: path.display().to_string(), message };
            let toml = crate::wascc_manifest::translate(&text, json, &base, &crate::wascc_manifest::provider_folders()).map_err(|e| error(e.to_string()))?;
            tracing::debug!("{} read as:\n{toml}", path.display());
            let (mut manifest, mut problems) = Manifest::parse_all(&toml, &base);
            // Lines of the translation would point into a file nobody wrote.
            problems.iter_mut().for_each(|p| p.line = 0);
            if let Some(manifest) = &mut manifest {
                manifest.actors.iter_mut().for_each(|a| a.line = 0);
                manifest.providers.iter_mut().for_each(|p| p.line = 0);
                manifest.links.iter_mut().for_each(|l| l.line = 0);
            }
            return Ok((manifest, problems));
        }
        Ok(Manifest::parse_all(&text, &base))
    }

    /// Parses and validates manifest text, resolving paths against `base`:
    /// the manifest, or every problem found, one a line.
    pub fn parse(text: &str, base: &Path) -> Result<Manifest, Problems> {
        match Manifest::parse_all(text, base) {
            (Some(manifest), problems) if problems.is_empty() => Ok(manifest),
            (_, problems) => Err(Problems(problems)),
        }
    }

    /// Parses manifest text as far as it goes: every problem found, each
    /// with its line, and the manifest made of what reads (an unknown key
    /// left out, an entry that cannot be read dropped), so that the checks
    /// that follow find their problems in the same run. `None` only when
    /// the text is not TOML.
    pub fn parse_all(text: &str, base: &Path) -> (Option<Manifest>, Vec<Problem>) {
        let mut problems = Vec::new();
        let (table, lines) = match readable_entries(text, &mut problems) {
            Some(read) => read,
            None => return (None, problems),
        };
        let mut manifest: Manifest = match toml::Value::Table(table).try_into() {
            Ok(manifest) => manifest,
            Err(e) => {
                problems.push(Problem { line: 0, message: with_suggestion(e.to_string()) });
                return (None, problems);
            }
        };
        for (entry, line) in manifest.actors.iter_mut().zip(&lines.actors) {
            entry.line = *line;
        }
        for (entry, line) in manifest.providers.iter_mut().zip(&lines.providers) {
            entry.line = *line;
        }
        for (entry, line) in manifest.links.iter_mut().zip(&lines.links) {
            entry.line = *line;
        }
        manifest.host.state_dir = Some(match manifest.host.state_dir.take() {
            Some(dir) => base.join(dir),
            None => crate::provider::native::default_state_root(base),
        });
        manifest.host.control_socket = manifest.host.control_socket.take().map(|path| base.join(path));
        manifest.folder = base.to_path_buf();
        let host_line = table_line(text, "host");
        let mut note = |line: usize, message: String| problems.push(Problem { line, message });
        if let Err(e) = manifest.policy.validate() {
            note(table_line(text, "policy"), format!("[policy]: {e}"));
        }
        if let Some(text) = &manifest.host.metrics_address {
            if text != "off" && text.parse::<std::net::SocketAddr>().is_err() {
                note(host_line, format!("[host] metrics_address: `{text}` is not an address and port such as \"127.0.0.1:9464\", or off"));
            }
        }
        if let Some(fleet) = &mut manifest.fleet {
            fleet.line = table_line(text, "fleet");
        }
        if let Some(text) = &manifest.host.health_interval {
            match humantime::parse_duration(text) {
                Ok(d) if !d.is_zero() => {}
                _ => note(host_line, format!("[host] health_interval: `{text}` is not a duration above zero, such as \"10s\"")),
            }
        }
        if let Some(text) = &manifest.host.idle_timeout {
            match humantime::parse_duration(text) {
                Ok(d) if !d.is_zero() => {}
                _ => note(host_line, format!("[host] idle_timeout: `{text}` is not a duration above zero, such as \"30s\"")),
            }
        }
        if manifest.host.min_instances.is_some_and(|min| min > MAX_INSTANCES) {
            note(host_line, format!("[host] min_instances must be between 0 and {MAX_INSTANCES}"));
        }
        for capability in manifest.host.builtins.iter().flatten() {
            if !matches!(capability.well_known(), Some(WellKnown::Logging | WellKnown::Extras)) {
                note(
                    host_line,
                    format!(
                        "[host] builtins: the host does not serve {capability} itself; it serves wascc:logging and \
                         wascc:extras (link a provider for anything else)"
                    ),
                );
            }
        }
        if manifest.host.actor_log_rate == Some(0) || manifest.host.actor_log_burst == Some(0) {
            note(
                host_line,
                "[host] actor_log_rate and actor_log_burst must be above zero; to turn actors' logging off, \
                 leave wascc:logging out of [host] builtins"
                    .to_owned(),
            );
        }
        for (index, actor) in manifest.actors.iter_mut().enumerate() {
            if actor.instances == 0 || actor.instances > MAX_INSTANCES {
                note(
                    actor.line,
                    format!("[[actor]] #{}: instances must be between 1 and {MAX_INSTANCES}, not {}", index + 1, actor.instances),
                );
            }
            actor.path = base.join(&actor.path);
        }
        let mut names = std::collections::BTreeSet::new();
        for provider in &mut manifest.providers {
            if !names.insert(provider.name.clone()) {
                note(provider.line, format!("[[provider]] `{}` is named twice", provider.name));
            }
            provider.path = base.join(&provider.path);
        }
        for link in &manifest.links {
            if !names.contains(&link.provider) {
                note(
                    link.line,
                    format!(
                        "[[link]] for {} on {} names provider `{}`, which no [[provider]] defines{}",
                        link.actor,
                        link.capability,
                        link.provider,
                        provider_abi::suggest::did_you_mean(&link.provider, names.iter().map(String::as_str))
                    ),
                );
            }
        }
        (Some(manifest), problems)
    }
}

/// Every problem of a manifest's text; shown one a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n"))]
pub struct Problems(pub Vec<Problem>);

/// One thing wrong with a manifest, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The manifest line of the entry it is about (0 when it has none).
    pub line: usize,
    /// What is wrong, and what to do where that is known.
    pub message: String,
}

impl Problem {
    /// The problem as a compiler would print it: `manifest.toml:12: …`.
    pub fn located(&self, manifest: &Path) -> String {
        if self.line > 0 {
            format!("{}:{}: {}", manifest.display(), self.line, self.message)
        } else {
            format!("{}: {}", manifest.display(), self.message)
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// The manifest's sections.
const SECTIONS: [&str; 7] = ["host", "policy", "limits", "actor", "provider", "link", "fleet"];

/// The header lines of the entries kept, per array of tables.
#[derive(Default)]
struct EntryLines {
    actors: Vec<usize>,
    providers: Vec<usize>,
    links: Vec<usize>,
}

/// `text` as a table of what reads: each section and entry is read as its
/// type; a key the type does not know is reported (with "did you mean") and
/// left out, and an entry that still does not read is reported and
/// dropped. `None`, with the problem, when the text is not TOML.
fn readable_entries(text: &str, problems: &mut Vec<Problem>) -> Option<(toml::Table, EntryLines)> {
    let mut table: toml::Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(e) => {
            let line = e.span().map_or(0, |span| line_at(text, span.start));
            problems.push(Problem { line, message: e.message().trim_end().to_owned() });
            return None;
        }
    };
    let mut lines = EntryLines::default();
    for key in table.keys().cloned().collect::<Vec<_>>() {
        if !SECTIONS.contains(&key.as_str()) {
            let meant = provider_abi::suggest::did_you_mean(&key, SECTIONS);
            problems.push(Problem { line: key_line(text, &key), message: format!("`{key}` is not a section of a manifest{meant}") });
            table.remove(&key);
        }
    }
    for (name, header) in [("host", "[host]"), ("policy", "[policy]"), ("limits", "[limits]"), ("fleet", "[fleet]")] {
        let Some(value) = table.get_mut(name) else { continue };
        let line = table_line(text, name);
        let keep = match name {
            "host" => readable::<HostEntry>(text, value, header, line, problems),
            "policy" => readable::<Policy>(text, value, header, line, problems),
            "limits" => readable::<Limits>(text, value, header, line, problems),
            _ => readable::<FleetEntry>(text, value, header, line, problems),
        };
        if !keep {
            table.remove(name);
        }
    }
    for (name, kept) in [("actor", &mut lines.actors), ("provider", &mut lines.providers), ("link", &mut lines.links)] {
        let Some(value) = table.get_mut(name) else { continue };
        let headers = header_lines(text, name);
        let Some(entries) = value.as_array_mut() else {
            problems.push(Problem { line: key_line(text, name), message: format!("`{name}` must be written as [[{name}]] entries") });
            table.remove(name);
            continue;
        };
        let mut index = 0;
        entries.retain_mut(|entry| {
            let line = headers.get(index).copied().unwrap_or(0);
            index += 1;
            let what = format!("[[{name}]] #{index}");
            let keep = match name {
                "actor" => readable::<ActorEntry>(text, entry, &what, line, problems),
                "provider" => readable::<ProviderEntry>(text, entry, &what, line, problems),
                _ => readable::<LinkEntry>(text, entry, &what, line, problems),
            };
            if keep {
                kept.push(line);
            }
            keep
        });
    }
    Some((table, lines))
}

/// Whether `value` reads as a `T`, once every key `T` does not know is
/// reported and taken out; a problem that remains is reported too.
fn readable<T: serde::de::DeserializeOwned>(
    text: &str,
    value: &mut toml::Value,
    what: &str,
    line: usize,
    problems: &mut Vec<Problem>,
) -> bool {
    // Each round takes out one key; a table has finitely many.
    loop {
        let error = match T::deserialize(value.clone()) {
            Ok(_) => return true,
            Err(e) => e.message().trim_end().to_owned(),
        };
        let unknown = unknown_field(&error);
        let removed = unknown.as_deref().is_some_and(|key| value.as_table_mut().is_some_and(|t| t.remove(key).is_some()));
        let line = match unknown.as_deref() {
            Some(key) if removed => key_line_after(text, line, key),
            _ => value_line::<T>(text, line),
        };
        problems.push(Problem { line, message: format!("{what}: {}", with_suggestion(error)) });
        if !removed {
            return false;
        }
    }
}

/// The line of what makes the table whose header is on line `header` not
/// read as a `T` (a value of the wrong type, say): the table's own text is
/// parsed again, where the parser knows the place; `header` when it does
/// not.
fn value_line<T: serde::de::DeserializeOwned>(text: &str, header: usize) -> usize {
    if header == 0 {
        return 0;
    }
    let body: Vec<&str> = text.lines().skip(header).take_while(|line| !line.trim_start().starts_with('[')).collect();
    let body = body.join("\n");
    match toml::from_str::<T>(&body) {
        Err(e) => e.span().map_or(header, |span| header + line_at(&body, span.start)),
        Ok(_) => header,
    }
}

/// The key serde's "unknown field `x`, expected …" names.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    Some(rest.split_once('`')?.0.to_owned())
}

/// The 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// The line of the `[name]` table header, or 0.
fn table_line(text: &str, name: &str) -> usize {
    let header = format!("[{name}]");
    text.lines()
        .position(|line| line.split('#').next().unwrap_or("").trim() == header)
        .map_or(0, |index| index + 1)
}

/// The line of the assignment to `key` in the table whose header is on
/// line `header` (up to the next header), or `header` itself.
fn key_line_after(text: &str, header: usize, key: &str) -> usize {
    text.lines()
        .enumerate()
        .skip(header)
        .take_while(|(_, line)| !line.trim_start().starts_with('['))
        .find(|(_, line)| line.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')))
        .map_or(header, |(index, _)| index + 1)
}

/// The first line where `key` starts a table header or an assignment, or 0.
fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let code = line.split('#').next().unwrap_or("").trim().trim_start_matches('[').trim_start_matches('[');
            code.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(['=', ']', '.']))
        })
        .map_or(0, |index| index + 1)
}

/// The 1-based lines of the `[[name]]` array-of-tables headers, in order.
fn header_lines(text: &str, name: &str) -> Vec<usize> {
    let header = format!("[[{name}]]");
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split('#').next().unwrap_or("");
            code.chars().filter(|c| !c.is_whitespace()).collect::<String>() == header
        })
        .map(|(index, _)| index + 1)
        .collect()
}

/// Adds "did you mean" to serde's "unknown field `x`, expected one of `a`,
/// `b`" when one of the expected names is close to the unknown one.
fn with_suggestion(message: String) -> String {
    let Some(rest) = message.split("unknown field `").nth(1) else { return message };
    let Some((unknown, rest)) = rest.split_once('`') else { return message };
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    match provider_abi::suggest::closest(unknown, expected) {
        Some(meant) => format!("{}\ndid you mean `{meant}`?", message.trim_end()),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_and_extras_are_built_in_unless_the_manifest_says_otherwise() {
        let base = Path::new("/opt");
        let default = Manifest::parse("", base).unwrap().host.builtins();
        assert_eq!((default.logging, default.extras), (true, true));
        assert_eq!(default.log_limit, LogLimit { per_second: 50, burst: 200 });

        let off = Manifest::parse("[host]\nbuiltins = []", base).unwrap().host.builtins();
        assert_eq!((off.logging, off.extras), (false, false));

        let one = Manifest::parse("[host]\nbuiltins = [\"wasmcloud:extras\"]\nactor_log_rate = 5", base).unwrap();
        let one = one.host.builtins();
        assert_eq!((one.logging, one.extras), (false, true));
        assert_eq!(one.log_limit, LogLimit { per_second: 5, burst: 20 });
    }

    #[test]
    fn a_builtin_the_host_cannot_serve_is_refused_by_name() {
        let err = Manifest::parse("[host]\nbuiltins = [\"wascc:keyvalue\"]", Path::new("/opt")).unwrap_err().to_string();
        assert!(err.contains("does not serve wascc:keyvalue itself"), "{err}");
        let err = Manifest::parse("[host]\nactor_log_rate = 0", Path::new("/opt")).unwrap_err().to_string();
        assert!(err.contains("actor_log_rate and actor_log_burst must be above zero"), "{err}");
    }

    #[test]
    fn the_documented_example_parses() {
        let text = include_str!("../../../boards/examples/manifest.toml");
        let manifest = Manifest::parse(text, Path::new("/opt/host-edge")).unwrap();
        assert!(!manifest.actors.is_empty());
        assert!(manifest.actors[0].path.starts_with("/opt/host-edge"));
    }

    #[test]
    fn the_raspberry_pi_bundle_manifest_parses() {
        let text = include_str!("../../../boards/raspberry-pi/manifest.toml");
        let manifest = Manifest::parse(text, Path::new("/opt/host-edge")).unwrap();
        assert_eq!(manifest.providers.len(), 2);
        assert_eq!(manifest.links.len(), 2);
        assert_eq!(manifest.providers[0].path, Path::new("/opt/host-edge/providers/keyvalue_sqlite.par.gz"));
    }

    #[test]
    fn a_mistyped_key_is_named_with_its_line_and_the_key_meant() {
        let err = Manifest::parse("[limits]\nfuel_per_call = 1\n\n[[actor]]\npth = \"a.wasm\"\n", Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("unknown field `pth`"), "{err}");
        assert!(err.contains("did you mean `path`?"), "{err}");
    }

    #[test]
    fn every_problem_of_a_manifest_is_listed_in_one_run_each_with_its_line() {
        let text = "[hots]\nstate_dir = \"s\"\n\n[host]\nmetrics_adress = \"off\"\n\n[[actor]]\npath = \"a.wasm\"\ninstances = 0\n\n\
                    [[provider]]\nname = \"kv\"\npth = \"kv.par\"\n\n[[provider]]\nname = \"http\"\npath = \"http.par\"\n\n\
                    [[link]]\nactor = \"a\"\ncapability = \"wascc:keyvalue\"\nprovider = \"kv2\"\n";
        let (manifest, problems) = Manifest::parse_all(text, Path::new("/opt"));
        let shown: Vec<String> = problems.iter().map(Problem::to_string).collect();
        let expect = [
            "line 1: `hots` is not a section of a manifest (did you mean `host`?)",
            "line 5: [host]: unknown field `metrics_adress`",
            "did you mean `metrics_address`?",
            "line 13: [[provider]] #1: unknown field `pth`",
            "line 7: [[actor]] #1: instances must be between 1 and 256, not 0",
            "line 19: [[link]] for a on wascc:keyvalue names provider `kv2`, which no [[provider]] defines",
        ];
        let all = shown.join("\n");
        for expected in expect {
            assert!(all.contains(expected), "{expected:?} in:\n{all}");
        }
        // What reads is kept for the checks that follow: the actor, the
        // provider that reads, and the link.
        let manifest = manifest.expect("the rest reads");
        assert_eq!((manifest.actors.len(), manifest.providers.len(), manifest.links.len()), (1, 1, 1));
        assert_eq!(manifest.providers[0].line, 15, "lines follow the entries kept");
    }

    #[test]
    fn text_that_is_not_toml_is_one_problem_with_its_line() {
        let (manifest, problems) = Manifest::parse_all("[host]\nstate_dir = \n", Path::new("/opt"));
        assert!(manifest.is_none());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, 2, "{problems:?}");
    }

    #[test]
    fn entries_know_the_line_of_their_header() {
        let text = "# a comment\n[[provider]]\nname = \"kv\"\npath = \"kv.so\"\n\n[[link]] # the store\nactor = \"a\"\ncapability = \"wascc:keyvalue\"\nprovider = \"kv\"\n";
        let manifest = Manifest::parse(text, Path::new(".")).unwrap();
        assert_eq!(manifest.providers[0].line, 2);
        assert_eq!(manifest.links[0].line, 6);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Manifest::parse("[policy]\ntrusted_issuer = []\n", Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("trusted_issuer"), "{err}");
    }

    #[test]
    fn a_typo_in_a_trusted_issuer_is_refused() {
        let err = Manifest::parse("[policy]\ntrusted_issuers = [\"ABCDEF\"]\n", Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("not a valid account key"), "{err}");
    }

    #[test]
    fn a_link_to_a_missing_provider_is_refused() {
        let text = "[[link]]\nactor = \"counter\"\ncapability = \"wascc:keyvalue\"\nprovider = \"kv\"\n";
        let err = Manifest::parse(text, Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("no [[provider]] defines"), "{err}");
    }

    #[test]
    fn actor_limits_override_the_defaults() {
        let text = "[limits]\nfuel_per_call = 10\n[[actor]]\npath = \"a.wasm\"\nmax_memory_bytes = 65536\n";
        let manifest = Manifest::parse(text, Path::new(".")).unwrap();
        let limits = manifest.actors[0].limits(manifest.limits);
        assert_eq!(limits.fuel_per_call, 10);
        assert_eq!(limits.max_memory_bytes, 65536);
    }
}
