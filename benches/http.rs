//! The counter over HTTP: host-edge (signed actor + hyper provider + SQLite
//! or Redis provider, as `host-edge run` serves it) beside a plain hyper
//! server doing the same increment natively, in the same run, on loopback.
//!
//! Load: 20 keep-alive clients, at most 4000 requests or 20 s per case.
//! Reports requests per second, median and p99 latency, and the host's
//! resident memory (VmRSS now, VmHWM peak) after the load.

use std::convert::Infallible;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use host_edge_benches::{rss_kib, LoadReport};
use hyper::body::Bytes;
use testkit::{actor_module, free_port, redis_url, release_build, wait_for_port, Signer};

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
    let release = release_build();
    let signed = Signer::new().sign(&actor_module("counter"), "counter", &["wascc:http_server", "wascc:keyvalue"]);
    std::fs::write(dir.join("counter.wasm"), signed).unwrap();
    let manifest = format!(
        r#"
[[actor]]
path = "counter.wasm"
instances = 4

[[provider]]
name = "kv"
path = "{kv}"

[[provider]]
name = "http"
path = "{http}"

[[link]]
actor = "counter"
capability = "wascc:keyvalue"
provider = "kv"
values = {kv_values}

[[link]]
actor = "counter"
capability = "wascc:http_server"
provider = "http"
values = {{ ADDRESS = "127.0.0.1", PORT = "{port}" }}
"#,
        kv = release.join(format!("lib{kv_provider}.so")).display(),
        http = release.join("libhttp_server.so").display(),
    );
    std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
    let child = Command::new(release.join("host-edge"))
        .current_dir(dir)
        .args(["run", "manifest.toml", "--control", "control.sock"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, Duration::from_secs(30));
    child
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

type Increment = Arc<dyn Fn(&str) -> i64 + Send + Sync>;

/// A plain hyper server answering `{"counter":N}` after `increment(key)`.
fn native_server(port: u16, increment: Increment) -> tokio::runtime::Runtime {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).unwrap();
    runtime.spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let increment = Arc::clone(&increment);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let increment = Arc::clone(&increment);
                    async move {
                        let key = request.uri().path().replace('/', ":");
                        let n = tokio::task::spawn_blocking(move || increment(&key)).await.unwrap();
                        let body = format!("{{\"counter\":{n}}}");
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    runtime
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
