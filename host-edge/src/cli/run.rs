//! `host-edge run`: serve a manifest until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use host_edge::claims::policy::now_secs;
use host_edge::{Actor, Host, Manifest};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Load the providers and actors a manifest names, verify the actors, link
/// them, and serve until SIGINT or SIGTERM; then unbind, stop the providers
/// and stop every actor cleanly. A provider, actor or link that fails is
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
    let mut providers = 0;
    for entry in &manifest.providers {
        match host.add_provider(&entry.name, &entry.path) {
            Ok(_) => providers += 1,
            Err(e) => tracing::error!(provider = %entry.name, path = %entry.path.display(), "provider not loaded: {e}"),
        }
    }
    let mut links = 0;
    for link in &manifest.links {
        match host.link_provider(&link.actor, &link.capability, &link.binding, &link.provider, &link.values) {
            Ok(()) => links += 1,
            Err(e) => tracing::error!(
                actor = %link.actor,
                capability = %link.capability,
                provider = %link.provider,
                "link not made: {e}"
            ),
        }
    }
    tracing::info!(actors = started, providers, links, "host-edge is serving; SIGINT or SIGTERM to stop");
    if let Some(signal) = signals.forever().next() {
        tracing::info!(signal, "shutting down");
    }
    host.shutdown();
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
