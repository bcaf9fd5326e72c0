//! `host-edge inspect`: the claims and every check's verdict.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use host_edge::claims::keys::{check_public_key, KeyRole};
use host_edge::claims::policy::now_secs;
use host_edge::claims::verify::stamp;
use host_edge::claims::{inspect, Outcome, Report};

use super::PolicyArgs;

/// Show an actor's claims and the verdict of every check. Exits 1 when the
/// host would refuse the module, also when it is signed as a waSCC portable
/// capability provider (`prov: true`), which host-edge does not run.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge inspect echo_s.wasm\n  \
    host-edge inspect echo_s.wasm --json --trust ACZ...\n  \
    host-edge inspect echo_s.wasm --manifest /etc/host-edge/manifest.toml\n\n\
The signed fine-grained grants are shown under `grants`, and in the JSON\n\
under `claims.wascap.grants`; the `grants` check says whether they read.")]
pub struct InspectArgs {
    /// The module to inspect.
    file: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub fn execute(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let module = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let report = inspect(&module, &args.policy.policy()?, now_secs());
    let provider = is_portable_provider(&report);
    let refused = report.first_failure().is_some() || provider;
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["kind"] = if provider { "portable-provider" } else { "actor" }.into();
        value["verdict"] = if refused { "refused" } else { "accepted" }.into();
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_report(&args.file.display().to_string(), &report);
    }
    Ok(if refused { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// One line per capability, `wascc:keyvalue: prefix:sensors:, prefix:lab:`,
/// as the token writes them (the `grants` check says whether they read).
fn grant_lines(grants: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    grants.iter().map(|(capability, rules)| format!("{capability}: {}", rules.join(", "))).collect()
}

/// Whether the claims say the module is a waSCC portable capability
/// provider rather than an actor.
fn is_portable_provider(report: &Report) -> bool {
    report.claims.as_ref().and_then(|c| c.metadata.as_ref()).is_some_and(|m| m.prov)
}

fn print_report(file: &str, report: &Report) {
    println!("{file}");
    let provider = is_portable_provider(report);
    if let Some(claims) = &report.claims {
        let meta = claims.metadata.clone().unwrap_or_default();
        let row = |k: &str, v: &str| println!("  {k:<12} {v}");
        row("kind", if provider { "waSCC portable capability provider (prov: true)" } else { "actor" });
        row("name", meta.name.as_deref().unwrap_or("-"));
        row("subject", &claims.subject);
        row("issuer", &claims.issuer);
        row("token id", &claims.id);
        row("issued", &stamp(claims.issued_at));
        row("expires", &claims.expires.map_or("never".into(), stamp));
        row("not before", &claims.not_before.map_or("-".into(), stamp));
        // waSCC lists the actors one may call among its caps, by module key.
        let (actors, caps): (Vec<String>, Vec<String>) = meta
            .caps
            .unwrap_or_default()
            .into_iter()
            .partition(|cap| check_public_key(cap, KeyRole::Module).is_ok());
        row(if provider { "serves" } else { "capabilities" }, &caps.join(", "));
        if !provider {
            for (i, actor) in actors.iter().enumerate() {
                row(if i == 0 { "may call" } else { "" }, actor);
            }
            if actors.is_empty() {
                row("may call", "-");
            }
        }
        let grants = grant_lines(&meta.grants.unwrap_or_default());
        for (i, line) in grants.iter().enumerate() {
            row(if i == 0 { "grants" } else { "" }, line);
        }
        if grants.is_empty() {
            row("grants", "-");
        }
        row("tags", &meta.tags.unwrap_or_default().join(", "));
        row("revision", &meta.rev.map_or("-".into(), |r| r.to_string()));
        row("version", meta.ver.as_deref().unwrap_or("-"));
        row("hash", &meta.hash);
        row("section", report.section.as_deref().unwrap_or("-"));
    }
    println!("checks:");
    for result in &report.checks {
        let (mark, text) = match &result.outcome {
            Outcome::Passed(t) => ("ok  ", t),
            Outcome::Warned(t) => ("warn", t),
            Outcome::Failed(t) => ("FAIL", t),
            Outcome::Skipped(t) => ("skip", t),
        };
        println!("  {mark} {:<20} {text}", result.check.name());
    }
    match report.first_failure() {
        // The reason is on the FAIL line above; say it once.
        Some(failure) => println!("verdict: refused (claims check `{}` failed)", failure.check),
        None if provider => println!(
            "verdict: refused: signed as a waSCC portable capability provider, not an actor; host-edge serves \
             capabilities with native providers and does not run wasm providers"
        ),
        None => println!("verdict: accepted"),
    }
}
