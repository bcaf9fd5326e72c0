//! `host-edge sign`: embed signed claims in a module.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context};
use clap::Args;
use host_edge::capability::{CapabilityId, WellKnown};
use host_edge::claims::keys::{read_seed, KeyRole};
use host_edge::claims::policy::now_secs;
use host_edge::claims::{section, sign_module, SignOptions};

/// Sign an actor. Any claims the module already carries are replaced; every
/// other byte of the module is kept.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge sign echo.wasm -o echo_s.wasm --issuer issuer.nk --subject echo.nk --name echo\n  \
    host-edge sign counter.wasm -o counter_s.wasm --issuer issuer.nk --subject counter.nk \\\n      \
    -k -s --expires-in 365d --tag demo")]
pub struct SignArgs {
    /// The module to sign.
    input: PathBuf,
    /// Where to write the signed module.
    #[arg(short, long)]
    output: PathBuf,
    /// The account seed file (SA...) that signs.
    #[arg(long, value_name = "SEEDFILE")]
    issuer: PathBuf,
    /// The module seed file (SM...) naming this actor.
    #[arg(long, value_name = "SEEDFILE")]
    subject: PathBuf,
    /// A friendly name.
    #[arg(long)]
    name: Option<String>,
    /// Grant a capability by id (any spelling: wascc:, wascap:, wasmcloud:); repeatable.
    #[arg(long = "cap", value_name = "ID")]
    caps: Vec<CapabilityId>,
    /// A tag; repeatable.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Revision number.
    #[arg(long)]
    rev: Option<i32>,
    /// Version string.
    #[arg(long)]
    ver: Option<String>,
    /// Validity from now, e.g. 30d, 12h, "1year".
    #[arg(long, value_name = "DURATION")]
    expires_in: Option<humantime::Duration>,
    /// Start of validity: a duration from now (2h) or a time (2027-01-01T00:00:00Z).
    #[arg(long, value_name = "WHEN")]
    not_before: Option<String>,
    /// Grant wascc:keyvalue.
    #[arg(short = 'k', long)]
    keyvalue: bool,
    /// Grant wascc:messaging.
    #[arg(short = 'g', long)]
    messaging: bool,
    /// Grant wascc:http_server.
    #[arg(short = 's', long)]
    http_server: bool,
    /// Grant wascc:http_client.
    #[arg(short = 'c', long)]
    http_client: bool,
    /// Grant wascc:blobstore.
    #[arg(short = 'b', long)]
    blobstore: bool,
    /// Grant wascc:logging.
    #[arg(short = 'l', long)]
    logging: bool,
    /// Grant wascc:extras.
    #[arg(short = 'e', long)]
    extras: bool,
    /// Grant iot:gpio.
    #[arg(long)]
    gpio: bool,
}

impl SignArgs {
    fn capabilities(&self) -> Vec<CapabilityId> {
        let flags = [
            (self.keyvalue, WellKnown::KeyValue),
            (self.messaging, WellKnown::Messaging),
            (self.http_server, WellKnown::HttpServer),
            (self.http_client, WellKnown::HttpClient),
            (self.blobstore, WellKnown::Blobstore),
            (self.logging, WellKnown::Logging),
            (self.extras, WellKnown::Extras),
            (self.gpio, WellKnown::Gpio),
        ];
        let mut caps: Vec<CapabilityId> = flags
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, known)| known.into())
            .chain(self.caps.iter().cloned())
            .collect();
        caps.sort();
        caps.dedup();
        caps
    }
}

fn parse_when(text: &str, now: u64) -> anyhow::Result<u64> {
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    }
    match humantime::parse_duration(text) {
        Ok(d) => Ok(now + d.as_secs()),
        Err(_) => bail!("--not-before `{text}`: expected a duration (2h) or a time (2027-01-01T00:00:00Z)"),
    }
}

pub fn execute(args: SignArgs) -> anyhow::Result<ExitCode> {
    let module = std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let issuer = read_seed(&args.issuer, KeyRole::Account)?;
    let subject = read_seed(&args.subject, KeyRole::Module)?;
    let now = now_secs();
    let options = SignOptions {
        name: args.name.clone(),
        caps: args.capabilities(),
        tags: args.tags.clone(),
        rev: args.rev,
        ver: args.ver.clone(),
        expires: args.expires_in.map(|d| now + d.as_secs()),
        not_before: args.not_before.as_deref().map(|w| parse_when(w, now)).transpose()?,
        issued_at: now,
    };
    let signed = sign_module(&module, &issuer, &subject, &options)
        .with_context(|| format!("signing {}", args.input.display()))?;
    std::fs::write(&args.output, &signed).with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!(
        "signed {} as {} (hash {}) -> {}",
        args.input.display(),
        subject.public_key(),
        section::module_hash(&signed)?,
        args.output.display()
    );
    println!("{}", subject.public_key());
    Ok(ExitCode::SUCCESS)
}
