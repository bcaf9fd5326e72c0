//! `host-edge fleet`: the operator's side of fleet control.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use host_edge_runtime::claims::keys::{read_seed, KeyRole};
use host_edge_runtime::claims::policy::now_secs;
use host_edge_runtime::claims::verify::stamp;
use host_edge_fleet::command::{self, CommandClaims, Order};
use host_edge_fleet::deployment::{DeploymentFile, DEFAULT_CHUNK};
use host_edge_fleet::operator::{next_sequence, DeviceView, Operator, Report};
use host_edge_fleet::topics::ALL_GROUP;
use host_edge_fleet::{Target, Topics};
use mqtt_broker::{BrokerSettings, Spelling};

/// Operate a fleet over its MQTT broker.
#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(subcommand)]
    command: FleetCommand,
}

/// Where the fleet's broker is (the devices' `[fleet]` settings). Each
/// option not given comes from the saved profile (`host-edge fleet
/// profile --save`), then from the built-in default.
#[derive(Debug, Args)]
struct BrokerArgs {
    /// The broker, mqtt://host:port or mqtts://host:port [default: the
    /// profile's, else mqtt://127.0.0.1:1883].
    #[arg(long, global = true, env = "HOST_EDGE_FLEET_BROKER")]
    broker: Option<String>,
    /// The devices' topic prefix [default: the profile's, else host-edge/fleet].
    #[arg(long, global = true)]
    prefix: Option<String>,
    /// User name at the broker.
    #[arg(long, global = true)]
    username: Option<String>,
    /// A file holding the password.
    #[arg(long, global = true, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// PEM certificates to trust, for mqtts://.
    #[arg(long, global = true, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// PEM client certificate, with --client-key.
    #[arg(long, global = true, value_name = "FILE")]
    client_cert: Option<PathBuf>,
    /// Its private key.
    #[arg(long, global = true, value_name = "FILE")]
    client_key: Option<PathBuf>,
}

/// The operator's saved broker settings: what `fleet profile --save`
/// writes and every `fleet` command starts from, so that a broker and a
/// prefix typed once are not typed wrong the next time.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    broker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_key: Option<PathBuf>,
}

/// Where the profile is: `$HOST_EDGE_FLEET_PROFILE`, else
/// `$XDG_CONFIG_HOME/host-edge/fleet.toml`, else
/// `~/.config/host-edge/fleet.toml`.
fn profile_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("HOST_EDGE_FLEET_PROFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("host-edge/fleet.toml"))
}

impl Profile {
    /// The saved profile; the empty one when there is none.
    fn load() -> anyhow::Result<Profile> {
        let Some(path) = profile_path() else { return Ok(Profile::default()) };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("the fleet profile {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profile::default()),
            Err(e) => Err(e).with_context(|| format!("reading the fleet profile {}", path.display())),
        }
    }

    /// Writes the profile (owner-only: it names the broker's credentials).
    fn save(&self) -> anyhow::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = profile_path().context("no place for the fleet profile: set HOST_EDGE_FLEET_PROFILE or HOME")?;
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).with_context(|| format!("making {}", folder.display()))?;
        }
        let text = toml::to_string(self)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

impl BrokerArgs {
    /// These options over the saved profile.
    fn over(&self, profile: &Profile) -> Profile {
        Profile {
            broker: self.broker.clone().or_else(|| profile.broker.clone()),
            prefix: self.prefix.clone().or_else(|| profile.prefix.clone()),
            username: self.username.clone().or_else(|| profile.username.clone()),
            password_file: self.password_file.clone().or_else(|| profile.password_file.clone()),
            ca_file: self.ca_file.clone().or_else(|| profile.ca_file.clone()),
            client_cert: self.client_cert.clone().or_else(|| profile.client_cert.clone()),
            client_key: self.client_key.clone().or_else(|| profile.client_key.clone()),
        }
    }

    /// The settings in force: these options, then the profile's.
    fn settings(&self) -> anyhow::Result<Profile> {
        Ok(self.over(&Profile::load()?))
    }

    fn connect(&self) -> anyhow::Result<Operator> {
        let profile = self.settings()?;
        let settings = BrokerSettings {
            url: Some(profile.broker.clone().unwrap_or_else(|| mqtt_broker::DEFAULT_URL.to_owned())),
            username: profile.username.clone(),
            password: None,
            password_file: profile.password_file.clone(),
            ca_file: profile.ca_file.clone(),
            client_cert: profile.client_cert.clone(),
            client_key: profile.client_key.clone(),
        };
        let broker = settings.resolve(&std::env::current_dir()?, Spelling::Flags).map_err(|e| anyhow::anyhow!(e.0))?;
        Operator::connect(&broker, profile.topics()?).map_err(anyhow::Error::msg)
    }

    fn topics(&self) -> anyhow::Result<Topics> {
        self.settings()?.topics()
    }
}

impl Profile {
    /// The fleet's topics under this profile's prefix, or the default one.
    fn topics(&self) -> anyhow::Result<Topics> {
        let prefix = self.prefix.as_deref().unwrap_or(host_edge_fleet::config::DEFAULT_PREFIX);
        Topics::new(prefix).map_err(|e| anyhow::anyhow!("--prefix: {e}"))
    }
}

#[derive(Debug, Subcommand)]
enum FleetCommand {
    /// Sign a deployment for devices or groups, send its modules and
    /// provider archives (in retained chunks) and the signed command (retained, so devices that
    /// are offline get it when they come back); with --wait, follow the
    /// devices until each has reported how it went.
    #[command(after_help = "Examples:\n  \
        host-edge fleet deploy counter-v2.toml --to group:kitchen --operator operator.nk\n  \
        host-edge fleet deploy counter-v2.toml --to device:pi-7 --operator operator.nk --wait pi-7\n\n\
        A deployment file lists [[actor]] (path to a signed module here, instances, optional url\n\
        for the devices to fetch it from), [[provider]] (name, settings, and either path: a signed\n\
        archive on the device, or archive: a signed archive here that the deployment carries, with\n\
        an optional url), [[link]] and [[check]] (url, status) entries, and optionally label and\n\
        probe_timeout.")]
    Deploy {
        /// The deployment file (TOML).
        deployment: PathBuf,
        #[command(flatten)]
        signing: Signing,
        /// Bytes of a module or archive per MQTT message (1 KiB to 512 KiB).
        #[arg(long, default_value_t = DEFAULT_CHUNK)]
        chunk_size: u32,
        /// Wait for these devices to report the deployment's outcome: ID or
        /// device:ID, or group:NAME for every device whose last status says
        /// it is in the group; repeatable.
        #[arg(long, value_name = "DEVICE|group:NAME")]
        wait: Vec<String>,
        /// How long --wait waits.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Sign a deployment and write the signed command, sending nothing
    /// (for `fleet send`, from a machine that has no operator key).
    #[command(after_help = "Example:\n  host-edge fleet sign counter-v2.toml --to group:all --operator operator.nk -o counter-v2.jwt")]
    Sign {
        /// The deployment file (TOML).
        deployment: PathBuf,
        #[command(flatten)]
        signing: Signing,
        /// Bytes of a module or archive per MQTT message.
        #[arg(long, default_value_t = DEFAULT_CHUNK)]
        chunk_size: u32,
        /// Where to write the signed command (one token a line, one per target).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Send signed commands written by `fleet sign` (retained, at the topic
    /// each names), and with --deployment the modules and provider archives
    /// they need.
    #[command(after_help = "Example:\n  host-edge fleet send counter-v2.jwt --deployment counter-v2.toml")]
    Send {
        /// The file of signed commands.
        tokens: PathBuf,
        /// The deployment file whose modules and archives to send too.
        #[arg(long)]
        deployment: Option<PathBuf>,
        /// Bytes of a module or archive per MQTT message (as signed).
        #[arg(long, default_value_t = DEFAULT_CHUNK)]
        chunk_size: u32,
    },
    /// Revoke a module key: devices refuse every token of it issued before
    /// a time, and stop what runs under one.
    #[command(after_help = "Examples:\n  \
        host-edge fleet revoke MBX...WQ --to group:all --operator operator.nk\n  \
        host-edge fleet revoke MBX...WQ --issued-before 2026-11-01T00:00:00Z --to device:pi-7 --operator operator.nk")]
    Revoke {
        /// The module key (M...).
        subject: String,
        /// Tokens issued before this time are refused (RFC 3339; default:
        /// every token issued up to now).
        #[arg(long, value_parser = humantime::parse_rfc3339_weak)]
        issued_before: Option<std::time::SystemTime>,
        #[command(flatten)]
        signing: Signing,
    },
    /// Show every device's last status: deployment, actors, health.
    #[command(after_help = "Examples:\n  host-edge fleet status\n  host-edge fleet status --json")]
    Status {
        /// One JSON object with every device's status.
        #[arg(long)]
        json: bool,
        /// How long to wait for statuses once none arrive.
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        quiet: Duration,
    },
    /// Show the broker settings in force and where each comes from; with
    /// --save, save the options given as the profile every later `fleet`
    /// command starts from.
    #[command(after_help = "Examples:\n  \
        host-edge fleet --broker mqtts://broker.lan:8883 --prefix acme/fleet --ca-file ca.pem profile --save\n  \
        host-edge fleet profile\n\n\
        The profile is $HOST_EDGE_FLEET_PROFILE, else $XDG_CONFIG_HOME/host-edge/fleet.toml, else\n\
        ~/.config/host-edge/fleet.toml. Options given on a command override it.")]
    Profile {
        /// Save the options given over the saved profile.
        #[arg(long)]
        save: bool,
    },
    /// Follow what the devices report as it happens.
    #[command(after_help = "Examples:\n  host-edge fleet watch\n  host-edge fleet watch --json --for 10m")]
    Watch {
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
        /// Stop after this long.
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
    },
}

/// Who signs, for whom.
#[derive(Debug, Args)]
struct Signing {
    /// The target: device:ID or group:NAME (every device is in group:all); repeatable.
    #[arg(long = "to", required = true, value_parser = |s: &str| s.parse::<Target>())]
    targets: Vec<Target>,
    /// The operator's seed file (O...), from `host-edge keys generate operator`.
    #[arg(long)]
    operator: PathBuf,
    /// The sequence number; default: above the last one used with this seed,
    /// and at least the time in milliseconds.
    #[arg(long)]
    seq: Option<u64>,
    /// How long devices obey the command: one offline longer never runs it,
    /// and it cannot be replayed after (1s to 30d).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    valid_for: Duration,
}

impl Signing {
    fn sign(&self, topics: &Topics, order: &Order) -> anyhow::Result<Vec<(CommandClaims, String)>> {
        let operator = read_seed(&self.operator, KeyRole::Operator)?;
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let seq = match self.seq {
            Some(seq) => seq,
            None => next_sequence(&self.operator, now_ms)?,
        };
        self.targets
            .iter()
            .map(|target| {
                command::sign(&operator, topics, target, seq, now_secs(), self.valid_for.as_secs(), order.clone()).map_err(anyhow::Error::from)
            })
            .collect()
    }
}

pub fn execute(args: FleetArgs) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_secs(60);
    match args.command {
        FleetCommand::Deploy { deployment, signing, chunk_size, wait, timeout: wait_for } => {
            let file = DeploymentFile::load(&deployment, chunk_size).map_err(anyhow::Error::msg)?;
            let signed = signing.sign(&args.broker.topics()?, &Order::Deploy(file.deployment.clone()))?;
            let operator = args.broker.connect()?;
            // Who has reported under this prefix (the retained statuses):
            // the devices of a group to wait for, and a warning when no
            // target is among them. Also follows the devices from here on.
            let known = operator.statuses(KNOWN_QUIET).map_err(anyhow::Error::msg)?;
            let wait = devices_to_wait_for(&wait, &known, operator.topics())?;
            warn_unknown_targets(&signing.targets, &known, operator.topics().prefix());
            let started = Instant::now();
            let chunks = file.chunk_messages(operator.topics());
            let chunk_count = chunks.len();
            let module_bytes = operator.publish_retained(chunks, timeout).map_err(anyhow::Error::msg)?;
            let mut command_bytes = 0;
            for (claims, token) in &signed {
                let topic = claims.topic(operator.topics()).map_err(anyhow::Error::msg)?;
                command_bytes += operator.publish_retained(vec![(topic.clone(), token.clone().into_bytes())], timeout).map_err(anyhow::Error::msg)?;
                println!("sent deployment {} ({}) to {} at {topic}, valid until {}", claims.seq, file.deployment.describe(), claims.sub, stamp(claims.exp));
            }
            eprintln!(
                "{module_bytes} module bytes in {chunk_count} chunks (modules and provider archives) and {command_bytes} command bytes \
                 acknowledged by the broker in {:.2} s",
                started.elapsed().as_secs_f64()
            );
            let seq = signed.first().map_or(0, |(c, _)| c.seq);
            let outcome = if wait.is_empty() { ExitCode::SUCCESS } else { wait_for_outcomes(&operator, seq, &wait, wait_for, started)? };
            operator.disconnect();
            Ok(outcome)
        }
        FleetCommand::Sign { deployment, signing, chunk_size, output } => {
            let file = DeploymentFile::load(&deployment, chunk_size).map_err(anyhow::Error::msg)?;
            let signed = signing.sign(&args.broker.topics()?, &Order::Deploy(file.deployment))?;
            let text: String = signed.iter().map(|(_, token)| format!("{token}\n")).collect();
            std::fs::write(&output, text).with_context(|| format!("writing {}", output.display()))?;
            for (claims, _) in &signed {
                eprintln!("signed deployment {} for {} into {}, valid until {}", claims.seq, claims.sub, output.display(), stamp(claims.exp));
            }
            Ok(ExitCode::SUCCESS)
        }
        FleetCommand::Send { tokens, deployment, chunk_size } => {
            let text = std::fs::read_to_string(&tokens).with_context(|| format!("reading {}", tokens.display()))?;
            let operator = args.broker.connect()?;
            if let Some(deployment) = deployment {
                let file = DeploymentFile::load(&deployment, chunk_size).map_err(anyhow::Error::msg)?;
                let bytes = operator.publish_retained(file.chunk_messages(operator.topics()), timeout).map_err(anyhow::Error::msg)?;
                eprintln!("{bytes} module bytes (modules and provider archives) acknowledged by the broker");
            }
            for token in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                // Read, not trusted: the devices check the signature.
                let claims = token_claims(token)?;
                let topic = claims.topic(operator.topics()).map_err(anyhow::Error::msg)?;
                operator.publish_retained(vec![(topic.clone(), token.as_bytes().to_vec())], timeout).map_err(anyhow::Error::msg)?;
                println!("sent {} {} to {} at {topic}", claims.kind(), claims.seq, claims.sub);
            }
            operator.disconnect();
            Ok(ExitCode::SUCCESS)
        }
        FleetCommand::Revoke { subject, issued_before, signing } => {
            // Default: every token issued up to now, this second included
            // (times are whole seconds).
            let before = issued_before.map_or_else(|| now_secs() + 1, |t| t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
            let signed = signing.sign(&args.broker.topics()?, &Order::Revoke { subject: subject.clone(), issued_before: before })?;
            let operator = args.broker.connect()?;
            let known = operator.statuses(KNOWN_QUIET).map_err(anyhow::Error::msg)?;
            warn_unknown_targets(&signing.targets, &known, operator.topics().prefix());
            for (claims, token) in &signed {
                let topic = claims.topic(operator.topics()).map_err(anyhow::Error::msg)?;
                operator.publish_retained(vec![(topic.clone(), token.clone().into_bytes())], timeout).map_err(anyhow::Error::msg)?;
                println!(
                    "sent revocation {} of {subject} (issued before {}) to {} at {topic}, valid until {}",
                    claims.seq,
                    stamp(before),
                    claims.sub,
                    stamp(claims.exp)
                );
            }
            operator.disconnect();
            Ok(ExitCode::SUCCESS)
        }
        FleetCommand::Status { json, quiet } => {
            let operator = args.broker.connect()?;
            let devices = operator.statuses(quiet).map_err(anyhow::Error::msg)?;
            operator.disconnect();
            if json {
                let value: serde_json::Map<String, serde_json::Value> = devices
                    .iter()
                    .map(|(id, view)| {
                        (id.clone(), serde_json::json!({ "online": view.online, "status": view.status }))
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print_table(&devices);
            }
            Ok(ExitCode::SUCCESS)
        }
        FleetCommand::Profile { save } => {
            let saved = Profile::load()?;
            if save {
                let path = args.broker.over(&saved).save()?;
                println!("saved the fleet profile {}", path.display());
            }
            // What was just written, or what was there.
            let profile = if save { args.broker.over(&saved) } else { saved };
            let given = args.broker.over(&Profile::default());
            let source = |flag: bool, saved: bool| if flag { "option" } else if saved { "profile" } else { "default" };
            let in_force = args.broker.over(&profile);
            println!("broker   {} ({})", in_force.broker.as_deref().unwrap_or(mqtt_broker::DEFAULT_URL), source(given.broker.is_some(), profile.broker.is_some()));
            println!("prefix   {} ({})", in_force.prefix.as_deref().unwrap_or(host_edge_fleet::config::DEFAULT_PREFIX), source(given.prefix.is_some(), profile.prefix.is_some()));
            let files = [("username", in_force.username.clone().map(PathBuf::from)), ("password file", in_force.password_file.clone()), ("CA file", in_force.ca_file.clone()), ("client cert", in_force.client_cert.clone()), ("client key", in_force.client_key.clone())];
            for (name, value) in files {
                if let Some(value) = value {
                    println!("{name:<8} {}", value.display());
                }
            }
            if let Some(path) = profile_path() {
                println!("profile  {}{}", path.display(), if path.exists() { "" } else { " (none saved)" });
            }
            Ok(ExitCode::SUCCESS)
        }
        FleetCommand::Watch { json, duration } => {
            let operator = args.broker.connect()?;
            operator.follow_devices().map_err(anyhow::Error::msg)?;
            let end = duration.map(|d| Instant::now() + d);
            loop {
                let left = end.map_or(Duration::from_secs(3600), |end| end.saturating_duration_since(Instant::now()));
                if left.is_zero() {
                    break;
                }
                let Some(report) = operator.next_report(left).map_err(anyhow::Error::msg)? else { continue };
                print_report(&report, json);
            }
            operator.disconnect();
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How long the retained statuses are read before a deployment or a
/// revocation is sent: until none has arrived for this long.
const KNOWN_QUIET: Duration = Duration::from_millis(500);

/// The devices `--wait` names: `ID` and `device:ID` as they are, and
/// `group:NAME` as every device whose retained status lists the group.
fn devices_to_wait_for(wait: &[String], known: &BTreeMap<String, DeviceView>, topics: &Topics) -> anyhow::Result<Vec<String>> {
    let mut devices = Vec::new();
    for text in wait {
        let target = if text.contains(':') { text.parse::<Target>().map_err(|e| anyhow::anyhow!("--wait: {e}"))? } else { Target::Device(text.clone()) };
        match target {
            Target::Device(id) => devices.push(id),
            Target::Group(group) => {
                let members: Vec<String> = known
                    .iter()
                    .filter(|(_, view)| view.status.as_ref().is_some_and(|s| group == ALL_GROUP || s.groups.contains(&group)))
                    .map(|(id, _)| id.clone())
                    .collect();
                if members.is_empty() {
                    bail!(
                        "--wait group:{group}: no device of the group has reported under the prefix `{}`, so there is none to wait for \
                         (is the prefix right? `host-edge fleet status` lists the devices that have)",
                        topics.prefix()
                    );
                }
                devices.extend(members);
            }
        }
    }
    devices.sort();
    devices.dedup();
    Ok(devices)
}

/// Warns when none of `targets` has reported under `prefix`: a mistyped
/// prefix or device reaches nobody, and nothing else would say so.
fn warn_unknown_targets(targets: &[Target], known: &BTreeMap<String, DeviceView>, prefix: &str) {
    for target in targets {
        let reached = known.iter().any(|(id, view)| match target {
            Target::Device(device) => id == device,
            Target::Group(group) => view.status.as_ref().is_some_and(|s| group == ALL_GROUP || s.groups.contains(group)),
        });
        if !reached {
            eprintln!(
                "warning: no device of {target} has reported under the prefix `{prefix}`: the command is kept (retained) for it, \
                 but check the target and --prefix (`host-edge fleet status` lists the devices that have reported)"
            );
        }
    }
}

/// The claims of a token, read without checking it.
fn token_claims(token: &str) -> anyhow::Result<CommandClaims> {
    let body = token.split('.').nth(1).context("not a signed command: expected a JWT")?;
    let bytes = data_encoding::BASE64URL_NOPAD.decode(body.as_bytes()).context("not a signed command: the claims are not base64url")?;
    serde_json::from_slice(&bytes).context("not a signed command of host-edge's")
}

/// What `--wait` says of the reports it reads: devices have no key of
/// their own, so nothing proves a report came from the device it names.
const UNAUTHENTICATED: &str = "device reports are unauthenticated: devices have no key to sign them with, so anyone the broker lets \
publish under the prefix's devices/ can forge one; an outcome below is what was published, not proof";

/// Follows events until each of `devices` reported how deployment `seq`
/// ended; success when every one committed it. Reports are not signed
/// ([`UNAUTHENTICATED`]), which it says before the outcomes.
fn wait_for_outcomes(operator: &Operator, seq: u64, devices: &[String], timeout: Duration, started: Instant) -> anyhow::Result<ExitCode> {
    println!("note: {UNAUTHENTICATED}");
    let mut waiting: std::collections::BTreeSet<&str> = devices.iter().map(String::as_str).collect();
    let mut failed = false;
    let end = Instant::now() + timeout;
    while !waiting.is_empty() {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("no outcome from {} within {}", waiting.into_iter().collect::<Vec<_>>().join(", "), humantime::format_duration(timeout));
        }
        let Some(report) = operator.next_report(left).map_err(anyhow::Error::msg)? else { continue };
        match &report {
            Report::Event(event) if event.kind == "deployment" && event.seq == Some(seq) && waiting.contains(event.device.as_str()) => {
                println!("{}: {} after {:.2} s: {}", event.device, event.outcome, started.elapsed().as_secs_f64(), event.detail);
                failed |= event.outcome != "committed";
                waiting.remove(event.device.as_str());
            }
            Report::Event(event) if event.kind == "refused" && event.seq == Some(seq) && waiting.contains(event.device.as_str()) => {
                println!("{}: refused ({}): {}", event.device, event.outcome, event.detail);
                failed = true;
                waiting.remove(event.device.as_str());
            }
            _ => {}
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn print_table(devices: &BTreeMap<String, DeviceView>) {
    if devices.is_empty() {
        println!("no device has reported under this prefix");
        return;
    }
    let mut rows = vec![["DEVICE", "ONLINE", "DEPLOYMENT", "ACTORS", "PROVIDERS", "LAST OUTCOME"].map(str::to_owned)];
    for (id, view) in devices {
        let online = match view.online {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        let Some(status) = &view.status else {
            rows.push([id.clone(), online.to_owned(), "-".into(), "-".into(), "-".into(), "-".into()]);
            continue;
        };
        let deployment = status.deployment.as_ref().map_or("own manifest".to_owned(), |d| format!("{} ({})", d.seq, d.label));
        let actors: Vec<String> = status
            .actors
            .iter()
            .map(|a| format!("{} rev {} x{} ({} calls, {} errors)", a.name, a.rev.map_or("-".into(), |r| r.to_string()), a.instances, a.calls, a.errors))
            .collect();
        let unhealthy = status.providers.iter().filter(|p| !p.healthy).count();
        let providers = format!("{} ({} unhealthy)", status.providers.len(), unhealthy);
        let outcome = status.last_outcome.as_ref().map_or("-".to_owned(), |o| {
            format!("{} {}", o.seq, serde_json::to_value(o.result).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
        });
        rows.push([id.clone(), online.to_owned(), deployment, actors.join(", "), providers, outcome]);
    }
    let widths: Vec<usize> = (0..6).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for row in rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
}

fn print_report(report: &Report, json: bool) {
    match (report, json) {
        (Report::Status(status), true) => println!("{}", serde_json::json!({ "status": status })),
        (Report::Presence { device, online }, true) => println!("{}", serde_json::json!({ "device": device, "online": online })),
        (Report::Event(event), true) => println!("{}", serde_json::json!({ "event": event })),
        (Report::Status(status), false) => println!(
            "{} status: deployment {}, {} actors",
            status.device,
            status.deployment.as_ref().map_or("none".to_owned(), |d| d.seq.to_string()),
            status.actors.len()
        ),
        (Report::Presence { device, online }, false) => println!("{device} {}", if *online { "online" } else { "offline" }),
        (Report::Event(event), false) => println!(
            "{} {} {}{}: {}",
            event.device,
            event.kind,
            event.outcome,
            event.seq.map_or(String::new(), |s| format!(" (seq {s})")),
            event.detail
        ),
    }
}
