//! The provider ABI (version 3), from both sides: a provider written in C
//! loads, answers, reports typed outcomes, uses the host's services, calls
//! back into its single-instance caller, and calls actors from threads of
//! its own without waiting (`dispatch_async`); one built for ABI 2 still
//! loads; libraries of ABI 1, built the
//! way waSCC built them, of another version, without the entry point, or not
//! libraries at all are refused with errors that say which; declared
//! settings are checked; a panic in a Rust provider stays inside it; and the
//! host keeps serving throughout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::{InvokeError, Limits};
use host_edge_runtime::provider::{Deliver, NativeProvider, ProviderError};
use host_edge_runtime::{claims::Policy, ErrorKind, Failure, Host, HostError};
use testkit::{actor_module, c_provider, provider_archive, provider_library, Signer};

fn build_c_provider(dir: &Path, defines: &[&str]) -> PathBuf {
    c_provider(dir, "provider.c", defines)
}

fn refuse_delivery() -> Deliver {
    Arc::new(|_: &str, _: &str, _: &[u8]| Err(Failure::new(ErrorKind::NotLinked, "no actors in this test")))
}

fn load(path: &Path, state: &Path) -> Result<NativeProvider, ProviderError> {
    NativeProvider::load("under-test", path, refuse_delivery(), state)
}

fn echo_host(state: &Path, caps: &[&str], instances: usize) -> Host {
    let host = Host::with_state_dir(Policy::default(), state.to_path_buf());
    // These tests are about the ABI: the C fixtures are compiled here and
    // loaded unsigned, as a provider author does while developing one.
    host.set_unsigned_providers(true);
    let actor = host.load(&Signer::new().sign(&actor_module("echo"), "echo", caps)).unwrap();
    host.start_actor(actor, instances, Limits::default()).unwrap();
    host
}

/// The echo actor with `instances`, granted and linked to the C provider
/// (built with `defines`) as `reverse`.
fn echo_linked_to_c_provider(dir: &Path, instances: usize, defines: &[&str]) -> Host {
    let host = echo_host(dir, &["example:reverse"], instances);
    let reverse = CapabilityId::parse("example:reverse").unwrap();
    host.add_provider("reverse", &build_c_provider(dir, defines)).unwrap();
    host.link_provider("echo", &reverse, "default", "reverse", &BTreeMap::new()).unwrap();
    host
}

fn host_call(operation: &str, body: &str) -> Vec<u8> {
    format!("default\nexample:reverse\n{operation}\n{body}").into_bytes()
}

#[test]
fn a_provider_written_in_c_loads_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let provider = load(&build_c_provider(dir.path(), &[]), dir.path()).unwrap();
    assert_eq!(provider.capability().as_str(), "example:reverse");
    assert_eq!(provider.description(), "Reverser in C");
    assert_eq!(provider.call("Mactor", "Reverse", b"stressed").unwrap(), b"desserts");
    // A payload of a few pages crosses both ways intact.
    let big: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    let reversed: Vec<u8> = big.iter().rev().copied().collect();
    assert_eq!(provider.call("Mactor", "Reverse", &big).unwrap(), reversed);
    let err = provider.call("Mactor", "Nope", b"").unwrap_err();
    assert_eq!(err.to_string(), "provider `under-test`: unknown operation");
    assert_eq!(err.failure().kind, ErrorKind::BadRequest);
    provider.health().unwrap();
    provider.stop();
    assert!(matches!(provider.call("Mactor", "Reverse", b"x"), Err(ProviderError::Stopped(_))));
}

#[test]
fn a_provider_of_another_abi_version_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = build_c_provider(dir.path(), &["-DPROVIDER_ABI_VERSION=99"]);
    let err = load(&path, dir.path()).unwrap_err().to_string();
    assert!(err.contains("speaks provider ABI version 99"), "{err}");
    assert!(err.contains("this host speaks version 3 (and loads version 2)"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn a_provider_built_for_abi_1_is_refused_naming_versions_1_and_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = c_provider(dir.path(), "provider_v1.c", &[]);
    let err = load(&path, dir.path()).unwrap_err();
    assert!(matches!(err, ProviderError::AbiVersion { found: 1, expected: 3, .. }), "{err:?}");
    assert!(err.to_string().contains("speaks provider ABI version 1, but this host speaks version 3"), "{err}");
}

#[test]
fn a_provider_built_the_way_wascc_built_them_is_refused_as_a_wascc_provider_and_the_host_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let host = echo_host(dir.path(), &[], 1);
    let err = host.add_provider("redis", &provider_archive("wascc_provider")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, HostError::Provider(ProviderError::WasccProvider { .. })), "{err:?}");
    assert!(text.contains("is a waSCC capability provider"), "{text}");
    assert!(text.contains("Port it to host-edge-provider-sdk"), "{text}");
    assert!(host.providers().is_empty());
    assert_eq!(host.call("echo", "Echo", b"still here").unwrap(), b"still here");
    host.shutdown();
}

#[test]
fn a_library_without_the_entry_point_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(&build_c_provider(dir.path(), &["-DOMIT_ENTRY"]), dir.path()).unwrap_err();
    assert!(matches!(err, ProviderError::MissingSymbol { .. }), "{err}");
    assert!(err.to_string().contains("does not export `host_edge_provider`"), "{err}");
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libfake.so");
    std::fs::write(&path, "not an ELF file").unwrap();
    let err = load(&path, dir.path()).unwrap_err();
    assert!(matches!(err, ProviderError::Open { .. }), "{err}");
    assert!(err.to_string().contains("could not be loaded"), "{err}");
    let err = load(&dir.path().join("missing.so"), dir.path()).unwrap_err().to_string();
    assert!(err.contains("missing.so"), "{err}");
    // The loader's own reason, not just "dlopen failed".
    assert!(err.contains("No such file or directory"), "{err}");
}

#[test]
#[cfg(target_arch = "x86_64")]
fn a_provider_built_for_another_processor_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    // .ci/setup installs Debian's aarch64 cross compiler for the Pi bundles.
    let library = dir.path().join("libreverse-aarch64.so");
    let status = std::process::Command::new("aarch64-linux-gnu-gcc")
        .args(["-shared", "-fPIC", "-O1", "-I"])
        .arg(testkit::repo_root().join("providers/abi/include"))
        .arg(testkit::repo_root().join("tests/fixtures/c-provider/provider.c"))
        .arg("-o")
        .arg(&library)
        .status()
        .expect("aarch64-linux-gnu-gcc runs (bash .ci/setup installs it)");
    assert!(status.success());
    let err = load(&library, dir.path()).unwrap_err();
    assert!(matches!(err, ProviderError::Architecture { .. }), "{err:?}");
    let text = err.to_string();
    let host = std::env::consts::ARCH;
    assert!(text.contains(&format!("is built for aarch64, but this host runs on {host}")), "{text}");
}

#[test]
fn a_panic_in_handle_call_becomes_an_error_and_the_provider_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let provider = load(&provider_library("panicking_provider"), dir.path()).unwrap();
    let err = provider.call("Mactor", "Panic", b"").unwrap_err().to_string();
    assert!(err.contains("the provider panicked: asked to panic"), "{err}");
    assert_eq!(provider.call("Mactor", "Work", b"").unwrap(), b"ok");
    provider.stop();
}

#[test]
fn the_host_keeps_serving_after_refusing_providers() {
    let dir = tempfile::tempdir().unwrap();
    let host = echo_host(dir.path(), &[], 1);
    let wrong_version = build_c_provider(dir.path(), &["-DPROVIDER_ABI_VERSION=4"]);
    assert!(host.add_provider("old", &wrong_version).is_err());
    assert!(host.add_provider("v1", &c_provider(dir.path(), "provider_v1.c", &[])).is_err());
    assert!(host.add_provider("none", &build_c_provider(dir.path(), &["-DOMIT_ENTRY"])).is_err());
    assert_eq!(host.call("echo", "Echo", b"still here").unwrap(), b"still here");

    let capability = host.add_provider("reverse", &build_c_provider(dir.path(), &[])).unwrap();
    assert_eq!(capability, CapabilityId::parse("example:reverse").unwrap());
    assert_eq!(host.providers().len(), 1);
    host.shutdown();
}

#[test]
fn a_provider_calls_back_into_its_single_instance_caller_without_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    // One instance: it is busy in the host call to the provider when the
    // provider calls it back, so the call back runs nested on it.
    let host = echo_linked_to_c_provider(dir.path(), 1, &[]);

    assert_eq!(host.call("echo", "HostCall", &host_call("Dispatch", "round trip")).unwrap(), b"round trip");
    // The instance is whole afterwards: plain calls and host calls go on.
    assert_eq!(host.call("echo", "HostCall", &host_call("Reverse", "abc")).unwrap(), b"cba");
    assert_eq!(host.call("echo", "Echo", b"after").unwrap(), b"after");
    assert_eq!(host.call("echo", "HostCall", &host_call("Dispatch", "twice")).unwrap(), b"twice");
    host.shutdown();
}

#[test]
fn a_provider_built_for_abi_2_still_loads_answers_and_calls_back() {
    let dir = tempfile::tempdir().unwrap();
    let host = echo_linked_to_c_provider(dir.path(), 1, &["-DPROVIDER_ABI_VERSION=2"]);

    assert_eq!(host.call("echo", "HostCall", &host_call("Reverse", "abc")).unwrap(), b"cba");
    assert_eq!(host.call("echo", "HostCall", &host_call("Dispatch", "old and new")).unwrap(), b"old and new");
    host.shutdown();
}

#[test]
fn a_provider_thread_calls_an_actor_without_waiting_and_is_answered_on_its_callback() {
    let dir = tempfile::tempdir().unwrap();
    // The instance making the host call is busy in it, so the provider's
    // call from its own thread queues and a second instance answers it.
    let host = echo_linked_to_c_provider(dir.path(), 2, &[]);

    assert_eq!(host.call("echo", "HostCall", &host_call("DispatchAsync", "queued")).unwrap(), b"queued");
    assert_eq!(host.call("echo", "HostCall", &host_call("DispatchAsync", "and again")).unwrap(), b"and again");
    host.shutdown();
}

#[test]
fn a_call_without_waiting_to_an_actor_not_linked_is_answered_with_the_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let host = echo_linked_to_c_provider(dir.path(), 1, &[]);

    match host.call("echo", "HostCall", &host_call("DispatchAsyncNobody", "")).unwrap_err() {
        HostError::Invoke(InvokeError::Failed { kind, message }) => {
            assert_eq!(kind, ErrorKind::NotLinked);
            assert!(message.contains("actor MNOBODY is not linked to provider `reverse`"), "{message}");
        }
        other => panic!("expected a not-linked failure, got {other:?}"),
    }
    assert_eq!(host.call("echo", "HostCall", &host_call("Reverse", "still")).unwrap(), b"llits");
    host.shutdown();
}

#[test]
fn a_typed_failure_crosses_the_abi_and_reaches_the_actor_with_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let host = echo_linked_to_c_provider(dir.path(), 1, &[]);

    let err = host.call("echo", "HostCall", &host_call("Deny", "")).unwrap_err();
    match err {
        HostError::Invoke(InvokeError::Failed { kind, message }) => {
            assert_eq!(kind, ErrorKind::Denied);
            // The actor read the kind in front of the host's error text.
            assert!(message.contains("denied: example:reverse: this provider denies it"), "{message}");
        }
        other => panic!("expected a denied failure, got {other:?}"),
    }
    host.shutdown();
}

#[test]
fn a_provider_keeps_its_files_in_the_state_directory_the_host_gives_it() {
    let dir = tempfile::tempdir().unwrap();
    let host = echo_host(dir.path(), &["example:reverse"], 1);
    let reverse = CapabilityId::parse("example:reverse").unwrap();
    host.add_provider("reverse", &build_c_provider(dir.path(), &[])).unwrap();
    host.link_provider("echo", &reverse, "default", "reverse", &BTreeMap::new()).unwrap();
    host.unlink("echo", &reverse, "default").unwrap();
    let key = host.actors()[0].0.clone();
    let log = std::fs::read_to_string(dir.path().join("reverse/binds.log")).unwrap();
    assert_eq!(log, format!("bind {key}\nunbind {key}\n"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("reverse")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the state directory is private");
    host.shutdown();
}

#[test]
fn settings_and_link_values_are_checked_against_what_the_provider_declares() {
    let dir = tempfile::tempdir().unwrap();
    let host = echo_host(dir.path(), &["wascc:http_server"], 1);
    let http = provider_archive("http_server");
    let settings = BTreeMap::from([("WORKER_THREADS".to_owned(), "many".to_owned())]);
    let err = host.add_provider_with("http", &http, &settings).unwrap_err().to_string();
    assert!(err.contains("settings: `WORKER_THREADS` must be a whole number, not `many`"), "{err}");
    let settings = BTreeMap::from([("PORT".to_owned(), "8080".to_owned())]);
    let err = host.add_provider_with("http", &http, &settings).unwrap_err().to_string();
    assert!(err.contains("`PORT` is a link setting, not a provider one"), "{err}");

    host.add_provider_with("http", &http, &BTreeMap::from([("WORKER_THREADS".into(), "1".into())])).unwrap();
    let cap = CapabilityId::parse("wascc:http_server").unwrap();
    let values = BTreeMap::from([("PORT".to_owned(), "eighty".to_owned()), ("PROT".to_owned(), "1".to_owned())]);
    let err = host.link_provider("echo", &cap, "default", "http", &values).unwrap_err().to_string();
    assert!(err.contains("`PORT` must be a whole number, not `eighty`"), "{err}");
    assert!(err.contains("`PROT` is not a setting"), "{err}");
    host.shutdown();
}

#[test]
fn a_link_the_claims_do_not_grant_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let host = echo_host(dir.path(), &[], 1);
    let reverse = CapabilityId::parse("example:reverse").unwrap();
    host.add_provider("reverse", &build_c_provider(dir.path(), &[])).unwrap();
    let err = host.link_provider("echo", &reverse, "default", "reverse", &BTreeMap::new()).unwrap_err();
    assert!(err.to_string().contains("signed claims do not grant it"), "{err}");
    // Unlinked, the call is refused before any provider sees it.
    let err = host.call("echo", "HostCall", &host_call("Reverse", "abc")).unwrap_err();
    assert!(err.to_string().contains("not authorized to use example:reverse"), "{err}");
    host.shutdown();
}

#[test]
fn a_provider_whose_stop_outlasts_a_call_in_flight_is_stopped_when_the_call_returns_not_freed_under_its_threads() {
    let dir = tempfile::tempdir().unwrap();
    let provider = Arc::new(load(&build_c_provider(dir.path(), &[]), dir.path()).unwrap());
    let state = dir.path().join("under-test");
    let held = {
        let provider = Arc::clone(&provider);
        std::thread::spawn(move || provider.call("MACTOR", "Hold", b""))
    };
    testkit::eventually(std::time::Duration::from_secs(30), "the call to be in flight", || {
        state.join("holding").exists().then_some(())
    });
    // A remove-provider or reload whose grace period runs out.
    provider.stop_within(std::time::Duration::from_millis(50));
    assert!(!state.join("stop.log").exists(), "the provider is not stopped under a call in flight");
    let refused = provider.call("MACTOR", "Reverse", b"abc").unwrap_err();
    assert!(matches!(refused, ProviderError::Stopped(_)), "no new call starts: {refused:?}");

    std::fs::write(state.join("release"), b"").unwrap();
    held.join().unwrap().unwrap();
    // The last call in flight stopped it, and exactly once: its threads and
    // outputs are shut down before the host frees what they use.
    assert_eq!(std::fs::read_to_string(state.join("stop.log")).unwrap(), "stopped\n");
    drop(provider);
    assert_eq!(std::fs::read_to_string(state.join("stop.log")).unwrap(), "stopped\n");
}

#[test]
fn a_signed_grant_is_refused_at_link_when_the_provider_does_not_declare_that_it_enforces_grants() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::with_state_dir(Policy::default(), dir.path().to_path_buf());
    host.set_unsigned_providers(true);
    let reverse = CapabilityId::parse("example:reverse").unwrap();
    let options = host_edge_runtime::claims::SignOptions {
        grants: BTreeMap::from([(reverse.clone(), vec!["prefix:public/".parse().unwrap()])]),
        ..testkit::options("echo", &["example:reverse"])
    };
    let actor = host.load(&Signer::new().sign_with(&actor_module("echo"), &options)).unwrap();
    host.start_actor(actor, 1, Limits::default()).unwrap();
    // The C provider ignores `__host_edge_grant` and does not declare it.
    host.add_provider("reverse", &build_c_provider(dir.path(), &[])).unwrap();
    let err = host.link_provider("echo", &reverse, "default", "reverse", &BTreeMap::new()).unwrap_err().to_string();
    assert!(err.contains("does not declare that it enforces grants"), "{err}");
    assert!(err.contains("signed: prefix:public/"), "the refusal names the grant: {err}");
    // Not linked, so the actor reaches nothing through it.
    let err = host.call("echo", "HostCall", &host_call("Reverse", "abc")).unwrap_err();
    assert!(err.to_string().contains("no provider is linked"), "{err}");
    host.shutdown();
}

#[test]
fn link_values_cannot_set_the_grant_the_host_hands_the_provider() {
    let dir = tempfile::tempdir().unwrap();
    let host = echo_host(dir.path(), &["wascc:keyvalue"], 1);
    let kv = CapabilityId::parse("wascc:keyvalue").unwrap();
    host.add_provider("kv", &provider_archive("keyvalue_sqlite")).unwrap();
    let values = BTreeMap::from([("__host_edge_grant".to_owned(), "[]".to_owned())]);
    let err = host.link_provider("echo", &kv, "default", "kv", &values).unwrap_err().to_string();
    assert!(err.contains("which only the host sets"), "{err}");
    host.shutdown();
}

#[test]
fn a_provider_call_run_nested_on_an_instance_serving_another_actor_has_no_calling_actor() {
    let dir = tempfile::tempdir().unwrap();
    // `echo` serves a call from `caller` and, inside it, calls the C
    // provider, which calls `echo` back (nested, on the same instance).
    let host = echo_linked_to_c_provider(dir.path(), 1, &[]);
    let echo = host.actors().into_iter().find(|(_, name)| name == "echo").unwrap().0;
    let options = host_edge_runtime::claims::SignOptions { actors: vec![echo.clone()], ..testkit::options("caller", &[]) };
    let caller = host.load(&Signer::new().sign_with(&actor_module("echo"), &options)).unwrap();
    let caller_key = host.start_actor(caller, 1, Limits::default()).unwrap();

    let ask = "default\nhost-edge:context\nCaller\n";
    let round = format!("default\n{echo}\nHostCall\n{}", String::from_utf8(host_call("DispatchHostCall", ask)).unwrap());
    let reply = host.call(&caller_key, "HostCall", round.as_bytes()).unwrap();
    assert_eq!(reply, b"", "the nested call is the provider's, not `caller`'s");
    // Asked directly inside the actor-to-actor call, it is `caller`.
    let direct = format!("default\n{echo}\nHostCall\n{ask}");
    assert_eq!(host.call(&caller_key, "HostCall", direct.as_bytes()).unwrap(), caller_key.as_bytes());
    host.shutdown();
}
