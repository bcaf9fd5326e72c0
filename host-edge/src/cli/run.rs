//! `host-edge run`: serve a manifest until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use host_edge::claims::policy::now_secs;
use host_edge::{Actor, Host, Manifest};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Load the actors a manifest names, verify them, and serve until SIGINT or
/// SIGTERM; then stop every actor cleanly. An actor that fails to load is
/// reported and skipped; the rest are served.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge run boards/examples/manifest.toml\n  \
    RUST_LOG=debug host-edge run /etc/host-edge/manifest.toml")]
pub struct RunArgs {
    /// The manifest (TOML).
    manifest: PathBuf,
}

pub fn execute(args: RunArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&args.manifest)?;
    if let Some(provider) = manifest.providers.first() {
        bail!(
            "the manifest names provider `{}`, but this build of host-edge cannot load native providers yet",
            provider.name
        );
    }
    // Register the signal handlers before anything starts, so a signal that
    // arrives during start-up is not lost.
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("installing signal handlers")?;
    let host = Host::new(manifest.policy.clone());
    let mut started = 0;
    for entry in &manifest.actors {
        let loaded = Actor::from_file(&entry.path, host.policy(), now_secs())
            .map_err(anyhow::Error::from)
            .and_then(|actor| Ok(host.start_actor(actor, entry.instances, entry.limits(manifest.limits))?));
        match loaded {
            Ok(_) => started += 1,
            Err(e) => tracing::error!(path = %entry.path.display(), "actor not started: {e:#}"),
        }
    }
    if started == 0 && !manifest.actors.is_empty() {
        bail!("no actor in {} could be started", args.manifest.display());
    }
    tracing::info!(actors = started, "host-edge is serving; SIGINT or SIGTERM to stop");
    if let Some(signal) = signals.forever().next() {
        tracing::info!(signal, "shutting down");
    }
    host.shutdown();
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
