//! A host's life while it serves, over real HTTP on loopback: replacing an
//! actor under load, refusing bad replacements, stopping, unlinking and
//! re-linking, each failure reaching the client with the HTTP status its
//! kind stands for, and key-value grants signed into the token or narrowed
//! by the link.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::{Policy, SignOptions};
use host_edge_runtime::Limits;
use host_edge_runtime::Scaling;
use host_edge_runtime::{Command, Host, HostError, LinkSpec};
use testkit::{actor_module, free_port, http_get, options, provider_archive, wait_for_port, Signer};

const KV: &str = "wascc:keyvalue";
const HTTP: &str = "wascc:http_server";

fn cap(id: &str) -> CapabilityId {
    CapabilityId::parse(id).unwrap()
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A host serving one actor over HTTP and counting in SQLite in `dir`.
struct Served {
    host: Host,
    port: u16,
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.host.shutdown();
    }
}

/// What to serve and how.
struct Setup<'a> {
    instances: usize,
    scaling: Scaling,
    limits: Limits,
    /// Link a SQLite store in the test's folder, with this grant on the link.
    kv: Option<&'a [&'a str]>,
    http: &'a [(&'a str, &'a str)],
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup { instances: 1, scaling: Scaling::DEFAULT, limits: Limits::default(), kv: Some(&[]), http: &[] }
    }
}

/// Starts `module` (already signed), links it to a SQLite store in `dir`
/// and to an HTTP listener on a free loopback port.
fn serve(dir: &Path, module: &[u8], setup: Setup<'_>) -> Served {
    let host = Host::with_state_dir(Policy::default(), dir.join("state"));
    host.set_scaling(setup.scaling);
    let actor = host.load(module).unwrap();
    let name = actor.name().to_owned();
    host.start_actor(actor, setup.instances, setup.limits).unwrap();
    if let Some(grant) = setup.kv {
        host.add_provider("kv", &provider_archive("keyvalue_sqlite")).unwrap();
        host.link(LinkSpec {
            actor: name.clone(),
            capability: cap(KV),
            binding: "default".into(),
            provider: "kv".into(),
            values: values(&[("PATH", &dir.join("counter.db").display().to_string())]),
            grant: grant.iter().map(|g| g.to_string()).collect(),
        })
        .unwrap();
    }
    let port = free_port();
    // These tests read what each failure says: the link asks the HTTP server
    // for the detail it otherwise keeps from clients.
    let mut http_values = values(&[("ADDRESS", "127.0.0.1"), ("PORT", &port.to_string()), ("ERROR_DETAIL", "true")]);
    http_values.extend(values(setup.http));
    host.add_provider("http", &provider_archive("http_server")).unwrap();
    host.link_provider(&name, &cap(HTTP), "default", "http", &http_values).unwrap();
    wait_for_port(port, Duration::from_secs(10));
    Served { host, port }
}

fn signed(signer: &Signer, actor: &str, rev: i32) -> Vec<u8> {
    signer.sign_with(&actor_module(actor), &SignOptions { rev: Some(rev), ..options("counter", &[HTTP, KV]) })
}

fn count_of(body: &str) -> u64 {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
    json["counter"].as_u64().unwrap_or_else(|| panic!("no count in {body}"))
}

#[test]
fn the_counter_is_replaced_under_twenty_clients_with_no_failed_request_and_the_count_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new();
    let app = serve(dir.path(), &signed(&signer, "counter", 1), Setup { instances: 4, ..Setup::default() });
    let next = app.host.load(&signed(&signer, "counter_tweaked", 2)).unwrap();

    let answers = Mutex::new(Vec::new());
    let sent = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(60);
    std::thread::scope(|s| {
        for _ in 0..20 {
            s.spawn(|| {
                let mut mine = Vec::new();
                // Bounded: 400 requests or the deadline, whichever first.
                while !stop.load(Ordering::Relaxed) && mine.len() < 400 && Instant::now() < deadline {
                    mine.push(http_get(&app.url("/hits")));
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                answers.lock().unwrap().push(mine);
            });
        }
        let wait_for = |n: usize| {
            while sent.load(Ordering::Relaxed) < n && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        wait_for(200);
        let done = app.host.replace_actor(next, false).unwrap();
        assert!(done.contains("rev 1 with rev 2"), "{done}");
        let replaced_at = sent.load(Ordering::Relaxed);
        wait_for(replaced_at + 300);
        stop.store(true, Ordering::Relaxed);
    });

    let answers = answers.into_inner().unwrap();
    let all: Vec<&(u16, String)> = answers.iter().flatten().collect();
    let failed: Vec<_> = all.iter().filter(|(status, _)| *status != 200).collect();
    assert!(failed.is_empty(), "{} of {} requests failed: {:?}", failed.len(), all.len(), failed.first());
    // The count went on across the versions: every request counted once.
    let mut counts: Vec<u64> = all.iter().map(|(_, body)| count_of(body)).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=all.len() as u64).collect::<Vec<_>>());
    // Both versions answered, and every client ended on the new one.
    assert!(all.iter().any(|(_, body)| !body.contains("version")), "the old version answered first");
    for client in &answers {
        let (_, last) = client.last().unwrap();
        assert!(last.contains(r#""version":2"#), "{last}");
    }
    let status = app.host.status();
    assert_eq!(status.actors[0].rev, Some(2));
    assert_eq!(status.actors[0].generation, 1);
    assert_eq!(status.links.len(), 2, "the links stay");
}

#[test]
fn another_key_a_lower_rev_and_a_tampered_module_are_refused_while_the_running_version_serves() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new();
    let app = serve(dir.path(), &signed(&signer, "counter_tweaked", 2), Setup::default());
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":1,"version":2}"#.to_owned()));

    let stranger = app.host.load(&signed(&Signer::new(), "counter", 3)).unwrap();
    let err = app.host.replace_actor(stranger, false).unwrap_err().to_string();
    assert!(err.contains("no running actor has the module key"), "{err}");
    assert!(err.contains("the running version keeps serving"), "{err}");

    let older = app.host.load(&signed(&signer, "counter", 1)).unwrap();
    let err = app.host.replace_actor(older, false).unwrap_err().to_string();
    assert!(err.contains("its revision 1 is lower than the running revision 2; a rollback needs --force"), "{err}");

    let mut tampered = signed(&signer, "counter", 3);
    let code = wasmparser::Parser::new(0)
        .parse_all(&tampered)
        .find_map(|p| match p.unwrap() {
            wasmparser::Payload::CodeSectionStart { range, .. } => Some(range),
            _ => None,
        })
        .unwrap();
    tampered[(code.start + code.end) / 2] ^= 0x01;
    let path = dir.path().join("tampered.wasm");
    std::fs::write(&path, &tampered).unwrap();
    let command = Command::ReplaceActor { path, force: false, instances: None, limits: None };
    let err = app.host.execute(command).unwrap_err().to_string();
    assert!(err.contains("hash"), "{err}");

    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":2,"version":2}"#.to_owned()));
    assert_eq!(app.host.status().actors[0].generation, 0, "nothing was replaced");

    // A deliberate rollback is allowed with force.
    let older = app.host.load(&signed(&signer, "counter", 1)).unwrap();
    app.host.replace_actor(older, true).unwrap();
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":3}"#.to_owned()));
}

#[test]
fn a_stopped_actors_route_answers_503_and_its_providers_have_unbound_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = serve(dir.path(), &signed(&Signer::new(), "counter", 1), Setup { instances: 2, ..Setup::default() });
    assert_eq!(http_get(&app.url("/hits")).0, 200);

    let done = app.host.stop_actor("counter").unwrap();
    assert!(done.contains("2 links removed"), "{done}");
    let (status, body) = http_get(&app.url("/hits"));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no actor serves this address"), "{body}");
    let status = app.host.status();
    assert!(status.actors.is_empty() && status.links.is_empty(), "{status:?}");

    // The same actor started again takes its route back.
    let actor = app.host.load(&signed(&Signer::new(), "counter", 1)).unwrap();
    app.host.start_actor(actor, 1, Limits::default()).unwrap();
    let http = values(&[("ADDRESS", "127.0.0.1"), ("PORT", &app.port.to_string())]);
    app.host.link_provider("counter", &cap(HTTP), "default", "http", &http).unwrap();
    let kv = values(&[("PATH", &dir.path().join("counter.db").display().to_string())]);
    app.host.link_provider("counter", &cap(KV), "default", "kv", &kv).unwrap();
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":2}"#.to_owned()));
}

#[test]
fn an_unlinked_capability_is_refused_by_name_and_relinking_works() {
    let dir = tempfile::tempdir().unwrap();
    let app = serve(dir.path(), &signed(&Signer::new(), "counter", 1), Setup::default());
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":1}"#.to_owned()));

    app.host.unlink("counter", &cap(KV), "default").unwrap();
    let (status, body) = http_get(&app.url("/hits"));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no provider is linked for wascc:keyvalue under the binding `default`"), "{body}");
    assert!(body.contains(r#""kind":"not-linked""#), "{body}");
    let err = app.host.unlink("counter", &cap(KV), "default").unwrap_err();
    assert!(matches!(err, HostError::NotLinked { .. }), "{err}");

    let kv = values(&[("PATH", &dir.path().join("counter.db").display().to_string())]);
    app.host.link_provider("counter", &cap(KV), "default", "kv", &kv).unwrap();
    assert_eq!(http_get(&app.url("/hits")), (200, r#"{"counter":2}"#.to_owned()));
}

#[test]
fn a_trap_running_out_of_fuel_and_a_timeout_reach_the_client_as_500_500_and_504() {
    let dir = tempfile::tempdir().unwrap();
    let module = Signer::new().sign(&actor_module("faulty"), "faulty", &[HTTP]);
    // The trap and the failure under the default request timeout: their
    // verdict must not depend on answering within a short one.
    let app = serve(dir.path(), &module, Setup { instances: 2, kv: None, ..Setup::default() });
    let (status, body) = http_get(&app.url("/panic"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains(r#""kind":"trapped""#), "{body}");
    let (status, body) = http_get(&app.url("/fail"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("asked to fail"), "{body}");

    // The timeout: a loop with fuel for seconds of work outlasts a 300 ms
    // request timeout however fast the machine (a slower one only makes it
    // longer); the fuel bounds it, so the instance comes back by itself.
    let looping = Signer::new().sign(&actor_module("faulty"), "looping", &[HTTP]);
    let dir_loop = tempfile::tempdir().unwrap();
    let limits = Limits { fuel_per_call: 2_000_000_000, ..Limits::default() };
    let setup = Setup { instances: 2, limits, kv: None, http: &[("REQUEST_TIMEOUT_MS", "300")], ..Setup::default() };
    let app_loop = serve(dir_loop.path(), &looping, setup);
    let (status, body) = http_get(&app_loop.url("/loop"));
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("did not answer in time"), "{body}");

    let hungry = Signer::new().sign(&actor_module("faulty"), "hungry", &[HTTP]);
    let dir2 = tempfile::tempdir().unwrap();
    let small = Limits { fuel_per_call: 5_000_000, ..Limits::default() };
    let app2 = serve(dir2.path(), &hungry, Setup { limits: small, kv: None, ..Setup::default() });
    let (status, body) = http_get(&app2.url("/loop"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains(r#""kind":"out-of-fuel""#), "{body}");
}

/// The (live instances, memory in bytes) of the host's one actor.
fn census(host: &Host) -> (usize, u64) {
    let status = host.status();
    (status.actors[0].live_instances, status.actors[0].memory_bytes)
}

/// Polls `host` until its one actor has `instances` live, for up to 20 s.
fn wait_for_instances(host: &Host, instances: usize) {
    wait_for_census(host, |(live, _)| live == instances, &format!("{instances} instances"));
}

/// Polls `host` until its one actor's census (instances, memory) is one
/// `holds` accepts, for up to 20 s. A worker that retires leaves the count
/// first and gives its memory back as its instance drops, so the two are
/// read together and waited for together.
fn wait_for_census(host: &Host, holds: impl Fn((usize, u64)) -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !holds(census(host)) {
        assert!(Instant::now() < deadline, "the pool stayed at {:?}, not {what}", census(host));
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_pool_keeps_one_instance_while_idle_grows_to_its_instances_under_concurrent_calls_and_shrinks_back() {
    let dir = tempfile::tempdir().unwrap();
    let module = Signer::new().sign(&actor_module("faulty"), "faulty", &[HTTP]);
    // Each loop runs until its fuel is spent: long enough for four to overlap.
    let limits = Limits { fuel_per_call: 40_000_000, ..Limits::default() };
    let scaling = Scaling { min: 1, idle: Duration::from_millis(300) };
    let app = serve(dir.path(), &module, Setup { instances: 4, scaling, limits, kv: None, ..Setup::default() });
    let (idle, memory) = census(&app.host);
    assert_eq!(idle, 1, "an idle actor has its minimum");
    assert!(memory > 0, "its instance's memory is counted");

    // The pool's size is watched for as long as the calls run, not looked
    // at between them: a slow moment after the calls must not hide it.
    let done = std::sync::atomic::AtomicBool::new(false);
    let grown = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut most = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                most = most.max(census(&app.host).0);
                std::thread::sleep(Duration::from_millis(1));
            }
            most
        });
        let calls: Vec<_> = (0..6).map(|_| s.spawn(|| http_get(&app.url("/loop")))).collect();
        for call in calls {
            let (status, body) = call.join().unwrap();
            assert_eq!(status, 500, "{body}");
            assert!(body.contains("out-of-fuel"), "{body}");
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        watcher.join().unwrap()
    });
    assert!((2..=4).contains(&grown), "the pool grew to {grown}, within its 4 instances");
    assert_eq!(app.host.status().actors[0].instances, 4);
    wait_for_instances(&app.host, 1);
    let (status, _) = http_get(&app.url("/fail"));
    assert_eq!(status, 500, "the instance that stayed still answers");
}

#[test]
fn an_actor_scaled_to_zero_has_no_instance_while_idle_and_answers_its_next_call_from_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let scaling = Scaling { min: 0, idle: Duration::from_millis(200) };
    let app = serve(dir.path(), &signed(&Signer::new(), "counter", 1), Setup { instances: 2, scaling, ..Setup::default() });
    let (status, body) = http_get(&app.url("/hits"));
    assert_eq!((status, count_of(&body)), (200, 1), "{body}");
    // No instance, and no memory: a pool that kept either would time out.
    wait_for_census(&app.host, |census| census == (0, 0), "no instance and no memory");

    // The pool had no instance (checked above), so this answer came from a
    // new one. Its count is not checked after the answer: with a 200 ms
    // idle time, a slow moment between the answer and a look at the pool
    // lets the instance go again, and the verdict would be the machine's.
    let (status, body) = http_get(&app.url("/hits"));
    assert_eq!((status, count_of(&body)), (200, 2), "the new instance finds the store as it was: {body}");
    wait_for_instances(&app.host, 0);
}

#[test]
fn a_signed_key_prefix_grant_lets_the_actor_write_inside_it_and_refuses_outside_naming_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    let rule: host_edge_runtime::grant::Rule = "prefix::sensors:".parse().unwrap();
    let options = SignOptions {
        grants: BTreeMap::from([(cap(KV), vec![rule])]),
        ..options("counter", &[HTTP, KV])
    };
    let module = Signer::new().sign_with(&actor_module("counter"), &options);
    let app = serve(dir.path(), &module, Setup::default());

    assert_eq!(http_get(&app.url("/sensors/t1")), (200, r#"{"counter":1}"#.to_owned()));
    let (status, body) = http_get(&app.url("/admin/x"));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("key `:admin:x` is outside the grant for wascc:keyvalue (signed: prefix::sensors:)"), "{body}");
    assert_eq!(app.host.status().links.iter().find(|l| l.capability == cap(KV)).unwrap().grant, ["signed: prefix::sensors:"]);
}

#[test]
fn a_link_narrows_the_actor_to_a_key_prefix_when_the_token_carries_no_grant() {
    let dir = tempfile::tempdir().unwrap();
    let module = Signer::new().sign(&actor_module("counter"), "counter", &[HTTP, KV]);
    let app = serve(dir.path(), &module, Setup { kv: Some(&["prefix::sensors:"]), ..Setup::default() });

    assert_eq!(http_get(&app.url("/sensors/t1")), (200, r#"{"counter":1}"#.to_owned()));
    let (status, body) = http_get(&app.url("/admin/x"));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("(link: prefix::sensors:)"), "{body}");
}
