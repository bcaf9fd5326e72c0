//! `host-edge inspect`: the claims and every check's verdict, of an actor
//! module or of a provider archive.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use host_edge_runtime::claims::keys::{check_public_key, KeyRole};
use host_edge_runtime::claims::policy::now_secs;
use host_edge_runtime::claims::verify::stamp;
use host_edge_runtime::claims::provider::HOST_TARGET;
use host_edge_runtime::claims::verify::CheckResult;
use host_edge_runtime::claims::{inspect, Outcome, Report};

use super::PolicyArgs;

/// Show the claims of an actor or a provider archive and the verdict of
/// every check. Exits 1 when the host would refuse it, also when a module is
/// signed as a waSCC portable capability provider (`prov: true`), which
/// host-edge does not run.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge inspect echo_s.wasm\n  \
    host-edge inspect echo_s.wasm --json --trust ACZ...\n  \
    host-edge inspect echo_s.wasm --manifest /etc/host-edge/manifest.toml\n  \
    host-edge inspect keyvalue-sqlite.par.gz --trust ACZ...\n  \
    host-edge inspect http.par.gz --target aarch64-linux\n\n\
The signed fine-grained grants are shown under `grants`, and in the JSON\n\
under `claims.wascap.grants`; the `grants` check says whether they read.")]
pub struct InspectArgs {
    /// The module or provider archive to inspect.
    file: PathBuf,
    /// For a provider archive: check the library of this target
    /// (aarch64-linux, armv7-linux, ...) instead of this machine's.
    #[arg(long)]
    target: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub fn execute(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let module = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    if !module.starts_with(b"\0asm") {
        return inspect_archive(&args, &module);
    }
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
    print_checks(&report.checks);
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

/// `inspect` of a provider archive: its claims, its libraries and every
/// check for the target's library.
fn inspect_archive(args: &InspectArgs, bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let target = args.target.as_deref().unwrap_or(HOST_TARGET);
    let report = host_edge_runtime::claims::inspect_archive(bytes, target, &args.policy.policy()?, now_secs());
    let refused = report.first_failure().is_some();
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["kind"] = "provider-archive".into();
        value["libraries"] = report
            .contents
            .iter()
            .flat_map(|c| &c.libraries)
            .map(|l| serde_json::json!({"target": l.target, "size": l.size, "hash": l.hash}))
            .collect();
        value["verdict"] = if refused { "refused" } else { "accepted" }.into();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(if refused { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    }
    println!("{}", args.file.display());
    let row = |k: &str, v: &str| println!("  {k:<12} {v}");
    if let Some(claims) = &report.claims {
        let meta = claims.metadata.clone().unwrap_or_default();
        row("kind", "provider archive");
        row("name", meta.name.as_deref().unwrap_or("-"));
        row("capability", if meta.capid.is_empty() { "-" } else { &meta.capid });
        row("vendor", if meta.vendor.is_empty() { "-" } else { &meta.vendor });
        row("subject", &claims.subject);
        row("issuer", &claims.issuer);
        row("token id", &claims.id);
        row("issued", &stamp(claims.issued_at));
        row("expires", &claims.expires.map_or("never".into(), stamp));
        row("not before", &claims.not_before.map_or("-".into(), stamp));
        row("revision", &meta.rev.map_or("-".into(), |r| r.to_string()));
        row("version", meta.ver.as_deref().unwrap_or("-"));
        let libraries = report.contents.iter().flat_map(|c| &c.libraries);
        for (i, library) in libraries.enumerate() {
            let signed = match meta.target_hashes.get(&library.target) {
                Some(hash) if *hash == library.hash => "signed",
                Some(_) => "CHANGED",
                None => "UNSIGNED",
            };
            let line = format!("{:<14} {:>9} bytes  {}  {signed}", library.target, library.size, library.hash);
            row(if i == 0 { "libraries" } else { "" }, &line);
        }
    }
    println!("checks (for {target}):");
    print_checks(&report.checks);
    match report.first_failure() {
        Some(failure) => println!("verdict: refused (claims check `{}` failed)", failure.check),
        None => println!("verdict: accepted"),
    }
    Ok(if refused { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// One line per check: its mark, its name and what it found.
fn print_checks(checks: &[CheckResult]) {
    for result in checks {
        let (mark, text) = match &result.outcome {
            Outcome::Passed(t) => ("ok  ", t),
            Outcome::Warned(t) => ("warn", t),
            Outcome::Failed(t) => ("FAIL", t),
            Outcome::Skipped(t) => ("skip", t),
        };
        println!("  {mark} {:<20} {text}", result.check.name());
    }
}
