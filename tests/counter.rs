//! The counter actor served over real HTTP on loopback, end to end: the
//! hyper server provider delivers each request to the signed counter actor,
//! which counts in the SQLite or Redis key-value provider.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::Policy;
use host_edge_runtime::Limits;
use host_edge_runtime::Host;
use testkit::host::{demo_manifest, link_mut, manifest_text, toml_value};
use testkit::{
    actor_module, free_port, host_edge_bin, http_get, provider_archive, redis_url, wait_for_port, PrivateRedis,
    Signer,
};

const KV: &str = "wascc:keyvalue";
const HTTP: &str = "wascc:http_server";

/// A host in this process serving one actor over HTTP.
struct Deployment {
    host: Host,
    port: u16,
}

impl Deployment {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.host.shutdown();
    }
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Serves `actor` (signed granting `caps`) on a free port with `http_values`,
/// and links its key-value capability to `kv` (library, values) when given.
fn deploy(
    actor: &str,
    caps: &[&str],
    kv: Option<(&str, BTreeMap<String, String>)>,
    http_values: &[(&str, &str)],
) -> Deployment {
    let host = Host::new(Policy::default());
    let signed = Signer::new().sign(&actor_module(actor), actor, caps);
    host.start_actor(host.load(&signed).unwrap(), 4, Limits::default()).unwrap();
    if let Some((library, kv_values)) = kv {
        host.add_provider("kv", &provider_archive(library)).unwrap();
        host.link_provider(actor, &CapabilityId::parse(KV).unwrap(), "default", "kv", &kv_values).unwrap();
    }
    let port = free_port();
    let mut http = values(&[("ADDRESS", "127.0.0.1")]);
    http.insert("PORT".into(), port.to_string());
    http.extend(values(http_values));
    host.add_provider("http", &provider_archive("http_server")).unwrap();
    host.link_provider(actor, &CapabilityId::parse(HTTP).unwrap(), "default", "http", &http).unwrap();
    wait_for_port(port, Duration::from_secs(10));
    Deployment { host, port }
}

fn sqlite_values(dir: &Path) -> BTreeMap<String, String> {
    values(&[("PATH", &dir.join("counter.db").display().to_string())])
}

fn counter_on_sqlite(dir: &Path) -> Deployment {
    deploy("counter", &[HTTP, KV], Some(("keyvalue_sqlite", sqlite_values(dir))), &[])
}

/// A path no earlier run has counted in the shared Redis.
fn fresh_path() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("/test/{}/{nanos}", std::process::id())
}

#[test]
fn the_counter_counts_per_path_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let app = counter_on_sqlite(dir.path());
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":1}"#.to_owned()));
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":2}"#.to_owned()));
    assert_eq!(http_get(&app.url("/other")), (200, r#"{"counter":1}"#.to_owned()));
}

#[test]
fn the_counter_counts_per_path_on_redis() {
    let app = deploy("counter", &[HTTP, KV], Some(("keyvalue_redis", values(&[("URL", &redis_url())]))), &[]);
    let path = fresh_path();
    assert_eq!(http_get(&app.url(&path)), (200, r#"{"counter":1}"#.to_owned()));
    assert_eq!(http_get(&app.url(&path)), (200, r#"{"counter":2}"#.to_owned()));
}

/// 20 clients each send 10 requests; returns the count the last answer shows.
fn two_hundred_concurrent_requests(app: &Deployment, path: &str) -> u32 {
    std::thread::scope(|s| {
        let clients: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    (0..10)
                        .map(|_| {
                            let (status, body) = http_get(&app.url(path));
                            assert_eq!(status, 200, "{body}");
                            body
                        })
                        .count()
                })
            })
            .collect();
        assert_eq!(clients.into_iter().map(|c| c.join().unwrap()).sum::<usize>(), 200);
    });
    let (_, body) = http_get(&app.url(path));
    let n: u32 = body.trim_start_matches(r#"{"counter":"#).trim_end_matches('}').parse().unwrap();
    n - 1
}

#[test]
fn two_hundred_requests_from_twenty_clients_count_exactly_200_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let app = counter_on_sqlite(dir.path());
    assert_eq!(two_hundred_concurrent_requests(&app, "/hits"), 200);
}

#[test]
fn two_hundred_requests_from_twenty_clients_count_exactly_200_on_redis() {
    let app = deploy("counter", &[HTTP, KV], Some(("keyvalue_redis", values(&[("URL", &redis_url())]))), &[]);
    assert_eq!(two_hundred_concurrent_requests(&app, &fresh_path()), 200);
}

#[test]
fn an_actor_without_the_keyvalue_claim_gets_a_403_naming_it_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    // A granted counter shares the database, so it exists and is linked.
    let granted = counter_on_sqlite(dir.path());
    assert_eq!(http_get(&granted.url("/granted")).0, 200);

    // The link asks for the error message in the body (ERROR_DETAIL).
    let refused = deploy("counter", &[HTTP], None, &[("ERROR_DETAIL", "true")]);
    refused.host.add_provider("kv", &provider_archive("keyvalue_sqlite")).unwrap();
    let err = refused
        .host
        .link_provider("counter", &CapabilityId::parse(KV).unwrap(), "default", "kv", &sqlite_values(dir.path()))
        .unwrap_err();
    assert!(err.to_string().contains("signed claims do not grant it"), "{err}");
    let (status, body) = http_get(&refused.url("/hits"));
    assert_eq!(status, 403, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON error body");
    let message = json["detail"].as_str().unwrap();
    assert!(message.contains("not authorized to use wascc:keyvalue"), "{message}");
    assert_eq!(json["kind"], "denied", "{body}");

    let db = rusqlite::Connection::open(dir.path().join("counter.db")).unwrap();
    let keys: Vec<String> = db
        .prepare("SELECT key FROM kv_keys ORDER BY key")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys, [":granted"]);
}

#[test]
fn requests_get_503_while_redis_is_down_and_succeed_after_it_restarts() {
    let mut redis = PrivateRedis::start();
    // The link asks for the error message in the body (ERROR_DETAIL).
    let kv = Some(("keyvalue_redis", values(&[("URL", &redis.url())])));
    let app = deploy("counter", &[HTTP, KV], kv, &[("ERROR_DETAIL", "true")]);
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":1}"#.to_owned()));

    redis.stop();
    // A store that is down is an `unavailable` failure (a 503), not a
    // hang: how fast it comes is for the benchmarks to say.
    for _ in 0..3 {
        let (status, body) = http_get(&app.url("/hits"));
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("Redis"), "{body}");
        assert!(body.contains(r#""kind":"unavailable""#), "{body}");
    }

    redis.restart();
    let (status, body) = http_get(&app.url("/hits"));
    assert_eq!((status, body.as_str()), (200, r#"{"counter":1}"#));
}

#[test]
fn an_actor_error_is_a_500_with_a_json_body_naming_it() {
    // `faulty` has no HandleRequest handler: every request fails in the actor.
    // The link asks for the error message in the body (ERROR_DETAIL).
    let app = deploy("faulty", &[HTTP], None, &[("ERROR_DETAIL", "true")]);
    let (status, body) = http_get(&app.url("/"));
    assert_eq!(status, 500);
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON error body");
    assert!(json["detail"].as_str().unwrap().contains("HandleRequest"), "{body}");
}

/// Sends raw bytes and returns the start of whatever comes back.
/// `GET /hits` on a kept-alive connection: the whole answer, which ends
/// with its JSON body; the connection stays open.
fn get_kept_alive(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(b"GET /hits HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let (mut answer, mut buffer) = (Vec::new(), [0u8; 512]);
    while !answer.ends_with(b"}") {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "the connection closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn raw_exchange(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_body_over_the_limit_is_answered_413() {
    let dir = tempfile::tempdir().unwrap();
    let kv = Some(("keyvalue_sqlite", sqlite_values(dir.path())));
    let app = deploy("counter", &[HTTP, KV], kv, &[("MAX_BODY_BYTES", "1024")]);
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).unwrap();
    let body = vec![b'x'; 4096];
    let mut request = format!("POST /hits HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend(&body);
    let answer = raw_exchange(&mut stream, &request);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Nothing was counted, and a request within the limit still works.
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":1}"#.to_owned()));
}

#[test]
fn a_client_that_sends_no_request_head_in_time_is_answered_408() {
    let app = deploy("echo", &[HTTP], None, &[("HEADER_READ_TIMEOUT_MS", "300")]);
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).unwrap();
    let answer = raw_exchange(&mut stream, b"GET /slow HTTP/1.1\r\nhost: x\r\n");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[test]
fn a_client_that_trickles_its_body_is_answered_408_instead_of_holding_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    let kv = Some(("keyvalue_sqlite", sqlite_values(dir.path())));
    let app = deploy("counter", &[HTTP, KV], kv, &[("BODY_READ_TIMEOUT_MS", "300")]);
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).unwrap();
    // A head declaring 100 bytes, and 5 of them: the rest never comes.
    let answer = raw_exchange(&mut stream, b"POST /hits HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nhello");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("the request body was not received within 300 ms"), "{answer}");
    // Nothing was counted.
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":1}"#.to_owned()));
}

#[test]
fn connections_beyond_the_limit_are_answered_503_and_later_ones_served() {
    let dir = tempfile::tempdir().unwrap();
    let kv = Some(("keyvalue_sqlite", sqlite_values(dir.path())));
    // Idle connections must not time out (and free their slots) mid-test.
    let app = deploy("counter", &[HTTP, KV], kv, &[("MAX_CONNECTIONS", "2"), ("HEADER_READ_TIMEOUT_MS", "120000")]);
    // Two connections take the two slots; an answer on each proves the
    // server holds it (kept alive, then idle). The probe that saw the port
    // open may hold a slot a moment longer: until it is let go, a new
    // connection is turned away, and is tried again.
    let mut held: Vec<TcpStream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while held.len() < 2 {
        let mut stream = TcpStream::connect(("127.0.0.1", app.port)).unwrap();
        let answer = get_kept_alive(&mut stream);
        if answer.starts_with("HTTP/1.1 200") {
            assert!(answer.ends_with(&format!(r#"{{"counter":{}}}"#, held.len() + 1)), "{answer}");
            held.push(stream);
        } else {
            assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("too many connections"), "{answer}");
            assert!(Instant::now() < deadline, "a slot was never freed: {answer}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // Every further connection is turned away with a 503, and not held.
    for _ in 0..4 {
        let mut stream = TcpStream::connect(("127.0.0.1", app.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut answer = [0u8; 64];
        let n = stream.read(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 503"), "a connection past the limit of 2 was let in: {answer:?}");
    }
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = http_get(&app.url("/hits"));
        if status == 200 {
            assert_eq!(body, r#"{"counter":3}"#);
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {status} {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `host-edge run` on a manifest in `dir`; stderr goes to `dir/host.log`.
fn run_binary(dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("host.log")).unwrap();
    Command::new(host_edge_bin())
        .current_dir(dir)
        .args(["run", "manifest.toml", "--control", "control.sock"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("host-edge runs")
}

/// Writes a signed counter and a manifest serving it on `port` from SQLite.
fn counter_manifest(dir: &Path, port: u16) {
    let signed = Signer::new().sign(&actor_module("counter"), "counter", &[HTTP, KV]);
    std::fs::write(dir.join("counter.wasm"), signed).unwrap();
    let manifest = counter_manifest_text("keyvalue_sqlite", r#"PATH = "counter.db""#, port, "");
    std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
}

/// A manifest serving `counter.wasm` (two instances) on `port`: the demo's
/// (demo/counter.toml), counting in the key-value provider `kv_library`
/// linked with `kv_values`; `http_extra` goes on the end of the HTTP link's
/// values. The HTTP capability is spelled the wasmCloud way on purpose.
/// Providers' health is asked every 100 ms.
fn counter_manifest_text(kv_library: &str, kv_values: &str, port: u16, http_extra: &str) -> String {
    let mut manifest =
        demo_manifest(&provider_archive(kv_library), &provider_archive("http_server"), &port.to_string());
    manifest["host"] = toml::Value::Table(toml::toml! { health_interval = "100ms" });
    manifest["actor"][0]["path"] = "counter.wasm".into();
    let inline = |pairs: &str| toml_value(&format!("{{ {pairs} }}"));
    link_mut(&mut manifest, "wascc:keyvalue")["values"] = inline(kv_values);
    let http = link_mut(&mut manifest, "wascc:http_server");
    http["capability"] = "wasmcloud:httpserver".into();
    let values = http["values"].as_table_mut().expect("the HTTP link has values");
    for (key, value) in inline(http_extra.trim_start_matches(',')).as_table().expect("a table") {
        values.insert(key.clone(), value.clone());
    }
    manifest_text(&manifest)
}

#[test]
fn the_binary_serves_the_counter_and_an_acknowledged_count_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    counter_manifest(dir.path(), port);
    let url = format!("http://127.0.0.1:{port}/hits");

    let mut host = run_binary(dir.path());
    wait_for_port(port, Duration::from_secs(30));
    for expected in 1..=3 {
        assert_eq!(http_get(&url), (200, format!(r#"{{"counter":{expected}}}"#)));
    }
    host.kill().unwrap(); // SIGKILL: no shutdown, no flush
    host.wait().unwrap();

    let mut host = run_binary(dir.path());
    wait_for_port(port, Duration::from_secs(30));
    assert_eq!(http_get(&url), (200, r#"{"counter":4}"#.to_owned()));
    // SIGTERM: a clean stop.
    Command::new("kill").args(["-TERM", &host.id().to_string()]).status().unwrap();
    let status = host.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(dir.path().join("host.log")).unwrap();
    assert!(log.contains("provider stopped"), "{log}");
}

/// The password of the private Redis in the test below; it must show up
/// nowhere but in the manifest.
const REDIS_PASSWORD: &str = "s3cretpass-e2e";

/// `host-edge run manifest.toml` in `dir` with its control socket there;
/// stdout goes to `dir/host.out`, stderr (the log) to `dir/host.log`.
fn run_binary_capturing_all(dir: &Path) -> Child {
    Command::new(host_edge_bin())
        .current_dir(dir)
        .args(["run", "manifest.toml", "--control", "control.sock"])
        .env("NO_COLOR", "1")
        .stdout(std::fs::File::create(dir.join("host.out")).unwrap())
        .stderr(std::fs::File::create(dir.join("host.log")).unwrap())
        .spawn()
        .expect("host-edge runs")
}

/// Runs `host-edge ARGS` in `dir`; whether it succeeded, and what it printed
/// on stdout and stderr.
fn host_edge_cli(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(host_edge_bin()).current_dir(dir).args(args).env("NO_COLOR", "1").output().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), printed)
}

/// GETs `url`, sending `x-request-id: ID` when given; the status, the body
/// and the `x-request-id` the response carries.
fn get_with_request_id(url: &str, id: Option<&str>) -> (u16, String, String) {
    let mut request = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build().get(url);
    if let Some(id) = id {
        request = request.set("x-request-id", id);
    }
    let response = match request.call() {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let header = response.header("x-request-id").expect("every response carries x-request-id").to_owned();
    (response.status(), response.into_string().unwrap(), header)
}

/// A manifest serving `counter.wasm` on loopback `port`, counting in Redis
/// at `redis_url`; the HTTP link gets `http_extra` (more TOML key-value
/// pairs).
fn redis_counter_manifest(redis_url: &str, port: u16, http_extra: &str) -> String {
    counter_manifest_text("keyvalue_redis", &format!(r#"URL = "{redis_url}""#), port, http_extra)
}

/// Waits until the log in `dir/host.log` has a line containing `needle`,
/// and returns that line.
fn log_line_with(dir: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(dir.join("host.log")).unwrap();
        if let Some(line) = log.lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(Instant::now() < deadline, "no log line contains {needle}:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_redis_password_reaches_no_http_body_and_no_log_line_and_a_failed_request_is_logged_under_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut redis = PrivateRedis::start_with_password(REDIS_PASSWORD);
    assert!(redis.url().contains(REDIS_PASSWORD));
    let hidden_url = format!("redis://:***@127.0.0.1:{}/", redis.port());
    let port = free_port();
    let signed = Signer::new().sign(&actor_module("counter"), "counter", &[HTTP, KV]);
    std::fs::write(dir.join("counter.wasm"), signed).unwrap();
    std::fs::write(dir.join("manifest.toml"), redis_counter_manifest(&redis.url(), port, "")).unwrap();
    // Everything the host and its CLI print, to search for the password.
    let mut printed = Vec::new();

    let mut host = run_binary_capturing_all(dir);
    wait_for_port(port, Duration::from_secs(30));
    let url = format!("http://127.0.0.1:{port}/hits");
    // Redis requires the password, so this count proves the link uses it.
    let (status, body, _) = get_with_request_id(&url, None);
    assert_eq!((status, body.as_str()), (200, r#"{"counter":1}"#));

    // `ctl status` shows the link's URL with the password hidden.
    for args in [&["ctl", "--socket", "control.sock", "status"][..], &["ctl", "--socket", "control.sock", "status", "--json"][..]] {
        let (ok, out) = host_edge_cli(dir, args);
        assert!(ok && out.contains(&hidden_url), "{args:?}:\n{out}");
        printed.push(out);
    }
    // A link the provider refuses: its error names the URL, redacted, both
    // in what ctl prints and in the host's log of the refused command.
    let bad_url = format!("URL=redis://:{REDIS_PASSWORD}@127.0.0.1:notaport/");
    let link = ["ctl", "--socket", "control.sock", "link", "counter", KV, "kv", "--binding", "spare", "--value", &bad_url];
    let (ok, out) = host_edge_cli(dir, &link);
    assert!(!ok && out.contains("redis://:***@127.0.0.1:notaport/"), "{out}");
    printed.push(out);
    let refused = log_line_with(dir, "control: refused");
    assert!(refused.contains("redis://:***@127.0.0.1:notaport/"), "{refused}");

    // Redis goes away: the client gets the status and a short phrase, the
    // kind and the request id, and nothing of the internal error.
    redis.stop();
    let (status, body, id) = get_with_request_id(&url, None);
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON error body");
    let fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, ["error", "kind", "request_id"], "{body}");
    assert_eq!(json["kind"], "unavailable", "{body}");
    assert_eq!(json["request_id"], id.as_str(), "{body}");
    for internal in [REDIS_PASSWORD, "Redis", "redis", "127.0.0.1", "unreachable"] {
        assert!(!body.contains(internal), "the body shows `{internal}`: {body}");
    }
    // The log has the whole story under the same id, redacted.
    let line = log_line_with(dir, &id);
    for part in ["GET /hits", "503", "unavailable", &hidden_url] {
        assert!(line.contains(part), "the log line lacks `{part}`: {line}");
    }
    // A client's own sane request id is kept, in the body, the header and the log.
    let (status, body, echoed) = get_with_request_id(&url, Some("client-req.42"));
    assert_eq!((status, echoed.as_str()), (503, "client-req.42"), "{body}");
    assert!(body.contains(r#""request_id":"client-req.42""#), "{body}");
    log_line_with(dir, "client-req.42");
    let (_, _, replaced) = get_with_request_id(&url, Some("not a sane id"));
    assert_ne!(replaced, "not a sane id");

    // `host-edge check` on a manifest that puts a URL where a boolean
    // belongs quotes the value with the password hidden.
    let bad_detail = format!(r#", ERROR_DETAIL = "redis://:{REDIS_PASSWORD}@127.0.0.1/""#);
    std::fs::write(dir.join("bad.toml"), redis_counter_manifest(&redis.url(), port, &bad_detail)).unwrap();
    let (ok, out) = host_edge_cli(dir, &["check", "bad.toml"]);
    assert!(!ok && out.contains("ERROR_DETAIL") && out.contains("redis://:***@127.0.0.1/"), "{out}");
    printed.push(out);

    // The link asks for detail (applied by SIGHUP): the body carries the
    // message too, still redacted.
    let detailed = redis_counter_manifest(&redis.url(), port, r#", ERROR_DETAIL = "true""#);
    std::fs::write(dir.join("manifest.toml"), detailed).unwrap();
    Command::new("kill").args(["-HUP", &host.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (body, id) = loop {
        let (status, body, id) = get_with_request_id(&url, None);
        if status == 503 && body.contains("detail") {
            break (body, id);
        }
        assert!(Instant::now() < deadline, "no detail after the reload: {status} {body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON error body");
    assert_eq!(json["request_id"], id.as_str(), "{body}");
    assert_eq!(json["kind"], "unavailable", "{body}");
    let detail = json["detail"].as_str().unwrap();
    assert!(detail.contains(&hidden_url) && !detail.contains(REDIS_PASSWORD), "{detail}");

    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(dir.join("host.log")).unwrap().contains("provider unhealthy") {
        assert!(Instant::now() < deadline, "Redis being down was not reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill").args(["-TERM", &host.id().to_string()]).status().unwrap();
    // Redis is still down at the stop: the health report (which the checks
    // below read too) makes the exit status 1.
    assert_eq!(host.wait().unwrap().code(), Some(1));
    printed.push(std::fs::read_to_string(dir.join("host.log")).unwrap());
    printed.push(std::fs::read_to_string(dir.join("host.out")).unwrap());
    for text in &printed {
        for line in text.lines() {
            assert!(!line.contains(REDIS_PASSWORD), "a line shows the password: {line}");
        }
    }
}

#[test]
fn the_hosts_status_shows_a_link_url_with_its_password_hidden_while_the_link_uses_it() {
    let redis = PrivateRedis::start_with_password(REDIS_PASSWORD);
    let kv = Some(("keyvalue_redis", values(&[("URL", &redis.url())])));
    let app = deploy("counter", &[HTTP, KV], kv, &[]);
    // Redis requires the password, so this count proves the link has it.
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":1}"#.to_owned()));
    let status = app.host.status();
    let link = status.links.iter().find(|l| l.capability == CapabilityId::parse(KV).unwrap()).unwrap();
    assert_eq!(link.values["URL"], format!("redis://:***@127.0.0.1:{}/", redis.port()));
    assert!(!format!("{status:?}").contains(REDIS_PASSWORD), "{status:?}");
}

#[test]
fn a_provider_that_turns_unhealthy_is_reported_and_the_stop_exits_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = PrivateRedis::start();
    let port = free_port();
    let signed = Signer::new().sign(&actor_module("counter"), "counter", &[HTTP, KV]);
    std::fs::write(dir.path().join("counter.wasm"), signed).unwrap();
    let manifest = redis_counter_manifest(&redis.url(), port, "");
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    let mut host = run_binary(dir.path());
    wait_for_port(port, Duration::from_secs(30));
    assert_eq!(http_get(&format!("http://127.0.0.1:{port}/hits")).0, 200);

    redis.stop();
    let log = || std::fs::read_to_string(dir.path().join("host.log")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log().contains("provider unhealthy") {
        assert!(Instant::now() < deadline, "no unhealthy report in:\n{}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(log().contains("Redis"), "the report says why: {}", log());
    Command::new("kill").args(["-TERM", &host.id().to_string()]).status().unwrap();
    let status = host.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{}", log());
    assert!(log().contains("stopped, with unhealthy providers: kv"), "{}", log());
}

#[test]
fn wasccs_own_kvcounter_runs_unmodified_and_counts_in_the_store_its_binding_names() {
    let dir = tempfile::tempdir().unwrap();
    let app = deploy("wascc_kvcounter", &[HTTP, KV], Some(("keyvalue_sqlite", sqlite_values(dir.path()))), &[("ERROR_DETAIL", "true")]);
    app.host.add_provider("cache", &provider_archive("keyvalue_redis")).unwrap();
    let cache = values(&[("URL", &redis_url())]);
    app.host.link_provider("wascc_kvcounter", &CapabilityId::parse(KV).unwrap(), "cache", "cache", &cache).unwrap();

    let path = fresh_path();
    assert_eq!(http_get(&app.url(&path)), (200, r#"{"counter":1}"#.to_owned()));
    assert_eq!(http_get(&app.url(&path)), (200, r#"{"counter":2}"#.to_owned()));
    assert_eq!(http_get(&app.url(&format!("{path}?binding=cache"))), (200, r#"{"counter":1}"#.to_owned()), "Redis counts apart");
    assert_eq!(http_get(&app.url(&path)), (200, r#"{"counter":3}"#.to_owned()));
    let (status, body) = http_get(&app.url(&format!("{path}?binding=nosuch")));
    assert_ne!(status, 200, "{body}");
    assert!(body.contains("nosuch"), "the refusal names the binding: {body}");
}

#[test]
fn a_wascc_yaml_manifest_runs_wasccs_kvcounter_on_host_edges_providers() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new();
    std::fs::write(dir.path().join("kvcounter_s.wasm"), signer.sign(&actor_module("wascc_kvcounter"), "kvcounter", &[HTTP, KV])).unwrap();
    let key = signer.subject.public_key();
    let port = free_port();
    // As a waSCC user wrote it: waSCC's library names, actors by module key.
    let yaml = format!(
        r#"---
labels:
  sample: "wascc kvcounter"
actors:
  - ./kvcounter_s.wasm
capabilities:
  - path: ./libwascc_httpsrv.so
  - path: ./libwascc_redis.so
bindings:
  - actor: "{key}"
    capability: "wascc:keyvalue"
    values:
      URL: {redis}
  - actor: "{key}"
    capability: "wascc:http_server"
    values:
      PORT: "{port}"
      ADDRESS: "127.0.0.1"
"#,
        redis = redis_url()
    );
    // host-edge's signed archives of the two providers, under the names a
    // bundle gives them, in the folder HOST_EDGE_PROVIDERS names.
    let folder = dir.path().join("providers");
    std::fs::create_dir_all(&folder).unwrap();
    for name in ["http_server", "keyvalue_redis"] {
        std::fs::copy(provider_archive(name), folder.join(format!("{name}.par"))).unwrap();
    }
    let archives = folder.display().to_string();
    let mut host = testkit::host::HostProcess::with_manifest_file(dir.path(), "manifest.yaml", &yaml, port);
    host.env("HOST_EDGE_PROVIDERS", &archives).start();
    let path = fresh_path();
    assert_eq!(http_get(&host.url(&path)), (200, r#"{"counter":1}"#.to_owned()), "{}", host.log());
    assert_eq!(http_get(&host.url(&path)), (200, r#"{"counter":2}"#.to_owned()));
    host.stop("TERM");

    // What cannot be mapped is named, and nothing starts.
    std::fs::write(dir.path().join("nats.yaml"), yaml.replace("libwascc_redis.so", "libwascc_nats.so")).unwrap();
    let out = Command::new(host_edge_bin())
        .current_dir(dir.path())
        .env("HOST_EDGE_PROVIDERS", &archives)
        .args(["check", "nats.yaml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("`./libwascc_nats.so` (wascc:messaging): host-edge has no NATS provider"), "{err}");
    assert!(err.contains("no entry in `capabilities` serves wascc:keyvalue"), "{err}");
}
