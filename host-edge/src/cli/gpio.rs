//! `host-edge gpio`: drive and watch the simulated board of a running host,
//! through the GPIO provider's control socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use host_edge_runtime::Manifest;
use serde_json::{json, Value};

/// Drive the inputs and watch the outputs of the simulated board (`BOARD =
/// "sim"`) of a running host.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge gpio pins\n  \
    host-edge gpio set button low      # press a button wired to ground\n  \
    host-edge gpio set button high     # and let go\n  \
    host-edge gpio watch               # every pin change as it happens\n  \
    host-edge gpio --manifest boards/examples/gpio-sim.toml history\n\n\
The socket is --socket, else that of the manifest's provider with BOARD = \"sim\" \
(--provider picks one of several): <state_dir>/<provider>/sim.sock.")]
pub struct GpioArgs {
    /// The simulated board's control socket.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// The manifest the host runs, to find the socket.
    #[arg(long, short, value_name = "MANIFEST", default_value = "manifest.toml")]
    manifest: PathBuf,
    /// The GPIO provider's name in the manifest, where it has several.
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,
    #[command(subcommand)]
    command: GpioCommand,
}

#[derive(Debug, Subcommand)]
enum GpioCommand {
    /// Every pin: mode, level, what drives it, who holds it.
    Pins,
    /// Drive an input from outside, as a button or a sensor would.
    Set {
        /// A label (`button`) or BCM number (`27`).
        pin: String,
        /// `high` or `low` (also 1/0, on/off).
        #[arg(value_parser = parse_level)]
        level: &'static str,
    },
    /// Drive a burst of edges onto an input, as a bouncing switch would.
    Pulse {
        /// A label or BCM number.
        pin: String,
        /// How many edges (level changes).
        #[arg(long, default_value_t = 10)]
        count: u32,
        /// Microseconds between edges.
        #[arg(long, default_value_t = 1000)]
        interval_us: u64,
    },
    /// The pin changes the board remembers.
    History {
        /// Only changes after this sequence number.
        #[arg(long, default_value_t = 0)]
        since: u64,
    },
    /// Print pin changes as they happen, until interrupted.
    Watch {
        /// Start after this sequence number (0: the whole history first).
        #[arg(long)]
        since: Option<u64>,
    },
}

fn parse_level(text: &str) -> Result<&'static str, String> {
    match text.to_ascii_lowercase().as_str() {
        "high" | "1" | "on" => Ok("high"),
        "low" | "0" | "off" => Ok("low"),
        _ => Err(format!("`{text}` is not a level: use high or low")),
    }
}

/// Runs `host-edge gpio`.
pub fn execute(args: GpioArgs) -> anyhow::Result<ExitCode> {
    let socket = match &args.socket {
        Some(socket) => socket.clone(),
        None => socket_from_manifest(&args.manifest, args.provider.as_deref())?,
    };
    let mut stream = UnixStream::connect(&socket).with_context(|| {
        format!("cannot reach the simulated board at {} (is the host running with BOARD = \"sim\"?)", socket.display())
    })?;
    let request = match &args.command {
        GpioCommand::Pins => json!({"op": "pins"}),
        GpioCommand::Set { pin, level } => json!({"op": "set", "pin": pin, "level": level}),
        GpioCommand::Pulse { pin, count, interval_us } => {
            json!({"op": "pulse", "pin": pin, "count": count, "interval_us": interval_us})
        }
        GpioCommand::History { since } => json!({"op": "history", "since": since}),
        GpioCommand::Watch { since } => json!({"op": "watch", "since": since.unwrap_or(0)}),
    };
    writeln!(stream, "{request}").context("sending the request")?;
    let mut lines = BufReader::new(stream).lines();
    if let GpioCommand::Watch { .. } = args.command {
        let mut out = std::io::stdout().lock();
        for line in lines {
            let answer = checked(&line.context("reading the board's answer")?)?;
            writeln!(out, "{}", change_line(&answer["change"]))?;
            out.flush()?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let line = lines.next().context("the board closed the connection without answering")??;
    let answer = checked(&line)?;
    match args.command {
        GpioCommand::Pins => print!("{}", pins_table(&answer)),
        GpioCommand::Set { .. } => {
            let changed = if answer["changed"] == json!(true) { "" } else { " (unchanged)" };
            println!("GPIO{} driven {}{changed}", answer["pin"], answer["level"].as_str().unwrap_or("?"));
        }
        GpioCommand::Pulse { .. } => {
            println!("{} edges in {} µs", answer["edges"], answer["elapsed_us"]);
        }
        GpioCommand::History { .. } => {
            for change in answer["changes"].as_array().into_iter().flatten() {
                println!("{}", change_line(change));
            }
        }
        GpioCommand::Watch { .. } => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The answer, or its error.
fn checked(line: &str) -> anyhow::Result<Value> {
    let answer: Value = serde_json::from_str(line).with_context(|| format!("the board answered `{line}`"))?;
    if answer["ok"] != json!(true) {
        bail!("{}", answer["error"].as_str().unwrap_or("the board refused the request"));
    }
    Ok(answer)
}

/// `   12  1234.567890 s  GPIO17 led     write    high`.
fn change_line(change: &Value) -> String {
    let time = change["time_us"].as_u64().unwrap_or(0) as f64 / 1e6;
    let detail = change["detail"].as_str().map(|d| format!("  {d}")).unwrap_or_default();
    format!(
        "{:>6}  {time:>14.6} s  GPIO{:<3} {:<10} {:<8} {}{detail}",
        change["seq"],
        change["pin"],
        change["label"].as_str().unwrap_or(""),
        change["event"].as_str().unwrap_or(""),
        change["level"].as_str().unwrap_or(""),
    )
}

/// The pins in use (or driven) as a table, then the edge queues.
fn pins_table(answer: &Value) -> String {
    let holders = |pin: &Value| -> String {
        answer["holders"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["pin"] == *pin)
            .and_then(|h| h["actors"].as_array())
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let mut out = format!("{:<7} {:<10} {:<7} {:<5} {:<7} {}\n", "PIN", "LABEL", "MODE", "LEVEL", "DRIVEN", "HELD BY");
    for pin in answer["pins"].as_array().into_iter().flatten() {
        let driven = pin["driven"].as_str().unwrap_or("-");
        if pin["mode"] == "unused" && driven == "-" {
            continue;
        }
        out.push_str(&format!(
            "GPIO{:<3} {:<10} {:<7} {:<5} {:<7} {}\n",
            pin["pin"],
            pin["label"].as_str().unwrap_or(""),
            pin["mode"].as_str().unwrap_or(""),
            pin["level"].as_str().unwrap_or(""),
            driven,
            holders(&pin["pin"]),
        ));
    }
    for actor in answer["actors"].as_array().into_iter().flatten() {
        if let Some(edges) = actor["edges"].as_object() {
            out.push_str(&format!(
                "\nactor {}: edge events {} delivered, {} dropped, {} queued",
                actor["name"].as_str().unwrap_or(""),
                edges["delivered"],
                edges["dropped"],
                edges["queued"]
            ));
        }
    }
    if answer["actors"].as_array().is_some_and(|a| !a.is_empty()) {
        out.push('\n');
    }
    out
}

/// The control socket of the manifest's simulated board.
fn socket_from_manifest(path: &Path, provider: Option<&str>) -> anyhow::Result<PathBuf> {
    let manifest = Manifest::load(path).with_context(|| {
        format!("finding the simulated board through {} (or give --socket)", path.display())
    })?;
    let is_sim = |settings: &std::collections::BTreeMap<String, String>| {
        settings.get("BOARD").is_some_and(|b| b.trim().eq_ignore_ascii_case("sim"))
    };
    let candidates: Vec<_> = manifest
        .providers
        .iter()
        .filter(|p| provider.map_or(is_sim(&p.settings), |name| p.name == name))
        .collect();
    let entry = match candidates.as_slice() {
        [one] => *one,
        [] => match provider {
            Some(name) => bail!("{} has no provider named `{name}`", path.display()),
            None => bail!("{} has no provider with BOARD = \"sim\"", path.display()),
        },
        several => {
            let names: Vec<&str> = several.iter().map(|p| p.name.as_str()).collect();
            bail!("{} has several simulated boards ({}): pick one with --provider", path.display(), names.join(", "))
        }
    };
    let socket = entry.settings.get("SIM_SOCKET").map_or("sim.sock", String::as_str);
    Ok(manifest.state_dir().join(&entry.name).join(socket))
}
