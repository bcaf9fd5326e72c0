//! Serial throughput: how many frames a second the serial provider reads
//! from a port, cuts into lines and hands to an actor's `Receive` handler,
//! and what each costs the interpreter. The port is a pseudo-terminal (the
//! kernel's tty layer, as a UART's driver is, but without a baud rate's
//! pacing), so this is the provider's own ceiling: a real UART at 115,200
//! baud carries about 11.5 KB/s, 171 such lines a second. Lines arrive
//! faster than the actor handles them, so the bounded queue drops the
//! oldest: the run shows both rates and that memory does not grow.
//!
//! Run with `cargo bench -p host-edge-benches --bench serial`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::{Policy, SignOptions};
use host_edge_runtime::{Host, LinkSpec, Limits};
use testkit::{actor_module, options, provider_archive, Signer};

const SERIAL: &str = "iot:serial";
/// Lines written in one run.
const LINES: u64 = 20_000;

/// The counter `name` of the actor `key` in the host's metrics.
fn counter(name: &str, key: &str) -> u64 {
    let text = host_edge_runtime::metrics::global().encode();
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(&format!(r#"key="{key}""#)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    println!("host-edge serial benchmark ({} build)", if cfg!(debug_assertions) { "debug" } else { "release" });
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dev")).unwrap();
    let pair = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    std::os::unix::fs::symlink(nix::unistd::ttyname(pair.slave).unwrap(), dir.path().join("dev/gps0")).unwrap();
    // SAFETY: openpty returned this descriptor for this process alone; the
    // File owns it from here on.
    let mut master = unsafe { File::from_raw_fd(pair.master) };

    let host = Host::with_state_dir(Policy::default(), dir.path().join("state"));
    let settings = BTreeMap::from([("DEVICE_DIR".to_owned(), dir.path().join("dev").display().to_string())]);
    host.add_provider_with("serial", &provider_archive("serial"), &settings).unwrap();
    let cap = CapabilityId::parse(SERIAL).unwrap();
    let signed = SignOptions { grants: BTreeMap::from([(cap.clone(), vec!["port:gps0".parse().unwrap()])]), ..options("gps", &[SERIAL]) };
    let key = host.start_actor(host.load(&Signer::new().sign_with(&actor_module("gps"), &signed)).unwrap(), 1, Limits::default()).unwrap();
    host.link(LinkSpec {
        actor: key.clone(),
        capability: cap,
        binding: "default".into(),
        provider: "serial".into(),
        values: BTreeMap::from([("OPEN".to_owned(), "gps0 baud=115200 frame=line".to_owned())]),
        grant: Vec::new(),
    })
    .unwrap();

    // A GGA sentence (67 bytes), as a GPS module sends one a second.
    let line = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n";
    let (calls, fuel) = (counter("host_edge_actor_calls_total{", &key), counter("host_edge_actor_fuel_consumed_total{", &key));
    let started = Instant::now();
    for _ in 0..LINES {
        master.write_all(line).unwrap();
    }
    let written = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = (0, Instant::now());
    // Until every line arrived, or none arrived for a second (the rest were
    // dropped from the full queue), at most a minute.
    while Instant::now() < deadline {
        let delivered = counter("host_edge_actor_calls_total{", &key) - calls;
        if delivered >= LINES {
            break;
        }
        if delivered != last.0 {
            last = (delivered, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let delivered = counter("host_edge_actor_calls_total{", &key) - calls;
    let elapsed = last.1.max(started + written).duration_since(started);
    let fuel = (counter("host_edge_actor_fuel_consumed_total{", &key) - fuel) / delivered.max(1);
    println!(
        "{LINES} lines of {} bytes written in {written:.2?}; {delivered} delivered to the actor ({} dropped from the full queue) \
         in {elapsed:.2?}: {:.0} lines/s, {:.0} KB/s; {fuel} fuel a line",
        line.len(),
        LINES - delivered.min(LINES),
        delivered as f64 / elapsed.as_secs_f64(),
        (delivered * line.len() as u64) as f64 / elapsed.as_secs_f64() / 1000.0
    );
    host.shutdown();
}
