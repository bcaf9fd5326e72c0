//! `cargo xtask`: the project's own tasks, so that README commands stay short
//! and work the same on a laptop and in CI.
//!
//! - `actors`: build the example actors for wasm32;
//! - `demo [--check]`: build the host and providers, sign the counter actor
//!   and serve it over HTTP on the SQLite store at localhost:8080 (with
//!   `--check`: see `/hits` count 1 then 2, and stop);
//! - `test`: build the actors, then run every test in the workspace.

use std::path::{Path, PathBuf};
use std::process::{exit, Command};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(command: &mut Command) {
    eprintln!("xtask: {command:?}");
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => {
            eprintln!("xtask: failed with {status}");
            exit(status.code().unwrap_or(1));
        }
        Err(e) => {
            eprintln!("xtask: cannot run: {e}");
            exit(1);
        }
    }
}

fn build_actors() -> PathBuf {
    let actors = root().join("actors");
    // actors/.cargo/config.toml sets the wasm32 target; it is read from the
    // working directory.
    run(cargo().current_dir(&actors).args(["build", "--release"]));
    actors.join("target/wasm32-unknown-unknown/release")
}

/// The provider crates the demo and bundles ship.
const PROVIDERS: [&str; 3] = ["host-edge-keyvalue-sqlite", "host-edge-keyvalue-redis", "host-edge-http-server"];

/// The port the demo serves on.
const DEMO_PORT: u16 = 8080;

/// Builds the host and providers in release, signs the counter and writes a
/// manifest serving it on SQLite in target/demo. With `check`, runs the host
/// just long enough to see `/hits` count 1 and 2; otherwise serves until
/// Ctrl-C.
fn demo(check: bool) {
    let wasm = build_actors();
    let mut build = cargo();
    build.current_dir(root()).args(["build", "--release", "-p", "host-edge"]);
    for provider in PROVIDERS {
        build.args(["-p", provider]);
    }
    run(&mut build);
    let release = root().join("target/release");
    let bin = release.join("host-edge");
    let dir = root().join("target/demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating target/demo");
    let host_edge = |args: &[&str]| {
        let mut command = Command::new(&bin);
        command.current_dir(&dir).args(args);
        command
    };
    run(&mut host_edge(&["keys", "generate", "account", "-o", "issuer.nk"]));
    run(&mut host_edge(&["keys", "generate", "module", "-o", "counter.nk"]));
    let input = wasm.join("counter.wasm");
    run(&mut host_edge(&[
        "sign",
        input.to_str().unwrap(),
        "-o",
        "counter_s.wasm",
        "--issuer",
        "issuer.nk",
        "--subject",
        "counter.nk",
        "--name",
        "counter",
        "-s",
        "-k",
        "--expires-in",
        "365d",
    ]));
    run(&mut host_edge(&["inspect", "counter_s.wasm"]));
    let library = |name: &str| release.join(format!("lib{name}.so")).display().to_string();
    let manifest = format!(
        r#"# The demo: the counter actor on the embedded SQLite store, over HTTP.
[[actor]]
path = "counter_s.wasm"
instances = 2

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
values = {{ PATH = "counter.db" }}

[[link]]
actor = "counter"
capability = "wascc:http_server"
provider = "http"
values = {{ ADDRESS = "127.0.0.1", PORT = "{DEMO_PORT}" }}
"#,
        kv = library("keyvalue_sqlite"),
        http = library("http_server"),
    );
    std::fs::write(dir.join("manifest.toml"), manifest).expect("writing the demo manifest");
    if check {
        check_demo(&bin, &dir);
        return;
    }
    eprintln!("xtask: serving the counter; in another terminal:  curl localhost:{DEMO_PORT}/hits");
    eprintln!("xtask: Ctrl-C stops it. Files are in {}", dir.display());
    run(&mut host_edge(&["run", "manifest.toml"]));
}

/// Runs the demo host, checks that `/hits` answers 1 then 2, stops it.
fn check_demo(bin: &Path, dir: &Path) {
    use std::io::{Read, Write};
    if std::net::TcpStream::connect(("127.0.0.1", DEMO_PORT)).is_ok() {
        eprintln!("xtask: something already listens on port {DEMO_PORT}; stop it to check the demo");
        exit(1);
    }
    let mut host = Command::new(bin).current_dir(dir).args(["run", "manifest.toml"]).spawn().expect("host-edge runs");
    let get = || -> Option<String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", DEMO_PORT)).ok()?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok()?;
        stream.write_all(b"GET /hits HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.split("\r\n\r\n").nth(1).map(str::to_owned)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let first = loop {
        if let Some(body) = get() {
            break body;
        }
        if std::time::Instant::now() > deadline {
            let _ = host.kill();
            eprintln!("xtask: the demo host did not answer on port {DEMO_PORT}");
            exit(1);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let second = get().unwrap_or_default();
    let _ = Command::new("kill").args(["-TERM", &host.id().to_string()]).status();
    let _ = host.wait();
    if first != r#"{"counter":1}"# || second != r#"{"counter":2}"# {
        eprintln!("xtask: demo check failed: got {first:?} then {second:?}");
        exit(1);
    }
    eprintln!("xtask: demo check passed: {first} then {second}");
}

/// Runs the workspace tests, echoing their output, and closes with one line
/// that sums every test binary's result: `tests: N passed, M failed`; then
/// checks the demo.
fn test(extra: &[String]) {
    use std::io::{BufRead, BufReader};
    build_actors();
    let mut command = cargo();
    command
        .current_dir(root())
        .args(["test", "--workspace"])
        .args(extra)
        .stdout(std::process::Stdio::piped());
    eprintln!("xtask: {command:?}");
    let mut child = command.spawn().unwrap_or_else(|e| {
        eprintln!("xtask: cannot run cargo: {e}");
        exit(1)
    });
    let (mut passed, mut failed) = (0u64, 0u64);
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            passed += count(summary, " passed");
            failed += count(summary, " failed");
        }
    }
    let status = child.wait().expect("cargo test finishes");
    println!("tests: {passed} passed, {failed} failed");
    if !status.success() {
        exit(status.code().unwrap_or(1));
    }
    // The README's demo command must keep working: run it, bounded.
    demo(true);
}

/// The number before `label` in a `test result:` line.
fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(';')
        .find(|part| part.ends_with(label))
        .and_then(|part| part.trim_end_matches(label).rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("actors") => {
            build_actors();
        }
        Some("demo") => demo(args.get(1).map(String::as_str) == Some("--check")),
        Some("test") => test(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <actors|demo [--check]|test [cargo test args]>");
            exit(2);
        }
    }
}
