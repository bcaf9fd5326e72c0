//! Command-line parsing and the dispatch to one module per subcommand.

mod boards;
mod call;
mod check;
mod device;
#[cfg(feature = "fleet")]
mod fleet;
mod health;
mod ctl;
mod gpio;
mod inspect;
mod keys;
mod logging;
mod new;
mod par;
mod payload;
mod run;
mod sign;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use host_edge_runtime::claims::Policy;
use host_edge_runtime::Manifest;
pub use logging::{LogFormat, Logging};

/// host-edge runs signed WebAssembly actors on edge boards and binds them to
/// native capability providers.
#[derive(Debug, Parser)]
#[command(name = "host-edge", version, propagate_version = true)]
pub struct Cli {
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log lines as text, or one JSON object a line. Text has colour only on a
    /// terminal (and without NO_COLOR); under systemd each line starts with its
    /// journald priority (<3> error ... <7> debug).
    #[arg(long, global = true, value_enum, value_name = "FORMAT", env = "HOST_EDGE_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate signing keys.
    Keys(keys::KeysArgs),
    /// Sign an actor module: embed claims in its `jwt` section.
    Sign(sign::SignArgs),
    /// Show an actor's or a provider archive's claims and the verdict of
    /// every check.
    Inspect(inspect::InspectArgs),
    /// Sign provider libraries into a provider archive (`par create`).
    Par(par::ParArgs),
    /// Invoke one operation on an actor, for debugging.
    Call(call::CallArgs),
    /// Load what a manifest names and serve until SIGINT or SIGTERM.
    Run(run::RunArgs),
    /// Check a manifest against its providers and actors, starting nothing.
    Check(check::CheckArgs),
    /// Control a running host over its local socket.
    Ctl(ctl::CtlArgs),
    /// Drive and watch the simulated GPIO board of a running host.
    Gpio(gpio::GpioArgs),
    /// List the boards the GPIO provider knows, or show one's header.
    Boards(boards::BoardsArgs),
    /// Write a new project: `new actor NAME`, an actor on the actor SDK.
    New(new::NewArgs),
    /// Operate a fleet: sign and send deployments and revocations, watch
    /// what the devices report.
    #[cfg(feature = "fleet")]
    Fleet(fleet::FleetArgs),
}

/// The policy options shared by `inspect` and `call`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Take the trust policy from this manifest's [policy] table.
    #[arg(long, value_name = "MANIFEST")]
    pub manifest: Option<PathBuf>,
    /// Trust only this issuer (account key, A...); repeatable.
    #[arg(long = "trust", value_name = "ACCOUNT_KEY")]
    pub trusted: Vec<String>,
}

impl PolicyArgs {
    /// The policy these options describe.
    pub fn policy(&self) -> anyhow::Result<Policy> {
        let mut policy = match &self.manifest {
            Some(path) => Manifest::load(path)?.policy,
            None => Policy::default(),
        };
        if !self.trusted.is_empty() {
            policy.trusted_issuers = self.trusted.iter().cloned().collect::<BTreeSet<_>>();
            policy.validate().context("--trust")?;
        }
        Ok(policy)
    }
}

/// Sets up `tracing` output on stderr; colour, journald priorities and JSON are decided in the `logging` module.
pub fn init_logging(verbose: u8, format: LogFormat) -> Logging {
    logging::init(verbose, format)
}

/// Runs one subcommand.
pub fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Keys(args) => keys::execute(args),
        Command::Sign(args) => sign::execute(args),
        Command::Inspect(args) => inspect::execute(args),
        Command::Par(args) => par::execute(args),
        Command::Call(args) => call::execute(args),
        Command::Run(args) => run::execute(args),
        Command::Check(args) => check::execute(args),
        Command::Ctl(args) => ctl::execute(args),
        Command::Gpio(args) => gpio::execute(args),
        Command::Boards(args) => boards::execute(args),
        Command::New(args) => new::execute(args),
        #[cfg(feature = "fleet")]
        Command::Fleet(args) => fleet::execute(args),
    }
}
