//! The device side of fleet control: one thread that judges commands, runs
//! deployments through the host's lifecycle commands, and reports.
//!
//! Everything that changes the device goes through this thread, one thing
//! at a time, in the order the broker delivered it. A deployment runs in
//! steps, each written down before it starts ([`Phase`]):
//!
//! 1. **staging**: its modules and provider archives are fetched (chunks
//!    over MQTT, or a URL) and checked against the signed SHA-256; modules
//!    are verified as actors and archives as providers (claims, library
//!    hash, policy, with no library opened) under the host's policy and
//!    clock; the deployment as a whole is checked like a manifest. Nothing
//!    that runs has changed, and a failure here ends it as `failed`.
//! 2. **applying**: the [reload plan](host_edge_runtime::reload) from what runs to the
//!    deployment, executed command by command (actors replaced in place).
//! 3. **probing**: the [health probe](super::probe) until it passes or its
//!    time is up.
//! 4. **committed**, or **rolling back** to the last good state with the
//!    reverse plan, lower revisions allowed.
//!
//! A device that stops in the middle boots on the last good state, and the
//! deployment is reported `interrupted` ([`Store::recover`]).
//!
//! Which step comes next, and how a deployment ends, is decided by its
//! `Lifecycle` (the `lifecycle` module), a state machine with no I/O; this
//! module does each step's I/O (MQTT, downloads, the host's commands, the
//! store) and reports back to it.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender};
use provider_abi::redact::redact_text;

use super::command::{self, CommandClaims, Judge, Mark, Order, Refusal, Verdict};
use super::config::FleetConfig;
use super::deployment::{archive_file, module_file, Deployment, HttpCheck};
use super::lifecycle::{Action, Lifecycle, Report};
use super::link::{BrokerError, Inbound, Link};
use super::probe;
use super::staging::{check_archive, Progress, Staging};
use super::status::{DeviceStatus, Event};
use super::store::{Committed, Ending, Outcome, Pending, Phase, Store};
use super::topics::Kind;
use host_edge_runtime::manifest::Manifest;
use host_edge_runtime::reload::{self, Options};
use host_edge_runtime::{Command, Host};

/// A command of a deployment the host refused, said as the outcome
/// reports it (secrets hidden).
#[derive(Debug)]
struct Refused(String);

/// What the host tells the agent.
enum Control {
    /// The device's own manifest was edited (SIGHUP): run it, with the
    /// committed deployment laid over it.
    Reload(Box<Manifest>),
    /// The host is stopping.
    Stop,
}

/// The most messages kept for after a deployment under way.
const MAX_DEFERRED: usize = 64;

/// The most messages waiting for the agent; the link drops what is beyond
/// (a retained command comes back at the next connection).
const INBOUND_QUEUE: usize = 256;

/// The running agent.
pub struct Agent {
    control: Sender<Control>,
    thread: Option<JoinHandle<()>>,
    busy: Arc<AtomicBool>,
    /// Set when the host stops, for the steps that do not read `control`
    /// (the health probe).
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("busy", &self.is_busy()).finish_non_exhaustive()
    }
}

/// Why staging did not finish.
enum Failure {
    /// Refused before anything that runs changed.
    Staging(String),
    /// A newer deployment arrived while staging.
    Superseded(Box<Inbound>),
    /// The host is stopping: the deployment stays pending and is reported
    /// interrupted at the next start.
    Stopping,
}

struct Device {
    host: Host,
    config: FleetConfig,
    store: Store,
    /// The device's own manifest.
    base: Manifest,
    /// What runs: `base`, or `base` with the committed deployment over it.
    running: Manifest,
    link: Link,
    inbound: Receiver<Inbound>,
    control: Receiver<Control>,
    /// Messages that arrived while a deployment was under way.
    deferred: VecDeque<Inbound>,
    busy: Arc<AtomicBool>,
    /// The host is stopping (set before `Control::Stop` is sent).
    stop: Arc<AtomicBool>,
    /// A stop arrived during a deployment.
    stopping: bool,
    /// The device's manifest was edited during a deployment: reload it
    /// after.
    reload_after: Option<Manifest>,
    /// When the status is due next.
    beat: Instant,
    started: Instant,
    received_bytes: u64,
    /// A command was refused for want of a clock: the retained commands
    /// are read again once the clock is set.
    reread_when_clock_set: bool,
}

impl Agent {
    /// Connects to the broker and starts the agent for `host`, which runs
    /// `running` (the device's manifest `base`, with the deployment `store`
    /// holds over it). `recovered` is the outcome of a deployment the last
    /// stop interrupted, to report.
    pub fn start(
        host: Host,
        config: FleetConfig,
        store: Store,
        base: Manifest,
        running: Manifest,
        recovered: Option<Outcome>,
    ) -> Result<Agent, BrokerError> {
        let (inbound_tx, inbound) = bounded(INBOUND_QUEUE);
        let filters: BTreeSet<String> = config.topics.commands_for(&config.device, &config.groups).into_iter().collect();
        let link = Link::start(&config, filters, inbound_tx)?;
        let (control_tx, control) = unbounded();
        let busy = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        host_edge_runtime::metrics::global().deployment(store.state().deployment_seq());
        let config_heartbeat = config.heartbeat;
        let device = Device {
            host,
            config,
            store,
            base,
            running,
            link,
            inbound,
            control,
            deferred: VecDeque::new(),
            busy: Arc::clone(&busy),
            stop: Arc::clone(&stop),
            stopping: false,
            reload_after: None,
            beat: Instant::now() + config_heartbeat,
            started: Instant::now(),
            received_bytes: 0,
            reread_when_clock_set: false,
        };
        let thread = std::thread::Builder::new()
            .name("fleet".into())
            .spawn(move || {
                if let Some(outcome) = recovered {
                    device.event("deployment", Some(outcome.seq), None, "interrupted", &outcome.detail);
                }
                device.run();
            })
            .map_err(BrokerError::Thread)?;
        Ok(Agent { control: control_tx, thread: Some(thread), busy, stop })
    }

    /// Whether a deployment is under way (the host is not ready meanwhile).
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    /// The flag [`Agent::is_busy`] reads, for a readiness check elsewhere.
    pub fn busy_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.busy)
    }

    /// The device's own manifest changed: run it with the committed
    /// deployment over it.
    pub fn reload(&self, base: Manifest) {
        let _ = self.control.send(Control::Reload(Box::new(base)));
    }

    /// Stops the agent (a deployment under way stays pending, and is
    /// reported interrupted at the next start) and says `offline`.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.control.send(Control::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The manifest a fleet device boots on: its own, with the committed
/// deployment laid over it ([`startable`]).
pub fn boot_manifest(base: &Manifest, store: &Store, config: &FleetConfig) -> Manifest {
    let manifest = match &store.state().committed {
        Some(committed) => committed.deployment.manifest(base, &store.modules(), &config.provider_dir, &config.vars).unwrap_or_else(|e| {
            tracing::error!("fleet: deployment {} does not fit this device any more ({e}); running the device's own manifest", committed.seq);
            base.clone()
        }),
        None => base.clone(),
    };
    startable(manifest, store)
}

/// The device's own manifest, as a boot falls back to it when the
/// committed deployment will not start ([`startable`]).
pub fn own_manifest(base: &Manifest, store: &Store) -> Manifest {
    startable(base.clone(), store)
}

/// `manifest` with the fleet's revocations in its policy (the later time
/// wins where the manifest revokes the same key), and without the actors
/// that policy refuses (and their links): a revoked actor stops that actor,
/// not the device.
fn startable(mut manifest: Manifest, store: &Store) -> Manifest {
    for (subject, before) in &store.state().revocations {
        let entry = manifest.policy.revoked_issued_before.entry(subject.clone()).or_insert(0);
        *entry = (*entry).max(*before);
    }
    let policy = manifest.policy.clone();
    let mut revoked = Vec::new();
    manifest.actors.retain(|entry| {
        let Ok(bytes) = std::fs::read(&entry.path) else { return true };
        let Some(claims) = host_edge_runtime::claims::inspect(&bytes, &Default::default(), 0).claims else { return true };
        match policy.revocation(&claims.subject, &claims.id, claims.issued_at) {
            Some(why) => {
                tracing::error!(actor = %claims.subject, "fleet: not starting {}: {why}", entry.path.display());
                let name = claims.metadata.as_ref().and_then(|m| m.name.clone()).unwrap_or_default();
                revoked.push((claims.subject, name));
                false
            }
            None => true,
        }
    });
    manifest.links.retain(|link| !revoked.iter().any(|(key, name)| link.actor == *key || link.actor == *name));
    manifest
}

impl Device {
    fn run(mut self) {
        tracing::info!(
            device = %self.config.device,
            broker = %self.config.broker.url,
            deployment = self.store.state().deployment_seq(),
            "fleet: following {} for commands",
            self.config.topics.prefix()
        );
        while !self.stopping {
            if let Some(message) = self.deferred.pop_front() {
                self.handle(message);
                continue;
            }
            let wait = self.beat.saturating_duration_since(Instant::now());
            select! {
                recv(self.control) -> control => match control {
                    Ok(Control::Reload(base)) => self.reload(*base),
                    Ok(Control::Stop) | Err(_) => break,
                },
                recv(self.inbound) -> message => match message {
                    Ok(message) => self.handle(message),
                    Err(_) => break,
                },
                default(wait) => self.heartbeat(),
            }
        }
        self.link.stop();
        tracing::info!(device = %self.config.device, "fleet: stopped");
    }

    /// Publishes the status when the heartbeat is due, and reads the
    /// retained commands again when one was refused for want of a clock
    /// and the clock is set now.
    fn heartbeat(&mut self) {
        if Instant::now() >= self.beat {
            self.publish_status();
            self.beat = Instant::now() + self.config.heartbeat;
            if self.reread_when_clock_set && self.host.clock().now() >= host_edge_runtime::claims::clock::EARLIEST_BELIEVED {
                self.reread_when_clock_set = false;
                tracing::info!(device = %self.config.device, "fleet: the clock is set; reading the retained commands again");
                for filter in self.config.topics.commands_for(&self.config.device, &self.config.groups) {
                    // Subscribing again replaces the subscription, and the
                    // broker sends its retained messages again.
                    self.link.subscribe(&filter);
                }
            }
        }
    }

    /// Keeps `message` for after the deployment under way, up to
    /// [`MAX_DEFERRED`]; what is beyond is dropped with a warning (a
    /// retained command comes back at the next connection anyway).
    fn defer(&mut self, message: Inbound) {
        if self.deferred.len() >= MAX_DEFERRED {
            tracing::warn!(device = %self.config.device, "fleet: {MAX_DEFERRED} messages wait already; dropping one");
            return;
        }
        self.deferred.push_back(message);
    }

    fn handle(&mut self, message: Inbound) {
        let (topic, payload, retained) = match message {
            Inbound::Connected => {
                self.publish_status();
                return;
            }
            Inbound::Message { topic, payload, retained } => (topic, payload, retained),
        };
        match self.config.topics.parse(&topic) {
            Some(Kind::Deploy(_) | Kind::Revoke(..)) => self.command(&topic, &payload, retained),
            // Late chunks of a module already staged, or of one abandoned.
            Some(Kind::Chunk { .. }) => {}
            _ => tracing::debug!(topic, "fleet: ignoring a message"),
        }
    }

    fn judge(&self, topic: &str, payload: &[u8], retained: bool) -> Verdict {
        let state = self.store.state();
        let judge = Judge {
            device: &self.config.device,
            groups: &self.config.groups,
            operators: &self.config.operators,
            topics: &self.config.topics,
            marks: &state.marks,
            deployment: state.latest_deployment.max(state.deployment_seq()),
            now: self.host.clock().now(),
        };
        command::check(judge, topic, payload, retained)
    }

    fn command(&mut self, topic: &str, payload: &[u8], retained: bool) {
        let claims = match self.judge(topic, payload, retained) {
            Verdict::Accept(claims) => claims,
            Verdict::AlreadyApplied => {
                tracing::debug!(topic, "fleet: the retained command was applied already");
                return;
            }
            Verdict::Outdated(why) => {
                tracing::info!(topic, "fleet: passing over a retained command: {why}");
                return;
            }
            Verdict::Refuse { why, detail, command } => {
                if why == Refusal::ClockUnknown {
                    self.reread_when_clock_set = true;
                }
                tracing::warn!(device = %self.config.device, topic, reason = why.name(), "fleet: command refused: {detail}");
                let (jti, seq) = command.map_or((None, None), |(jti, seq)| (Some(jti), Some(seq)));
                self.event("refused", seq, jti, why.name(), &format!("{topic}: {detail}"));
                return;
            }
        };
        if let Err(e) = self.host.clock().observe(claims.iat) {
            tracing::warn!("fleet: the clock's mark was not kept: {e}");
        }
        tracing::info!(device = %self.config.device, seq = claims.seq, jti = %claims.jti, kind = claims.kind(), "fleet: command accepted");
        let mark = Mark { seq: claims.seq, jti: claims.jti.clone(), iat: claims.iat };
        match claims.host_edge_fleet.clone() {
            Order::Revoke { subject, issued_before } => self.revoke(topic, mark, &claims, &subject, issued_before),
            Order::Deploy(deployment) => self.deploy(topic, mark, &claims, deployment),
        }
    }

    /// Applies a revocation; its mark is written with it, in one update, so
    /// that neither is kept without the other.
    fn revoke(&mut self, topic: &str, mark: Mark, claims: &CommandClaims, subject: &str, issued_before: u64) {
        let before = self.store.state().revocations.get(subject).copied().unwrap_or(0).max(issued_before);
        if let Err(e) = self.store.update(|state| {
            state.marks.insert(topic.to_owned(), mark);
            state.revocations.insert(subject.to_owned(), before);
        }) {
            tracing::error!("fleet: the revocation is not applied, as it could not be kept on disk: {e}");
            return;
        }
        let stopped = self.host.update_policy(|policy| {
            let entry = policy.revoked_issued_before.entry(subject.to_owned()).or_insert(0);
            *entry = (*entry).max(before);
        });
        let detail = format!(
            "tokens of {subject} issued before {} are refused{}",
            host_edge_runtime::claims::verify::stamp(before),
            if stopped.is_empty() { String::new() } else { format!("; stopped: {}", stopped.join("; ")) }
        );
        tracing::warn!(device = %self.config.device, subject, "fleet: {detail}");
        self.event("revocation", Some(claims.seq), Some(claims.jti.clone()), "revoked", &detail);
        self.publish_status();
    }

    fn deploy(&mut self, topic: &str, mark: Mark, claims: &CommandClaims, deployment: Deployment) {
        let label = deployment.describe();
        let pending = Pending { seq: claims.seq, jti: claims.jti.clone(), label: label.clone(), phase: Phase::Staging };
        // The mark, the newest sequence and the pending deployment in one
        // write: a stop right after leaves a deployment to report as
        // interrupted, never one lost.
        if let Err(e) = self.store.update(|state| {
            state.marks.insert(topic.to_owned(), mark);
            state.latest_deployment = state.latest_deployment.max(claims.seq);
            state.pending = Some(pending);
        }) {
            tracing::error!("fleet: deployment {} not started, as it could not be written down: {e}", claims.seq);
            return;
        }
        self.busy.store(true, Ordering::SeqCst);
        self.publish_status();
        tracing::info!(device = %self.config.device, seq = claims.seq, "fleet: deploying {label}");
        let Some((ending, detail)) = self.carry_out(claims, &deployment) else {
            // The host is stopping. The deployment stays pending: the next
            // start reports it interrupted, on the last good state.
            self.busy.store(false, Ordering::SeqCst);
            self.stopping = true;
            return;
        };
        let outcome = self.finish(claims, &label, ending, detail);
        tracing::info!(device = %self.config.device, seq = claims.seq, result = ?outcome.result, "fleet: deployment {label}: {}", outcome.detail);
        self.busy.store(false, Ordering::SeqCst);
        let result = serde_json::to_value(outcome.result).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        self.event("deployment", Some(claims.seq), Some(claims.jti.clone()), &result, &outcome.detail);
        self.publish_status();
        if let Some(base) = self.reload_after.take() {
            self.reload(base);
        }
    }

    /// Runs `deployment` through its [`Lifecycle`]: each action's I/O here,
    /// each decision there. Returns how it ended, or `None` when the host
    /// is stopping and it stays pending.
    fn carry_out(&mut self, claims: &CommandClaims, deployment: &Deployment) -> Option<(Ending, String)> {
        let accepted = Instant::now();
        let (mut lifecycle, mut action) = Lifecycle::start();
        // What staging prepares: the manifest to run and the probe's checks.
        let mut staged: Option<(Manifest, Vec<HttpCheck>)> = None;
        // When what runs first changed.
        let mut changed = Instant::now();
        // The lifecycle asks to apply, probe, keep or roll back only after
        // staging succeeded; should it ever not, the deployment fails by
        // name rather than the agent stopping.
        let unstaged = || Some((Ending::Failed, "the agent went out of step: no staged deployment".to_owned()));
        loop {
            let event = match action {
                Action::Stage => match self.stage_all(deployment) {
                    Ok(prepared) => {
                        staged = Some(prepared);
                        Report::Staged
                    }
                    Err(Failure::Staging(why)) => Report::StagingFailed(why),
                    Err(Failure::Superseded(next)) => {
                        self.deferred.push_front(*next);
                        Report::Superseded
                    }
                    Err(Failure::Stopping) => Report::Stopping,
                },
                Action::Apply => {
                    let Some((next, _)) = staged.as_ref() else { return unstaged() };
                    // A lower revision too: the operator signed this state,
                    // rollbacks included.
                    let plan = reload::plan_with(&self.running, next, &self.host.status(), Options { allow_lower_rev: true });
                    changed = Instant::now();
                    let applied = self.apply(plan);
                    match (self.stop.load(Ordering::SeqCst), applied) {
                        (true, _) => Report::Stopping,
                        (false, Ok(())) => Report::Applied,
                        (false, Err(Refused(why))) => Report::Refused { why, after: changed.elapsed() },
                    }
                }
                Action::Probe => {
                    let Some((_, checks)) = staged.as_ref() else { return unstaged() };
                    let timeout = deployment.probe_timeout.map_or(self.config.probe_timeout, Duration::from_secs);
                    let stop = Arc::clone(&self.stop);
                    let probed = probe::until_healthy(&self.host, deployment, checks, timeout, &|| stop.load(Ordering::SeqCst));
                    let after = changed.elapsed();
                    match (self.stop.load(Ordering::SeqCst), probed) {
                        (true, _) => Report::Stopping,
                        (false, Ok(_)) => Report::Healthy { after },
                        (false, Err(reasons)) => Report::Unhealthy { reasons, after },
                    }
                }
                Action::Keep => {
                    let Some((next, _)) = staged.as_ref() else { return unstaged() };
                    let committed = Committed { seq: claims.seq, jti: claims.jti.clone(), at: self.host.clock().now(), deployment: deployment.clone() };
                    match self.store.update(|state| state.committed = Some(committed)) {
                        Ok(()) => {
                            self.running = next.clone();
                            host_edge_runtime::metrics::global().deployment(claims.seq);
                            self.store.collect_garbage(&BTreeSet::new());
                            Report::Kept { since_command: accepted.elapsed() }
                        }
                        Err(e) => Report::NotKept(e.to_string()),
                    }
                }
                Action::RollBack => {
                    let Some((next, _)) = staged.as_ref() else { return unstaged() };
                    Report::RolledBack(self.roll_back(next))
                }
                Action::Finish { ending, detail } => return Some((ending, detail)),
                Action::Interrupt => return None,
            };
            action = lifecycle.on(event);
            self.phase(&lifecycle);
        }
    }

    /// Stages `deployment` and builds the manifest it makes, checked
    /// without opening a library, and the probe's checks.
    fn stage_all(&mut self, deployment: &Deployment) -> Result<(Manifest, Vec<HttpCheck>), Failure> {
        let checks = deployment.checks_for(&self.config.vars).map_err(|e| Failure::Staging(e.to_string()))?;
        self.stage(deployment)?;
        let next = deployment.manifest(&self.base, &self.store.modules(), &self.config.provider_dir, &self.config.vars).map_err(|e| Failure::Staging(e.to_string()))?;
        // Nothing that runs may change while staging, and opening a library
        // runs its initialisers: the libraries are opened when applied.
        let problems = host_edge_runtime::preflight::check_without_libraries(&next);
        if !problems.is_empty() {
            let problems: Vec<String> = problems.iter().map(|p| redact_text(&p.to_string()).into_owned()).collect();
            return Err(Failure::Staging(format!("the deployment does not check: {}", problems.join("; "))));
        }
        Ok((next, checks))
    }

    /// Fetches and checks every module and provider archive of
    /// `deployment`; nothing that runs changes, and no provider library is
    /// opened. Heartbeats go on meanwhile.
    fn stage(&mut self, deployment: &Deployment) -> Result<(), Failure> {
        let mut staging = Staging::start(&self.store, deployment, self.config.stage_timeout).map_err(|e| Failure::Staging(e.to_string()))?;
        let filters: Vec<String> = staging.awaited().iter().map(|(sha, size)| self.config.topics.chunks(sha, *size)).collect();
        for filter in &filters {
            self.link.subscribe(filter);
        }
        let deadline = Instant::now() + self.config.stage_timeout;
        let result = loop {
            if staging.is_done() {
                break Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let missing: Vec<String> = staging.awaited().iter().map(|(sha, _)| sha.chars().take(12).collect()).collect();
                break Err(Failure::Staging(format!(
                    "modules or provider archives {} did not arrive within {}",
                    missing.join(", "),
                    humantime::format_duration(self.config.stage_timeout)
                )));
            }
            let wait = left.min(self.beat.saturating_duration_since(Instant::now()));
            select! {
                recv(self.control) -> control => match control {
                    Ok(Control::Reload(base)) => self.reload_after = Some(*base),
                    Ok(Control::Stop) | Err(_) => break Err(Failure::Stopping),
                },
                recv(self.inbound) -> message => {
                    let Ok(message) = message else { break Err(Failure::Stopping) };
                    if let Err(failure) = self.while_staging(&mut staging, message) {
                        break Err(failure);
                    }
                },
                default(wait) => self.heartbeat(),
            }
        };
        self.received_bytes += staging.received_bytes;
        for filter in &filters {
            self.link.unsubscribe(filter);
        }
        result?;
        for actor in &deployment.actors {
            let path = module_file(&self.store.modules(), &actor.sha256);
            let bytes = std::fs::read(&path).map_err(|e| Failure::Staging(format!("{}: {e}", path.display())))?;
            let verified = self.host.load(&bytes).map_err(|e| Failure::Staging(format!("actor {}: {e}", actor.name)))?;
            if verified.subject() != actor.key {
                return Err(Failure::Staging(format!(
                    "actor {}: its module key is {}, and the signed deployment names {}",
                    actor.name,
                    verified.subject(),
                    actor.key
                )));
            }
        }
        // Verified now, with the device's policy and clock, and again by the
        // host when it loads them (it reads the file afresh).
        let trust = self.host.provider_trust();
        for provider in &deployment.providers {
            let Some(archive) = &provider.archive else { continue };
            let file = archive_file(&self.store.modules(), &archive.sha256);
            let verified = check_archive(&file, &provider.name, archive, &trust).map_err(|e| {
                tracing::warn!(device = %self.config.device, provider = %provider.name, sha256 = %archive.sha256, "fleet: {e}");
                Failure::Staging(e.to_string())
            })?;
            tracing::info!(
                device = %self.config.device,
                provider = %provider.name,
                key = %verified.subject(),
                issuer = %verified.issuer(),
                rev = ?verified.metadata.rev,
                sha256 = %archive.sha256,
                "fleet: provider archive verified"
            );
        }
        Ok(())
    }

    fn while_staging(&mut self, staging: &mut Staging, message: Inbound) -> Result<(), Failure> {
        let (topic, payload, retained) = match &message {
            Inbound::Connected => {
                self.publish_status();
                return Ok(());
            }
            Inbound::Message { topic, payload, retained } => (topic, payload, *retained),
        };
        match self.config.topics.parse(topic) {
            Some(Kind::Chunk { sha256, size, index }) => {
                if staging.chunk(&sha256, size, index, payload).map_err(|e| Failure::Staging(e.to_string()))? == Progress::Retry {
                    // The retained chunks again, from the start.
                    let filter = self.config.topics.chunks(&sha256, size);
                    self.link.unsubscribe(&filter);
                    self.link.subscribe(&filter);
                }
                Ok(())
            }
            // Only a deployment newer than every one accepted passes the
            // judge, this one included.
            Some(Kind::Deploy(_)) if matches!(self.judge(topic, payload, retained), Verdict::Accept(_)) => {
                Err(Failure::Superseded(Box::new(message)))
            }
            _ => {
                self.defer(message);
                Ok(())
            }
        }
    }

    /// Executes `plan`; the first command refused ends it, with why.
    /// Returns the first refusal as the line the outcome reports.
    fn apply(&self, plan: Vec<Command>) -> Result<(), Refused> {
        for command in plan {
            // Reported off the device (event, retained status): secret
            // settings and link values hidden.
            let what = command.loggable();
            match self.host.execute(command) {
                Ok(done) => tracing::info!(device = %self.config.device, "fleet: {done}"),
                Err(e) => return Err(Refused(format!("{} (while applying {what})", redact_text(&e.to_string())))),
            }
        }
        Ok(())
    }

    /// Takes the host from `next` (applied, or partly applied) back to what
    /// ran before, then makes sure of it: whatever of the old state is still
    /// missing is started again. Returns what could not be (empty: the old
    /// state is whole again; otherwise the device reports unready, naming
    /// what is missing).
    fn roll_back(&mut self, next: &Manifest) -> Vec<String> {
        let plan = reload::plan_with(next, &self.running, &self.host.status(), Options { allow_lower_rev: true });
        for command in plan {
            if let Err(e) = self.host.execute(command) {
                tracing::error!(device = %self.config.device, "fleet: rolling back: {e}");
            }
        }
        // What of the old state is not in place now, planned from what runs.
        let missing = reload::plan_with(&self.running, &self.running, &self.host.status(), Options { allow_lower_rev: true });
        missing.into_iter().filter_map(|command| self.host.execute(command).err().map(|e| redact_text(&e.to_string()).into_owned())).collect()
    }

    /// Writes down the phase `lifecycle` is in, and gives readiness
    /// (`/readyz`) as it says: withheld while what runs is being changed,
    /// the new state's during the probe.
    fn phase(&mut self, lifecycle: &Lifecycle) {
        self.busy.store(!lifecycle.ready(), Ordering::SeqCst);
        let phase = lifecycle.phase();
        if self.store.state().pending.as_ref().is_some_and(|pending| pending.phase == phase) {
            return;
        }
        if let Err(e) = self.store.update(|state| {
            if let Some(pending) = &mut state.pending {
                pending.phase = phase;
            }
        }) {
            tracing::warn!("fleet: the deployment's phase could not be written down: {e}");
        }
    }

    fn finish(&mut self, claims: &CommandClaims, label: &str, result: Ending, detail: String) -> Outcome {
        // The outcome goes into the retained status and an event: URL
        // credentials out of whatever the steps quoted.
        let detail = redact_text(&detail).into_owned();
        let outcome = Outcome { seq: claims.seq, label: label.to_owned(), result, detail, at: self.host.clock().now() };
        if let Err(e) = self.store.update(|state| {
            state.pending = None;
            state.outcome = Some(outcome.clone());
        }) {
            tracing::error!("fleet: the deployment's outcome could not be written down: {e}");
        }
        outcome
    }

    fn reload(&mut self, base: Manifest) {
        let next = boot_manifest(&base, &self.store, &self.config);
        let plan = reload::plan(&self.running, &next, &self.host.status());
        let total = plan.len();
        let failed = plan.into_iter().filter(|c| self.host.execute(c.clone()).is_err()).count();
        tracing::info!(changes = total, failed, "fleet: the device's manifest reloaded, with deployment {} over it", self.store.state().deployment_seq());
        self.base = base;
        self.running = next;
    }

    fn status(&self) -> DeviceStatus {
        let groups: Vec<String> = self.config.groups.iter().cloned().collect();
        DeviceStatus::collect(&self.host, &self.config.device, &groups, self.store.state(), self.started.elapsed().as_secs(), self.received_bytes)
    }

    fn publish_status(&self) {
        match serde_json::to_vec(&self.status()) {
            Ok(json) => self.link.publish(&self.config.topics.status(&self.config.device), json, true),
            Err(e) => tracing::error!("fleet: the status cannot be written: {e}"),
        }
    }

    fn event(&self, kind: &str, seq: Option<u64>, jti: Option<String>, outcome: &str, detail: &str) {
        let event = Event {
            device: self.config.device.clone(),
            at: self.host.clock().now(),
            kind: kind.to_owned(),
            seq,
            jti,
            outcome: outcome.to_owned(),
            detail: detail.to_owned(),
        };
        if let Ok(json) = serde_json::to_vec(&event) {
            self.link.publish(&self.config.topics.events(&self.config.device), json, false);
        }
    }
}
