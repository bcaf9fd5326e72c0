//! `host-edge run`: serve a manifest until SIGINT or SIGTERM, reloading it
//! on SIGHUP and taking commands on the local control socket.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use host_edge_runtime::claims::TrustedClock;
use host_edge::control::{self, ControlServer, Request, Response};
#[cfg(feature = "metrics")]
use host_edge::endpoint::{Endpoint, Observed};
use host_edge_runtime::preflight::Prepared;
use host_edge_runtime::{reload, Command, Host, Manifest};

use super::device::{Agent, Boot};
use provider_abi::redact::redact_text;
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
    /// The state directory (the trusted clock's mark, verified provider
    /// libraries, key-value databases, the fleet state); overrides the
    /// manifest's `[host] state_dir`, which is `state` beside the manifest
    /// by default. Two hosts on one machine need one each.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Where the health and metrics endpoint listens, such as
    /// 127.0.0.1:9465, or `off`; overrides the manifest's `[host]
    /// metrics_address` (127.0.0.1:9464 by default). An address given here or
    /// in the manifest that cannot be bound stops the start; the default one
    /// taken (another host on this machine) only turns the endpoint off.
    #[arg(long, value_name = "ADDRESS")]
    metrics_address: Option<String>,
}

/// The manifest file and what the command line overrides in it, applied
/// again on every reload so that a SIGHUP sees the same host settings.
struct Source {
    path: PathBuf,
    state_dir: Option<PathBuf>,
    metrics_address: Option<String>,
}

impl Source {
    fn new(args: &RunArgs) -> anyhow::Result<Source> {
        if let Some(text) = args.metrics_address.as_deref().filter(|text| *text != "off") {
            text.parse::<std::net::SocketAddr>()
                .with_context(|| format!("--metrics-address: `{text}` is not an address and port such as 127.0.0.1:9465, or off"))?;
        }
        let state_dir = match &args.state_dir {
            Some(dir) if dir.is_relative() => Some(std::env::current_dir().context("the current folder")?.join(dir)),
            other => other.clone(),
        };
        Ok(Source { path: args.manifest.clone(), state_dir, metrics_address: args.metrics_address.clone() })
    }

    /// Reads the manifest as [`super::check::load`] does, with the overrides.
    fn load(&self) -> anyhow::Result<(Manifest, Vec<host_edge_runtime::manifest::Problem>)> {
        let (mut manifest, problems) = super::check::load(&self.path)?;
        if let Some(dir) = &self.state_dir {
            manifest.host.state_dir = Some(dir.clone());
        }
        if let Some(address) = &self.metrics_address {
            manifest.host.metrics_address = Some(address.clone());
        }
        Ok((manifest, problems))
    }
}

pub fn execute(args: RunArgs) -> anyhow::Result<ExitCode> {
    let source = Source::new(&args)?;
    let (base, parsed) = source.load()?;
    let mut manifest = base.clone();
    tracing::debug!(
        trusted_issuers = manifest.policy.trusted_issuers.len(),
        revoked_subjects = manifest.policy.revoked_subjects.len(),
        revoked_tokens = manifest.policy.revoked_tokens.len(),
        clock = ?manifest.policy.clock,
        state_dir = %manifest.state_dir().display(),
        "policy and host settings"
    );
    let mut prepared = super::check::refuse_problems(&args.manifest, &manifest, parsed)?;
    // Register the signal handlers before anything starts, so a signal that
    // arrives during start-up is not lost.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).context("installing signal handlers")?;
    let state_dir = manifest.state_dir();
    let clock_file = state_dir.join(host_edge_runtime::CLOCK_FILE);
    let (clock, lost) = TrustedClock::open_or_reset(&clock_file);
    if let Some(e) = lost {
        tracing::error!("the clock's mark (the latest signed time seen) is lost and starts afresh: {e}");
    }
    if clock.is_behind() {
        tracing::warn!(
            "the system clock reads {}, before the latest signed time seen ({}): it is not set, or was set back; claims are checked as of {}",
            host_edge_runtime::claims::verify::stamp(clock.system()),
            host_edge_runtime::claims::verify::stamp(clock.mark()),
            host_edge_runtime::claims::verify::stamp(clock.mark())
        );
    }
    let fleet = match super::device::boot(&base, &state_dir, &clock)? {
        Some((boot, booted)) => {
            manifest = booted;
            Some(boot)
        }
        None => None,
    };
    let host = Host::with_clock(manifest.policy.clone(), state_dir, &manifest.host.builtins(), Arc::new(clock));
    host.set_scaling(manifest.host.scaling());
    if manifest.host.allow_unsigned_providers == Some(true) {
        tracing::warn!(
            "[host] allow_unsigned_providers is on: provider libraries are loaded without a signature check \
             (for development only; ship signed provider archives, `host-edge par create`)"
        );
        host.set_unsigned_providers(true);
    }
    if let Err(failures) = start(&host, &manifest, &mut prepared) {
        host.shutdown();
        let deployed = fleet.as_ref().and_then(Boot::committed);
        match deployed {
            // The last good deployment will not start here any more (a
            // provider library gone, say): the device's own manifest is the
            // state that cannot be taken away.
            Some(seq) => {
                tracing::error!("fleet: deployment {seq} could not be started ({}); starting the device's own manifest", failures.join("; "));
                manifest = fleet.as_ref().map_or_else(|| base.clone(), |boot| boot.own_manifest(&base));
                if let Err(failures) = start(&host, &manifest, &mut Prepared::default()) {
                    host.shutdown();
                    bail!("{} could not be started, so nothing is served:\n  {}", args.manifest.display(), failures.join("\n  "));
                }
            }
            // Checked, yet refused at start (a port taken, a store that will
            // not open): serving part of the manifest would hide it, so stop.
            None => bail!("{} could not be started, so nothing is served:\n  {}", args.manifest.display(), failures.join("\n  ")),
        }
    }
    let socket = args
        .control
        .clone()
        .or_else(|| std::env::var_os(control::SOCKET_ENV).map(PathBuf::from))
        .or_else(|| manifest.host.control_socket.clone())
        .unwrap_or_else(control::default_socket_path);
    let control = start_control(&host, &socket);
    let health = super::health::Watch::start(host.clone(), manifest.host.health_interval());
    let agent = fleet.and_then(|boot| super::device::start_agent(&host, boot, base, manifest.clone()));
    let endpoint = match start_endpoint(&host, &manifest, agent.as_ref()) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            if let Some(agent) = agent {
                agent.stop();
            }
            health.stop();
            if let Some(control) = control {
                control.stop();
            }
            host.shutdown();
            bail!("{e}; nothing is served (another host on this machine? give each its own: --metrics-address, or off)");
        }
    };
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
    for signal in signals.forever() {
        if signal == SIGHUP {
            manifest = match &agent {
                Some(agent) => reload_fleet_device(agent, &host, &source, manifest),
                None => reload_manifest(&host, &source, manifest),
            };
            continue;
        }
        tracing::info!(signal, "shutting down");
        break;
    }
    if let Some(agent) = agent {
        agent.stop();
    }
    if let Some(endpoint) = endpoint {
        endpoint.stop();
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

/// Applies `manifest`'s commands to an empty host, taking from `prepared`
/// what its check already loaded; every failure, when any.
fn start(host: &Host, manifest: &Manifest, prepared: &mut Prepared) -> Result<(), Vec<String>> {
    let failures: Vec<String> =
        manifest.commands().into_iter().filter_map(|command| apply_prepared(host, command, prepared).err()).collect();
    // What no command took (a fleet manifest naming other files) is freed
    // now rather than held for the host's life.
    drop(std::mem::take(prepared));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// Serves the health and metrics endpoint where the manifest says. An
/// address the manifest or the command line names that cannot be bound
/// stops the start (`Err`); the default address taken (a second host on
/// the machine) turns the endpoint off, with a warning that says so.
#[cfg(feature = "metrics")]
fn start_endpoint(host: &Host, manifest: &Manifest, agent: Option<&Agent>) -> Result<Option<Endpoint>, String> {
    let Some(address) = manifest.host.metrics_address() else { return Ok(None) };
    let observed = Arc::new(Observer { host: host.clone(), busy: agent.map(Agent::busy_flag) });
    match Endpoint::start(address, observed) {
        Ok(endpoint) => Ok(Some(endpoint)),
        Err(e) if manifest.host.metrics_address.is_none() => {
            tracing::warn!(
                %address,
                "the health and metrics endpoint is OFF: its default address {address} cannot be bound ({e}), \
                 another host on this machine has it; set [host] metrics_address or --metrics-address to serve it elsewhere"
            );
            Ok(None)
        }
        Err(e) => Err(format!("the health and metrics endpoint cannot listen on {address}: {e}")),
    }
}

/// A build without the endpoint says so when the manifest asks for one.
#[cfg(not(feature = "metrics"))]
fn start_endpoint(_: &Host, manifest: &Manifest, _: Option<&Agent>) -> Result<Option<Endpoint>, String> {
    if manifest.host.metrics_address.as_deref().is_some_and(|address| address != "off") {
        tracing::warn!(
            "[host] metrics_address is set, but this host-edge was built without the health and metrics endpoint \
             (the `metrics` feature): nothing listens there"
        );
    }
    Ok(None)
}

/// No endpoint in a build without the `metrics` feature.
#[cfg(not(feature = "metrics"))]
enum Endpoint {}

#[cfg(not(feature = "metrics"))]
impl Endpoint {
    fn stop(self) {
        match self {}
    }
}

/// What the health and metrics endpoint reads: the host, and whether a
/// fleet deployment is under way.
#[cfg(feature = "metrics")]
struct Observer {
    host: Host,
    busy: Option<Arc<std::sync::atomic::AtomicBool>>,
}

#[cfg(feature = "metrics")]
impl Observed for Observer {
    fn readiness(&self) -> Result<(), Vec<String>> {
        let mut reasons: Vec<String> = self
            .host
            .status()
            .providers
            .into_iter()
            .filter_map(|p| p.health.err().map(|why| format!("provider {} is unhealthy: {}", p.name, redact_text(&why))))
            .collect();
        if self.busy.as_ref().is_some_and(|busy| busy.load(std::sync::atomic::Ordering::SeqCst)) {
            reasons.push("a fleet deployment is being applied".to_owned());
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }

    fn metrics(&self) -> String {
        let metrics = host_edge_runtime::metrics::global();
        for provider in self.host.status().providers {
            metrics.provider_health(&provider.name, provider.capability.as_str(), provider.health.is_ok());
        }
        metrics.encode()
    }
}

/// Applies one command, logging what was done or why not.
pub(super) fn apply(host: &Host, command: Command) -> Result<(), String> {
    apply_prepared(host, command, &mut Prepared::default())
}

/// [`apply`], taking the actor or provider library from `prepared` where
/// the manifest's check loaded it.
fn apply_prepared(host: &Host, command: Command, prepared: &mut Prepared) -> Result<(), String> {
    let failed = match &command {
        Command::StartActor { .. } => "actor not started",
        Command::ReplaceActor { .. } => "actor not replaced",
        Command::StopActor { .. } => "actor not stopped",
        Command::AddProvider { .. } => "provider not loaded",
        Command::RemoveProvider { .. } => "provider not removed",
        Command::Link(_) => "link not made",
        Command::Unlink { .. } => "link not removed",
    };
    let what = command.loggable();
    match host.execute_prepared(command, prepared) {
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

/// Reads the manifest again and applies what changed; on a manifest that
/// does not load or check, keeps running as before.
fn reload_manifest(host: &Host, source: &Source, current: Manifest) -> Manifest {
    let path = &source.path;
    tracing::info!(manifest = %path.display(), "SIGHUP: reloading the manifest");
    let next = match load_revoking(host, source) {
        Ok(next) => next,
        Err(e) => {
            tracing::error!("the manifest was not reloaded, nothing changed: {}", redact_text(&format!("{e:#}")));
            return current;
        }
    };
    if next.policy != current.policy || next.host != current.host {
        tracing::warn!("[policy] revocations take effect now; other [policy] and [host] changes at the next start");
    }
    let plan = reload::plan(&current, &next, &host.status());
    let total = plan.len();
    let failed = plan.into_iter().filter(|command| apply(host, command.clone()).is_err()).count();
    tracing::info!(changes = total, failed, "manifest reloaded");
    warn_unserved(host);
    next
}

/// SIGHUP on a fleet device: the agent runs the edited manifest with the
/// committed deployment over it.
fn reload_fleet_device(agent: &Agent, host: &Host, source: &Source, current: Manifest) -> Manifest {
    let path = &source.path;
    tracing::info!(manifest = %path.display(), "SIGHUP: reloading the manifest");
    match load_revoking(host, source) {
        Ok(next) => {
            if next.policy != current.policy || next.host != current.host || next.fleet != current.fleet {
                tracing::warn!(
                    "[policy] revocations take effect now; other [policy], [host] and [fleet] changes at the next start"
                );
            }
            agent.reload(next.clone());
            next
        }
        Err(e) => {
            tracing::error!("the manifest was not reloaded, nothing changed: {}", redact_text(&format!("{e:#}")));
            current
        }
    }
}

/// Reads the manifest at `path` again and checks it; its revocations are
/// put in force as soon as it parses, before the check: they only tighten,
/// an operator who revokes a leaked actor must not have to restart the
/// board for it, and a manifest that still lists the revoked actor (which
/// the check then refuses) must not keep it running.
fn load_revoking(host: &Host, source: &Source) -> anyhow::Result<Manifest> {
    let (next, parsed) = source.load()?;
    apply_revocations(host, &next);
    super::check::refuse_problems(&source.path, &next, parsed)?;
    Ok(next)
}

/// Adds the revocations of `next` to the host's policy and stops the actors
/// they revoke.
fn apply_revocations(host: &Host, next: &Manifest) {
    let mut added = false;
    let stopped = host.update_policy(|policy| added = policy.add_revocations(&next.policy));
    if added {
        tracing::info!(stopped = stopped.len(), "revocations from the reloaded manifest are in force");
    }
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
            let what = command.loggable();
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
