//! `host-edge keys generate account|module`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use host_edge::claims::keys::{self, KeyRole};

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
        host-edge keys generate module -o echo.nk")]
    Generate {
        /// account: signs actors (A...); module: one actor's identity (M...).
        kind: Kind,
        /// Where to write the seed; never overwritten. Default: ./<kind>.nk
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Account,
    Module,
}

pub fn execute(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let KeysCommand::Generate { kind, output } = args.command;
    let role = match kind {
        Kind::Account => KeyRole::Account,
        Kind::Module => KeyRole::Module,
    };
    let path = output.unwrap_or_else(|| PathBuf::from(format!("{}.nk", role.name())));
    let pair = keys::generate(role);
    keys::write_seed(&pair, &path).with_context(|| format!("writing the {} seed", role.name()))?;
    eprintln!("{} seed written to {}", role.name(), path.display());
    println!("{}", pair.public_key());
    Ok(ExitCode::SUCCESS)
}
