//! `host-edge sign`: embed signed claims in a module.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context};
use clap::Args;
use host_edge_runtime::capability::{CapabilityId, WellKnown};
use host_edge_runtime::claims::keys::{read_seed, KeyRole};
use host_edge_runtime::claims::policy::now_secs;
use host_edge_runtime::claims::{section, sign_module, SignOptions};
use provider_abi::grant::Rule;

/// Sign an actor. Any claims the module already carries are replaced; every
/// other byte of the module is kept.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge sign echo.wasm -o echo_s.wasm --issuer issuer.nk --subject echo.nk --name echo\n  \
    host-edge sign counter.wasm -o counter_s.wasm --issuer issuer.nk --subject counter.nk \\\n      \
    -k -s --expires-in 365d --tag demo\n  \
    host-edge sign sensors.wasm -o sensors_s.wasm --issuer issuer.nk --subject sensors.nk \\\n      \
    -k --grant wascc:keyvalue=prefix:sensors: --grant wascc:keyvalue=exact:config\n  \
    host-edge sign button_led.wasm -o button_led_s.wasm --issuer issuer.nk --subject led.nk \\\n      \
    --cap iot:gpio --grant iot:gpio=out:17,in:27\n  \
    host-edge sign weather.wasm -o weather_s.wasm --issuer issuer.nk --subject weather.nk \\\n      \
    --i2c -g -s --grant iot:i2c=1:0x76\n  \
    host-edge sign gateway.wasm -o gateway_s.wasm --issuer issuer.nk --subject gateway.nk \\\n      \
    -s --call MB2ZQB6ROOMAYBO4ZCTFYWN7YIVBWA3MTKZYAQKJMTIHE2ELLRW2E3ZW\n\n\
A grant narrows a capability the token grants: with the third example the actor\n\
reaches only the keys starting `sensors:` and the key `config`; with the fourth,\n\
it may drive GPIO 17 and read GPIO 27, and no other pin (a signed pin is a\n\
BCM number or a label of the board's own definition, never one from the\n\
manifest's LABELS); with the fifth, it may reach the device at 0x76 on I2C\n\
bus 1 only. A manifest link may narrow it further; see docs/claims.md,\n\
\"Fine-grained grants\". With the sixth, the actor may call\n\
that one actor (by its module key); see docs/claims.md, \"Calls between actors\".")]
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
    /// Narrow a granted capability to some resources: CAPABILITY (any
    /// spelling) and rules `kind:value` separated by commas, e.g.
    /// `wascc:keyvalue=prefix:sensors:` or `iot:gpio=out:17,in:27`.
    /// Repeatable; several rules for one capability permit what any permits.
    #[arg(long = "grant", value_name = "CAPABILITY=RULES", value_parser = parse_grant)]
    grants: Vec<(CapabilityId, Vec<Rule>)>,
    /// Allow this actor to call the actor with module key KEY (`M…`);
    /// repeatable. Written among the token's `caps`, as waSCC did; without
    /// it the host refuses every call to another actor.
    #[arg(long = "call", value_name = "KEY")]
    calls: Vec<String>,
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
    /// Grant iot:i2c.
    #[arg(long)]
    i2c: bool,
    /// Grant iot:spi.
    #[arg(long)]
    spi: bool,
    /// Grant iot:serial.
    #[arg(long)]
    serial: bool,
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
            (self.i2c, WellKnown::I2c),
            (self.spi, WellKnown::Spi),
            (self.serial, WellKnown::Serial),
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

/// Reads `CAPABILITY=kind:value[,kind:value...]`, splitting at the first
/// `=` and then at each `,`.
fn parse_grant(text: &str) -> Result<(CapabilityId, Vec<Rule>), String> {
    let (capability, rules) = text.split_once('=').ok_or_else(|| {
        format!("`{text}` is not a grant: expected CAPABILITY=kind:value, such as wascc:keyvalue=prefix:sensors:")
    })?;
    let capability = CapabilityId::parse(capability).map_err(|e| e.to_string())?;
    let rules = rules.split(',').map(|rule| rule.trim().parse::<Rule>().map_err(|e| e.to_string()));
    Ok((capability, rules.collect::<Result<_, _>>()?))
}

impl SignArgs {
    fn grants(&self) -> BTreeMap<CapabilityId, Vec<Rule>> {
        let mut grants: BTreeMap<CapabilityId, Vec<Rule>> = BTreeMap::new();
        for (capability, rules) in &self.grants {
            grants.entry(capability.clone()).or_default().extend(rules.iter().cloned());
        }
        grants
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
    let named: std::collections::BTreeSet<CapabilityId> = args.capabilities().into_iter().chain(args.grants().into_keys()).collect();
    for capability in named {
        if let Some(doubt) = capability.doubt() {
            eprintln!("warning: {doubt}");
        }
    }
    let options = SignOptions {
        name: args.name.clone(),
        caps: args.capabilities(),
        actors: args.calls.clone(),
        tags: args.tags.clone(),
        rev: args.rev,
        ver: args.ver.clone(),
        expires: args.expires_in.map(|d| now + d.as_secs()),
        not_before: args.not_before.as_deref().map(|w| parse_when(w, now)).transpose()?,
        issued_at: now,
        grants: args.grants(),
    };
    let signed = sign_module(&module, &issuer, &subject, &options)
        // The error says "cannot sign"; the context adds only the file.
        .with_context(|| args.input.display().to_string())?;
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
