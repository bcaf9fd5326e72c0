//! Actors built for `wasm32-wasip1`: the WASI calls host-edge serves
//! (printing, random numbers, clocks, an empty environment) work, and a
//! module importing anything else (files) is refused at load, naming it.

use std::time::{SystemTime, UNIX_EPOCH};

use host_edge_runtime::claims::Policy;
use host_edge_runtime::Host;
use testkit::host::{http_entries, HostProcess};
use testkit::{actor_module, free_port, http_get, Signer};

/// `wasi-hello` behind the HTTP server.
fn deploy(dir: &std::path::Path) -> HostProcess {
    let signed = Signer::new().sign(&actor_module("wasi_hello"), "wasi-hello", &["wascc:http_server"]);
    std::fs::write(dir.join("actor.wasm"), signed).unwrap();
    let port = free_port();
    let manifest = format!("[[actor]]\npath = \"actor.wasm\"\n{}", http_entries("wasi-hello", port));
    let mut host = HostProcess::new(dir, &manifest, port);
    host.start();
    host
}

fn field(body: &str, key: &str) -> String {
    body.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key} in {body}")).to_owned()
}

#[test]
fn a_wasip1_actor_prints_to_the_log_draws_random_numbers_and_reads_real_clocks() {
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path());
    let (status, first) = http_get(&host.url("/hello"));
    assert_eq!(status, 200, "{first}\n{}", host.log());
    let (_, second) = http_get(&host.url("/hello"));

    let randoms: Vec<String> = [&first, &second].iter().flat_map(|b| field(b, "random").split(',').map(str::to_owned).collect::<Vec<_>>()).collect();
    let mut distinct = randoms.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "four draws of 64 bits, all different: {randoms:?}");

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let actor_now: u64 = field(&first, "now").parse().unwrap();
    assert!(now.abs_diff(actor_now) < 60, "the actor's wall clock reads {actor_now}, the test's {now}");
    let elapsed: u64 = field(&first, "elapsed_ns").parse().unwrap();
    assert!(elapsed > 0, "the monotonic clock moves: {first}");
    assert_eq!((field(&first, "env"), field(&first, "args")), ("0".to_owned(), "0".to_owned()));

    let log = host.log();
    let stdout = log.lines().filter(|l| l.contains("hello from wasi at /hello")).collect::<Vec<_>>();
    assert_eq!(stdout.len(), 2, "one log line per call: {log}");
    assert!(stdout[0].contains("INFO") && stdout[0].contains(r#"stream="stdout""#) && stdout[0].contains("actor=M"), "{}", stdout[0]);
    let stderr = log.lines().find(|l| l.contains("and a line on stderr")).unwrap_or_else(|| panic!("{log}"));
    assert!(stderr.contains("WARN") && stderr.contains(r#"stream="stderr""#), "{stderr}");
}

#[test]
fn a_wasip1_actor_that_reads_a_file_is_refused_at_load_naming_the_imports() {
    let host = Host::new(Policy::default());
    let signed = Signer::new().sign(&actor_module("wasi_files"), "wasi-files", &["wascc:http_server"]);
    let err = host.load(&signed).unwrap_err().to_string();
    assert!(err.contains("`path_open`"), "{err}");
    assert!(err.contains("`fd_read`"), "{err}");
    assert!(err.contains("from wasi_snapshot_preview1"), "{err}");
    assert!(err.contains("files, sockets and polling go through capabilities"), "{err}");
    assert!(!err.contains("`fd_write`") && !err.contains("`random_get`"), "served imports are not listed: {err}");
}
