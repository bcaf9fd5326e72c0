//! The operator's side of a running `host-edge run`: `host-edge ctl` over
//! the control socket and SIGHUP reloads of an edited manifest, on the real
//! binary with real providers, checked by `ctl status`, by HTTP on loopback
//! and by the bind/unbind calls a provider records.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use host_edge_runtime::claims::SignOptions;
use host_edge_runtime::Status;
use testkit::host::{demo_manifest, link_mut, manifest_text};
use testkit::{actor_module, c_provider, free_port, host_edge_bin, http_get, options, provider_archive, sign_provider, wait_for_port, Signer};

/// A `host-edge run` of a manifest in a temporary folder.
struct Running {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    echo_key: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(host_edge_bin())
            .current_dir(self.dir.path())
            .args(["ctl", "--socket", "control.sock"])
            .args(args)
            .output()
            .unwrap()
    }

    fn status(&self) -> Status {
        let out = self.ctl(&["status", "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn binds(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("state/reverse/binds.log")).unwrap_or_default()
    }

    /// Waits (bounded) until the host has logged a line containing `text`
    /// `times` times.
    fn wait_for_log(&self, text: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.log.lock().unwrap().iter().filter(|l| l.contains(text)).count() < times {
            assert!(Instant::now() < deadline, "the host did not log `{text}`");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGHUP and waits (bounded) until `done` holds.
    fn reload_until(&self, what: &str, done: impl Fn() -> bool) {
        signal(&self.child, "-HUP");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "after SIGHUP: {what} did not happen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(child: &Child, which: &str) {
    assert!(Command::new("kill").args([which, &child.id().to_string()]).status().unwrap().success());
}

/// The demo's manifest (demo/counter.toml) with the counter's database at
/// `dir/counter.db` and one HTTP worker thread, plus the echo actor linked
/// to the C provider at `reverse`; `reverse_link_extra` ends that link.
fn manifest(dir: &Path, port: u16, reverse: &Path, reverse_link_extra: &str) -> String {
    let mut manifest =
        demo_manifest(&provider_archive("keyvalue_sqlite"), &provider_archive("http_server"), &port.to_string());
    manifest["actor"][0]["path"] = "counter.wasm".into();
    let http = manifest["provider"][1].as_table_mut().expect("the demo's second provider is HTTP");
    http.insert("settings".into(), toml::Value::Table(toml::toml! { WORKER_THREADS = "1" }));
    link_mut(&mut manifest, "wascc:keyvalue")["values"]["PATH"] = dir.join("counter.db").display().to_string().into();
    format!(
        r#"{demo}
[[actor]]
path = "echo.wasm"

[[provider]]
name = "reverse"
path = "{reverse}"

[[link]]
actor = "echo"
capability = "example:reverse"
provider = "reverse"
{reverse_link_extra}
"#,
        demo = manifest_text(&manifest),
        reverse = reverse.display(),
    )
}

/// The C provider of tests/fixtures (`example:reverse`), built in `dir` and
/// signed into `dir/reverse.par`, as a vendor ships it.
fn reverse_archive(dir: &Path) -> PathBuf {
    sign_provider(&c_provider(dir, "provider.c", &[]), "example:reverse", &dir.join("reverse.par"))
}

fn counter(signer: &Signer, module: &str, rev: i32) -> Vec<u8> {
    let caps = ["wascc:http_server", "wascc:keyvalue"];
    signer.sign_with(&actor_module(module), &SignOptions { rev: Some(rev), ..options("counter", &caps) })
}

fn start(signer: &Signer) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let echo_signer = Signer::new();
    std::fs::write(dir.path().join("counter.wasm"), counter(signer, "counter", 1)).unwrap();
    std::fs::write(dir.path().join("echo.wasm"), echo_signer.sign(&actor_module("echo"), "echo", &["example:reverse"])).unwrap();
    let reverse: PathBuf = reverse_archive(dir.path());
    let port = free_port();
    std::fs::write(dir.path().join("manifest.toml"), manifest(dir.path(), port, &reverse, "")).unwrap();
    let mut child = Command::new(host_edge_bin())
        .current_dir(dir.path())
        .args(["run", "manifest.toml"])
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Keep the log, and drain it so the host never blocks on a full pipe.
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("host: {line}");
            sink.lock().unwrap().push(line);
        }
    });
    wait_for_port(port, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.path().join("control.sock").exists() {
        assert!(Instant::now() < deadline, "no control socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let echo_key = echo_signer.subject.public_key();
    Running { dir, child, port, echo_key, log }
}

#[test]
fn ctl_shows_what_runs_and_replaces_stops_starts_and_links_it() {
    let signer = Signer::new();
    let host = start(&signer);
    let status = host.status();
    assert_eq!(status.actors.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["counter", "echo"]);
    assert_eq!(status.providers.len(), 3);
    assert!(status.providers.iter().all(|p| p.health.is_ok()), "{:?}", status.providers);
    assert_eq!(status.links.len(), 3);
    let list = String::from_utf8(host.ctl(&["list"]).stdout).unwrap();
    assert!(list.contains("counter") && list.contains(&host.echo_key), "{list}");
    assert_eq!(http_get(&host.url("/hits")), (200, r#"{"counter":1}"#.to_owned()));

    std::fs::write(host.dir.path().join("next.wasm"), counter(&signer, "counter_tweaked", 2)).unwrap();
    let out = host.ctl(&["replace", "next.wasm"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(http_get(&host.url("/hits")), (200, r#"{"counter":2,"version":2}"#.to_owned()));

    std::fs::write(host.dir.path().join("old.wasm"), counter(&signer, "counter", 1)).unwrap();
    let out = host.ctl(&["replace", "old.wasm"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lower than the running revision 2"), "{err}");

    assert!(host.ctl(&["stop", "counter"]).status.success());
    assert_eq!(http_get(&host.url("/hits")).0, 503);
    assert!(host.ctl(&["start", "next.wasm", "--instances", "2"]).status.success());
    let port = format!("PORT={}", host.port);
    let db = format!("PATH={}", host.dir.path().join("counter.db").display());
    let http = ["link", "counter", "wascc:http_server", "http", "--value", "ADDRESS=127.0.0.1", "--value", &port];
    assert!(host.ctl(&http).status.success());
    assert!(host.ctl(&["link", "counter", "wascc:keyvalue", "kv", "--value", &db]).status.success());
    assert_eq!(http_get(&host.url("/hits")), (200, r#"{"counter":3,"version":2}"#.to_owned()));

    let out = host.ctl(&["unlink", "counter", "wascc:keyvalue"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(http_get(&host.url("/hits")).0, 503);
}

#[test]
fn sighup_applies_only_what_changed_in_the_manifest() {
    let signer = Signer::new();
    let host = start(&signer);
    let key = host.echo_key.clone();
    assert_eq!(host.binds(), format!("bind {key}\n"));
    assert_eq!(http_get(&host.url("/hits")), (200, r#"{"counter":1}"#.to_owned()));
    let before = host.status();

    // One link changes (its binding; the C provider enforces no grant, so
    // a link grant would be refused): only it is unbound and bound again.
    let reverse = reverse_archive(host.dir.path());
    let edited = manifest(host.dir.path(), host.port, &reverse, r#"binding = "other""#);
    std::fs::write(host.dir.path().join("manifest.toml"), edited).unwrap();
    host.reload_until("the echo link changed", || host.binds().lines().count() == 3);
    assert_eq!(host.binds(), format!("bind {key}\nunbind {key}\nbind {key}\n"));
    let after = host.status();
    let echo_link = after.links.iter().find(|l| l.actor == key).unwrap();
    assert_eq!(echo_link.binding, "other");
    assert_eq!(after.actors, before.actors, "no actor was touched");
    let others = |s: &Status| s.links.iter().filter(|l| l.actor != key).cloned().collect::<Vec<_>>();
    assert_eq!(others(&after), others(&before), "the counter's links were not touched");
    assert_eq!(http_get(&host.url("/hits")), (200, r#"{"counter":2}"#.to_owned()));

    // A new module at the counter's path: it is replaced, nothing else.
    std::fs::write(host.dir.path().join("counter.wasm"), counter(&signer, "counter_tweaked", 2)).unwrap();
    host.reload_until("the counter was replaced", || host.status().actors[0].generation == 1);
    assert_eq!(http_get(&host.url("/hits")), (200, r#"{"counter":3,"version":2}"#.to_owned()));
    assert_eq!(host.binds().lines().count(), 3, "the echo link was not touched");

    // A broken manifest is refused and the host keeps serving as it was.
    let generation = |h: &Running| h.status().actors.iter().map(|a| a.generation).sum::<u64>();
    let unchanged = generation(&host);
    std::fs::write(host.dir.path().join("manifest.toml"), "[[actor]\nbroken").unwrap();
    signal(&host.child, "-HUP");
    host.wait_for_log("the manifest was not reloaded, nothing changed", 1);
    assert_eq!(http_get(&host.url("/hits")), (200, r#"{"counter":4,"version":2}"#.to_owned()));
    assert_eq!(generation(&host), unchanged);
    assert_eq!(host.binds().lines().count(), 3);

    signal(&host.child, "-TERM");
    let mut host = host;
    let status = host.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(host.binds().ends_with(&format!("unbind {key}\n")), "{}", host.binds());
}

#[test]
fn sighup_stops_an_actor_whose_revocation_was_added_to_the_manifest() {
    let signer = Signer::new();
    let host = start(&signer);
    let key = host.echo_key.clone();
    assert_eq!(host.status().actors.len(), 2);
    let reverse = reverse_archive(host.dir.path());
    let revoked = format!("[policy]\nrevoked_subjects = [\"{key}\"]\n\n{}", manifest(host.dir.path(), host.port, &reverse, ""));
    std::fs::write(host.dir.path().join("manifest.toml"), revoked).unwrap();
    host.reload_until("the revoked actor was stopped", || host.status().actors.iter().all(|a| a.key != key));
    // It stays stopped, and the rest serves on.
    assert_eq!(http_get(&host.url("/hits")), (200, r#"{"counter":1}"#.to_owned()));
    assert!(host.status().actors.iter().all(|a| a.key != key));
    let out = host.ctl(&["start", "echo.wasm"]);
    assert!(!out.status.success(), "a revoked actor cannot be started again");
}
