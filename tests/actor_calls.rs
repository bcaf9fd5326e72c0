//! Calls between actors are a capability too: an actor reaches another only
//! when its own signed claims list the other's module key (waSCC's rule),
//! so no actor can make another act for it with the other's capabilities
//! (a confused deputy). The callee can ask the host who called it.

use std::collections::BTreeMap;

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::SignOptions;
use host_edge_runtime::Limits;
use host_edge_runtime::Host;
use codec::http::{Request, Response};
use testkit::{actor_module, options, provider_archive, Signer};

const KV: &str = "wascc:keyvalue";
const HTTP: &str = "wascc:http_server";

/// The reproduction of the attack: `counter`, linked to SQLite and to
/// nothing else, and `echo`, whose `HostCall` makes any host call it is
/// given, signed with `caller_options`. Returns the two module keys.
fn counter_and_caller(host: &Host, dir: &std::path::Path, caller: SignOptions) -> (String, String) {
    let counter = host.load(&Signer::new().sign(&actor_module("counter"), "counter", &[HTTP, KV])).unwrap();
    let counter_key = counter.subject().to_owned();
    host.start_actor(counter, 1, Limits::default()).unwrap();
    host.add_provider("kv", &provider_archive("keyvalue_sqlite")).unwrap();
    let values = BTreeMap::from([("PATH".to_owned(), dir.join("counter.db").display().to_string())]);
    host.link_provider(&counter_key, &CapabilityId::parse(KV).unwrap(), "default", "kv", &values).unwrap();
    let caller = host.load(&Signer::new().sign_with(&actor_module("echo"), &caller)).unwrap();
    let caller_key = caller.subject().to_owned();
    host.start_actor(caller, 1, Limits::default()).unwrap();
    (counter_key, caller_key)
}

/// `echo`'s `HostCall` payload: binding, namespace, operation, body.
fn host_call(namespace: &str, operation: &str, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("default\n{namespace}\n{operation}\n").into_bytes();
    payload.extend_from_slice(body);
    payload
}

fn get(path: &str) -> Vec<u8> {
    let request = Request {
        method: "GET".into(),
        path: path.into(),
        query_string: String::new(),
        header: BTreeMap::new(),
        body: Vec::new(),
    };
    codec::serialize(&request).unwrap()
}

fn body(reply: &[u8]) -> String {
    let response: Response = codec::deserialize(reply).unwrap();
    String::from_utf8(response.body).unwrap()
}

#[test]
fn an_actor_without_the_callee_key_in_its_claims_cannot_make_it_write_to_its_store() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(Default::default());
    let (counter, caller) = counter_and_caller(&host, dir.path(), options("caller", &[HTTP]));

    let refused = host.call(&caller, "HostCall", &host_call(&counter, "HandleRequest", &get("/hits"))).unwrap_err();
    let text = refused.to_string();
    assert!(
        text.contains(&format!("actor {caller} is not authorized to call actor {counter}")),
        "the refusal names the missing grant: {text}"
    );
    assert!(text.contains(&format!("--call {counter}")), "and how to sign it: {text}");
    // The counter's store is untouched: its own first request counts 1.
    assert_eq!(body(&host.call(&counter, "HandleRequest", &get("/hits")).unwrap()), r#"{"counter":1}"#);
    host.shutdown();
}

#[test]
fn a_caller_signed_with_the_callee_key_reaches_it() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(Default::default());
    // The callee's key must be known before the caller is signed: sign the
    // counter with a key of our own.
    let counter_signer = Signer::new();
    let counter_key = counter_signer.subject.public_key();
    let options = SignOptions { actors: vec![counter_key.clone()], ..options("caller", &[HTTP]) };
    let caller = host.load(&Signer::new().sign_with(&actor_module("echo"), &options)).unwrap();
    assert!(caller.callable_actors().contains(&counter_key));
    let caller_key = caller.subject().to_owned();
    host.start_actor(caller, 1, Limits::default()).unwrap();
    let counter = host.load(&counter_signer.sign(&actor_module("counter"), "counter", &[HTTP, KV])).unwrap();
    host.start_actor(counter, 1, Limits::default()).unwrap();
    host.add_provider("kv", &provider_archive("keyvalue_sqlite")).unwrap();
    let values = BTreeMap::from([("PATH".to_owned(), dir.path().join("counter.db").display().to_string())]);
    host.link_provider(&counter_key, &CapabilityId::parse(KV).unwrap(), "default", "kv", &values).unwrap();

    for expected in [r#"{"counter":1}"#, r#"{"counter":2}"#] {
        let reply = host.call(&caller_key, "HostCall", &host_call(&counter_key, "HandleRequest", &get("/hits"))).unwrap();
        assert_eq!(body(&reply), expected);
    }
    host.shutdown();
}

#[test]
fn a_grant_to_call_one_actor_does_not_reach_another() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(Default::default());
    let elsewhere = Signer::new().subject.public_key();
    let (counter, caller) =
        counter_and_caller(&host, dir.path(), SignOptions { actors: vec![elsewhere], ..options("caller", &[HTTP]) });
    let refused = host.call(&caller, "HostCall", &host_call(&counter, "HandleRequest", &get("/hits"))).unwrap_err();
    assert!(refused.to_string().contains("is not authorized to call actor"), "{refused}");
    host.shutdown();
}

#[test]
fn an_ungranted_caller_cannot_learn_which_actors_run_here() {
    let host = Host::new(Default::default());
    let caller = host.load(&Signer::new().sign(&actor_module("echo"), "caller", &[])).unwrap();
    let caller_key = caller.subject().to_owned();
    host.start_actor(caller, 1, Limits::default()).unwrap();
    // A key nobody runs and a key somebody might: the same refusal.
    let absent = Signer::new().subject.public_key();
    let refused = host.call(&caller_key, "HostCall", &host_call(&absent, "Echo", b"")).unwrap_err();
    assert!(refused.to_string().contains("is not authorized to call actor"), "{refused}");
    host.shutdown();
}

#[test]
fn the_callee_learns_the_module_key_of_the_actor_that_called_it() {
    let host = Host::new(Default::default());
    let callee = host.load(&Signer::new().sign(&actor_module("echo"), "callee", &[])).unwrap();
    let callee_key = callee.subject().to_owned();
    host.start_actor(callee, 1, Limits::default()).unwrap();
    let options = SignOptions { actors: vec![callee_key.clone()], ..options("caller", &[]) };
    let caller = host.load(&Signer::new().sign_with(&actor_module("echo"), &options)).unwrap();
    let caller_key = caller.subject().to_owned();
    host.start_actor(caller, 1, Limits::default()).unwrap();

    // The caller asks the callee to ask the host who called it.
    let ask = host_call("host-edge:context", "Caller", b"");
    let reply = host.call(&caller_key, "HostCall", &host_call(&callee_key, "HostCall", &ask)).unwrap();
    assert_eq!(String::from_utf8(reply).unwrap(), caller_key);
    // Called by the host itself, there is no calling actor.
    assert_eq!(host.call(&callee_key, "HostCall", &ask).unwrap(), b"");
    host.shutdown();
}
