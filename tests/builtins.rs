//! `wascc:logging` and `wascc:extras` served by the host itself, end to
//! end: the `host-edge` binary, the HTTP provider, and an actor built with
//! waSCC's own SDK (`actors/wascc-extras`, wascc-actor 0.7), signed for
//! them, with no provider or link for either in the manifest.

use std::time::{Duration, Instant};

use testkit::host::HostProcess;
use testkit::{actor_module, free_port, http_get, provider_archive, Signer};

const HTTP: &str = "wascc:http_server";
const EXTRAS: &str = "wascc:extras";
const LOGGING: &str = "wascc:logging";

/// A manifest running `actor.wasm` with only an HTTP link, plus `host`
/// lines under `[host]`.
fn manifest(port: u16, host: &str) -> String {
    format!(
        r#"
[host]
{host}

[[actor]]
path = "actor.wasm"

[[provider]]
name = "http"
path = "{http}"

[[link]]
actor = "wascc-extras"
capability = "wascc:http_server"
provider = "http"
values = {{ ADDRESS = "127.0.0.1", PORT = "{port}", ERROR_DETAIL = "true" }}
"#,
        http = provider_archive("http_server").display(),
    )
}

/// The waSCC actor signed with `caps`, served by a host whose `[host]`
/// table holds `host`.
fn deploy(dir: &std::path::Path, caps: &[&str], host: &str) -> HostProcess {
    std::fs::write(dir.join("actor.wasm"), Signer::new().sign(&actor_module("wascc_extras"), "wascc-extras", caps)).unwrap();
    let port = free_port();
    HostProcess::new(dir, &manifest(port, host), port)
}

fn get_ok(host: &HostProcess, path: &str) -> String {
    let (status, body) = http_get(&host.url(path));
    assert_eq!(status, 200, "GET {path}: {body}\n{}", host.log());
    body
}

/// The `key=value` lines of `/generate`.
fn field<'a>(body: &'a str, key: &str) -> &'a str {
    body.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key} in {body}"))
}

#[test]
fn a_wascc_actor_gets_guids_sequences_and_random_numbers_with_no_provider_in_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = deploy(dir.path(), &[HTTP, EXTRAS, LOGGING], "");
    host.start();
    let first = get_ok(&host, "/generate");
    let second = get_ok(&host, "/generate");
    assert_eq!((field(&first, "sequence"), field(&second, "sequence")), ("0", "1"));
    let (a, b) = (field(&first, "guid"), field(&second, "guid"));
    assert_ne!(a, b);
    for guid in [a, b] {
        assert_eq!(guid.len(), 36, "{guid}");
        assert_eq!(&guid[14..15], "4", "a version 4 UUID: {guid}");
    }
    for body in [&first, &second] {
        let random: u32 = field(body, "random").parse().unwrap();
        assert!((1..=6).contains(&random), "{random}");
    }
    assert_eq!(get_ok(&host, "/random/7/7"), "7");
    let log = host.log();
    assert!(log.contains("built in: wascc:logging, wascc:extras"), "{log}");
    assert!(!log.contains("nothing serves it"), "{log}");
}

#[test]
fn an_actors_log_lines_appear_at_its_level_with_its_name_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = deploy(dir.path(), &[HTTP, EXTRAS, LOGGING], "");
    host.rust_log("info,actor=trace").start();
    assert_eq!(get_ok(&host, "/levels"), "logged 5 levels");
    let log = host.log();
    let key = log
        .lines()
        .find_map(|l| l.split("actor=").nth(1).filter(|_| l.contains("serving wascc-extras")))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no actor key at start: {log}"))
        .to_owned();
    for (level, text) in
        [("ERROR", "an error line"), ("WARN", "a warn line"), ("INFO", "an info line"), ("DEBUG", "a debug line"), ("TRACE", "a trace line")]
    {
        let line = log.lines().find(|l| l.contains(&format!("actor: {text} "))).unwrap_or_else(|| panic!("no `{text}`:\n{log}"));
        assert!(line.contains(level), "{line}");
        assert!(line.contains(&format!("actor={key}")), "{line}");
        assert!(line.contains("name=\"wascc-extras\""), "{line}");
        assert!(line.contains("binding=\"default\""), "{line}");
    }
}

#[test]
fn an_actor_whose_claims_do_not_grant_logging_logs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = deploy(dir.path(), &[HTTP, EXTRAS], "");
    host.start();
    // waSCC's SDK ignores the refusal, as it did on waSCC.
    assert_eq!(get_ok(&host, "/levels"), "logged 5 levels");
    let log = host.log();
    assert!(!log.contains("an error line"), "{log}");
}

#[test]
fn sequences_count_per_binding_and_keep_climbing_across_restarts_and_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = deploy(dir.path(), &[HTTP, EXTRAS, LOGGING], "");
    host.start();
    let orders: Vec<u64> = (0..3).map(|_| get_ok(&host, "/sequence/orders").parse().unwrap()).collect();
    assert_eq!(orders, [0, 1, 2]);
    assert_eq!(get_ok(&host, "/sequence/invoices"), "0");

    host.stop("TERM");
    host.start();
    let after_restart: u64 = get_ok(&host, "/sequence/orders").parse().unwrap();
    assert!(after_restart > 2, "{after_restart}");

    host.stop("KILL");
    host.start();
    let after_kill: u64 = get_ok(&host, "/sequence/orders").parse().unwrap();
    assert!(after_kill > after_restart, "{after_kill} after {after_restart}");
    assert!(dir.path().join("state/extras/sequences.json").is_file());
}

#[test]
fn a_chatty_actor_is_held_to_the_rate_limit_and_the_host_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = deploy(dir.path(), &[HTTP, EXTRAS, LOGGING], "actor_log_rate = 20\nactor_log_burst = 50");
    host.start();
    let started = Instant::now();
    assert_eq!(get_ok(&host, "/log/5000"), "logged 5000");
    // Meanwhile and after, the actor still answers.
    assert!(get_ok(&host, "/generate").contains("sequence=0"));
    let elapsed = started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    get_ok(&host, "/log/1");
    let log = host.log();
    let logged = log.lines().filter(|l| l.contains("chatty line")).count();
    let allowed = 50 + 20 * (elapsed.as_secs_f64() + 1.0).ceil() as usize + 1;
    assert!(logged <= allowed, "{logged} lines logged in {elapsed:?}, at most {allowed} allowed");
    assert!(logged >= 50, "the burst is logged: {logged}");
    let dropped = log.lines().find(|l| l.contains("log lines of wascc-extras were dropped")).unwrap_or_else(|| panic!("{log}"));
    assert!(dropped.contains("over 20 lines/s (bursts of 50)"), "{dropped}");
}

#[test]
fn with_the_builtins_turned_off_calls_fail_as_not_linked_and_the_start_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = deploy(dir.path(), &[HTTP, EXTRAS, LOGGING], "builtins = []");
    host.start();
    let (status, body) = http_get(&host.url("/generate"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("no provider is linked for wascc:extras"), "{body}");
    let log = host.log();
    for capability in [EXTRAS, LOGGING] {
        assert!(
            log.contains(&format!("wascc-extras claims {capability} but nothing serves it")),
            "{capability}:\n{log}"
        );
    }
    assert!(!log.contains("built in:"), "{log}");
}

#[test]
fn a_manifest_may_keep_one_builtin_and_drop_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = deploy(dir.path(), &[HTTP, EXTRAS, LOGGING], "builtins = [\"wascc:extras\"]");
    host.start();
    assert!(get_ok(&host, "/generate").contains("sequence=0"));
    let log = host.log();
    assert!(log.contains("built in: wascc:extras,"), "{log}");
    assert!(log.contains("wascc-extras claims wascc:logging but nothing serves it"), "{log}");
    assert!(!log.contains("handed out sequence"), "logging is off: {log}");
}
