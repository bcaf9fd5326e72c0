//! The host's health and metrics endpoint, as a supervisor and a Prometheus
//! server read it: the counter over HTTP on a private Redis, `/metrics`
//! checked by Prometheus's own `promtool`, and `/readyz` following the
//! store's health.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::host::HostProcess;
use testkit::{eventually, free_port, http_get, provider_archive, wait_for_port, PrivateRedis, Signer};

fn serve_counter(dir: &std::path::Path, redis: &PrivateRedis, metrics: u16) -> HostProcess {
    let mut host = counter_host(dir, redis, &format!("metrics_address = \"127.0.0.1:{metrics}\""));
    host.start();
    // The endpoint listens once everything in the manifest is up.
    wait_for_port(metrics, Duration::from_secs(10));
    host
}

/// The counter on `redis` in `dir`, with `host` lines in its `[host]`
/// table; not started.
fn counter_host(dir: &std::path::Path, redis: &PrivateRedis, host: &str) -> HostProcess {
    let signer = Signer::new();
    let module = signer.sign(&testkit::actor_module("counter"), "counter", &["wascc:keyvalue", "wascc:http_server"]);
    std::fs::write(dir.join("counter.wasm"), module).unwrap();
    let port = free_port();
    let manifest = format!(
        r#"
[host]
{host}
health_interval = "1s"

[[actor]]
path = "counter.wasm"
instances = 2

[[provider]]
name = "kv"
path = "{redis_provider}"

[[link]]
actor = "counter"
capability = "wascc:keyvalue"
provider = "kv"
values = {{ URL = "{url}" }}
{http}"#,
        redis_provider = provider_archive("keyvalue_redis").display(),
        url = redis.url(),
        http = testkit::host::http_entries("counter", port),
    );
    HostProcess::new(dir, &manifest, port)
}

/// `promtool check metrics` on `text`: its exit status and what it said.
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (bash .ci/setup installs it from Debian's prometheus package)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_metrics_pass_promtool_and_count_the_actors_calls_per_actor_and_capability() {
    let dir = tempfile::tempdir().unwrap();
    let redis = PrivateRedis::start();
    let metrics = free_port();
    let host = serve_counter(dir.path(), &redis, metrics);
    for _ in 0..5 {
        assert_eq!(http_get(&host.url("/hits")).0, 200);
    }
    let (status, text) = http_get(&format!("http://127.0.0.1:{metrics}/metrics"));
    assert_eq!(status, 200, "{text}");
    let (passed, said) = promtool(&text);
    assert!(passed, "promtool check metrics: {said}\n{text}");
    let line = |prefix: &str| text.lines().find(|l| l.starts_with(prefix) && l.contains(r#"actor="counter""#)).map(str::to_owned);
    let calls = line("host_edge_actor_calls_total{").unwrap_or_else(|| panic!("{text}"));
    assert!(calls.ends_with(" 5"), "{calls}");
    let kv = text
        .lines()
        .find(|l| l.starts_with("host_edge_host_calls_total{") && l.contains(r#"capability="wascc:keyvalue""#))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(kv.ends_with(" 5"), "{kv}");
    assert!(line("host_edge_actor_call_duration_seconds_count{").is_some_and(|l| l.ends_with(" 5")), "{text}");
    assert!(line("host_edge_actor_fuel_consumed_total{").is_some_and(|l| !l.ends_with(" 0")), "{text}");
    // Up to 2 instances; one after another, the calls never needed the second.
    assert!(line("host_edge_actor_instances{").is_some_and(|l| l.ends_with(" 1")), "{text}");
    assert!(line("host_edge_actor_memory_bytes{").is_some_and(|l| !l.ends_with(" 0")), "{text}");
    assert!(text.contains(r#"host_edge_provider_healthy{capability="wascc:keyvalue",provider="kv"} 1"#), "{text}");
    assert!(text.lines().any(|l| l.starts_with("host_edge_resident_memory_bytes ") && !l.ends_with(" 0")), "{text}");
}

#[test]
fn the_host_turns_unready_while_its_store_is_down_and_ready_again_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = PrivateRedis::start();
    let metrics = free_port();
    let host = serve_counter(dir.path(), &redis, metrics);
    let ready = || http_get(&format!("http://127.0.0.1:{metrics}/readyz"));
    assert_eq!(ready(), (200, "ready\n".to_owned()));
    assert_eq!(http_get(&format!("http://127.0.0.1:{metrics}/livez")).0, 200);

    redis.stop();
    let (status, body) = eventually(Duration::from_secs(20), "the host turns unready", || Some(ready()).filter(|(s, _)| *s == 503));
    assert_eq!(status, 503);
    assert!(body.contains("provider kv is unhealthy"), "{body}");
    assert_eq!(http_get(&format!("http://127.0.0.1:{metrics}/livez")).0, 200, "alive all the same");
    assert_eq!(http_get(&host.url("/hits")).0, 503, "the requests fail as unavailable meanwhile");

    redis.restart();
    eventually(Duration::from_secs(30), "the host is ready again", || (ready().0 == 200).then_some(()));
    assert_eq!(http_get(&host.url("/hits")).0, 200);
}

#[test]
fn two_hosts_on_one_machine_each_take_their_state_folder_and_endpoint_from_the_command_line() {
    let redis = PrivateRedis::start();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut hosts = Vec::new();
    for dir in [&one, &two] {
        let endpoint = free_port();
        let mut host = counter_host(dir.path(), &redis, "");
        host.args(&["--state-dir", "elsewhere", "--metrics-address", &format!("127.0.0.1:{endpoint}")]);
        host.start();
        wait_for_port(endpoint, Duration::from_secs(10));
        assert_eq!(http_get(&format!("http://127.0.0.1:{endpoint}/livez")).0, 200);
        assert!(dir.path().join("elsewhere/.libraries").is_dir(), "the state (the verified libraries) is in the folder given: {}", host.log());
        assert!(!dir.path().join("state").exists(), "and not in the default one");
        hosts.push(host);
    }
}

#[test]
fn an_endpoint_address_that_is_taken_stops_the_start_and_says_which() {
    let redis = PrivateRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    counter_host(dir.path(), &redis, &format!("metrics_address = \"{address}\""));
    let out = Command::new(testkit::host_edge_bin()).current_dir(dir.path()).args(["run", "manifest.toml"]).env("NO_COLOR", "1").output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("cannot listen on {address}")) && said.contains("nothing is served"), "{said}");
}

#[test]
fn the_default_endpoint_address_taken_by_another_host_turns_the_endpoint_off_and_says_so() {
    let redis = PrivateRedis::start();
    let dir = tempfile::tempdir().unwrap();
    // Held here, or by whatever already holds it: taken either way.
    let _taken = std::net::TcpListener::bind(("127.0.0.1", 9464));
    let mut host = counter_host(dir.path(), &redis, "");
    host.start();
    assert!(host.log().contains("the health and metrics endpoint is OFF"), "{}", host.log());
    assert_eq!(http_get(&host.url("/hits")).0, 200, "and it serves");
}
