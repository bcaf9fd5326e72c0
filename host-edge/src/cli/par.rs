//! `host-edge par create`: sign provider libraries into a provider archive.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::keys::{read_seed, KeyRole};
use host_edge_runtime::claims::policy::now_secs;
use host_edge_runtime::claims::provider::{target_for_triple, HOST_TARGET};
use host_edge_runtime::claims::{archive, sign_archive, ProviderSignOptions};

/// Provider archives.
#[derive(Debug, Args)]
pub struct ParArgs {
    #[command(subcommand)]
    command: ParCommand,
}

#[derive(Debug, Subcommand)]
enum ParCommand {
    /// Sign provider libraries, one per target, into a provider archive
    /// (wasmCloud's PAR layout: claims.jwt and <target>.bin in a tar,
    /// gzipped when the output ends in .gz). The host loads a provider only
    /// from an archive whose claims verify under its policy.
    #[command(after_help = "Examples:\n  \
        host-edge keys generate service -o sqlite.nk\n  \
        host-edge par create --capability wascc:keyvalue --issuer issuer.nk --subject sqlite.nk \\\n      \
        --library target/release/libkeyvalue_sqlite.so -o keyvalue-sqlite.par.gz\n  \
        host-edge par create --capability wascc:http_server --issuer issuer.nk --subject http.nk \\\n      \
        --target aarch64-unknown-linux-gnu=arm64/libhttp_server.so \\\n      \
        --target armv7-linux=armhf/libhttp_server.so --rev 4 --ver 0.4.0 -o http.par.gz\n\n\
Targets: x86_64-linux, aarch64-linux, armv7-linux (32-bit hard-float ARMv7),\n\
armv6-linux (soft-float ARMv6, the Pi Zero bundle), armv6hf-linux; or the\n\
Rust target triple. `host-edge inspect ARCHIVE` shows the claims and checks.")]
    Create(CreateArgs),
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The capability the provider serves (any spelling).
    #[arg(long, value_name = "ID")]
    capability: CapabilityId,
    /// The account seed file (SA...) that signs.
    #[arg(long, value_name = "SEEDFILE")]
    issuer: PathBuf,
    /// The service seed file (SV...) naming this provider
    /// (`host-edge keys generate service`).
    #[arg(long, value_name = "SEEDFILE")]
    subject: PathBuf,
    /// The library built for this machine (its target is this host's).
    #[arg(long, value_name = "PATH")]
    library: Option<PathBuf>,
    /// A library for another target: TARGET=PATH; repeatable.
    #[arg(long = "target", value_name = "TARGET=PATH", value_parser = parse_target)]
    targets: Vec<(String, PathBuf)>,
    /// A friendly name.
    #[arg(long)]
    name: Option<String>,
    /// Who made it.
    #[arg(long, default_value = "")]
    vendor: String,
    /// Revision number.
    #[arg(long)]
    rev: Option<i32>,
    /// Version string.
    #[arg(long)]
    ver: Option<String>,
    /// Validity from now, e.g. 365d.
    #[arg(long, value_name = "DURATION")]
    expires_in: Option<humantime::Duration>,
    /// Where to write the archive; gzipped when it ends in .gz.
    #[arg(short, long)]
    output: PathBuf,
}

/// Reads `TARGET=PATH`, TARGET an archive target or a Rust target triple.
fn parse_target(text: &str) -> Result<(String, PathBuf), String> {
    let (target, path) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not TARGET=PATH, such as aarch64-linux=libprovider.so"))?;
    let target = match target_for_triple(target) {
        Some(name) => name.to_owned(),
        None if archive::is_target_name(target) => target.to_owned(),
        None => return Err(format!("`{target}` is neither a target name (aarch64-linux) nor a known Rust target triple")),
    };
    Ok((target, PathBuf::from(path)))
}

pub fn execute(args: ParArgs) -> anyhow::Result<ExitCode> {
    let ParCommand::Create(args) = args.command;
    let issuer = read_seed(&args.issuer, KeyRole::Account)?;
    let subject = read_seed(&args.subject, KeyRole::Service)?;
    let mut sources = args.targets.clone();
    if let Some(library) = &args.library {
        sources.push((HOST_TARGET.to_owned(), library.clone()));
    }
    if sources.is_empty() {
        bail!("no library given: name this machine's with --library, others with --target TARGET=PATH");
    }
    let mut libraries: Vec<(String, Vec<u8>)> = Vec::new();
    for (target, path) in &sources {
        if libraries.iter().any(|(t, _)| t == target) {
            bail!("two libraries for {target}: an archive holds one per target");
        }
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if !bytes.starts_with(b"\x7fELF") {
            bail!("{} is not a shared library (no ELF header)", path.display());
        }
        libraries.push((target.clone(), bytes));
    }
    if let Some(doubt) = args.capability.doubt() {
        eprintln!("warning: {doubt}");
    }
    let now = now_secs();
    let options = ProviderSignOptions {
        capability: args.capability.clone(),
        name: args.name.clone(),
        vendor: args.vendor.clone(),
        rev: args.rev,
        ver: args.ver.clone(),
        issued_at: now,
        expires: args.expires_in.map(|d| now + d.as_secs()),
        not_before: None,
    };
    let gzip = args.output.extension().is_some_and(|e| e == "gz");
    let signed = sign_archive(&libraries, &issuer, &subject, &options, gzip)?;
    std::fs::write(&args.output, &signed).with_context(|| format!("writing {}", args.output.display()))?;
    let targets: Vec<&str> = libraries.iter().map(|(t, _)| t.as_str()).collect();
    eprintln!(
        "signed {} for {} as {} ({} bytes) -> {}",
        args.capability,
        targets.join(", "),
        subject.public_key(),
        signed.len(),
        args.output.display()
    );
    println!("{}", subject.public_key());
    Ok(ExitCode::SUCCESS)
}
