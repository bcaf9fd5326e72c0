//! `host-edge run`: serve a manifest until SIGINT or SIGTERM, reloading it
//! on SIGHUP and taking commands on the local control socket.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use host_edge::control::{self, ControlServer, Request, Response};
use host_edge::{reload, Command, Host, Manifest};
use provider_abi::redact::{redact_text, redact_values};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Check a manifest against what it names (as `host-edge check` does) and
/// refuse to start on any problem, listing every one; then load the
/// providers and actors, link them, print what is served, and serve until
/// SIGINT or SIGTERM; then unbind, stop the providers and stop every actor
/// cleanly. Anything that fails at start (a taken port) stops the start
/// with its reason and exit status 1.
/// SIGHUP reads the manifest again and applies only what changed;
/// `host-edge ctl` talks to the running host over its control socket.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge run boards/examples/manifest.toml\n  \
    host-edge run /etc/host-edge/manifest.toml --control /run/host-edge/control.sock\n  \
    kill -HUP $(pidof host-edge)      # re-read the manifest, apply what changed\n  \
    RUST_LOG=debug host-edge run /etc/host-edge/manifest.toml")]
pub struct RunArgs {
    /// The manifest (TOML).
    manifest: PathBuf,
    /// The control socket; overrides $HOST_EDGE_CONTROL, which overrides the
    /// manifest's `[host] control_socket`.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
}

pub fn execute(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut manifest = Manifest::load(&args.manifest)?;
    tracing::debug!(
        trusted_issuers = manifest.policy.trusted_issuers.len(),
        revoked_subjects = manifest.policy.revoked_subjects.len(),
        revoked_tokens = manifest.policy.revoked_tokens.len(),
        clock = ?manifest.policy.clock,
        state_dir = %manifest.state_dir().display(),
        "policy and host settings"
    );
    super::check::refuse_problems(&args.manifest, &manifest)?;
    // Register the signal handlers before anything starts, so a signal that
    // arrives during start-up is not lost.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).context("installing signal handlers")?;
    let host = Host::with_builtins(manifest.policy.clone(), manifest.state_dir(), &manifest.host.builtins());
    let mut failures = Vec::new();
    for command in manifest.commands() {
        if let Err(e) = apply(&host, command) {
            failures.push(e);
        }
    }
    if !failures.is_empty() {
        // Checked, yet refused at start (a port taken, a store that will not
        // open): serving part of the manifest would hide it, so stop.
        host.shutdown();
        bail!("{} could not be started, so nothing is served:\n  {}", args.manifest.display(), failures.join("\n  "));
    }
    let socket = args
        .control
        .clone()
        .or_else(|| std::env::var_os(control::SOCKET_ENV).map(PathBuf::from))
        .or_else(|| manifest.host.control_socket.clone())
        .unwrap_or_else(control::default_socket_path);
    let control = start_control(&host, &socket);
    let status = host.status();
    for actor in &status.actors {
        tracing::info!(
            actor = %actor.key,
            "serving {} rev {} with {} instance(s)",
            actor.name,
            actor.rev.map_or("-".to_owned(), |r| r.to_string()),
            actor.instances
        );
    }
    for provider in &status.providers {
        tracing::info!(provider = %provider.name, "provider {}: {} ({})", provider.name, provider.description, provider.capability);
    }
    for link in &status.links {
        let name = status.actors.iter().find(|a| a.key == link.actor).map_or(link.actor.as_str(), |a| a.name.as_str());
        tracing::info!(actor = %link.actor, "link: {name} {} -> {} (binding `{}`)", link.capability, link.provider, link.binding);
    }
    if !status.builtins.is_empty() {
        let served: Vec<String> = status.builtins.iter().map(ToString::to_string).collect();
        tracing::info!("built in: {}, for every actor whose claims grant it and that has no link for it", served.join(", "));
    }
    warn_unserved(&host);
    tracing::info!(
        actors = status.actors.len(),
        providers = status.providers.len(),
        links = status.links.len(),
        control = %socket.display(),
        "host-edge is serving; SIGHUP reloads the manifest, SIGINT or SIGTERM stops"
    );
    let health = super::health::Watch::start(host.clone(), manifest.host.health_interval());
    for signal in signals.forever() {
        if signal == SIGHUP {
            manifest = reload_manifest(&host, &args.manifest, manifest);
            continue;
        }
        tracing::info!(signal, "shutting down");
        break;
    }
    let unhealthy = health.stop();
    if let Some(control) = control {
        control.stop();
    }
    host.shutdown();
    if !unhealthy.is_empty() {
        let names: Vec<&str> = unhealthy.keys().map(String::as_str).collect();
        tracing::error!("stopped, with unhealthy providers: {}", names.join(", "));
        return Ok(ExitCode::FAILURE);
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Applies one command, logging what was done or why not.
pub(super) fn apply(host: &Host, command: Command) -> Result<(), String> {
    let failed = match &command {
        Command::StartActor { .. } => "actor not started",
        Command::ReplaceActor { .. } => "actor not replaced",
        Command::StopActor { .. } => "actor not stopped",
        Command::AddProvider { .. } => "provider not loaded",
        Command::RemoveProvider { .. } => "provider not removed",
        Command::Link(_) => "link not made",
        Command::Unlink { .. } => "link not removed",
    };
    let what = loggable(&command);
    match host.execute(command) {
        Ok(done) => {
            tracing::info!("{done}");
            Ok(())
        }
        Err(e) => {
            let e = redact_text(&e.to_string()).into_owned();
            tracing::error!(command = %what, "{failed}: {e}");
            Err(format!("{failed}: {e}"))
        }
    }
}

/// `command` as JSON for the log, with secret provider settings and link
/// values hidden and credentials in URLs redacted.
fn loggable(command: &Command) -> String {
    let mut command = command.clone();
    match &mut command {
        Command::AddProvider { settings, .. } => *settings = redact_values(settings),
        Command::Link(spec) => spec.values = redact_values(&spec.values),
        _ => {}
    }
    redact_text(&serde_json::to_string(&command).unwrap_or_default()).into_owned()
}

/// Reads the manifest again and applies what changed; on a manifest that
/// does not load or check, keeps running as before.
fn reload_manifest(host: &Host, path: &std::path::Path, current: Manifest) -> Manifest {
    tracing::info!(manifest = %path.display(), "SIGHUP: reloading the manifest");
    let next = match Manifest::load(path).map_err(anyhow::Error::from).and_then(|m| {
        super::check::refuse_problems(path, &m)?;
        Ok(m)
    }) {
        Ok(next) => next,
        Err(e) => {
            tracing::error!("the manifest was not reloaded, nothing changed: {}", redact_text(&format!("{e:#}")));
            return current;
        }
    };
    if next.policy != current.policy || next.host != current.host {
        tracing::warn!("[policy] and [host] changes take effect at the next start, not on reload");
    }
    let plan = reload::plan(&current, &next, &host.status());
    let total = plan.len();
    let failed = plan.into_iter().filter(|command| apply(host, command.clone()).is_err()).count();
    tracing::info!(changes = total, failed, "manifest reloaded");
    warn_unserved(host);
    next
}

/// Says, for each actor, which capabilities its claims grant that nothing
/// serves: its calls to them will fail with `not-linked`.
fn warn_unserved(host: &Host) {
    for unserved in host.unserved() {
        tracing::warn!(
            actor = %unserved.actor,
            "{} claims {} but nothing serves it: its calls to it will fail with not-linked; add a [[link]] for it",
            unserved.name,
            unserved.capability
        );
    }
}

/// Serves the control socket; a socket that cannot be made is reported and
/// the host serves without it.
fn start_control(host: &Host, socket: &std::path::Path) -> Option<ControlServer> {
    let handler_host = host.clone();
    let handler = Arc::new(move |request: Request| match request {
        Request::Status => Response::Status(handler_host.status()),
        Request::Execute { command } => {
            let what = loggable(&command);
            match handler_host.execute(command) {
                Ok(done) => {
                    tracing::info!(command = %what, "control: {done}");
                    Response::Done(done)
                }
                Err(e) => {
                    let e = redact_text(&e.to_string()).into_owned();
                    tracing::warn!(command = %what, "control: refused: {e}");
                    Response::Error(e)
                }
            }
        }
    });
    match ControlServer::start(socket, handler) {
        Ok(server) => Some(server),
        Err(e) => {
            tracing::error!(socket = %socket.display(), "the control socket is not available: {e}");
            None
        }
    }
}
