//! `iot:i2c` through the real host, the real I2C provider library on its
//! simulated buses, and real signed actors: the weather example, whose
//! unmodified BME280 driver from crates.io reads the simulated part and
//! publishes over the real Mosquitto; signed per-bus, per-address grants
//! narrowed by the link; the addresses no grant can reach; bus faults that
//! come back typed while the host serves on; and the limits on what one
//! call may ask.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use codec::i2c::{
    DelayRequest, FaultKind, Operation, ReadRequest, Sample, Transaction, Transfer, WriteReadRequest, OP_DELAY, OP_READ,
    OP_SAMPLE, OP_TRANSACTION, OP_WRITE_READ,
};
use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::{Policy, SignOptions};
use host_edge_runtime::grant::Rule;
use host_edge_runtime::{Host, LinkSpec, Limits};
use testkit::mqtt::{shared_port, Subscriber};
use testkit::{actor_module, eventually, free_port, http_get, options, provider_archive, wait_for_port, Signer};

const I2C: &str = "iot:i2c";
const HTTP: &str = "wascc:http_server";
const MESSAGING: &str = "wascc:messaging";
/// A BME280 at its primary address, an LM75-compatible thermometer and a
/// 24C02 EEPROM, on bus 1.
const DEVICES: &str = "1:0x76 bme280 temperature=23.4 pressure=1001.5 humidity=40; 1:0x48 lm75 temperature=25.5; 1:0x50 at24c02";

fn cap(id: &str) -> CapabilityId {
    CapabilityId::parse(id).unwrap()
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `options(name, caps)` with a signed `iot:i2c` grant.
fn signed(name: &str, caps: &[&str], grant: &[&str]) -> SignOptions {
    let rules: Vec<Rule> = grant.iter().map(|r| r.parse().unwrap()).collect();
    SignOptions { grants: BTreeMap::from([(cap(I2C), rules)]), ..options(name, caps) }
}

/// A host with the I2C provider on the simulated buses.
struct Bench {
    host: Host,
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.host.shutdown();
    }
}

impl Bench {
    fn new(dir: &Path, settings: &[(&str, &str)]) -> Bench {
        let host = Host::with_state_dir(Policy::default(), dir.join("state"));
        let mut all = values(&[("BACKEND", "sim"), ("SIM_DEVICES", DEVICES)]);
        all.extend(values(settings));
        host.add_provider_with("i2c", &provider_archive("i2c"), &all).unwrap();
        Bench { host }
    }

    /// Starts the echo actor signed for `grant`, linked with the link
    /// grant `narrowed`; returns its key.
    fn echo(&self, grant: &[&str], narrowed: &[&str]) -> String {
        let module = Signer::new().sign_with(&actor_module("echo"), &signed("echo", &[I2C], grant));
        let actor = self.host.load(&module).unwrap();
        let key = actor.subject().to_owned();
        self.host.start_actor(actor, 1, Limits::default()).unwrap();
        self.host
            .link(LinkSpec {
                actor: key.clone(),
                capability: cap(I2C),
                binding: "default".into(),
                provider: "i2c".into(),
                values: BTreeMap::new(),
                grant: narrowed.iter().map(|g| g.to_string()).collect(),
            })
            .unwrap();
        key
    }

    /// The echo actor makes one `iot:i2c` call and returns the raw reply,
    /// or the host's refusal as text.
    fn call(&self, actor: &str, operation: &str, request: &impl serde::Serialize) -> Result<Vec<u8>, String> {
        let mut payload = format!("default\n{I2C}\n{operation}\n").into_bytes();
        payload.extend_from_slice(&codec::serialize(request).unwrap());
        self.host.call(actor, "HostCall", &payload).map_err(|e| e.to_string())
    }

    fn transfer(&self, actor: &str, transaction: Transaction) -> Result<Transfer, String> {
        self.call(actor, OP_TRANSACTION, &transaction).map(|reply| codec::deserialize(&reply).unwrap())
    }
}

fn register_read(bus: u8, address: u8, register: u8, len: u32) -> Transaction {
    Transaction { bus, address, operations: vec![Operation::Write(vec![register]), Operation::Read(len)] }
}

#[test]
fn the_weather_actor_reads_the_simulated_bme280_with_the_crates_io_driver_and_publishes_each_reading_over_mqtt() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let module = Signer::new().sign_with(&actor_module("weather"), &signed("weather", &[I2C, MESSAGING, HTTP], &["1:0x76"]));
    let actor = bench.host.load(&module).unwrap();
    let key = actor.subject().to_owned();
    bench.host.start_actor(actor, 1, Limits::default()).unwrap();

    let subscriber = Subscriber::start(shared_port(), &format!("he-test-weather-{}", std::process::id()), "weather/reading");
    let broker = format!("mqtt://127.0.0.1:{}", shared_port());
    bench.host.add_provider("mqtt", &provider_archive("messaging_mqtt")).unwrap();
    bench.host.link_provider(&key, &cap(MESSAGING), "default", "mqtt", &values(&[("URL", &broker)])).unwrap();
    let port = free_port();
    bench.host.add_provider("http", &provider_archive("http_server")).unwrap();
    let http = values(&[("ADDRESS", "127.0.0.1"), ("PORT", &port.to_string())]);
    bench.host.link_provider(&key, &cap(HTTP), "default", "http", &http).unwrap();
    wait_for_port(port, Duration::from_secs(10));
    let url = format!("http://127.0.0.1:{port}/weather");
    assert_eq!(http_get(&url), (503, "no reading yet".to_owned()), "nothing is read before the first sampling call");

    bench.host.link_provider(&key, &cap(I2C), "default", "i2c", &values(&[("SAMPLE_EVERY", "100ms")])).unwrap();
    // Only this test's readings (23.4 degrees): `xtask demo weather`
    // publishes on the same topic of the shared broker.
    let ours = || -> Vec<testkit::mqtt::Received> {
        subscriber.received().into_iter().filter(|m| m.body.starts_with(r#"{"temperature":23.4"#)).collect()
    };
    let received = eventually(Duration::from_secs(30), "two readings are published", || {
        let received = ours();
        (received.len() >= 2).then_some(received)
    });
    for (sequence, message) in received.iter().take(2).enumerate() {
        assert_eq!(message.topic, "weather/reading");
        let reading: serde_json::Value = serde_json::from_str(&message.body).unwrap();
        let near = |field: &str, expected: f64, within: f64| {
            let got = reading[field].as_f64().unwrap_or_else(|| panic!("{field} missing from {reading}"));
            assert!((got - expected).abs() <= within, "{field}: {got}, expected {expected} (within {within})");
        };
        near("temperature", 23.4, 0.05);
        near("pressure", 1001.5, 0.1);
        near("humidity", 40.0, 0.1);
        assert_eq!(reading["sequence"], sequence, "one reading per sampling call, in order");
    }
    let latest = eventually(Duration::from_secs(10), "the latest reading is served", || {
        let (status, body) = http_get(&url);
        (status == 200).then_some(body)
    });
    assert!(latest.starts_with(r#"{"temperature":23.40,"#), "{latest}");
}

#[test]
fn an_address_or_a_bus_outside_the_signed_grant_is_refused_naming_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let echo = bench.echo(&["1:0x76"], &[]);

    let id = bench.transfer(&echo, register_read(1, 0x76, 0xD0, 1)).unwrap();
    assert_eq!((id.reads[0].as_ref(), id.fault), (&[0x60u8][..], None), "the BME280's chip id");
    let err = bench.transfer(&echo, register_read(1, 0x50, 0x00, 1)).unwrap_err();
    assert!(err.contains("device 0x50 on bus 1 is outside the grant for iot:i2c (signed: 1:0x76)"), "{err}");
    let err = bench.transfer(&echo, register_read(0, 0x76, 0xD0, 1)).unwrap_err();
    assert!(err.contains("device 0x76 on bus 0 is outside the grant"), "{err}");
    let err = bench.call(&echo, OP_READ, &ReadRequest { bus: 1, address: 0x50, len: 1 }).unwrap_err();
    assert!(err.contains("device 0x50 on bus 1 is outside the grant"), "the short forms are checked alike: {err}");
}

#[test]
fn a_link_narrows_the_signed_grant_and_never_widens_it() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let echo = bench.echo(&["1:*"], &["1:0x50"]);

    assert!(bench.transfer(&echo, register_read(1, 0x50, 0x00, 1)).is_ok());
    let err = bench.transfer(&echo, register_read(1, 0x76, 0xD0, 1)).unwrap_err();
    assert!(err.contains("device 0x76 on bus 1 is outside the grant for iot:i2c (signed: 1:*; link: 1:0x50)"), "{err}");
}

#[test]
fn the_general_call_reaches_every_device_and_is_refused_even_to_an_actor_granted_the_whole_bus() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let echo = bench.echo(&["1:*"], &[]);
    let general_call = Transaction { bus: 1, address: 0x00, operations: vec![Operation::Write(vec![0x06])] };
    let err = bench.transfer(&echo, general_call).unwrap_err();
    assert!(err.contains("0x00 is reserved by the I2C specification (the general call, heard by every device on the bus)"), "{err}");
    let err = bench.transfer(&echo, register_read(1, 0xF6, 0x00, 1)).unwrap_err();
    assert!(err.contains("0xf6 is not a 7-bit I2C address"), "{err}");
}

#[test]
fn a_device_that_does_not_answer_is_a_typed_bus_fault_and_the_bus_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let echo = bench.echo(&["1:*", "4:*"], &[]);

    let missing = bench.transfer(&echo, register_read(1, 0x77, 0xD0, 1)).unwrap();
    let fault = missing.fault.expect("a fault, not a refusal");
    assert_eq!(fault.kind, FaultKind::NoAcknowledgeAddress);
    assert_eq!(fault.message, "nothing acknowledged address 0x77 on bus 1");
    assert!(missing.reads.is_empty());

    // Two adjacent writes are one message: the word address, then the data.
    let write = Transaction { bus: 1, address: 0x50, operations: vec![Operation::Write(vec![0x10]), Operation::Write(vec![0xCA, 0xFE])] };
    assert_eq!(bench.transfer(&echo, write).unwrap(), Transfer::default());
    let reply = bench.call(&echo, OP_WRITE_READ, &WriteReadRequest { bus: 1, address: 0x50, data: vec![0x10], len: 2 }).unwrap();
    let back: Transfer = codec::deserialize(&reply).unwrap();
    assert_eq!(back.reads[0].as_ref(), [0xCA, 0xFE], "the EEPROM kept what was written");
    let err = bench.transfer(&echo, register_read(4, 0x50, 0x00, 1)).unwrap_err();
    assert!(err.contains("I2C bus 4 cannot be used: the simulated board has buses [1] only"), "{err}");
}

#[test]
fn a_transaction_beyond_the_limits_or_an_overlong_delay_is_refused_before_anything_happens() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[("MAX_DELAY_MS", "100")]);
    let echo = bench.echo(&["1:*"], &[]);

    let err = bench.transfer(&echo, register_read(1, 0x50, 0x00, u32::MAX)).unwrap_err();
    assert!(err.contains("operation 1 would move 4294967295 bytes; one operation moves at most 4096"), "{err}");
    let many = Transaction { bus: 1, address: 0x50, operations: vec![Operation::Read(1); 43] };
    assert!(bench.transfer(&echo, many).unwrap_err().contains("at most 42 operations, not 43"));
    let err = bench.call(&echo, OP_DELAY, &DelayRequest { ns: 2_000_000_000 }).unwrap_err();
    assert!(err.contains("a delay of 2s is longer than one Delay call may wait (100ms, the provider setting MAX_DELAY_MS)"), "{err}");
    assert!(bench.call(&echo, OP_DELAY, &DelayRequest { ns: 1_000_000 }).is_ok());
    assert!(bench.transfer(&echo, register_read(1, 0x50, 0x00, 1)).is_ok(), "the provider serves on");
}

#[test]
fn the_thermometer_actor_reads_an_lm75_register_by_register_and_keeps_the_reading_in_the_eeprom() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let module = Signer::new().sign_with(&actor_module("thermometer"), &signed("thermometer", &[I2C], &["1:0x48", "1:0x50"]));
    let actor = bench.host.load(&module).unwrap();
    let thermometer = actor.subject().to_owned();
    bench.host.start_actor(actor, 1, Limits::default()).unwrap();
    bench.host.link_provider(&thermometer, &cap(I2C), "default", "i2c", &BTreeMap::new()).unwrap();
    let sample = |sequence| codec::serialize(&Sample { sequence, missed: 0 }).unwrap();
    bench.host.call(&thermometer, OP_SAMPLE, &sample(0)).unwrap();

    let echo = bench.echo(&["1:0x50"], &[]);
    let kept = bench.transfer(&echo, register_read(1, 0x50, 0x00, 2)).unwrap();
    assert_eq!(kept.reads[0].as_ref(), [0x19, 0x80], "25.5 degrees, as the thermometer gave it");
}

#[test]
fn check_refuses_a_link_to_a_bus_the_board_lacks_and_a_bus_pin_opened_as_a_gpio_naming_both_links() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new();
    // Signed for a Pi 3's bus 1 and a Pi 4's bus 3; deployed on a Pi 3.
    let mut options = signed("sensor", &[I2C, "iot:gpio"], &["1:0x76", "3:0x76"]);
    options.grants.insert(cap("iot:gpio"), ["out:*".parse::<Rule>().unwrap()].to_vec());
    std::fs::write(dir.path().join("sensor.wasm"), signer.sign_with(&actor_module("echo"), &options)).unwrap();
    let manifest = format!(
        r#"[policy]
trusted_issuers = ["{issuer}", "{providers}"]

[[actor]]
path = "sensor.wasm"

[[provider]]
name = "gpio"
path = "{gpio}"
settings = {{ BOARD = "pi-3b" }}

[[provider]]
name = "i2c"
path = "{i2c}"
settings = {{ BACKEND = "sim" }}

[[link]]
actor = "sensor"
capability = "iot:i2c"
provider = "i2c"

[[link]]
actor = "sensor"
capability = "iot:gpio"
provider = "gpio"
values = {{ OPEN = "sda out" }}
"#,
        issuer = signer.issuer.public_key(),
        providers = testkit::provider_issuer().public_key(),
        gpio = provider_archive("gpio").display(),
        i2c = provider_archive("i2c").display(),
    );
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    let out = std::process::Command::new(testkit::host_edge_bin()).current_dir(dir.path()).args(["check", "manifest.toml"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("manifest.toml:17: [[link]] sensor iot:i2c -> `i2c`: I2C bus 3 is not a bus of pi-3b (its I2C buses: 1, 0)"),
        "{text}"
    );
    assert!(
        text.contains(
            "manifest.toml:22: GPIO 2, header pin 3, is used twice: as I2C bus 1's SDA by [[link]] sensor iot:i2c -> `i2c` (line 17), \
             and as a GPIO by [[link]] sensor iot:gpio -> `gpio` (line 22)"
        ),
        "{text}"
    );

    // Narrowed to bus 1 by the link, with the GPIO elsewhere, it passes.
    let fixed = std::fs::read_to_string(dir.path().join("manifest.toml"))
        .unwrap()
        .replace("provider = \"i2c\"\n", "provider = \"i2c\"\ngrant = [\"1:0x76\"]\n")
        .replace("OPEN = \"sda out\"", "OPEN = \"17 out\"");
    std::fs::write(dir.path().join("manifest.toml"), fixed).unwrap();
    let out = std::process::Command::new(testkit::host_edge_bin()).current_dir(dir.path()).args(["check", "manifest.toml"]).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
