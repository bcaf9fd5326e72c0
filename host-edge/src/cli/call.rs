//! `host-edge call`: one invocation of one actor, for debugging.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use host_edge_runtime::Limits;
use host_edge_runtime::Host;

use super::PolicyArgs;

/// Verify an actor, start one instance, invoke one operation and print the
/// reply on standard output. Host calls the actor makes are refused: no
/// providers are linked in this mode. With --with-providers, everything the
/// manifest names is started instead (providers, links, built-ins), the
/// actor named FILE in it is called, and everything is stopped again.
///
/// With --json, the payload of an operation whose message type host-edge
/// knows (HandleRequest, DeliverMessage, HandleEdge, ReceiveChunk,
/// HealthRequest) is built from JSON, fields left out taking their
/// defaults, and the reply is printed as JSON.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge call echo_s.wasm Echo 'hello'\n  \
    host-edge call echo_s.wasm Echo --payload-file request.bin > reply.bin\n  \
    host-edge call counter_s.wasm HandleRequest --json '{\"path\": \"/hits\"}'\n  \
    host-edge call counter HandleRequest --with-providers manifest.toml --json '{\"path\": \"/hits\"}'\n  \
    host-edge call faulty_s.wasm Loop --fuel 1000000")]
pub struct CallArgs {
    /// The signed module; with --with-providers, the name of an actor in
    /// the manifest.
    file: PathBuf,
    /// The operation to invoke.
    operation: String,
    /// The payload, as text.
    payload: Option<String>,
    /// Read the payload from a file instead.
    #[arg(long, conflicts_with = "payload")]
    payload_file: Option<PathBuf>,
    /// The payload as JSON, for an operation whose message type host-edge
    /// knows; the reply is printed as JSON too.
    #[arg(long, value_name = "JSON", conflicts_with_all = ["payload", "payload_file"])]
    json: Option<String>,
    /// Fuel for the call (0 = unlimited).
    #[arg(long, default_value_t = Limits::default().fuel_per_call)]
    fuel: u64,
    /// Memory ceiling in bytes (0 = unlimited).
    #[arg(long, default_value_t = Limits::default().max_memory_bytes)]
    max_memory: u64,
    /// Start what this manifest names (providers, links, built-ins) and
    /// call its actor named FILE, with its providers linked.
    #[arg(long, value_name = "MANIFEST", conflicts_with_all = ["fuel", "max_memory", "manifest", "trusted"])]
    with_providers: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub fn execute(args: CallArgs) -> anyhow::Result<ExitCode> {
    let payload = match (&args.payload, &args.payload_file, &args.json) {
        (_, _, Some(json)) => super::payload::encode(&args.operation, json)?,
        (_, Some(path), None) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        (Some(text), None, None) => text.clone().into_bytes(),
        (None, None, None) => Vec::new(),
    };
    let (host, key) = match &args.with_providers {
        Some(path) => start_manifest(path, &args.file.to_string_lossy())?,
        None => {
            let module = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
            let host = Host::new(args.policy.policy()?);
            let actor = host.load(&module).with_context(|| format!("loading {}", args.file.display()))?;
            let limits = Limits { fuel_per_call: args.fuel, max_memory_bytes: args.max_memory };
            let key = host.start_actor(actor, 1, limits)?;
            (host, key)
        }
    };
    let reply = host.call(&key, &args.operation, &payload).with_context(|| format!("calling {}", args.operation));
    host.shutdown();
    let reply = reply?;
    if args.json.is_some() {
        let json = super::payload::decode_reply(&args.operation, &reply)
            .with_context(|| format!("decoding the reply to {}", args.operation))?
            .expect("--json is only accepted for known operations");
        println!("{json}");
        return Ok(ExitCode::SUCCESS);
    }
    std::io::stdout().write_all(&reply)?;
    Ok(ExitCode::SUCCESS)
}

/// Starts everything `path` names, as `run` does, and finds the actor
/// `name` in it.
fn start_manifest(path: &std::path::Path, name: &str) -> anyhow::Result<(Host, String)> {
    let (manifest, parsed) = super::check::load(path)?;
    super::check::refuse_problems(path, &manifest, parsed)?;
    let host = Host::with_builtins(manifest.policy.clone(), manifest.state_dir(), &manifest.host.builtins());
    host.set_unsigned_providers(manifest.host.allow_unsigned_providers == Some(true));
    let failures: Vec<String> = manifest.commands().into_iter().filter_map(|command| super::run::apply(&host, command).err()).collect();
    if !failures.is_empty() {
        host.shutdown();
        bail!("{} could not be started:\n  {}", path.display(), failures.join("\n  "));
    }
    let actors = host.status().actors;
    match actors.iter().find(|actor| actor.name == name || actor.key == name) {
        Some(actor) => Ok((host.clone(), actor.key.clone())),
        None => {
            host.shutdown();
            let names: Vec<&str> = actors.iter().map(|a| a.name.as_str()).collect();
            bail!(
                "{} runs no actor named `{name}`{}; it runs: {}",
                path.display(),
                provider_abi::suggest::did_you_mean(name, names.iter().copied()),
                names.join(", ")
            )
        }
    }
}
