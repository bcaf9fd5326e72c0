//! `host-edge keys generate account|module|operator|service` and `host-edge keys public`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use host_edge_runtime::claims::keys::{self, KeyError, KeyRole};

/// Key management.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate a key pair: the seed goes to a file only you can read (0600),
    /// the public key to standard output.
    #[command(after_help = "Examples:\n  \
        host-edge keys generate account -o issuer.nk\n  \
        host-edge keys generate module -o echo.nk\n  \
        host-edge keys generate operator -o operator.nk   # signs fleet commands\n  \
        host-edge keys generate service -o sqlite.nk      # a provider archive's identity")]
    Generate {
        /// account: signs actors (A...); module: one actor's identity (M...);
        /// operator: signs fleet commands (O...); service (or provider): one
        /// provider archive's identity (V...).
        kind: Kind,
        /// Where to write the seed; never overwritten. Default: ./<kind>.nk
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Print the public key of a seed file (to put in `trusted_issuers`).
    #[command(after_help = "Example:\n  host-edge keys public issuer.nk")]
    Public {
        /// The seed file.
        seed: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Account,
    Module,
    Operator,
    #[value(alias = "provider")]
    Service,
}

pub fn execute(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let (kind, output) = match args.command {
        KeysCommand::Generate { kind, output } => (kind, output),
        KeysCommand::Public { seed } => {
            let text = std::fs::read_to_string(&seed).with_context(|| format!("reading {}", seed.display()))?;
            let pair = nkeys::KeyPair::from_seed(text.trim())
                .map_err(|e| anyhow::anyhow!("{} is not an nkeys seed: {e}", seed.display()))?;
            println!("{}", pair.public_key());
            return Ok(ExitCode::SUCCESS);
        }
    };
    let role = match kind {
        Kind::Account => KeyRole::Account,
        Kind::Module => KeyRole::Module,
        Kind::Operator => KeyRole::Operator,
        Kind::Service => KeyRole::Service,
    };
    let path = output.unwrap_or_else(|| PathBuf::from(format!("{}.nk", role.name())));
    let pair = keys::generate(role);
    match keys::write_seed(&pair, &path) {
        Ok(()) => {}
        Err(KeyError::Exists { .. }) => bail!(
            "{} already exists, and a seed file is never overwritten: give another file with `-o`, \
             or move the old seed away first",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("writing the {} seed", role.name())),
    }
    eprintln!("{} seed written to {}", role.name(), path.display());
    println!("{}", pair.public_key());
    Ok(ExitCode::SUCCESS)
}
