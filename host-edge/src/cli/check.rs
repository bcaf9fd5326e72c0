//! `host-edge check`: check a manifest against the providers and actors it
//! names, without starting anything.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use host_edge_runtime::{preflight, Manifest};
use provider_abi::redact::redact_text;

/// Check a manifest: every key is one the manifest knows (with "did you
/// mean" where one is close), every provider archive verifies and its library
/// opens and is a host-edge ABI 3 (or 2) provider for this processor, its settings and every link's values fit
/// what it declares, every actor's claims verify under the manifest's policy
/// and grant what its links use, and every link names an actor, a provider
/// and the capability that provider serves. Prints every problem with its
/// line; exits 1 when there is one. `host-edge run` makes the same checks
/// and refuses to start on any problem.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge check /etc/host-edge/manifest.toml")]
pub struct CheckArgs {
    /// The manifest (TOML).
    manifest: PathBuf,
}

pub fn execute(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (manifest, mut problems) = Manifest::load_all(&args.manifest)?;
    if let Some(manifest) = &manifest {
        problems.extend(super::device::problem(manifest));
        problems.extend(preflight::check(manifest));
    }
    for problem in &problems {
        println!("{}", redact_text(&problem.located(&args.manifest)));
    }
    if problems.is_empty() {
        println!("{}: no problems found", args.manifest.display());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{}: {} problem(s); nothing would start", args.manifest.display(), problems.len());
        Ok(ExitCode::FAILURE)
    }
}

/// Reads the manifest at `path` as far as it goes: the manifest of what
/// reads and the problems of its text, for [`refuse_problems`] to list with
/// the rest; refused here only when it is not TOML at all.
pub fn load(path: &std::path::Path) -> anyhow::Result<(Manifest, Vec<preflight::Problem>)> {
    match Manifest::load_all(path)? {
        (Some(manifest), mut problems) => {
            problems.extend(super::device::problem(&manifest));
            Ok((manifest, problems))
        }
        (None, problems) => {
            let listed: Vec<String> = problems.iter().map(|p| redact_text(&p.located(path)).into_owned()).collect();
            bail!("the manifest cannot be read; nothing was started:\n  {}", listed.join("\n  "))
        }
    }
}

/// Refuses a manifest with any problem, naming every one with its line:
/// those of its text (`parsed`, from [`Manifest::load_all`]) and those the
/// checks of what it names find.
pub fn refuse_problems(
    path: &std::path::Path,
    manifest: &Manifest,
    parsed: Vec<preflight::Problem>,
) -> anyhow::Result<preflight::Prepared> {
    let (prepared, found) = preflight::prepare(manifest);
    let problems: Vec<preflight::Problem> = parsed.into_iter().chain(found).collect();
    if !problems.is_empty() {
        let listed: Vec<String> = problems.iter().map(|p| redact_text(&p.located(path)).into_owned()).collect();
        bail!(
            "{} problem(s) in the manifest; nothing was started (`host-edge check` lists them too):\n  {}",
            problems.len(),
            listed.join("\n  ")
        );
    }
    Ok(prepared)
}
