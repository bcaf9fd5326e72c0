//! `host-edge check`: check a manifest against the providers and actors it
//! names, without starting anything.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use host_edge::claims::policy::now_secs;
use host_edge::provider::ProviderLibrary;
use host_edge::{Actor, Manifest, SettingScope};

/// Check a manifest: every provider library opens and is a host-edge ABI 2
/// provider, its settings and every link's values fit what it declares,
/// every link names the capability its provider serves, and every actor's
/// claims verify under the manifest's policy. Prints every problem; exits 1
/// when there is one. `host-edge run` makes the same settings checks before
/// it starts anything.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge check /etc/host-edge/manifest.toml")]
pub struct CheckArgs {
    /// The manifest (TOML).
    manifest: PathBuf,
}

pub fn execute(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&args.manifest)?;
    let problems = problems(&manifest, true);
    for problem in &problems {
        println!("{problem}");
    }
    if problems.is_empty() {
        println!("{}: no problems found", args.manifest.display());
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

/// Refuses a manifest whose provider settings or link values do not fit
/// what its providers declare, naming every problem. Libraries that do not
/// open and actors that do not verify are left to `run`, which reports and
/// skips them.
pub fn refuse_problems(manifest: &Manifest) -> anyhow::Result<()> {
    let problems = problems(manifest, false);
    if !problems.is_empty() {
        bail!("the manifest does not fit its providers; nothing was started:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

/// Every problem found; with `strict`, unopenable libraries and actors
/// whose claims do not verify too.
fn problems(manifest: &Manifest, strict: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let mut libraries = BTreeMap::new();
    for entry in &manifest.providers {
        match ProviderLibrary::open(&entry.path) {
            Ok(library) => {
                if let Err(e) = library.settle(&entry.name, SettingScope::Provider, &entry.settings) {
                    problems.push(format!("[[provider]] `{}`: {e}", entry.name));
                }
                libraries.insert(entry.name.clone(), library);
            }
            Err(e) if strict => problems.push(format!("[[provider]] `{}`: {e}", entry.name)),
            Err(_) => {}
        }
    }
    for link in &manifest.links {
        let Some(library) = libraries.get(&link.provider) else { continue };
        let what = format!("[[link]] {} {} -> `{}`", link.actor, link.capability, link.provider);
        if library.capability() != &link.capability {
            problems.push(format!("{what}: the provider serves {}, not {}", library.capability(), link.capability));
        }
        if let Err(e) = library.settle(&link.provider, SettingScope::Link, &link.values) {
            problems.push(format!("{what}: {e}"));
        }
    }
    if strict {
        for entry in &manifest.actors {
            if let Err(e) = Actor::from_file(&entry.path, &manifest.policy, now_secs()) {
                problems.push(format!("[[actor]] {}: {e}", entry.path.display()));
            }
        }
    }
    problems
}
