//! Manifest reload: the commands that take a running host from one manifest
//! to the next, changing only what changed.
//!
//! On SIGHUP the host reads its manifest again. Restarting everything would
//! drop every connection and every actor's in-memory state for a one-line
//! edit, so [`plan`] compares the manifest the host was running (`old`) with
//! the new one, looks at what actually runs ([`Status`]) to identify actors
//! and links, and returns the [`Command`]s for the difference. The host then
//! executes them one by one, like commands from `host-edge ctl`.
//!
//! Identity:
//! - actors by their module's path (a manifest names files, not keys);
//!   whether an actor's file changed is decided by its module hash (claims
//!   section cut out) against the hash of the actor running from that path,
//!   so re-signing a module without changing its code changes nothing;
//! - providers by name;
//! - links by (actor, capability, binding), the actor resolved to its
//!   module key through the running actors when the manifest names it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::capability::CapabilityId;
use crate::command::{ActorStatus, Command, LinkSpec, LinkStatus, Status};
use crate::manifest::{ActorEntry, LinkEntry, Manifest, ProviderEntry};

/// The commands that take a host running `old` (as `running` reports it) to
/// `new`, in the order they must run: unlinks, actor stops, provider
/// removals, provider additions, actor starts, actor replacements, links.
///
/// - An actor in `new` whose file changed (by module hash), or whose
///   instances or limits changed between the manifests, is replaced
///   (`force: false`, so a lower `rev` is refused); only the settings that
///   differ from the running ones are passed. An actor in `old` but not in
///   `new` is stopped; one in `new` that does not run (added, or one that
///   failed to start before) is started. An actor whose file cannot be read
///   gets no command (a warning is logged); the rest of the plan stands.
/// - A provider removed from the manifest is removed; one whose path or
///   settings changed is removed and added again, and every link to it is
///   made again (removing a provider unlinks everything linked to it); one
///   that is new, or not loaded, is added.
/// - A link removed from the manifest is unlinked; one whose provider,
///   values or grant changed is unlinked and linked again; one that is new,
///   or not in place, is linked. No unlink is sent for a link that a stop or
///   a provider removal in the same plan takes away anyway.
///
/// Nothing is done about what the host runs that neither manifest mentions
/// (actors started, for instance, with `host-edge ctl start`).
pub fn plan(old: &Manifest, new: &Manifest, running: &Status) -> Vec<Command> {
    plan_with(old, new, running, Options::default())
}

/// How a plan may change what runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Replace an actor with a lower `rev` than the running one (a fleet
    /// rollback to the last good deployment); a reload never does.
    pub allow_lower_rev: bool,
}

/// [`plan`], with `options`.
///
/// An actor whose path is gone from `new` while a new path holds a module
/// with the same module key is replaced in place (with that path), not
/// stopped and started again: a renamed file, or a fleet deployment's next
/// version kept under its hash, changes version with no request refused.
pub fn plan_with(old: &Manifest, new: &Manifest, running: &Status, options: Options) -> Vec<Command> {
    let mut plan = Plan::default();
    let stopped = plan_actors(old, new, running, options, &mut plan);
    let providers = plan_providers(old, new, running, &mut plan);
    plan_links(old, new, running, &stopped, &providers, &mut plan);
    plan.into_commands()
}

/// The commands, one list per kind, to be concatenated in execution order.
#[derive(Default)]
struct Plan {
    unlinks: Vec<Command>,
    stops: Vec<Command>,
    provider_removals: Vec<Command>,
    provider_additions: Vec<Command>,
    starts: Vec<Command>,
    replaces: Vec<Command>,
    links: Vec<Command>,
}

impl Plan {
    fn into_commands(self) -> Vec<Command> {
        [
            self.unlinks,
            self.stops,
            self.provider_removals,
            self.provider_additions,
            self.starts,
            self.replaces,
            self.links,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Entries by path; the first of duplicates wins, as the host can run a
/// module only once.
fn actors_by_path(manifest: &Manifest) -> BTreeMap<&Path, &ActorEntry> {
    let mut by_path = BTreeMap::new();
    for entry in &manifest.actors {
        by_path.entry(entry.path.as_path()).or_insert(entry);
    }
    by_path
}

fn running_from<'a>(running: &'a Status, path: &Path) -> Option<&'a ActorStatus> {
    running.actors.iter().find(|a| a.path.as_deref() == Some(path))
}

/// The module key in the claims of the module at `path`, unverified (the
/// command that loads it verifies it).
fn module_key(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    crate::claims::inspect(&bytes, &Default::default(), 0).claims.map(|c| c.subject)
}

/// Plans stops, starts and replacements; returns the module keys stopped.
fn plan_actors(old: &Manifest, new: &Manifest, running: &Status, options: Options, plan: &mut Plan) -> BTreeSet<String> {
    let old_actors = actors_by_path(old);
    let new_actors = actors_by_path(new);
    // New paths nothing runs from, by the module key of their file: a
    // running actor gone from its old path is replaced by one of these.
    let mut arriving: BTreeMap<String, &Path> = new_actors
        .keys()
        .filter(|path| running_from(running, path).is_none())
        .filter_map(|path| module_key(path).map(|key| (key, *path)))
        .collect();
    let mut replacing = BTreeSet::new();
    let mut stopped = BTreeSet::new();
    for path in old_actors.keys() {
        if new_actors.contains_key(path) {
            continue;
        }
        if let Some(actor) = running_from(running, path) {
            if let Some(next) = arriving.remove(&actor.key) {
                let entry = new_actors[next];
                let limits = entry.limits(new.limits);
                plan.replaces.push(Command::ReplaceActor {
                    path: next.to_path_buf(),
                    force: options.allow_lower_rev,
                    instances: (actor.instances != entry.instances).then_some(entry.instances),
                    limits: (actor.limits != limits).then_some(limits),
                });
                replacing.insert(next);
                continue;
            }
            plan.stops.push(Command::StopActor {
                actor: actor.key.clone(),
            });
            stopped.insert(actor.key.clone());
        }
    }
    for (path, entry) in new_actors.iter().filter(|(path, _)| !replacing.contains(*path)) {
        let hash = match std::fs::read(path) {
            Ok(bytes) => match crate::claims::section::module_hash(&bytes) {
                Ok(hash) => hash,
                Err(e) => {
                    tracing::warn!(path = %path.display(), "reload: actor left as it is: {e}");
                    continue;
                }
            },
            Err(e) => {
                tracing::warn!(path = %path.display(), "reload: actor left as it is: cannot read it: {e}");
                continue;
            }
        };
        let limits = entry.limits(new.limits);
        let Some(actor) = running_from(running, path) else {
            plan.starts.push(Command::StartActor {
                path: path.to_path_buf(),
                instances: entry.instances,
                limits,
            });
            continue;
        };
        // A setting counts as changed when the manifest changed it (or did
        // not declare this actor before) and the actor does not already run
        // with the new value.
        let declared = old_actors.get(path).map(|o| (o.instances, o.limits(old.limits)));
        let instances = (declared.is_none_or(|(i, _)| i != entry.instances) && actor.instances != entry.instances)
            .then_some(entry.instances);
        let limits = (declared.is_none_or(|(_, l)| l != limits) && actor.limits != limits).then_some(limits);
        let content_changed = !actor.hash.eq_ignore_ascii_case(&hash);
        if content_changed || instances.is_some() || limits.is_some() {
            plan.replaces.push(Command::ReplaceActor {
                path: path.to_path_buf(),
                force: options.allow_lower_rev,
                instances,
                limits,
            });
        }
    }
    stopped
}

/// What the provider part of a plan did, for the links.
#[derive(Default)]
struct ProviderChanges {
    /// Providers removed (for good or to be added again): their links go.
    removed: BTreeSet<String>,
    /// Providers added (new, changed or not loaded): links to them must be
    /// made.
    added: BTreeSet<String>,
}

fn providers_by_name(manifest: &Manifest) -> BTreeMap<&str, &ProviderEntry> {
    manifest.providers.iter().map(|p| (p.name.as_str(), p)).collect()
}

fn plan_providers(old: &Manifest, new: &Manifest, running: &Status, plan: &mut Plan) -> ProviderChanges {
    let old_providers = providers_by_name(old);
    let new_providers = providers_by_name(new);
    let loaded = |name: &str| running.providers.iter().find(|p| p.name == name);
    let mut changes = ProviderChanges::default();
    for name in old_providers.keys() {
        if !new_providers.contains_key(name) && loaded(name).is_some() {
            plan.provider_removals.push(Command::RemoveProvider {
                name: (*name).to_owned(),
            });
            changes.removed.insert((*name).to_owned());
        }
    }
    for (name, entry) in &new_providers {
        if let Some(current) = loaded(name) {
            let changed = match old_providers.get(name) {
                Some(before) => before.path != entry.path || before.settings != entry.settings,
                // Loaded, but not from the old manifest: compare with what runs.
                None => current.path != entry.path || current.settings != entry.settings,
            };
            if !changed {
                continue;
            }
            plan.provider_removals.push(Command::RemoveProvider {
                name: (*name).to_owned(),
            });
            changes.removed.insert((*name).to_owned());
        }
        plan.provider_additions.push(Command::AddProvider {
            name: (*name).to_owned(),
            path: entry.path.clone(),
            settings: entry.settings.clone(),
        });
        changes.added.insert((*name).to_owned());
    }
    changes
}

/// A link's identity: actor (module key when it runs), capability, binding.
type LinkKey = (String, CapabilityId, String);

/// The module key a manifest's actor reference names, when it is running
/// and stays; otherwise the reference as written, for the host to resolve
/// when the command runs (an actor started by this plan, say).
fn resolve(actor: &str, running: &Status, stopped: &BTreeSet<String>) -> String {
    let key = if running.actors.iter().any(|a| a.key == actor) {
        Some(actor)
    } else {
        let mut named = running.actors.iter().filter(|a| a.name == actor);
        match (named.next(), named.next()) {
            (Some(only), None) => Some(only.key.as_str()),
            _ => None,
        }
    };
    match key {
        Some(key) if !stopped.contains(key) => key.to_owned(),
        _ => actor.to_owned(),
    }
}

fn links_by_key<'a>(
    manifest: &'a Manifest,
    running: &Status,
    stopped: &BTreeSet<String>,
) -> BTreeMap<LinkKey, &'a LinkEntry> {
    let mut by_key = BTreeMap::new();
    for link in &manifest.links {
        let key = (
            resolve(&link.actor, running, stopped),
            link.capability.clone(),
            link.binding.clone(),
        );
        by_key.entry(key).or_insert(link);
    }
    by_key
}

fn plan_links(
    old: &Manifest,
    new: &Manifest,
    running: &Status,
    stopped: &BTreeSet<String>,
    providers: &ProviderChanges,
    plan: &mut Plan,
) {
    let old_links = links_by_key(old, running, stopped);
    let new_links = links_by_key(new, running, stopped);
    let in_place = |key: &LinkKey| -> Option<&LinkStatus> {
        running
            .links
            .iter()
            .find(|l| l.actor == key.0 && l.capability == key.1 && l.binding == key.2)
    };
    // Whether this plan takes the link away anyway (stopping its actor or
    // removing its provider).
    let goes_anyway = |link: &LinkStatus| stopped.contains(&link.actor) || providers.removed.contains(&link.provider);
    let unlink = |key: &LinkKey| Command::Unlink {
        actor: key.0.clone(),
        capability: key.1.clone(),
        binding: key.2.clone(),
    };
    for key in old_links.keys() {
        if new_links.contains_key(key) {
            continue;
        }
        if let Some(current) = in_place(key) {
            if !goes_anyway(current) {
                plan.unlinks.push(unlink(key));
            }
        }
    }
    for (key, entry) in &new_links {
        let unchanged = old_links
            .get(key)
            .is_some_and(|before| before.provider == entry.provider && before.values == entry.values && before.grant == entry.grant);
        let current = in_place(key);
        let stays = current.is_some_and(|c| !goes_anyway(c));
        if unchanged && stays && !providers.added.contains(&entry.provider) {
            continue;
        }
        if stays {
            plan.unlinks.push(unlink(key));
        }
        plan.links.push(Command::Link(LinkSpec {
            actor: key.0.clone(),
            capability: key.1.clone(),
            binding: key.2.clone(),
            provider: entry.provider.clone(),
            values: entry.values.clone(),
            grant: entry.grant.clone(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use crate::command::ProviderStatus;
    use crate::engine::Limits;

    /// A plain, valid wasm module: magic and version only.
    const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";
    /// The same with one custom section (`x`), so different code.
    const OTHER_MODULE: &[u8] = b"\0asm\x01\0\0\0\x00\x02\x01x";

    const COUNTER_KEY: &str = "MCOUNTERKEY";
    
    const BASE: &str = r#"
[[actor]]
path = "counter.wasm"

[[provider]]
name = "kv"
path = "kv.so"
settings = { MODE = "wal" }

[[provider]]
name = "http"
path = "http.so"

[[link]]
actor = "counter"
capability = "wascc:keyvalue"
provider = "kv"
values = { PATH = "/var/lib/counter.db" }

[[link]]
actor = "counter"
capability = "wascc:http_server"
provider = "http"
values = { PORT = "8080" }
"#;

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("counter.wasm"), EMPTY_MODULE).unwrap();
            Fixture { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn manifest(&self, text: &str) -> Manifest {
            Manifest::parse(text, self.dir.path()).unwrap()
        }

        /// What a host running [`BASE`] reports.
        fn status(&self) -> Status {
            let kv = CapabilityId::parse("wascc:keyvalue").unwrap();
            let http = CapabilityId::parse("wascc:http_server").unwrap();
            Status {
                actors: vec![actor_status(COUNTER_KEY, "counter", &self.path("counter.wasm"), EMPTY_MODULE)],
                providers: vec![
                    ProviderStatus {
                        name: "http".into(),
                        capability: http.clone(),
                        description: "HTTP server".into(),
                        path: self.path("http.so"),
                        settings: BTreeMap::new(),
                        rev: None,
                        health: Ok(()),
                    },
                    ProviderStatus {
                        name: "kv".into(),
                        capability: kv.clone(),
                        description: "SQLite".into(),
                        path: self.path("kv.so"),
                        settings: BTreeMap::from([("MODE".into(), "wal".into())]),
                        rev: None,
                        health: Ok(()),
                    },
                ],
                links: vec![
                    LinkStatus {
                        actor: COUNTER_KEY.into(),
                        capability: http,
                        binding: "default".into(),
                        provider: "http".into(),
                        values: BTreeMap::from([("PORT".into(), "8080".into())]),
                        grant: vec![],
                    },
                    LinkStatus {
                        actor: COUNTER_KEY.into(),
                        capability: kv,
                        binding: "default".into(),
                        provider: "kv".into(),
                        values: BTreeMap::from([("PATH".into(), "/var/lib/counter.db".into())]),
                        // The effective grant the host reports, not the
                        // manifest's rules: never compared with them.
                        grant: vec!["signed: any key".into()],
                    },
                ],
                builtins: vec![],
            }
        }
    }

    fn actor_status(key: &str, name: &str, path: &Path, module: &[u8]) -> ActorStatus {
        ActorStatus {
            key: key.into(),
            name: name.into(),
            rev: Some(1),
            ver: Some("0.1.0".into()),
            hash: crate::claims::section::module_hash(module).unwrap(),
            path: Some(path.to_owned()),
            instances: 1,
            live_instances: 1,
            memory_bytes: 0,
            limits: Limits::default(),
            generation: 0,
        }
    }

    fn kv() -> CapabilityId {
        CapabilityId::parse("wascc:keyvalue").unwrap()
    }

    fn http() -> CapabilityId {
        CapabilityId::parse("wascc:http_server").unwrap()
    }

    fn kind(command: &Command) -> &'static str {
        match command {
            Command::StartActor { .. } => "start",
            Command::StopActor { .. } => "stop",
            Command::ReplaceActor { .. } => "replace",
            Command::AddProvider { .. } => "add-provider",
            Command::RemoveProvider { .. } => "remove-provider",
            Command::Link(_) => "link",
            Command::Unlink { .. } => "unlink",
        }
    }

    #[test]
    fn an_unchanged_manifest_needs_nothing() {
        let f = Fixture::new();
        let manifest = f.manifest(BASE);
        assert_eq!(plan(&manifest, &f.manifest(BASE), &f.status()), vec![]);
    }

    #[test]
    fn a_changed_link_value_is_unlinked_and_linked_again() {
        let f = Fixture::new();
        let new = BASE.replace("\"8080\"", "\"9090\"");
        let commands = plan(&f.manifest(BASE), &f.manifest(&new), &f.status());
        assert_eq!(
            commands,
            vec![
                Command::Unlink {
                    actor: COUNTER_KEY.into(),
                    capability: http(),
                    binding: "default".into(),
                },
                Command::Link(LinkSpec {
                    actor: COUNTER_KEY.into(),
                    capability: http(),
                    binding: "default".into(),
                    provider: "http".into(),
                    values: BTreeMap::from([("PORT".into(), "9090".into())]),
                    grant: vec![],
                }),
            ]
        );
    }

    #[test]
    fn a_changed_grant_is_unlinked_and_linked_again() {
        let f = Fixture::new();
        let new = BASE.replace(
            "values = { PATH = \"/var/lib/counter.db\" }",
            "values = { PATH = \"/var/lib/counter.db\" }\ngrant = [\"prefix:counter:\"]",
        );
        let commands = plan(&f.manifest(BASE), &f.manifest(&new), &f.status());
        assert_eq!(commands.iter().map(kind).collect::<Vec<_>>(), ["unlink", "link"]);
        match &commands[1] {
            Command::Link(spec) => {
                assert_eq!(spec.capability, kv());
                assert_eq!(spec.grant, vec!["prefix:counter:".to_owned()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_changed_actor_file_is_replaced() {
        let f = Fixture::new();
        std::fs::write(f.path("counter.wasm"), OTHER_MODULE).unwrap();
        let commands = plan(&f.manifest(BASE), &f.manifest(BASE), &f.status());
        assert_eq!(
            commands,
            vec![Command::ReplaceActor {
                path: f.path("counter.wasm"),
                force: false,
                instances: None,
                limits: None,
            }]
        );
    }

    #[test]
    fn a_module_of_the_running_key_at_a_new_path_replaces_the_actor_in_place() {
        let f = Fixture::new();
        let (issuer, subject) = (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_module());
        let options = crate::claims::SignOptions { name: Some("counter".into()), ..Default::default() };
        let v1 = crate::claims::sign_module(EMPTY_MODULE, &issuer, &subject, &options).unwrap();
        let v2 = crate::claims::sign_module(OTHER_MODULE, &issuer, &subject, &options).unwrap();
        std::fs::write(f.path("counter.wasm"), &v1).unwrap();
        std::fs::write(f.path("counter-v2.wasm"), &v2).unwrap();
        let mut running = f.status();
        running.actors = vec![actor_status(&subject.public_key(), "counter", &f.path("counter.wasm"), &v1)];
        for link in &mut running.links {
            link.actor = subject.public_key();
        }
        let renamed = BASE.replace("counter.wasm", "counter-v2.wasm").replace("[[actor]]\npath", "[[actor]]\ninstances = 2\npath");
        let replace = |allow_lower_rev| Command::ReplaceActor {
            path: f.path("counter-v2.wasm"),
            force: allow_lower_rev,
            instances: Some(2),
            limits: None,
        };
        assert_eq!(plan(&f.manifest(BASE), &f.manifest(&renamed), &running), vec![replace(false)], "no stop, no start, no relink");
        let rollback = Options { allow_lower_rev: true };
        assert_eq!(plan_with(&f.manifest(BASE), &f.manifest(&renamed), &running, rollback), vec![replace(true)]);
    }

    #[test]
    fn a_re_signed_actor_with_the_same_code_is_left_alone() {
        let f = Fixture::new();
        let signed = crate::claims::section::append_claims(EMPTY_MODULE, "a.token.here");
        std::fs::write(f.path("counter.wasm"), signed).unwrap();
        assert_eq!(plan(&f.manifest(BASE), &f.manifest(BASE), &f.status()), vec![]);
    }

    #[test]
    fn changed_instances_or_limits_replace_with_only_those() {
        let f = Fixture::new();
        let new = BASE.replace("path = \"counter.wasm\"", "path = \"counter.wasm\"\ninstances = 3");
        assert_eq!(
            plan(&f.manifest(BASE), &f.manifest(&new), &f.status()),
            vec![Command::ReplaceActor {
                path: f.path("counter.wasm"),
                force: false,
                instances: Some(3),
                limits: None,
            }]
        );
        // Default limits changed for every actor.
        let new = format!("[limits]\nfuel_per_call = 1000\n{BASE}");
        assert_eq!(
            plan(&f.manifest(BASE), &f.manifest(&new), &f.status()),
            vec![Command::ReplaceActor {
                path: f.path("counter.wasm"),
                force: false,
                instances: None,
                limits: Some(Limits {
                    fuel_per_call: 1000,
                    ..Limits::default()
                }),
            }]
        );
    }

    #[test]
    fn changed_provider_settings_re_add_it_and_re_link_its_links() {
        let f = Fixture::new();
        let new = BASE.replace("MODE = \"wal\"", "MODE = \"delete\"");
        let commands = plan(&f.manifest(BASE), &f.manifest(&new), &f.status());
        assert_eq!(
            commands,
            vec![
                Command::RemoveProvider { name: "kv".into() },
                Command::AddProvider {
                    name: "kv".into(),
                    path: f.path("kv.so"),
                    settings: BTreeMap::from([("MODE".into(), "delete".into())]),
                },
                Command::Link(LinkSpec {
                    actor: COUNTER_KEY.into(),
                    capability: kv(),
                    binding: "default".into(),
                    provider: "kv".into(),
                    values: BTreeMap::from([("PATH".into(), "/var/lib/counter.db".into())]),
                    grant: vec![],
                }),
            ]
        );
    }

    #[test]
    fn a_changed_provider_path_re_adds_it() {
        let f = Fixture::new();
        let new = BASE.replace("path = \"http.so\"", "path = \"http2.so\"");
        let commands = plan(&f.manifest(BASE), &f.manifest(&new), &f.status());
        assert_eq!(
            commands.iter().map(kind).collect::<Vec<_>>(),
            ["remove-provider", "add-provider", "link"]
        );
        assert!(matches!(&commands[1], Command::AddProvider { path, .. } if *path == f.path("http2.so")));
    }

    #[test]
    fn a_removed_actor_is_stopped_without_separate_unlinks() {
        let f = Fixture::new();
        let new = "[[provider]]\nname = \"kv\"\npath = \"kv.so\"\nsettings = { MODE = \"wal\" }\n\
                   [[provider]]\nname = \"http\"\npath = \"http.so\"\n";
        let commands = plan(&f.manifest(BASE), &f.manifest(new), &f.status());
        assert_eq!(
            commands,
            vec![Command::StopActor {
                actor: COUNTER_KEY.into()
            }]
        );
    }

    #[test]
    fn a_removed_link_is_unlinked() {
        let f = Fixture::new();
        let cut = BASE.find("[[link]]\nactor = \"counter\"\ncapability = \"wascc:http_server\"").unwrap();
        let new = &BASE[..cut];
        let commands = plan(&f.manifest(BASE), &f.manifest(new), &f.status());
        assert_eq!(
            commands,
            vec![Command::Unlink {
                actor: COUNTER_KEY.into(),
                capability: http(),
                binding: "default".into(),
            }]
        );
    }

    #[test]
    fn a_removed_provider_takes_its_links_with_it() {
        let f = Fixture::new();
        let cut = BASE.find("[[link]]\nactor = \"counter\"\ncapability = \"wascc:http_server\"").unwrap();
        let new = BASE[..cut].replace("[[provider]]\nname = \"http\"\npath = \"http.so\"\n", "");
        let commands = plan(&f.manifest(BASE), &f.manifest(&new), &f.status());
        assert_eq!(commands, vec![Command::RemoveProvider { name: "http".into() }]);
    }

    #[test]
    fn an_added_actor_is_started_and_linked_by_name() {
        let f = Fixture::new();
        std::fs::write(f.path("echo.wasm"), OTHER_MODULE).unwrap();
        let new = format!(
            "{BASE}\n[[actor]]\npath = \"echo.wasm\"\ninstances = 2\nfuel_per_call = 5\n\
             [[link]]\nactor = \"echo\"\ncapability = \"wascc:keyvalue\"\nprovider = \"kv\"\nbinding = \"cache\"\n"
        );
        let commands = plan(&f.manifest(BASE), &f.manifest(&new), &f.status());
        assert_eq!(
            commands,
            vec![
                Command::StartActor {
                    path: f.path("echo.wasm"),
                    instances: 2,
                    limits: Limits {
                        fuel_per_call: 5,
                        ..Limits::default()
                    },
                },
                Command::Link(LinkSpec {
                    actor: "echo".into(),
                    capability: kv(),
                    binding: "cache".into(),
                    provider: "kv".into(),
                    values: BTreeMap::new(),
                    grant: vec![],
                }),
            ]
        );
    }

    #[test]
    fn link_actors_named_by_name_or_key_are_the_same_link() {
        let f = Fixture::new();
        let new = BASE.replace("actor = \"counter\"", &format!("actor = \"{COUNTER_KEY}\""));
        assert_eq!(plan(&f.manifest(BASE), &f.manifest(&new), &f.status()), vec![]);
    }

    #[test]
    fn an_unreadable_actor_gets_no_command_but_the_rest_is_planned() {
        let f = Fixture::new();
        std::fs::remove_file(f.path("counter.wasm")).unwrap();
        std::fs::write(f.path("broken.wasm"), b"not wasm at all").unwrap();
        let new = format!(
            "{}\n[[actor]]\npath = \"broken.wasm\"\n[[actor]]\npath = \"missing.wasm\"\n",
            BASE.replace("\"8080\"", "\"9090\"")
        );
        let commands = plan(&f.manifest(BASE), &f.manifest(&new), &f.status());
        assert_eq!(commands.iter().map(kind).collect::<Vec<_>>(), ["unlink", "link"]);
    }

    #[test]
    fn an_actor_that_failed_to_start_is_started() {
        let f = Fixture::new();
        let mut status = f.status();
        status.actors.clear();
        status.links.clear();
        let commands = plan(&f.manifest(BASE), &f.manifest(BASE), &status);
        assert_eq!(commands.iter().map(kind).collect::<Vec<_>>(), ["start", "link", "link"]);
        // Not running, so the links name the actor as the manifest does.
        assert!(matches!(&commands[1], Command::Link(spec) if spec.actor == "counter"));
    }

    #[test]
    fn commands_come_in_execution_order() {
        let f = Fixture::new();
        std::fs::write(f.path("counter.wasm"), OTHER_MODULE).unwrap();
        std::fs::write(f.path("echo.wasm"), EMPTY_MODULE).unwrap();
        std::fs::write(f.path("old.wasm"), EMPTY_MODULE).unwrap();
        let old = format!(
            "{BASE}\n[[actor]]\npath = \"old.wasm\"\n[[provider]]\nname = \"gone\"\npath = \"gone.so\"\n"
        );
        let new = format!(
            "{}\n[[actor]]\npath = \"echo.wasm\"\n[[provider]]\nname = \"extra\"\npath = \"extra.so\"\n\
             [[link]]\nactor = \"echo\"\ncapability = \"wascc:extras\"\nprovider = \"extra\"\n",
            BASE.replace("\"8080\"", "\"9090\"")
        );
        let mut status = f.status();
        // The running counter is the old code.
        status.actors[0].hash = crate::claims::section::module_hash(EMPTY_MODULE).unwrap();
        status.actors.push(actor_status("MOLDKEY", "old", &f.path("old.wasm"), EMPTY_MODULE));
        status.providers.push(ProviderStatus {
            name: "gone".into(),
            capability: CapabilityId::parse("wascc:logging").unwrap(),
            description: "logs".into(),
            path: f.path("gone.so"),
            settings: BTreeMap::new(),
            rev: None,
            health: Err("unwell".into()),
        });
        let commands = plan(&f.manifest(&old), &f.manifest(&new), &status);
        assert_eq!(
            commands.iter().map(kind).collect::<Vec<_>>(),
            ["unlink", "stop", "remove-provider", "add-provider", "start", "replace", "link", "link"],
            "{commands:#?}"
        );
        assert_eq!(commands[1], Command::StopActor { actor: "MOLDKEY".into() });
        assert_eq!(commands[2], Command::RemoveProvider { name: "gone".into() });
    }

    #[test]
    fn a_name_reused_by_a_stopped_and_a_started_actor_is_resolved_late() {
        let f = Fixture::new();
        std::fs::write(f.path("counter2.wasm"), OTHER_MODULE).unwrap();
        let new = BASE.replace("counter.wasm", "counter2.wasm");
        let commands = plan(&f.manifest(BASE), &f.manifest(&new), &f.status());
        assert_eq!(
            commands.iter().map(kind).collect::<Vec<_>>(),
            ["stop", "start", "link", "link"],
            "{commands:#?}"
        );
        for command in &commands[2..] {
            assert!(matches!(command, Command::Link(spec) if spec.actor == "counter"), "{command:?}");
        }
    }
}
