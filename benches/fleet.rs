//! Fleet deployment cost: two release-built devices (host-edge processes
//! serving the counter over HTTP on loopback, each its own state) on a
//! private Mosquitto, and a 2 MB actor deployed to their group, five times.
//! For each deployment: the time from the first byte the operator sends to
//! both devices reporting the deployment committed (staged, verified,
//! applied, probed: serving), and the bytes each device received.
//!
//! The 2 MB actor is the counter's next version padded with a custom
//! section (incompressible bytes) to 2 MiB, signed as usual: what a device
//! receives, verifies and compiles is a 2 MiB module.
//!
//! Run with `cargo bench -p host-edge-benches --bench fleet`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_edge_runtime::claims::keys::{generate, write_seed, KeyRole};
use host_edge_runtime::claims::policy::now_secs;
use host_edge_runtime::claims::SignOptions;
use host_edge_fleet::command::{self, Order};
use host_edge_fleet::deployment::DeploymentFile;
use host_edge_fleet::operator::{Operator, Report};
use host_edge_fleet::{Target, Topics};
use host_edge_benches::padded;
use testkit::host::counter_entries;
use testkit::mqtt::PrivateMosquitto;
use testkit::{actor_module, free_port, http_get, options, release_build, wait_for_port, Signer};

const MODULE_SIZE: usize = 2 * 1024 * 1024;
const ROUNDS: u64 = 5;

struct Device {
    child: Child,
    port: u16,
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

fn main() {
    let release = release_build();
    let dir = tempfile::tempdir().unwrap();
    let broker = PrivateMosquitto::start(dir.path());
    let operator = generate(KeyRole::Operator);
    write_seed(&operator, &dir.path().join("operator.nk")).unwrap();
    let signer = Signer::new();
    let caps = ["wascc:keyvalue", "wascc:http_server"];
    let v1 = signer.sign_with(&actor_module("counter"), &SignOptions { rev: Some(1), ..options("counter", &caps) });
    std::fs::write(dir.path().join("v1.wasm"), &v1).unwrap();
    let archive = |name: &str| host_edge_benches::archive(name);
    // Where each device has them, as a bundle installs them: a deployment
    // may name libraries only in the device's provider folder.
    let installed = |name: &str| std::path::PathBuf::from(format!("providers/{name}.par"));
    let prefix = "bench/fleet";
    let devices: Vec<Device> = ["a", "b"]
        .iter()
        .map(|id| {
            let folder = dir.path().join(id);
            std::fs::create_dir_all(folder.join("providers")).unwrap();
            for name in ["keyvalue_sqlite", "http_server"] {
                std::fs::copy(archive(name), folder.join(installed(name))).unwrap();
            }
            let port = free_port();
            let manifest = format!(
                r#"[host]
metrics_address = "off"
[policy]
trusted_issuers = ["{issuer}", "{provider_issuer}"]
[fleet]
device = "{id}"
groups = ["bench"]
operators = ["{operator}"]
url = "mqtt://127.0.0.1:{broker}"
prefix = "{prefix}"
vars = {{ HTTP_PORT = "{port}" }}
[[actor]]
path = "{v1}"
{entries}"#,
                issuer = signer.issuer.public_key(),
                provider_issuer = testkit::provider_issuer().public_key(),
                operator = operator.public_key(),
                broker = broker.port(),
                v1 = dir.path().join("v1.wasm").display(),
                entries = counter_entries(&installed("keyvalue_sqlite"), &installed("http_server"), &port.to_string()),
            );
            std::fs::write(folder.join("manifest.toml"), manifest).unwrap();
            let child = Command::new(release.join("host-edge"))
                .current_dir(&folder)
                .args(["run", "manifest.toml"])
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(folder.join("host.log")).unwrap())
                .spawn()
                .unwrap();
            wait_for_port(port, Duration::from_secs(60));
            Device { child, port }
        })
        .collect();

    let broker_settings = mqtt_broker_for(broker.port());
    let topics = Topics::new(prefix).unwrap();
    let session = Operator::connect(&broker_settings, topics.clone()).unwrap();
    session.follow_devices().unwrap();
    let mut times = Vec::new();
    let mut bytes_per_device = 0u64;
    for round in 0..ROUNDS {
        let module = padded(&actor_module("counter_tweaked"), MODULE_SIZE - 600, round as u8);
        let signed = signer.sign_with(&module, &SignOptions { rev: Some(2 + round as i32), ..options("counter", &caps) });
        let path = dir.path().join(format!("v{round}.wasm"));
        std::fs::write(&path, &signed).unwrap();
        let file = dir.path().join(format!("deploy-{round}.toml"));
        std::fs::write(
            &file,
            format!(
                "[[actor]]\npath = \"{}\"\n{}",
                path.display(),
                counter_entries(&installed("keyvalue_sqlite"), &installed("http_server"), "${HTTP_PORT}")
            ),
        )
        .unwrap();
        let deployment = DeploymentFile::load(&file, host_edge_fleet::deployment::DEFAULT_CHUNK).unwrap();
        let seq = 1000 + round;
        let (claims, token) = command::sign(
            &operator,
            &topics,
            &Target::Group("bench".into()),
            seq,
            now_secs(),
            command::DEFAULT_VALIDITY_SECS,
            Order::Deploy(deployment.deployment.clone()),
        )
        .unwrap();
        let actor = &deployment.deployment.actors[0];
        let chunks: Vec<(String, Vec<u8>)> = deployment.modules[&actor.sha256]
            .chunks(actor.chunk_size as usize)
            .enumerate()
            .map(|(i, c)| (topics.chunk(&actor.sha256, actor.chunk_size, i as u32), c.to_vec()))
            .collect();
        let messages = chunks.len() + 1;
        let started = Instant::now();
        let sent = session.publish_retained(chunks, Duration::from_secs(60)).unwrap()
            + session.publish_retained(vec![(claims.topic(&topics).unwrap(), token.into_bytes())], Duration::from_secs(60)).unwrap();
        let mut committed = 0;
        while committed < devices.len() {
            match session.next_report(Duration::from_secs(60)).unwrap() {
                Some(Report::Event(event)) if event.kind == "deployment" && event.seq == Some(seq) => {
                    assert_eq!(event.outcome, "committed", "{event:?}");
                    committed += 1;
                }
                Some(_) => {}
                None => panic!("no outcome within 60 s in round {round}"),
            }
        }
        let elapsed = started.elapsed();
        for device in &devices {
            let (status, body) = http_get(&format!("http://127.0.0.1:{}/hits", device.port));
            assert!(status == 200 && body.contains(r#""version":2"#), "{status} {body}");
        }
        println!(
            "round {round}: {} byte module, {messages} messages, {sent} bytes (payloads and topics) to each device; both serving after {:.0?}",
            signed.len(),
            elapsed
        );
        bytes_per_device = sent;
        times.push(elapsed);
    }
    session.disconnect();
    times.sort();
    println!(
        "deploy a 2 MiB actor to 2 devices: median {:.0?} (min {:.0?}, max {:.0?}, n={}); {} bytes to each device, plus MQTT framing (about 9 bytes a message)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len(),
        bytes_per_device
    );
}

fn mqtt_broker_for(port: u16) -> mqtt_broker::Broker {
    mqtt_broker::BrokerSettings { url: Some(format!("mqtt://127.0.0.1:{port}")), ..Default::default() }
        .resolve(std::path::Path::new("."), mqtt_broker::Spelling::Values)
        .unwrap()
}
