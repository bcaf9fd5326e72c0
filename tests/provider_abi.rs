//! The provider ABI, from both sides: a provider written in C loads and
//! answers; libraries of another ABI version, without the entry point, or
//! not libraries at all are refused with errors that say which; a panic in
//! a Rust provider stays inside it; and the host keeps serving throughout.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use host_edge::capability::CapabilityId;
use host_edge::engine::Limits;
use host_edge::provider::{dispatcher::Deliver, NativeProvider, ProviderError};
use host_edge::{claims::Policy, Host};
use testkit::{actor_module, provider_library, repo_root, Signer};

/// Compiles tests/fixtures/c-provider/provider.c into `dir` with `defines`.
fn build_c_provider(dir: &Path, defines: &[&str]) -> PathBuf {
    let output = dir.join(format!("libc_provider{}.so", defines.join("").replace(['=', '-'], "_")));
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let status = Command::new(compiler)
        .args(["-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(repo_root().join("providers/sdk/include"))
        .args(defines)
        .arg(repo_root().join("tests/fixtures/c-provider/provider.c"))
        .arg("-o")
        .arg(&output)
        .status()
        .expect("the C compiler runs");
    assert!(status.success(), "compiling the C provider failed");
    output
}

fn refuse_delivery() -> Deliver {
    Arc::new(|_: &str, _: &str, _: &[u8]| Err("no actors in this test".to_owned()))
}

fn load(path: &Path) -> Result<NativeProvider, ProviderError> {
    NativeProvider::load("under-test", path, refuse_delivery())
}

#[test]
fn a_provider_written_in_c_loads_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let provider = load(&build_c_provider(dir.path(), &[])).unwrap();
    assert_eq!(provider.capability().as_str(), "example:reverse");
    assert_eq!(provider.display_name(), "Reverser in C");
    assert_eq!(provider.call("Mactor", "Reverse", b"stressed").unwrap(), b"desserts");
    // A payload of a few pages crosses both ways intact.
    let big: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    let reversed: Vec<u8> = big.iter().rev().copied().collect();
    assert_eq!(provider.call("Mactor", "Reverse", &big).unwrap(), reversed);
    let err = provider.call("Mactor", "Nope", b"").unwrap_err();
    assert_eq!(err.to_string(), "provider `under-test`: unknown operation");
    provider.health().unwrap();
    provider.stop();
    assert!(matches!(provider.call("Mactor", "Reverse", b"x"), Err(ProviderError::Stopped(_))));
}

#[test]
fn a_provider_of_another_abi_version_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = build_c_provider(dir.path(), &["-DPROVIDER_ABI_VERSION=99"]);
    let err = load(&path).unwrap_err().to_string();
    assert!(err.contains("speaks provider ABI version 99"), "{err}");
    assert!(err.contains("this host speaks version 1"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn a_library_without_the_entry_point_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(&build_c_provider(dir.path(), &["-DOMIT_ENTRY"])).unwrap_err();
    assert!(matches!(err, ProviderError::MissingSymbol { .. }), "{err}");
    assert!(err.to_string().contains("does not export `__capability_provider_create`"), "{err}");
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libfake.so");
    std::fs::write(&path, "not an ELF file").unwrap();
    let err = load(&path).unwrap_err();
    assert!(matches!(err, ProviderError::Open { .. }), "{err}");
    assert!(err.to_string().contains("could not be loaded"), "{err}");
    let err = load(&dir.path().join("missing.so")).unwrap_err();
    assert!(err.to_string().contains("missing.so"), "{err}");
}

#[test]
fn a_panic_in_handle_call_becomes_an_error_and_the_provider_keeps_serving() {
    let provider = load(&provider_library("panicking_provider")).unwrap();
    let err = provider.call("Mactor", "Panic", b"").unwrap_err().to_string();
    assert!(err.contains("the provider panicked: asked to panic"), "{err}");
    assert_eq!(provider.call("Mactor", "Work", b"").unwrap(), b"ok");
    provider.stop();
}

#[test]
fn the_host_keeps_serving_after_refusing_providers() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(Policy::default());
    let actor = host.load(&Signer::new().sign(&actor_module("echo"), "echo", &[])).unwrap();
    host.start_actor(actor, 1, Limits::default()).unwrap();

    let wrong_version = build_c_provider(dir.path(), &["-DPROVIDER_ABI_VERSION=2"]);
    assert!(host.add_provider("old", &wrong_version).is_err());
    assert!(host.add_provider("none", &build_c_provider(dir.path(), &["-DOMIT_ENTRY"])).is_err());
    assert_eq!(host.call("echo", "Echo", b"still here").unwrap(), b"still here");

    let capability = host.add_provider("reverse", &build_c_provider(dir.path(), &[])).unwrap();
    assert_eq!(capability, CapabilityId::parse("example:reverse").unwrap());
    assert_eq!(host.providers().len(), 1);
    host.shutdown();
}

#[test]
fn a_c_provider_reaches_its_linked_actor_through_the_dispatcher() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(Policy::default());
    let actor = host
        .load(&Signer::new().sign(&actor_module("echo"), "echo", &["example:reverse"]))
        .unwrap();
    // Two instances: one makes the host call, the other answers the
    // provider's call back into the actor.
    host.start_actor(actor, 2, Limits::default()).unwrap();
    let reverse = CapabilityId::parse("example:reverse").unwrap();
    host.add_provider("reverse", &build_c_provider(dir.path(), &[])).unwrap();
    host.link_provider("echo", &reverse, "default", "reverse", &Default::default()).unwrap();

    let reply = host.call("echo", "HostCall", b"default\nexample:reverse\nDispatch\nround trip").unwrap();
    assert_eq!(reply, b"round trip");
    let reply = host.call("echo", "HostCall", b"default\nexample:reverse\nReverse\nabc").unwrap();
    assert_eq!(reply, b"cba");
    host.shutdown();
}

#[test]
fn a_link_the_claims_do_not_grant_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(Policy::default());
    let actor = host.load(&Signer::new().sign(&actor_module("echo"), "echo", &[])).unwrap();
    host.start_actor(actor, 1, Limits::default()).unwrap();
    let reverse = CapabilityId::parse("example:reverse").unwrap();
    host.add_provider("reverse", &build_c_provider(dir.path(), &[])).unwrap();
    let err = host.link_provider("echo", &reverse, "default", "reverse", &Default::default()).unwrap_err();
    assert!(err.to_string().contains("signed claims do not grant it"), "{err}");
    // Unlinked, the call is refused before any provider sees it.
    let err = host.call("echo", "HostCall", b"default\nexample:reverse\nReverse\nabc").unwrap_err();
    assert!(err.to_string().contains("not authorized to use example:reverse"), "{err}");
    host.shutdown();
}
