//! Real actors, as a deployment runs them (`host-edge run`, release build):
//!
//! 1. **Throughput**: waSCC's kvcounter, built with waSCC's own SDK
//!    (`actors/wascc-kvcounter`), over HTTP to Redis, 4 instances, beside
//!    the best native server a user could write for it in the same run:
//!    hyper with one multiplexed Redis connection (no pool, no check before
//!    each command). 16 keep-alive clients, bounded in count and time.
//! 2. **Cold start**: a 2 MiB actor (the kvcounter padded with an
//!    incompressible custom section), SQLite and HTTP providers: from
//!    spawning `host-edge run` to the first HTTP 200, 20 times, as a device
//!    restarts (its database already there after the first).
//! 3. **Memory**: three actors with up to 4 instances each, the SQLite and
//!    HTTP providers, idle: the host's RSS before and after a burst of load,
//!    and after the instances above the one kept have left.
//! 4. **Scale to zero**: a call to an actor that has no instance (it starts
//!    one) beside the next call.
//!
//! Run with `cargo bench -p host-edge-benches --bench actors`.

use std::path::Path;
use std::time::{Duration, Instant};

use host_edge_benches::{actor_entries, load, padded, providers, rss_kib, run_host, stop, LoadReport};
use testkit::{actor_module, free_port, redis_url, wait_for_port, Signer};

const CLIENTS: usize = 16;
const MAX_REQUESTS: usize = 100_000;
const MAX_TIME: Duration = Duration::from_secs(10);
const COLD_STARTS: usize = 20;
/// The idle timeout of the memory case.
const IDLE: Duration = Duration::from_secs(2);




/// The native baseline: hyper on two worker threads with one multiplexed
/// Redis connection shared by every request (redis's async
/// `MultiplexedConnection`, pipelining concurrent commands), answering
/// `{"counter":N}` after `INCRBY`.
fn native_server(port: u16, url: &str) -> tokio::runtime::Runtime {
    let runtime = host_edge_benches::two_workers();
    let client = redis::Client::open(url).unwrap();
    let connection = runtime.block_on(client.get_multiplexed_async_connection()).unwrap();
    host_edge_benches::native_counter(port, runtime, move |key: String| {
        let mut connection = connection.clone();
        async move { redis::cmd("INCRBY").arg(&key).arg(1).query_async::<i64>(&mut connection).await.unwrap() }
    })
}

fn unique_path(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("/bench/{name}/{nanos}")
}

fn throughput(dir: &Path, signer: &Signer) {
    let caps = ["wascc:http_server", "wascc:keyvalue"];
    let kvcounter = signer.sign(&actor_module("wascc_kvcounter"), "kvcounter", &caps);
    std::fs::write(dir.join("kvcounter.wasm"), &kvcounter).unwrap();
    println!(
        "throughput: waSCC's kvcounter ({} bytes, wascc-actor 0.7) over HTTP to Redis, {CLIENTS} keep-alive clients, up to {MAX_REQUESTS} requests or {MAX_TIME:?}",
        kvcounter.len()
    );
    let url = redis_url();
    // Interleaved, twice each, so that both see the same machine.
    for round in 1..=2 {
        let port = free_port();
        let kv_values = format!(r#"{{ URL = "{url}" }}"#);
        let host = run_host(dir, &format!("{}{}", providers("keyvalue_redis"), actor_entries("kvcounter.wasm", "kvcounter", 4, &kv_values, port)));
        wait_for_port(port, Duration::from_secs(30));
        let run = load(port, &unique_path("host-edge"), CLIENTS, MAX_REQUESTS, MAX_TIME);
        LoadReport::print(&format!("host-edge, 4 instances (run {round})"), &run, Some(rss_kib(host.id())));
        stop(host);

        let port = free_port();
        let native = native_server(port, &url);
        wait_for_port(port, Duration::from_secs(5));
        let run = load(port, &unique_path("native"), CLIENTS, MAX_REQUESTS, MAX_TIME);
        LoadReport::print(&format!("hyper + multiplexed Redis (run {round})"), &run, None);
        drop(native);
    }
}

fn cold_start(dir: &Path, signer: &Signer) {
    let module = padded(&actor_module("wascc_kvcounter"), 2 * 1024 * 1024 - 700, 1);
    let signed = signer.sign(&module, "kvcounter", &["wascc:http_server", "wascc:keyvalue"]);
    std::fs::write(dir.join("big.wasm"), &signed).unwrap();
    let mut times = Vec::new();
    for _ in 0..COLD_STARTS {
        let port = free_port();
        let manifest = format!(
            "{}{}",
            providers("keyvalue_sqlite"),
            actor_entries("big.wasm", "kvcounter", 1, r#"{ PATH = "cold.db" }"#, port)
        );
        std::fs::write(dir.join("manifest.toml"), &manifest).unwrap();
        let started = Instant::now();
        let host = run_host(dir, &manifest);
        let deadline = started + Duration::from_secs(30);
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read, Write};
                stream.set_nodelay(true).unwrap();
                stream.write_all(b"GET /cold HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n").unwrap();
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "no 200 within 30 s");
            std::thread::sleep(Duration::from_micros(200));
        }
        times.push(started.elapsed());
        stop(host);
    }
    times.sort();
    println!(
        "cold start, {} byte actor, spawn to first HTTP 200: median {:.1?} (min {:.1?}, max {:.1?}, n={COLD_STARTS})",
        signed.len(),
        times[COLD_STARTS / 2],
        times[0],
        times[COLD_STARTS - 1]
    );
}

fn memory(dir: &Path) {
    let caps = ["wascc:http_server", "wascc:keyvalue"];
    // Instances above the one kept leave after 2 s idle (30 s by default).
    let mut manifest = format!("[host]\nidle_timeout = \"{}s\"\n{}", IDLE.as_secs(), providers("keyvalue_sqlite"));
    let mut ports = Vec::new();
    for (name, module) in [("counter", "counter"), ("kvcounter", "wascc_kvcounter"), ("tweaked", "counter_tweaked")] {
        // A module key of its own for each.
        let signed = Signer::new().sign(&actor_module(module), name, &caps);
        let file = format!("{name}.wasm");
        std::fs::write(dir.join(&file), signed).unwrap();
        let port = free_port();
        ports.push(port);
        manifest.push_str(&actor_entries(&file, name, 4, &format!(r#"{{ PATH = "{name}.db" }}"#), port));
    }
    let host = run_host(dir, &manifest);
    for port in &ports {
        wait_for_port(*port, Duration::from_secs(30));
    }
    std::thread::sleep(Duration::from_millis(500));
    let (idle, _) = rss_kib(host.id());
    for port in &ports {
        load(*port, "/hits", CLIENTS, 2_000, Duration::from_secs(5));
    }
    let (after, peak) = rss_kib(host.id());
    // Idle again, past the idle timeout.
    std::thread::sleep(IDLE + Duration::from_secs(2));
    let (settled, _) = rss_kib(host.id());
    println!(
        "memory, 3 actors x up to 4 instances, SQLite and HTTP providers: RSS idle {:.1} MiB, after load {:.1} MiB (peak {:.1} MiB), idle again {:.1} MiB",
        idle as f64 / 1024.0,
        after as f64 / 1024.0,
        peak as f64 / 1024.0,
        settled as f64 / 1024.0
    );
    stop(host);
}

/// A call to an actor scaled to zero (a new instance first) beside a call
/// to a warm one, over HTTP, each on a new connection.
fn scale_to_zero(dir: &Path, signer: &Signer) {
    let signed = signer.sign(&actor_module("wascc_kvcounter"), "kvcounter", &["wascc:http_server", "wascc:keyvalue"]);
    std::fs::write(dir.join("zero.wasm"), &signed).unwrap();
    let port = free_port();
    let manifest = format!(
        "[host]\nmin_instances = 0\nidle_timeout = \"{}s\"\n{}{}",
        IDLE.as_secs(),
        providers("keyvalue_sqlite"),
        actor_entries("zero.wasm", "kvcounter", 4, r#"{ PATH = "zero.db" }"#, port)
    );
    let host = run_host(dir, &manifest);
    wait_for_port(port, Duration::from_secs(30));
    let timed = || {
        let started = Instant::now();
        host_edge_benches::get(&mut host_edge_benches::connect(port), "/zero");
        started.elapsed()
    };
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        std::thread::sleep(IDLE + Duration::from_millis(500));
        cold.push(timed());
        warm.push(timed());
    }
    cold.sort();
    warm.sort();
    println!(
        "scale to zero: a call that starts a new instance median {:.2?} (max {:.2?}), the next call {:.2?}, n=5",
        cold[2], cold[4], warm[2]
    );
    stop(host);
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new();
    let only = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let wanted = |part: &str| only.as_deref().is_none_or(|o| o == part);
    if wanted("throughput") {
        throughput(dir.path(), &signer);
    }
    if wanted("cold-start") {
        cold_start(dir.path(), &signer);
    }
    if wanted("memory") {
        memory(dir.path());
    }
    if wanted("scale-to-zero") {
        scale_to_zero(dir.path(), &signer);
    }
}
