//! Checking a manifest against what it names before anything starts: the
//! provider libraries and the settings they declare, the actors' files and
//! claims, and every link between them.
//!
//! `host-edge check` prints every problem; `host-edge run` refuses to start
//! on any, so a deployment is either whole or not running at all (and
//! systemd's `Restart=on-failure` sees the failure). Each problem names the
//! manifest line of the entry it is about and, for a mistyped name, the
//! name that was probably meant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use provider_abi::settings::Scope;
use provider_abi::suggest::did_you_mean;

use crate::actor::{Actor, LoadError};
use crate::claims::policy::now_secs;
use crate::claims::TrustedClock;
use crate::grant::{Rule, Source};
use crate::manifest::Manifest;
use crate::capability::{CapabilityId, WellKnown};
use crate::provider::trust::{self, Checked};
use crate::provider::{ProviderError, ProviderLibrary, ProviderTrust};

pub use crate::manifest::Problem;

/// What a check verified, compiled and opened, for the start that follows
/// it to use instead of doing it all again (a 2 MiB actor's claims and
/// compilation are most of a cold start).
#[derive(Debug, Default)]
pub struct Prepared {
    /// Actors by the file they came from.
    actors: BTreeMap<PathBuf, Actor>,
    /// Provider libraries by provider name, with the file they came from.
    libraries: BTreeMap<String, (PathBuf, ProviderLibrary)>,
}

impl Prepared {
    /// The actor verified from `path`, if the check loaded one from there.
    pub fn take_actor(&mut self, path: &Path) -> Option<Actor> {
        self.actors.remove(path)
    }

    /// The library the check opened for the provider `name` from `path`.
    pub fn take_library(&mut self, name: &str, path: &Path) -> Option<ProviderLibrary> {
        match self.libraries.remove(name) {
            Some((opened, library)) if opened == path => Some(library),
            _ => None,
        }
    }
}

/// Every problem found in `manifest`; empty when it can be served as written.
/// Verified provider libraries are opened from a private scratch folder, so
/// a check writes nothing into the state directory.
pub fn check(manifest: &Manifest) -> Vec<Problem> {
    match tempfile::Builder::new().prefix("host-edge-check").tempdir() {
        Ok(scratch) => prepare_with(manifest, Libraries::Open(scratch.path())).1,
        Err(e) => vec![Problem { line: 0, message: format!("cannot make a scratch folder to check provider libraries in: {e}") }],
    }
}

/// Checks `manifest` as [`check`] does without opening its provider
/// libraries, which runs their initialisers (native code): each provider
/// archive is verified (or a bare library allowed unsigned), and what only
/// the library can tell (the settings it takes) is left to when it is
/// loaded. For a fleet deployment's staging, which must change nothing.
pub fn check_without_libraries(manifest: &Manifest) -> Vec<Problem> {
    prepare_with(manifest, Libraries::Verify).1
}

/// Checks `manifest` as [`check`] does, and keeps what the check loaded;
/// verified provider libraries are written into the state directory, where
/// the host loads them from.
pub fn prepare(manifest: &Manifest) -> (Prepared, Vec<Problem>) {
    prepare_with(manifest, Libraries::Open(&manifest.state_dir()))
}

/// What a check does with the provider files.
#[derive(Clone, Copy)]
enum Libraries<'a> {
    /// Verify them and open the libraries, written under this state folder.
    Open(&'a Path),
    /// Verify them only.
    Verify,
}

/// The trust provider files are checked with: the manifest's policy, the
/// clock the host will check claims against (the system's, never behind
/// the latest signed time the host has seen), and `[host]
/// allow_unsigned_providers`.
pub fn provider_trust(manifest: &Manifest) -> ProviderTrust {
    ProviderTrust {
        policy: manifest.policy.clone(),
        now: trusted_now(manifest),
        allow_unsigned: manifest.host.allow_unsigned_providers.unwrap_or(false),
    }
}

/// Now, by the host's trusted clock.
fn trusted_now(manifest: &Manifest) -> u64 {
    TrustedClock::open(&manifest.state_dir().join(crate::state_dir::CLOCK_FILE)).map_or_else(|_| now_secs(), |c| c.now())
}

/// [`prepare`], opening the provider libraries only when `libraries` says so.
fn prepare_with(manifest: &Manifest, libraries_mode: Libraries<'_>) -> (Prepared, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut note = |line: usize, message: String| problems.push(Problem { line, message });
    let trust = provider_trust(manifest);

    // The actors are read, verified and compiled on a thread of their own
    // while the provider libraries are opened here: neither needs the other,
    // and on a board with more than one core a start is that much shorter.
    let (opened, loaded) = std::thread::scope(|scope| {
        let loading = std::thread::Builder::new()
            .name("preflight".into())
            .spawn_scoped(scope, || load_actors(manifest, trust.now));
        let opened = open_libraries(manifest, &trust, libraries_mode);
        let loaded = match loading {
            Ok(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => load_actors(manifest, trust.now),
        };
        (opened, loaded)
    });

    for entry in &manifest.providers {
        if let Err(refused) = crate::state_dir::provider_name(&entry.name) {
            note(entry.line, format!("[[provider]] {refused}"));
        }
    }
    let mut libraries = BTreeMap::new();
    // What each provider serves: by its descriptor where it was opened, by
    // its signed claims where it was only verified.
    let mut serves: BTreeMap<&str, CapabilityId> = BTreeMap::new();
    for (entry, library) in manifest.providers.iter().zip(opened) {
        let what = format!("[[provider]] `{}`", entry.name);
        match library {
            Ok(Opened::Library(library)) => {
                if let Err(e) = library.settle(&entry.name, Scope::Provider, &entry.settings) {
                    note(entry.line, format!("{what}: {e}"));
                }
                serves.insert(&entry.name, library.capability().clone());
                libraries.insert(entry.name.clone(), (entry.path.clone(), *library));
            }
            Ok(Opened::Verified(Checked::Signed(verified))) => {
                serves.insert(&entry.name, verified.capability.clone());
            }
            Ok(Opened::Verified(Checked::Unsigned)) => {}
            Err(e) => note(entry.line, format!("{what}: {e}")),
        }
    }

    let mut actors: Vec<(PathBuf, Actor)> = Vec::new();
    for (entry, actor) in manifest.actors.iter().zip(loaded) {
        match actor {
            Ok(actor) => {
                if let Some((_, twin)) = actors.iter().find(|(_, a)| a.subject() == actor.subject()) {
                    note(
                        entry.line,
                        format!(
                            "[[actor]] {}: it has the same module key as `{}`; one module key runs once",
                            entry.path.display(),
                            twin.name()
                        ),
                    );
                }
                actors.push((entry.path.clone(), actor));
            }
            Err(e) => note(entry.line, format!("[[actor]] {}: {e}", entry.path.display())),
        }
    }

    for link in &manifest.links {
        let what = format!("[[link]] {} {} -> `{}`", link.actor, link.capability, link.provider);
        let actor = actors.iter().map(|(_, a)| a).find(|a| a.subject() == link.actor || a.name() == link.actor);
        match actor {
            Some(actor) => {
                if !actor.may_use(&link.capability) {
                    note(
                        link.line,
                        format!(
                            "{what}: the actor's signed claims do not grant {}; sign it with that capability",
                            link.capability
                        ),
                    );
                }
            }
            // An actor that failed its own check is reported there already.
            None if manifest.actors.len() > actors.len() => {}
            None => {
                let names: Vec<&str> = actors.iter().map(|(_, a)| a.name()).collect();
                note(
                    link.line,
                    format!(
                        "{what}: no [[actor]] is called `{}`{}",
                        link.actor,
                        did_you_mean(&link.actor, names.iter().copied())
                    ),
                );
            }
        }
        if let Some(capability) = serves.get(link.provider.as_str()) {
            if capability != &link.capability {
                note(link.line, format!("{what}: the provider serves {capability}, not {}", link.capability));
            }
        }
        if let Some((_, library)) = libraries.get(&link.provider) {
            if let Err(e) = library.settle(&link.provider, Scope::Link, &link.values) {
                note(link.line, format!("{what}: {e}"));
            }
        }
        for rule in &link.grant {
            if let Err(e) = rule.parse::<Rule>() {
                note(link.line, format!("{what}: grant: {e}"));
            }
        }
    }
    problems.extend(check_wiring(manifest, &serves, &actors));
    (Prepared { actors: actors.into_iter().collect(), libraries }, problems)
}

/// The board the manifest runs on, for the wiring check, with its pins
/// named as the GPIO provider will name them: the provider's `BOARD`, else
/// the board this machine's device tree names, with the provider's
/// `LABELS` (the board's own labels alone where `LABELS` is wrong: the
/// provider reports that). `None` where neither says (a manifest checked
/// on a PC with no GPIO provider), or `BOARD` is wrong.
fn manifest_pins(manifest: &Manifest, serves: &BTreeMap<&str, CapabilityId>) -> Option<boards::PinMap> {
    let gpio = manifest
        .providers
        .iter()
        .find(|entry| serves.get(entry.name.as_str()).and_then(CapabilityId::well_known) == Some(WellKnown::Gpio));
    let setting = |name: &str| gpio.and_then(|entry| entry.settings.get(name)).map_or("", |value| value.trim());
    let board = match setting("BOARD") {
        "" => boards::DeviceTree::read().board()?,
        name => boards::find(name).ok()?,
    };
    boards::PinMap::new(board.clone(), setting("LABELS")).or_else(|_| boards::PinMap::new(board, "")).ok()
}

/// The wiring check ([`crate::wiring`]) of the manifest's links to GPIO,
/// I2C, SPI and serial providers, where the board is known.
fn check_wiring(manifest: &Manifest, serves: &BTreeMap<&str, CapabilityId>, actors: &[(PathBuf, Actor)]) -> Vec<Problem> {
    let links: Vec<crate::wiring::WiredLink<'_>> = manifest
        .links
        .iter()
        .filter_map(|link| {
            let capability = link.capability.well_known().filter(|w| {
                matches!(w, WellKnown::Gpio | WellKnown::I2c | WellKnown::Spi | WellKnown::Serial)
            })?;
            let actor = actors.iter().map(|(_, a)| a).find(|a| a.subject() == link.actor || a.name() == link.actor);
            let mut layers = Vec::new();
            if let Some(signed) = actor.and_then(|a| a.signed_grant(&link.capability)) {
                layers.push((Source::Signed, signed));
            }
            let own: Vec<Rule> = link.grant.iter().filter_map(|rule| rule.parse().ok()).collect();
            if !own.is_empty() {
                layers.push((Source::Link, own));
            }
            Some(crate::wiring::WiredLink {
                line: link.line,
                what: format!("[[link]] {} {} -> `{}`", link.actor, link.capability, link.provider),
                capability,
                layers,
                open: link.values.get("OPEN").map_or("", String::as_str),
            })
        })
        .collect();
    // No pin to check: neither the board nor the device tree is read.
    if links.is_empty() {
        return Vec::new();
    }
    let Some(pins) = manifest_pins(manifest, serves) else { return Vec::new() };
    crate::wiring::check(&pins, &links)
}

/// A provider file after the check: opened, or only verified.
enum Opened {
    /// Boxed: a library's handle and descriptor are hundreds of bytes, the
    /// verdict a word.
    Library(Box<ProviderLibrary>),
    Verified(Checked),
}

/// Checks each `[[provider]]` file under `trust`, in manifest order, and
/// opens it where `mode` says so.
fn open_libraries(manifest: &Manifest, trust: &ProviderTrust, mode: Libraries<'_>) -> Vec<Result<Opened, ProviderError>> {
    manifest
        .providers
        .iter()
        .map(|entry| match mode {
            Libraries::Open(state_root) => trust::open(&entry.path, trust, state_root).map(|library| Opened::Library(Box::new(library))),
            Libraries::Verify => trust::check(&entry.path, trust).map(Opened::Verified),
        })
        .collect()
}

/// Reads, verifies and compiles each `[[actor]]`, in manifest order, at
/// `now` by the clock the host will check claims against (the one provider
/// archives are checked at too: the system's, never behind the latest
/// signed time the host has seen).
fn load_actors(manifest: &Manifest, now: u64) -> Vec<Result<Actor, LoadError>> {
    manifest.actors.iter().map(|entry| Actor::from_file(&entry.path, &manifest.policy, now)).collect()
}
