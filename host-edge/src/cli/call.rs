//! `host-edge call`: one invocation of one actor, for debugging.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use host_edge::engine::Limits;
use host_edge::Host;

use super::PolicyArgs;

/// Verify an actor, start one instance, invoke one operation and print the
/// reply on standard output. Host calls the actor makes are refused: no
/// providers are linked in this mode.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge call echo_s.wasm Echo 'hello'\n  \
    host-edge call echo_s.wasm Echo --payload-file request.bin > reply.bin\n  \
    host-edge call faulty_s.wasm Loop --fuel 1000000")]
pub struct CallArgs {
    /// The signed module.
    file: PathBuf,
    /// The operation to invoke.
    operation: String,
    /// The payload, as text.
    payload: Option<String>,
    /// Read the payload from a file instead.
    #[arg(long, conflicts_with = "payload")]
    payload_file: Option<PathBuf>,
    /// Fuel for the call (0 = unlimited).
    #[arg(long, default_value_t = Limits::default().fuel_per_call)]
    fuel: u64,
    /// Memory ceiling in bytes (0 = unlimited).
    #[arg(long, default_value_t = Limits::default().max_memory_bytes)]
    max_memory: u64,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub fn execute(args: CallArgs) -> anyhow::Result<ExitCode> {
    let module = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let payload = match (&args.payload, &args.payload_file) {
        (_, Some(path)) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        (Some(text), None) => text.clone().into_bytes(),
        (None, None) => Vec::new(),
    };
    let host = Host::new(args.policy.policy()?);
    let actor = host.load(&module).with_context(|| format!("loading {}", args.file.display()))?;
    let limits = Limits {
        fuel_per_call: args.fuel,
        max_memory_bytes: args.max_memory,
    };
    let key = host.start_actor(actor, 1, limits)?;
    let reply = host
        .call(&key, &args.operation, &payload)
        .with_context(|| format!("calling {}", args.operation));
    host.shutdown();
    let reply = reply?;
    std::io::stdout().write_all(&reply)?;
    Ok(ExitCode::SUCCESS)
}
