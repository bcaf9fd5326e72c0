//! The engine and the host on real actors: limits end misbehaving calls
//! with errors, the host keeps serving, and host calls pass the capability
//! check.

use std::sync::Arc;

use host_edge_runtime::CapabilityHandler;
use host_edge_runtime::Failure;
use host_edge_runtime::{InvokeError, Limits};
use host_edge_runtime::{Host, HostError};
use host_edge_runtime::capability::WellKnown;
use host_edge_runtime::claims::Policy;
use testkit::{actor_module, Signer};

fn host_with(actors: &[(&str, &str, &[&str], Limits)]) -> (Host, Vec<String>) {
    let host = Host::new(Policy::default());
    let keys = actors
        .iter()
        .map(|(module, name, caps, limits)| {
            let signed = Signer::new().sign(&actor_module(module), name, caps);
            host.start_actor(host.load(&signed).unwrap(), 1, *limits).unwrap()
        })
        .collect();
    (host, keys)
}

fn invoke_error(result: Result<Vec<u8>, HostError>) -> InvokeError {
    match result {
        Err(HostError::Invoke(e)) => e,
        other => panic!("expected an invocation error, got {other:?}"),
    }
}

fn small_fuel() -> Limits {
    Limits {
        fuel_per_call: 5_000_000,
        ..Limits::default()
    }
}

#[test]
fn an_endless_loop_ends_within_its_fuel_budget_and_the_host_goes_on() {
    let (host, keys) = host_with(&[
        ("faulty", "faulty", &[], small_fuel()),
        ("echo", "echo", &[], Limits::default()),
    ]);
    let err = invoke_error(host.call(&keys[0], "Loop", b""));
    assert!(matches!(err, InvokeError::OutOfFuel(_)), "{err:?}");
    assert!(err.to_string().contains("ran out of fuel"), "{err}");
    assert_eq!(host.call(&keys[1], "Echo", b"next").unwrap(), b"next");
    assert_eq!(host.call(&keys[0], "Echo", b"again").unwrap(), b"again");
}

#[test]
fn a_trapping_actor_is_replaced_and_the_host_keeps_serving() {
    let (host, keys) = host_with(&[
        ("faulty", "faulty", &[], Limits::default()),
        ("echo", "echo", &[], Limits::default()),
    ]);
    for _ in 0..3 {
        let err = invoke_error(host.call(&keys[0], "Panic", b""));
        assert!(matches!(err, InvokeError::Trap(_)), "{err:?}");
        assert!(err.to_string().contains("unreachable"), "{err}");
        assert_eq!(host.call(&keys[0], "Echo", b"alive").unwrap(), b"alive");
    }
    assert_eq!(host.call(&keys[1], "Echo", b"ok").unwrap(), b"ok");
}

#[test]
fn growing_memory_past_the_limit_is_an_error_and_small_growth_works() {
    let limits = Limits {
        max_memory_bytes: 8 * 1024 * 1024,
        ..Limits::default()
    };
    let (host, keys) = host_with(&[("faulty", "faulty", &[], limits)]);
    let err = invoke_error(host.call(&keys[0], "Grow", b"32"));
    assert!(matches!(err, InvokeError::MemoryLimit(_)), "{err:?}");
    assert!(err.to_string().contains("8388608 bytes"), "{err}");
    assert_eq!(host.call(&keys[0], "Grow", b"2").unwrap(), b"32");
}

#[test]
fn a_module_declaring_more_memory_than_its_limit_does_not_start() {
    let limits = Limits {
        max_memory_bytes: 64 * 1024,
        ..Limits::default()
    };
    let host = Host::new(Policy::default());
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let err = host.start_actor(host.load(&signed).unwrap(), 1, limits).unwrap_err();
    assert!(err.to_string().contains("could not be started"), "{err}");
}

#[test]
fn an_error_returned_by_the_actor_keeps_its_instance() {
    let (host, keys) = host_with(&[("faulty", "faulty", &[], Limits::default())]);
    let err = invoke_error(host.call(&keys[0], "Fail", b""));
    assert_eq!(err, InvokeError::Guest("asked to fail".into()));
    assert!(!err.poisons_instance());
    let err = invoke_error(host.call(&keys[0], "NoSuchOperation", b""));
    assert!(err.to_string().contains("No handler registered"), "{err}");
}

fn host_call(binding: &str, namespace: &str, operation: &str, body: &str) -> Vec<u8> {
    format!("{binding}\n{namespace}\n{operation}\n{body}").into_bytes()
}

/// Answers every call with the operation and payload it saw.
struct Recorder;

impl CapabilityHandler for Recorder {
    fn handle(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, Failure> {
        Ok(format!("{}:{operation}:{}", &actor[..4], String::from_utf8_lossy(payload)).into_bytes())
    }
}

#[test]
fn a_host_call_reaches_the_linked_handler_only_when_the_claims_grant_it() {
    let (host, keys) = host_with(&[
        ("echo", "granted", &["wascap:keyvalue"], Limits::default()),
        ("echo", "ungranted", &[], Limits::default()),
    ]);
    for key in &keys {
        host.link_handler(key, WellKnown::KeyValue.into(), "default", Arc::new(Recorder));
    }
    let reply = host
        .call(&keys[0], "HostCall", &host_call("default", "wasmcloud:keyvalue", "Get", "k"))
        .unwrap();
    assert_eq!(reply, format!("{}:Get:k", &keys[0][..4]).into_bytes());

    let err = invoke_error(host.call(&keys[1], "HostCall", &host_call("default", "wascc:keyvalue", "Get", "k")));
    assert!(
        err.to_string().contains("is not authorized to use wascc:keyvalue"),
        "{err}"
    );
}

#[test]
fn an_empty_binding_means_default_and_an_unlinked_binding_is_named() {
    let (host, keys) = host_with(&[("echo", "echo", &["wascc:keyvalue"], Limits::default())]);
    host.link_handler(&keys[0], WellKnown::KeyValue.into(), "default", Arc::new(Recorder));
    assert!(host.call(&keys[0], "HostCall", &host_call("", "wascc:keyvalue", "Get", "k")).is_ok());
    let err = invoke_error(host.call(&keys[0], "HostCall", &host_call("other", "wascc:keyvalue", "Get", "k")));
    assert!(err.to_string().contains("no provider is linked for wascc:keyvalue under the binding `other`"), "{err}");
}

#[test]
fn an_actor_signed_to_call_another_calls_it_by_its_module_key() {
    let host = Host::new(Policy::default());
    let callee = Signer::new();
    let callee_key = callee.subject.public_key();
    let options = host_edge_runtime::claims::SignOptions { actors: vec![callee_key.clone()], ..testkit::options("caller", &[]) };
    let caller = host.load(&Signer::new().sign_with(&actor_module("echo"), &options)).unwrap();
    let keys = [
        host.start_actor(caller, 1, Limits::default()).unwrap(),
        host.start_actor(host.load(&callee.sign(&actor_module("echo"), "callee", &[])).unwrap(), 1, Limits::default()).unwrap(),
    ];
    assert_eq!(keys[1], callee_key);
    let reply = host.call(&keys[0], "HostCall", &host_call("default", &keys[1], "Echo", "relayed")).unwrap();
    assert_eq!(reply, b"relayed");
    let err = invoke_error(host.call(&keys[0], "HostCall", &host_call("default", &keys[0], "Echo", "x")));
    assert!(err.to_string().contains("cannot call itself"), "{err}");
}

#[test]
fn a_pool_serves_concurrent_callers() {
    let host = Host::new(Policy::default());
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let key = host.start_actor(host.load(&signed).unwrap(), 4, Limits::default()).unwrap();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (host, key) = (&host, &key);
            scope.spawn(move || {
                for i in 0..50 {
                    let payload = format!("{t}-{i}");
                    assert_eq!(host.call(key, "Echo", payload.as_bytes()).unwrap(), payload.as_bytes());
                }
            });
        }
    });
}

#[test]
fn pre_2020_actors_with_the_six_parameter_host_call_are_served() {
    // An actor built against the waPC ABI before bindings existed.
    let wat = r#"
      (module
        (import "wapc" "__guest_request" (func $req (param i32 i32)))
        (import "wapc" "__guest_response" (func $resp (param i32 i32)))
        (import "wapc" "__host_call" (func $call (param i32 i32 i32 i32 i32 i32) (result i32)))
        (import "wapc" "__host_response_len" (func $rlen (result i32)))
        (import "wapc" "__host_response" (func $rcopy (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "wascc:keyvalue")
        (data (i32.const 16) "Get")
        (func (export "__guest_call") (param $op i32) (param $len i32) (result i32)
          (call $req (i32.const 100) (i32.const 200))
          (drop (call $call (i32.const 0) (i32.const 14) (i32.const 16) (i32.const 3) (i32.const 200) (local.get $len)))
          (call $rcopy (i32.const 300))
          (call $resp (i32.const 300) (call $rlen))
          (i32.const 1)))"#;
    let module = wat::parse_str(wat).unwrap();
    let host = Host::new(Policy::default());
    let signed = Signer::new().sign(&module, "legacy", &["wascc:keyvalue"]);
    let key = host.start_actor(host.load(&signed).unwrap(), 1, Limits::default()).unwrap();
    host.link_handler(&key, WellKnown::KeyValue.into(), "default", Arc::new(Recorder));
    assert_eq!(host.call(&key, "Any", b"k1").unwrap(), format!("{}:Get:k1", &key[..4]).into_bytes());
}

#[test]
fn modules_that_are_not_wapc_actors_are_refused_with_the_reason() {
    let wasi = wat::parse_str(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                   (import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))
                   (memory (export "memory") 1)
                   (func (export "__guest_call") (param i32 i32) (result i32) i32.const 1))"#,
    )
    .unwrap();
    let no_guest_call = wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap();
    let host = Host::new(Policy::default());
    let signer = Signer::new();
    let err = host.load(&signer.sign(&wasi, "wasi", &[])).unwrap_err();
    assert!(err.to_string().contains("`sock_accept` from wasi_snapshot_preview1"), "{err}");
    assert!(!err.to_string().contains("`fd_write`"), "fd_write is served: {err}");
    let env = wat::parse_str(r#"(module (import "env" "abort" (func)) (memory (export "memory") 1))"#).unwrap();
    let err = host.load(&signer.sign(&env, "env", &[])).unwrap_err();
    assert!(err.to_string().contains("`env::abort`: host-edge provides the `wapc` imports and a few of WASI's"), "{err}");
    let err = host.load(&signer.sign(&no_guest_call, "bare", &[])).unwrap_err();
    assert!(err.to_string().contains("does not export `__guest_call`"), "{err}");
}

#[test]
fn out_of_bounds_pointers_from_the_guest_trap_the_call_only() {
    let wat = r#"
      (module
        (import "wapc" "__guest_response" (func $resp (param i32 i32)))
        (memory (export "memory") 1)
        (func (export "__guest_call") (param i32 i32) (result i32)
          (call $resp (i32.const 65530) (i32.const 100))
          (i32.const 1)))"#;
    let host = Host::new(Policy::default());
    let signed = Signer::new().sign(&wat::parse_str(wat).unwrap(), "oob", &[]);
    let key = host.start_actor(host.load(&signed).unwrap(), 1, Limits::default()).unwrap();
    let err = invoke_error(host.call(&key, "Any", b""));
    assert!(err.to_string().contains("outside the guest's 65536-byte memory"), "{err}");
}

#[test]
fn a_link_for_a_builtin_capability_wins_over_the_host_and_only_granted_actors_reach_either() {
    let (host, keys) = host_with(&[
        ("echo", "linked", &["wascc:extras"], Limits::default()),
        ("echo", "builtin", &["wascc:extras"], Limits::default()),
        ("echo", "ungranted", &[], Limits::default()),
    ]);
    host.link_handler(&keys[0], WellKnown::Extras.into(), "default", Arc::new(Recorder));
    let guid = codec::serialize(&codec::extras::GeneratorRequest { guid: true, ..Default::default() }).unwrap();
    let call = [b"default\nwascc:extras\nRequestGuid\n".as_slice(), &guid].concat();

    let linked = host.call(&keys[0], "HostCall", &call).unwrap();
    assert!(linked.starts_with(format!("{}:RequestGuid:", &keys[0][..4]).as_bytes()), "the link answered");

    let builtin: codec::extras::GeneratorResult = codec::deserialize(&host.call(&keys[1], "HostCall", &call).unwrap()).unwrap();
    assert_eq!(builtin.guid.map(|g| g.len()), Some(36), "the host answered");

    let err = invoke_error(host.call(&keys[2], "HostCall", &call));
    assert!(err.to_string().contains("is not authorized to use wascc:extras"), "{err}");
}

/// A module that declares a table of `declared` elements and, on any call,
/// grows it by `grow`; replies `1` when the growth succeeded.
fn table_module(declared: u32, grow: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (import "wapc" "__guest_response" (func $resp (param i32 i32)))
            (memory (export "memory") 1)
            (table $t {declared} funcref)
            (data (i32.const 0) "1")
            (func (export "__guest_call") (param i32 i32) (result i32)
              (drop (table.grow $t (ref.null func) (i32.const {grow})))
              (call $resp (i32.const 0) (i32.const 1))
              (i32.const 1)))"#
    ))
    .unwrap()
}

#[test]
fn a_module_declaring_a_table_of_gigabytes_does_not_start_under_a_small_memory_limit() {
    let host = Host::new(Policy::default());
    let signed = Signer::new().sign(&table_module(200_000_000, 0), "tables", &[]);
    let err = host.start_actor(host.load(&signed).unwrap(), 1, Limits::default()).unwrap_err();
    assert!(err.to_string().contains("could not be started"), "{err}");
}

#[test]
fn growing_a_table_past_its_bound_traps_instead_of_taking_the_boards_memory() {
    let host = Host::new(Policy::default());
    let signed = Signer::new().sign(&table_module(1, 200_000_000), "tables", &[]);
    let key = host.start_actor(host.load(&signed).unwrap(), 1, Limits::default()).unwrap();
    let err = invoke_error(host.call(&key, "Grow", b""));
    assert!(err.poisons_instance(), "a trap, and the instance is replaced: {err:?}");
    // A table of ordinary size still starts and grows.
    let signed = Signer::new().sign(&table_module(16, 1_000), "tables", &[]);
    let key = host.start_actor(host.load(&signed).unwrap(), 1, Limits::default()).unwrap();
    assert_eq!(host.call(&key, "Grow", b"").unwrap(), b"1");
}

/// A pool of one instance of a module whose every call makes one host call,
/// served by a callback that holds the first call until `release` is set;
/// `calls` counts the calls that ran.
struct HeldPool {
    pool: Arc<host_edge_runtime::ActorPool>,
    calls: Arc<std::sync::atomic::AtomicUsize>,
    release: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl HeldPool {
    fn start() -> HeldPool {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let wat = r#"(module
            (import "wapc" "__host_call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
            (import "wapc" "__guest_response" (func $resp (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "example:held")
            (func (export "__guest_call") (param i32 i32) (result i32)
              (drop (call $call (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 12) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
              (call $resp (i32.const 0) (i32.const 0))
              (i32.const 1)))"#;
        let compiled = host_edge_runtime::CompiledModule::new(&wat::parse_str(wat).unwrap()).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let release = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let (counted, held) = (Arc::clone(&calls), Arc::clone(&release));
        let callbacks: host_edge_runtime::CallbackFactory = Arc::new(move || {
            let (counted, held) = (Arc::clone(&counted), Arc::clone(&held));
            Box::new(move |_id: u64, _binding: &str, _namespace: &str, _operation: &str, _payload: &[u8]| {
                counted.fetch_add(1, Ordering::SeqCst);
                let (released, wake) = &*held;
                let guard = released.lock().unwrap();
                drop(wake.wait_while(guard, |released| !*released).unwrap());
                Ok(Vec::new())
            })
        });
        let metrics = host_edge_runtime::metrics::global().actor("MHELD", "held");
        let pool = host_edge_runtime::ActorPool::start(
            Arc::from("MHELD"),
            &compiled,
            1,
            Limits::default(),
            host_edge_runtime::Scaling::FIXED,
            callbacks,
            metrics,
        )
        .unwrap();
        HeldPool { pool: Arc::new(pool), calls, release }
    }

    fn release(&self) {
        *self.release.0.lock().unwrap() = true;
        self.release.1.notify_all();
    }

    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn a_flood_of_calls_to_a_stuck_actor_is_refused_past_the_queue_bound_and_the_calls_whose_callers_gave_up_never_run() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    let held = HeldPool::start();
    let pool = Arc::clone(&held.pool);
    let first = std::thread::spawn(move || pool.call("Run", b""));
    testkit::eventually(Duration::from_secs(30), "the first call to hold the instance", || (held.calls() == 1).then_some(()));

    // Its caller stops waiting while it is queued.
    let gave_up = held.pool.call_timeout(None, "Run", b"", Duration::from_millis(1)).unwrap_err();
    assert!(matches!(gave_up, InvokeError::TimedOut(_)), "{gave_up:?}");
    // The queue fills up to its bound (the abandoned call still takes a place)...
    let answered = Arc::new(AtomicUsize::new(0));
    for _ in 1..host_edge_runtime::QUEUE_LIMIT {
        let answered = Arc::clone(&answered);
        held.pool.call_then("Run", b"", Box::new(move |outcome| {
            outcome.unwrap();
            answered.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // ...and the next call is refused at once, naming why.
    let refused = held.pool.call_timeout(None, "Run", b"", Duration::from_secs(30)).unwrap_err();
    assert!(refused.to_string().contains("is overloaded"), "{refused}");

    held.release();
    first.join().unwrap().unwrap();
    let queued = host_edge_runtime::QUEUE_LIMIT - 1;
    testkit::eventually(Duration::from_secs(60), "the queued calls to be answered", || {
        (answered.load(Ordering::SeqCst) == queued).then_some(())
    });
    assert_eq!(held.calls(), 1 + queued, "the call whose caller gave up did not run");
}
