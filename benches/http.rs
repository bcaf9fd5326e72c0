//! The counter over HTTP: host-edge (signed actor + hyper provider + SQLite
//! or Redis provider, as `host-edge run` serves it) beside a plain hyper
//! server doing the same increment natively, in the same run, on loopback.
//!
//! Load: 20 keep-alive clients, at most 4000 requests or 20 s per case.
//! Reports requests per second, median and p99 latency, and the host's
//! resident memory (VmRSS now, VmHWM peak) after the load.

use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use host_edge_benches::{actor_entries, providers, rss_kib, run_host, stop, LoadReport};
use testkit::{actor_module, free_port, redis_url, wait_for_port, Signer};

const CLIENTS: usize = 20;
const MAX_REQUESTS: usize = 4000;
const MAX_TIME: Duration = Duration::from_secs(20);

fn load(port: u16, path: &str) -> LoadReport {
    host_edge_benches::load(port, path, CLIENTS, MAX_REQUESTS, MAX_TIME)
}

fn report(name: &str, load: &LoadReport, memory: Option<(u64, u64)>) {
    LoadReport::print(name, load, memory);
}

fn memory(pid: u32) -> (u64, u64) {
    rss_kib(pid)
}

/// `host-edge run` serving the counter on `port` with the key-value link
/// `kv_provider` / `kv_values`.
fn start_host(dir: &Path, port: u16, kv_provider: &str, kv_values: &str) -> Child {
    let signed = Signer::new().sign(&actor_module("counter"), "counter", &["wascc:http_server", "wascc:keyvalue"]);
    std::fs::write(dir.join("counter.wasm"), signed).unwrap();
    let manifest = format!("{}{}", providers(kv_provider), actor_entries("counter.wasm", "counter", 4, kv_values, port));
    let child = run_host(dir, &manifest);
    wait_for_port(port, Duration::from_secs(30));
    child
}

type Increment = Arc<dyn Fn(&str) -> i64 + Send + Sync>;

/// A plain hyper server answering `{"counter":N}` after `increment(key)`,
/// run on tokio's blocking pool.
fn native_server(port: u16, increment: Increment) -> tokio::runtime::Runtime {
    host_edge_benches::native_counter(port, host_edge_benches::two_workers(), move |key: String| {
        let increment = Arc::clone(&increment);
        async move { tokio::task::spawn_blocking(move || increment(&key)).await.unwrap() }
    })
}

fn sqlite_increment(path: &Path) -> Increment {
    let db = rusqlite::Connection::open(path).unwrap();
    db.pragma_update(None, "journal_mode", "WAL").unwrap();
    db.pragma_update(None, "synchronous", "FULL").unwrap();
    db.execute_batch("CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID").unwrap();
    let db = Mutex::new(db);
    Arc::new(move |key| {
        db.lock()
            .unwrap()
            .query_row(
                "INSERT INTO counters (key, value) VALUES (?1, 1)
                 ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value",
                [key],
                |row| row.get(0),
            )
            .unwrap()
    })
}

fn redis_increment(url: &str) -> Increment {
    let pool = r2d2::Pool::builder().max_size(8).build(redis::Client::open(url).unwrap()).unwrap();
    Arc::new(move |key| redis::cmd("INCRBY").arg(key).arg(1).query(&mut *pool.get().unwrap()).unwrap())
}

fn unique_path(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("/bench/{name}/{nanos}")
}

fn main() {
    println!("counter over HTTP, {CLIENTS} keep-alive clients, up to {MAX_REQUESTS} requests or {MAX_TIME:?} per case");
    let dir = tempfile::tempdir().unwrap();

    let port = free_port();
    let host = start_host(dir.path(), port, "keyvalue_sqlite", r#"{ PATH = "counter.db" }"#);
    let idle = memory(host.id());
    println!("{:<34} RSS {} KiB before any request", "host-edge idle (counter, 2 providers)", idle.0);
    let run = load(port, "/hits");
    report("host-edge, SQLite (sync=full)", &run, Some(memory(host.id())));
    stop(host);

    let port = free_port();
    let host = start_host(dir.path(), port, "keyvalue_redis", &format!(r#"{{ URL = "{}" }}"#, redis_url()));
    let run = load(port, &unique_path("host-edge"));
    report("host-edge, Redis", &run, Some(memory(host.id())));
    stop(host);

    let port = free_port();
    let native = native_server(port, sqlite_increment(&dir.path().join("native.db")));
    wait_for_port(port, Duration::from_secs(5));
    report("plain hyper, SQLite (sync=full)", &load(port, "/hits"), None);
    drop(native);

    let port = free_port();
    let native = native_server(port, redis_increment(&redis_url()));
    wait_for_port(port, Duration::from_secs(5));
    report("plain hyper, Redis", &load(port, &unique_path("native")), None);
    drop(native);
}
