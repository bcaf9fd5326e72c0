//! I2C costs: one register read an actor makes (its host call, the grant
//! check, the transaction on the simulated bus and the reply), and a whole
//! BME280 measurement by the weather actor with the `bme280` driver from
//! crates.io: its host calls, its fuel, and its time besides the driver's
//! own 40 ms wait for the conversion.
//!
//! Run with `cargo bench -p host-edge-benches --bench i2c`. The simulated
//! bus answers at once; on a Pi, add the bus's own time (at 100 kHz, about
//! 0.1 ms a byte with its address and acknowledge bits).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use codec::i2c::{Transfer, WriteReadRequest, OP_WRITE_READ};
use host_edge_benches::measure;
use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::{Policy, SignOptions};
use host_edge_runtime::{Host, Limits};
use testkit::{actor_module, options, provider_archive, Signer};

const I2C: &str = "iot:i2c";

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A host with the I2C provider on a simulated BME280, and `module`
/// signed for `1:0x76` (with `caps` besides) and linked; returns the host
/// and the actor's key.
fn serve(dir: &Path, module: &str, caps: &[&str]) -> (Host, String) {
    let host = Host::with_state_dir(Policy::default(), dir.join("state"));
    let settings = values(&[("BACKEND", "sim"), ("SIM_DEVICES", "1:0x76 bme280")]);
    host.add_provider_with("i2c", &provider_archive("i2c"), &settings).unwrap();
    let options = SignOptions {
        grants: BTreeMap::from([(CapabilityId::parse(I2C).unwrap(), vec!["1:0x76".parse().unwrap()])]),
        ..options(module, &[&[I2C][..], caps].concat())
    };
    let module = Signer::new().sign_with(&actor_module(module), &options);
    let key = host.start_actor(host.load(&module).unwrap(), 1, Limits::default()).unwrap();
    host.link_provider(&key, &CapabilityId::parse(I2C).unwrap(), "default", "i2c", &BTreeMap::new()).unwrap();
    (host, key)
}

/// The counter `name` of the actor `key` in the host's metrics.
fn counter(name: &str, key: &str, extra: &str) -> u64 {
    let text = host_edge_runtime::metrics::global().encode();
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(&format!(r#"key="{key}""#)) && l.contains(extra))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    println!("host-edge I2C benchmark ({} build)", if cfg!(debug_assertions) { "debug" } else { "release" });
    let dir = tempfile::tempdir().unwrap();

    let (host, echo) = serve(&dir.path().join("echo"), "echo", &[]);
    let request = codec::serialize(&WriteReadRequest { bus: 1, address: 0x76, data: vec![0xD0], len: 1 }).unwrap();
    let mut payload = format!("default\n{I2C}\n{OP_WRITE_READ}\n").into_bytes();
    payload.extend_from_slice(&request);
    let read = || {
        let reply = host.call(&echo, "HostCall", &payload).unwrap();
        let transfer: Transfer = codec::deserialize(&reply).unwrap();
        assert_eq!(transfer.reads[0].as_ref(), [0x60]);
    };
    let fuel_before = counter("host_edge_actor_fuel_consumed_total{", &echo, "");
    measure("actor register read (WriteRead) on sim", 200, 20_000, Duration::from_secs(10), read);
    let calls = counter("host_edge_actor_calls_total{", &echo, "");
    let fuel = counter("host_edge_actor_fuel_consumed_total{", &echo, "") - fuel_before;
    println!("{:<44} {} fuel per read (echo's forwarding, {calls} calls)", "", fuel / calls.max(1));
    host.shutdown();

    let (host, weather) = serve(&dir.path().join("weather"), "weather", &["wascc:messaging"]);
    // The first call sets the driver up (chip id, reset, calibration,
    // configuration); each after is one measurement. The weather actor's
    // publish has no messaging link here: that call fails after the
    // reading, which is what is measured.
    let sample = |sequence: u64| {
        let payload = codec::serialize(&codec::i2c::Sample { sequence, missed: 0 }).unwrap();
        let started = Instant::now();
        let _ = host.call(&weather, codec::i2c::OP_SAMPLE, &payload);
        started.elapsed()
    };
    let setup = sample(0);
    println!("{:<44} {:>10.2?} (its waits: 2 ms reset, 40 ms conversion)", "weather: set up and first measurement", setup);
    let (fuel_before, calls_before) = (
        counter("host_edge_actor_fuel_consumed_total{", &weather, ""),
        counter("host_edge_host_calls_total{", &weather, r#"capability="iot:i2c""#),
    );
    let rounds = 50u64;
    let mut times: Vec<Duration> = (1..=rounds).map(sample).collect();
    times.sort();
    let fuel = counter("host_edge_actor_fuel_consumed_total{", &weather, "") - fuel_before;
    let i2c_calls = counter("host_edge_host_calls_total{", &weather, r#"capability="iot:i2c""#) - calls_before;
    let median = times[times.len() / 2];
    println!(
        "{:<44} median {:>10.2?}, {:.2?} besides the 40 ms wait; {} fuel, {} iot:i2c calls a measurement (n={rounds})",
        "weather: one measurement (bme280 0.5)",
        median,
        median.saturating_sub(Duration::from_millis(40)),
        fuel / rounds,
        i2c_calls / rounds
    );
    host.shutdown();
}
