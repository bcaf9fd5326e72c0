//! Engine and host costs: one empty actor call, one call that makes one host
//! call (through the registry and router to an in-process handler, and to a
//! native provider over the C ABI), a provider calling back into its
//! single-instance caller (nested), instantiating the example actor, and
//! waSCC's kvcounter handling one HTTP request with nothing but the engine
//! around it: the interpreter's share of a request in the `actors` benchmark.
//! Run with `cargo bench -p host-edge-benches --bench engine`.

use std::sync::Arc;
use std::time::Duration;

use host_edge_runtime::capability::WellKnown;
use host_edge_runtime::claims::Policy;
use host_edge_runtime::CapabilityHandler;
use host_edge_runtime::Failure;
use host_edge_runtime::{CompiledModule, Instance, Limits};
use host_edge_runtime::Host;
use host_edge_benches::measure;
use testkit::{actor_module, c_provider, Signer};

/// A provider stand-in that answers at once, so the host-call benchmark
/// measures the host's side of the call (ABI, claims check, routing).
struct Constant;

impl CapabilityHandler for Constant {
    fn handle(&self, _actor: &str, _operation: &str, _payload: &[u8]) -> Result<Vec<u8>, Failure> {
        Ok(b"value".to_vec())
    }
}

fn main() {
    const TIME: Duration = Duration::from_secs(5);
    let echo = actor_module("echo");
    let signed = Signer::new().sign(&echo, "echo", &["wascc:keyvalue"]);
    let compiled = CompiledModule::new(&signed).unwrap();
    println!("host-edge engine benchmark ({} build, {} bytes echo actor)", if cfg!(debug_assertions) { "debug" } else { "release" }, signed.len());

    let refuse: fn() -> Box<wapc::HostCallback> = || Box::new(|_, _, _, _, _| Err("no host calls".into()));
    let instance = Instance::new(&compiled, Limits::default(), Arc::from("echo"), refuse()).unwrap();
    measure("empty call, one instance (engine only)", 1000, 200_000, TIME, || {
        instance.call("Empty", b"").unwrap();
    });

    let host = Host::new(Policy::default());
    let key = host.start_actor(host.load(&signed).unwrap(), 1, Limits::default()).unwrap();
    host.link_handler(&key, WellKnown::KeyValue.into(), "default", Arc::new(Constant));
    measure("empty call through the host (pool queue)", 1000, 200_000, TIME, || {
        host.call(&key, "Empty", b"").unwrap();
    });
    let payload = b"default\nwascc:keyvalue\nGet\nkey".to_vec();
    measure("call making one host call (claims checked)", 1000, 200_000, TIME, || {
        host.call(&key, "HostCall", &payload).unwrap();
    });

    // A native provider over the C ABI: the C fixture answers `Reverse` at
    // once, and `Dispatch` calls the waiting caller back (nested).
    let dir = tempfile::tempdir().unwrap();
    let native = Host::with_state_dir(Policy::default(), dir.path().join("state"));
    // The C fixture is compiled here and loaded bare, as a provider author
    // does while developing one; the ABI's cost is the same signed.
    native.set_unsigned_providers(true);
    let signed_native = Signer::new().sign(&echo, "echo", &["example:reverse"]);
    native.start_actor(native.load(&signed_native).unwrap(), 1, Limits::default()).unwrap();
    native.add_provider("reverse", &c_provider(dir.path(), "provider.c", &[])).unwrap();
    let reverse = host_edge_runtime::capability::CapabilityId::parse("example:reverse").unwrap();
    native.link_provider("echo", &reverse, "default", "reverse", &Default::default()).unwrap();
    let reverse_call = b"default\nexample:reverse\nReverse\nkey".to_vec();
    measure("call making one host call to a C provider", 1000, 200_000, TIME, || {
        native.call("echo", "HostCall", &reverse_call).unwrap();
    });
    let call_back = b"default\nexample:reverse\nDispatch\nkey".to_vec();
    measure("... whose provider calls the caller back", 1000, 200_000, TIME, || {
        native.call("echo", "HostCall", &call_back).unwrap();
    });
    native.shutdown();

    kvcounter_request(TIME);

    measure("instantiate echo (_start/wapc_init incl.)", 20, 5_000, TIME, || {
        drop(Instance::new(&compiled, Limits::default(), Arc::from("echo"), refuse()).unwrap());
    });
    measure("compile echo (validate + translate)", 5, 1_000, TIME, || {
        drop(CompiledModule::new(&signed).unwrap());
    });
    measure("verify claims of echo", 5, 1_000, TIME, || {
        host_edge_runtime::claims::verify(&signed, &Policy::default(), host_edge_runtime::claims::policy::now_secs()).unwrap();
    });
    // A 2 MiB actor: waSCC's kvcounter padded with a custom section.
    let big = host_edge_benches::padded(&actor_module("wascc_kvcounter"), 2 * 1024 * 1024 - 700, 3);
    let big = Signer::new().sign(&big, "kvcounter", &["wascc:keyvalue", "wascc:http_server"]);
    measure("verify claims of a 2 MiB actor", 5, 1_000, TIME, || {
        host_edge_runtime::claims::verify(&big, &Policy::default(), host_edge_runtime::claims::policy::now_secs()).unwrap();
    });
    measure("compile a 2 MiB actor (kvcounter's code)", 5, 1_000, TIME, || {
        drop(CompiledModule::new(&big).unwrap());
    });
}

/// waSCC's kvcounter (waSCC's own SDK) and the SDK's counter each handling
/// the request the HTTP server provider hands them in the `actors`
/// benchmark, on one instance, the key-value `Add` answered at once: what
/// the interpreter alone costs per request there, and the fuel (about one
/// unit per wasm instruction) it uses.
fn kvcounter_request(time: Duration) {
    for (actor, label) in [("wascc_kvcounter", "kvcounter"), ("counter", "SDK counter")] {
        let module = actor_module(actor);
        let signed = Signer::new().sign(&module, actor, &["wascc:keyvalue", "wascc:http_server"]);
        let compiled = CompiledModule::new(&signed).unwrap();
        let added = codec::serialize(&codec::keyvalue::AddResponse { value: 42 }).unwrap();
        let answer: Box<wapc::HostCallback> = Box::new(move |_, _, namespace, operation, _| {
            assert_eq!((namespace, operation), ("wascc:keyvalue", codec::keyvalue::OP_ADD));
            Ok(added.clone())
        });
        let instance = Instance::new(&compiled, Limits::default(), Arc::from(actor), answer).unwrap();
        let request = codec::serialize(&codec::http::Request {
            method: "GET".into(),
            path: "/bench/engine".into(),
            query_string: String::new(),
            header: [("host".to_owned(), "bench".to_owned())].into(),
            body: Vec::new(),
        })
        .unwrap();
        let reply = instance.call(codec::http::OP_HANDLE_REQUEST, &request).unwrap();
        let response: codec::http::Response = codec::deserialize(&reply).unwrap();
        assert_eq!((response.status_code, response.body.as_slice()), (200, &br#"{"counter":42}"#[..]));
        measure(&format!("{label}, one HTTP request (engine only)"), 1000, 200_000, time, || {
            instance.call(codec::http::OP_HANDLE_REQUEST, &request).unwrap();
        });
        // Of the last call: the first also paid for translating each function.
        let fuel = instance.usage().fuel;
        println!("{:<44} {fuel} fuel per request", "");
    }
}
