//! GPIO costs: the latency from an edge driven on the simulated board to the
//! button-led actor's reaction (its Toggle reaching the board), the cost of
//! an actor's Write on the simulated board and through rppal to the
//! (emulated) registers, and the edge rate one actor sustains before its
//! queue drops events.
//!
//! Run with `cargo bench -p host-edge-benches --bench gpio`. The rppal part
//! re-runs this benchmark in a private mount namespace with emulated Pi 4
//! registers, as tests/gpio_rppal.rs does; it needs root and is skipped,
//! saying so, without it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::{Policy, SignOptions};
use host_edge_runtime::Limits;
use host_edge_runtime::{Host, LinkSpec};
use host_edge_benches::measure;
use serde_json::{json, Value};
use testkit::{actor_module, options, provider_archive, SimBoard, Signer};

const GPIO: &str = "iot:gpio";
const IN_NAMESPACE: &str = "HOST_EDGE_BENCH_RPPAL";

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn signed(module: &str, name: &str) -> Vec<u8> {
    let grant = ["out:*", "in:*"].map(|r| r.parse().unwrap()).to_vec();
    let options = SignOptions {
        grants: BTreeMap::from([(CapabilityId::parse(GPIO).unwrap(), grant)]),
        ..options(name, &[GPIO])
    };
    Signer::new().sign_with(&actor_module(module), &options)
}

/// A host with the GPIO provider under `settings` and `module` linked with
/// `open`; returns the host and the actor's key.
fn serve(dir: &Path, settings: &[(&str, &str)], module: &str, open: &str) -> (Host, String) {
    let host = Host::with_state_dir(Policy::default(), dir.join("state"));
    host.add_provider_with("gpio", &provider_archive("gpio"), &values(settings)).unwrap();
    let key = host.start_actor(host.load(&signed(module, module)).unwrap(), 1, Limits::default()).unwrap();
    host.link(LinkSpec {
        actor: key.clone(),
        capability: CapabilityId::parse(GPIO).unwrap(),
        binding: "default".into(),
        provider: "gpio".into(),
        values: values(&[("OPEN", open)]),
        grant: Vec::new(),
    })
    .unwrap();
    (host, key)
}

/// The Write an echo actor forwards: `led` high or low.
fn write_payload(high: bool) -> Vec<u8> {
    let level = if high { codec::gpio::Level::High } else { codec::gpio::Level::Low };
    let body = codec::serialize(&codec::gpio::WriteRequest { pin: "led".into(), level }).unwrap();
    let mut payload = format!("default\n{GPIO}\n{}\n", codec::gpio::OP_WRITE).into_bytes();
    payload.extend_from_slice(&body);
    payload
}

/// This process's resident memory in KiB (the host runs in it).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * q) as usize]
}

/// Drives `presses` falling edges, one at a time, and takes from the board's
/// history the time from each to the actor's Toggle of the LED.
fn edge_to_handler(board: &SimBoard, presses: usize) {
    let start = board.history().last().map_or(0, |c| c["seq"].as_u64().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut done = 0;
    while done < presses && Instant::now() < deadline {
        board.set("button", "low");
        board.set("button", "high");
        done += 1;
        // Let the toggle land before the next press, so each is measured alone.
        let waited = Instant::now();
        while board.request(json!({"op": "history", "since": start}))["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["event"] == "write")
            .count()
            < done
            && waited.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let changes: Vec<Value> = board.request(json!({"op": "history", "since": start}))["changes"].as_array().unwrap().clone();
    let mut latencies = Vec::new();
    let mut pressed_at = None;
    for change in &changes {
        match (change["event"].as_str(), change["level"].as_str()) {
            (Some("drive"), Some("low")) => pressed_at = change["time_us"].as_u64(),
            (Some("write"), _) => {
                if let (Some(pressed), Some(written)) = (pressed_at.take(), change["time_us"].as_u64()) {
                    latencies.push(written - pressed);
                }
            }
            _ => {}
        }
    }
    latencies.sort_unstable();
    println!(
        "{:<44} p50 {:>7} µs   p99 {:>7} µs   max {:>7} µs   n={}",
        "edge on sim -> button-led's Toggle on sim",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
        latencies.len()
    );
}

/// Pulses `count` edges every `interval` onto the button and reports what
/// reached the actor and what its queue dropped.
fn sustained(dir: &Path, interval_us: u64) {
    let dir = dir.join(format!("rate-{interval_us}"));
    let settings = [("BOARD", "sim"), ("LABELS", "led=17, button=27"), ("EDGE_QUEUE", "256")];
    let (host, _) = serve(&dir, &settings, "button_led", "button in edge=both; led out");
    let board = SimBoard::at(&dir.join("state/gpio/sim.sock"));
    let count = (1_000_000 / interval_us).min(20_000);
    let rss_before = rss_kib();
    let pulse = board.request(json!({"op": "pulse", "pin": "button", "count": count, "interval_us": interval_us}));
    let elapsed = pulse["elapsed_us"].as_u64().unwrap() as f64 / 1e6;
    let deadline = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let answer = board.request(json!({"op": "pins"}));
        let edges = answer["actors"][0]["edges"].clone();
        let settled = edges["delivered"].as_u64().unwrap_or(0) + edges["dropped"].as_u64().unwrap_or(0) >= count;
        if (settled && edges["queued"] == 0) || Instant::now() > deadline {
            break edges;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    println!(
        "{:<44} {:>6.0} edges/s driven: {:>6} delivered, {:>6} dropped; RSS {} -> {} KiB",
        format!("edges every {interval_us} µs, EDGE_QUEUE 256"),
        count as f64 / elapsed,
        stats["delivered"],
        stats["dropped"],
        rss_before,
        rss_kib()
    );
    host.shutdown();
}

/// The cost of an echo actor's Write to `led`, alternating high and low,
/// on the board `settings` name.
fn writes(name: &str, dir: &Path, settings: &[(&str, &str)]) {
    let (host, key) = serve(dir, settings, "echo", "led out");
    let (on, off) = (write_payload(true), write_payload(false));
    let mut high = false;
    host.call(&key, "HostCall", &on).unwrap();
    measure(name, 1000, 100_000, Duration::from_secs(5), || {
        high = !high;
        host.call(&key, "HostCall", if high { &on } else { &off }).unwrap();
    });
    host.shutdown();
}

/// Re-runs this benchmark in a private mount namespace with emulated Pi 4
/// registers (testkit's `EmulatedPi4`, as tests/gpio_rppal.rs), for the
/// rppal part.
fn in_namespace() {
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    if !root {
        println!("actor Write through rppal: skipped (needs root for a private mount namespace)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pi = testkit::EmulatedPi4::prepare(dir.path(), "cc");
    let status = pi.command(&[], &std::env::current_exe().unwrap(), &[]).env(IN_NAMESPACE, "1").status().unwrap();
    assert!(status.success());
}

fn main() {
    // Build the providers before anything moves /dev out of the way.
    provider_archive("gpio");
    if std::env::var_os(IN_NAMESPACE).is_some() {
        let dir = tempfile::tempdir().unwrap();
        writes("actor Write -> rppal -> emulated registers", dir.path(), &[("LABELS", "led=17")]);
        return;
    }
    println!("host-edge GPIO benchmark ({} build)", if cfg!(debug_assertions) { "debug" } else { "release" });
    let dir = tempfile::tempdir().unwrap();
    let settings = [("BOARD", "sim"), ("LABELS", "led=17, button=27")];
    let (host, _) = serve(&dir.path().join("latency"), &settings, "button_led", "button in pull=up edge=falling; led out");
    edge_to_handler(&SimBoard::at(&dir.path().join("latency/state/gpio/sim.sock")), 2000);
    host.shutdown();

    writes("actor Write -> simulated board", &dir.path().join("write"), &settings);
    in_namespace();

    for interval_us in [1000, 500, 200, 100, 50, 20] {
        sustained(dir.path(), interval_us);
    }
}
