//! `host-edge ctl`: control a running host over its local socket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::{Command, LinkSpec, Status};
use host_edge::control::{self, Request, Response};
use host_edge_runtime::{Limits, DEFAULT_BINDING};
use host_edge_runtime::manifest::MAX_INSTANCES;
use provider_abi::redact::{redact_text, redact_values};

/// Control a running host over its local socket: see what it runs, start,
/// stop and replace actors, link and unlink them, without a restart.
///
/// The socket is owner-only: run this as the user the host runs as, or as
/// root.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge ctl list\n  \
    host-edge ctl status\n  \
    host-edge ctl status --json\n  \
    host-edge ctl replace actors/counter_s.wasm\n  \
    host-edge ctl start echo_s.wasm --instances 2 --fuel 50000000\n  \
    host-edge ctl stop echo\n  \
    host-edge ctl link echo wascc:keyvalue kv --value PATH=/var/lib/host-edge/echo.db\n  \
    host-edge ctl unlink echo wascc:keyvalue\n  \
    host-edge ctl --socket /run/host-edge/control.sock status\n\n\
The socket is --socket, else $HOST_EDGE_CONTROL, else $RUNTIME_DIRECTORY/control.sock \
(under systemd's RuntimeDirectory=), else /run/host-edge/control.sock for root, \
else $XDG_RUNTIME_DIR/host-edge/control.sock, else /tmp/host-edge-<uid>/control.sock.")]
pub struct CtlArgs {
    /// The host's control socket [default: $HOST_EDGE_CONTROL, else the path
    /// `host-edge ctl --help` names].
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// How long to wait for the host's answer (`0s`: as long as it takes).
    #[arg(long, value_name = "DURATION", default_value = "60s", global = true)]
    timeout: humantime::Duration,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// One line per running actor: name, module key, rev, ver, instances.
    #[command(after_help = "Examples:\n  host-edge ctl list\n  host-edge ctl --socket /run/host-edge/control.sock list")]
    List,
    /// What the host runs: actors, providers (with health) and links (with
    /// their grants).
    #[command(after_help = "Examples:\n  host-edge ctl status\n  host-edge ctl status --json | jq '.links'")]
    Status {
        /// Print the host's status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace a running actor with a new signed module carrying the same
    /// module key. Calls in flight finish on the old version.
    #[command(after_help = "Examples:\n  \
        host-edge ctl replace counter_s.wasm\n  \
        host-edge ctl replace counter_v1.wasm --force      # roll back to a lower rev\n  \
        host-edge ctl replace counter_s.wasm --instances 4")]
    Replace {
        /// The new signed module (a path on this machine; the host reads it).
        module: PathBuf,
        /// Accept a lower `rev` than the running one (a deliberate rollback).
        #[arg(long)]
        force: bool,
        /// Instances of the new version [default: as many as now].
        #[arg(long, value_name = "N", value_parser = parse_instances)]
        instances: Option<usize>,
    },
    /// Stop an actor: unlink it everywhere and let calls in flight finish.
    #[command(after_help = "Examples:\n  host-edge ctl stop echo\n  host-edge ctl stop MBCF...")]
    Stop {
        /// The actor: its name or module key.
        actor: String,
    },
    /// Verify a signed module and start it.
    #[command(after_help = "Examples:\n  \
        host-edge ctl start echo_s.wasm\n  \
        host-edge ctl start echo_s.wasm --instances 2 --fuel 50000000 --max-memory 8388608")]
    Start {
        /// The signed module (a path on this machine; the host reads it).
        module: PathBuf,
        /// Instances serving calls in parallel.
        #[arg(long, value_name = "N", default_value = "1", value_parser = parse_instances)]
        instances: usize,
        /// Fuel one call may burn (0: unlimited).
        #[arg(long, value_name = "F", default_value_t = Limits::default().fuel_per_call)]
        fuel: u64,
        /// Linear memory one instance may grow to, in bytes (0: unlimited).
        #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_memory_bytes)]
        max_memory: u64,
    },
    /// Link an actor's capability to a provider.
    #[command(after_help = "Examples:\n  \
        host-edge ctl link counter wascc:keyvalue kv --value PATH=/var/lib/host-edge/counter.db\n  \
        host-edge ctl link counter wascc:http_server http --value PORT=8080\n  \
        host-edge ctl link counter wascc:keyvalue kv --binding cache --grant prefix:counter:")]
    Link {
        /// The actor: its name or module key.
        actor: String,
        /// The capability id (e.g. wascc:keyvalue).
        capability: CapabilityId,
        /// The provider, by its name in the host.
        provider: String,
        /// The binding name the actor uses.
        #[arg(long, value_name = "B", default_value = DEFAULT_BINDING)]
        binding: String,
        /// A link value handed to the provider; repeatable.
        #[arg(long = "value", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        values: Vec<(String, String)>,
        /// A grant rule narrowing what the claims allow through this link
        /// (e.g. prefix:sensors:); repeatable.
        #[arg(long = "grant", value_name = "RULE")]
        grant: Vec<String>,
    },
    /// Remove a link and unbind the actor at its provider.
    #[command(after_help = "Example:\n  host-edge ctl unlink counter wascc:keyvalue")]
    Unlink {
        /// The actor: its name or module key.
        actor: String,
        /// The capability id.
        capability: CapabilityId,
        /// The binding name.
        #[arg(long, value_name = "B", default_value = DEFAULT_BINDING)]
        binding: String,
    },
}

pub fn execute(args: CtlArgs) -> anyhow::Result<ExitCode> {
    let socket = args.socket.unwrap_or_else(socket_from_env);
    let timeout = Duration::from(args.timeout);
    let command = match args.command {
        CtlCommand::List => {
            print!("{}", list(&status(&socket, timeout)?));
            return Ok(ExitCode::SUCCESS);
        }
        CtlCommand::Status { json } => {
            let status = redacted(status(&socket, timeout)?);
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", render_status(&status));
            }
            return Ok(ExitCode::SUCCESS);
        }
        CtlCommand::Replace {
            module,
            force,
            instances,
        } => Command::ReplaceActor {
            path: absolute(&module)?,
            force,
            instances,
            limits: None,
        },
        CtlCommand::Stop { actor } => Command::StopActor { actor },
        CtlCommand::Start {
            module,
            instances,
            fuel,
            max_memory,
        } => Command::StartActor {
            path: absolute(&module)?,
            instances,
            limits: Limits {
                fuel_per_call: fuel,
                max_memory_bytes: max_memory,
            },
        },
        CtlCommand::Link {
            actor,
            capability,
            provider,
            binding,
            values,
            grant,
        } => Command::Link(LinkSpec {
            actor,
            capability,
            binding,
            provider,
            values: value_map(values)?,
            grant,
        }),
        CtlCommand::Unlink {
            actor,
            capability,
            binding,
        } => Command::Unlink {
            actor,
            capability,
            binding,
        },
    };
    match control::request(&socket, &Request::Execute { command }, timeout)? {
        Response::Done(text) => {
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Response::Error(text) => {
            eprintln!("error: {}", redact_text(&text));
            Ok(ExitCode::FAILURE)
        }
        Response::Status(_) => bail!("the host answered a command with its status; is it the same version?"),
    }
}

/// `$HOST_EDGE_CONTROL`, else the default path.
fn socket_from_env() -> PathBuf {
    match std::env::var_os(control::SOCKET_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => control::default_socket_path(),
    }
}

fn status(socket: &Path, timeout: Duration) -> anyhow::Result<Status> {
    match control::request(socket, &Request::Status, timeout)? {
        Response::Status(status) => Ok(status),
        Response::Error(text) => bail!("{text}"),
        Response::Done(text) => bail!("the host answered a status request with `{text}`; is it the same version?"),
    }
}

/// `status` as it may be printed: secret settings and link values hidden,
/// credentials in URLs redacted (the host redacts too; a host of another
/// version may not).
fn redacted(mut status: Status) -> Status {
    for provider in &mut status.providers {
        provider.settings = redact_values(&provider.settings);
        if let Err(why) = &mut provider.health {
            *why = redact_text(why).into_owned();
        }
    }
    for link in &mut status.links {
        link.values = redact_values(&link.values);
    }
    status
}

/// The `--value` pairs as a map; a key given twice is a mistake.
fn value_map(values: Vec<(String, String)>) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (key, value) in values {
        if map.insert(key.clone(), value).is_some() {
            bail!("--value {key}=... is given twice");
        }
    }
    Ok(map)
}

/// The module path as the host must see it: it does not share our working
/// directory.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("making {} an absolute path", path.display()))
}

fn parse_instances(text: &str) -> Result<usize, String> {
    let n: usize = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
    if n == 0 || n > MAX_INSTANCES {
        return Err(format!("must be between 1 and {MAX_INSTANCES}"));
    }
    Ok(n)
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// `ctl list`: a header and one line per actor.
fn list(status: &Status) -> String {
    if status.actors.is_empty() {
        return "no actors are running\n".into();
    }
    let mut table = Table::new(&["NAME", "KEY", "REV", "VER", "INSTANCES"]);
    for actor in &status.actors {
        table.row(vec![
            actor.name.clone(),
            actor.key.clone(),
            actor.rev.map_or("-".into(), |r| r.to_string()),
            actor.ver.clone().unwrap_or_else(|| "-".into()),
            actor.instances.to_string(),
        ]);
    }
    table.render("")
}

/// `ctl status`: actors, providers and links as tables.
fn render_status(status: &Status) -> String {
    let mut out = String::new();

    out.push_str(&format!("actors ({})\n", status.actors.len()));
    let mut actors = Table::new(&["NAME", "KEY", "REV", "VER", "INSTANCES", "MEMORY", "FUEL/CALL", "MEMORY/INSTANCE", "GEN"]);
    for actor in &status.actors {
        actors.row(vec![
            actor.name.clone(),
            actor.key.clone(),
            actor.rev.map_or("-".into(), |r| r.to_string()),
            actor.ver.clone().unwrap_or_else(|| "-".into()),
            format!("{} of {}", actor.live_instances, actor.instances),
            bytes(actor.memory_bytes),
            unlimited_or(actor.limits.fuel_per_call, |f| f.to_string()),
            unlimited_or(actor.limits.max_memory_bytes, bytes),
            actor.generation.to_string(),
        ]);
        if let Some(path) = &actor.path {
            actors.detail(format!("path: {}", path.display()));
        }
    }
    out.push_str(&actors.render("  "));

    out.push_str(&format!("providers ({})\n", status.providers.len()));
    let mut providers = Table::new(&["NAME", "CAPABILITY", "HEALTH", "DESCRIPTION"]);
    for provider in &status.providers {
        providers.row(vec![
            provider.name.clone(),
            provider.capability.to_string(),
            if provider.health.is_ok() { "ok" } else { "FAILING" }.into(),
            provider.description.clone(),
        ]);
        if let Err(why) = &provider.health {
            providers.detail(format!("health: {why}"));
        }
        providers.detail(format!("path: {}", provider.path.display()));
        if !provider.settings.is_empty() {
            providers.detail(format!("settings: {}", pairs(&provider.settings)));
        }
    }
    out.push_str(&providers.render("  "));

    out.push_str(&format!("links ({})\n", status.links.len()));
    let mut links = Table::new(&["ACTOR", "CAPABILITY", "BINDING", "PROVIDER", "VALUES"]);
    for link in &status.links {
        // Keys are long; show the name when the actor is known.
        let actor = status
            .actors
            .iter()
            .find(|a| a.key == link.actor)
            .map_or_else(|| link.actor.clone(), |a| a.name.clone());
        links.row(vec![
            actor,
            link.capability.to_string(),
            link.binding.clone(),
            link.provider.clone(),
            if link.values.is_empty() { "-".into() } else { pairs(&link.values) },
        ]);
        if link.grant.is_empty() {
            links.detail("grant: unrestricted".into());
        }
        for line in &link.grant {
            links.detail(format!("grant: {line}"));
        }
    }
    out.push_str(&links.render("  "));
    if !status.builtins.is_empty() {
        let served: Vec<String> = status.builtins.iter().map(ToString::to_string).collect();
        out.push_str(&format!("built in: {} (to actors granted them, where no link serves them)\n", served.join(", ")));
    }
    out
}

fn unlimited_or(value: u64, show: impl Fn(u64) -> String) -> String {
    if value == 0 {
        "unlimited".into()
    } else {
        show(value)
    }
}

/// Bytes in the largest binary unit that divides them exactly.
fn bytes(n: u64) -> String {
    if n == 0 {
        return "0 B".into();
    }
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} B")
}

fn pairs(map: &BTreeMap<String, String>) -> String {
    map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// A left-aligned text table; each row may carry indented detail lines.
struct Table {
    header: Vec<String>,
    rows: Vec<(Vec<String>, Vec<String>)>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push((cells, Vec::new()));
    }

    /// A detail line under the last row.
    fn detail(&mut self, line: String) {
        if let Some((_, details)) = self.rows.last_mut() {
            details.push(line);
        }
    }

    fn render(&self, indent: &str) -> String {
        if self.rows.is_empty() {
            return format!("{indent}(none)\n");
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for (cells, _) in &self.rows {
            for (width, cell) in widths.iter_mut().zip(cells) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut text = indent.to_owned();
            for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:<width$}  "));
                }
            }
            text.truncate(text.trim_end().len());
            text.push('\n');
            text
        };
        let mut out = line(&self.header);
        for (cells, details) in &self.rows {
            out.push_str(&line(cells));
            for detail in details {
                out.push_str(&format!("{indent}    {detail}\n"));
            }
        }
        out
    }
}
