//! Native providers load only from signed provider archives: the
//! `host-edge` binary, driven as an operator drives it, refuses a bare
//! library and every archive that fails a check, naming the check, and
//! serves from an archive a trusted issuer signed.

use std::path::Path;
use std::process::{Command, Output};

use host_edge_runtime::claims::provider::HOST_TARGET;
use host_edge_runtime::claims::{sign_archive, ProviderSignOptions};
use testkit::{actor_module, host_edge_bin, provider_library, Signer};

fn host_edge(dir: &Path, args: &[&str]) -> Output {
    Command::new(host_edge_bin()).current_dir(dir).args(args).env("NO_COLOR", "1").output().expect("host-edge runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A folder with an issuer and a provider key made by the CLI, a copy of
/// the SQLite provider's library, and the counter actor signed by the same
/// issuer; returns the issuer's public key.
fn workspace(dir: &Path) -> String {
    let issuer = host_edge(dir, &["keys", "generate", "account", "-o", "issuer.nk"]);
    assert!(issuer.status.success(), "{issuer:?}");
    assert!(host_edge(dir, &["keys", "generate", "service", "-o", "kv.nk"]).status.success());
    std::fs::copy(provider_library("keyvalue_sqlite"), dir.join("libkeyvalue_sqlite.so")).unwrap();
    std::fs::write(dir.join("counter.wasm"), actor_module("counter")).unwrap();
    assert!(host_edge(dir, &["keys", "generate", "module", "-o", "counter.nk"]).status.success());
    let sign = ["sign", "counter.wasm", "-o", "counter_s.wasm", "--issuer", "issuer.nk", "--subject", "counter.nk", "--name", "counter", "-k", "-s"];
    assert!(host_edge(dir, &sign).status.success());
    String::from_utf8_lossy(&issuer.stdout).trim().to_owned()
}

fn keyvalue() -> host_edge_runtime::capability::CapabilityId {
    host_edge_runtime::capability::CapabilityId::parse("wascc:keyvalue").unwrap()
}

/// `host-edge par create` of the SQLite library in `dir` with `extra`
/// arguments (`--library` or `--target`, the capability) into `output`.
fn par_create(dir: &Path, output: &str, extra: &[&str]) {
    let mut args = vec!["par", "create", "--issuer", "issuer.nk", "--subject", "kv.nk", "--name", "sqlite", "-o", output];
    args.extend_from_slice(extra);
    let out = host_edge(dir, &args);
    assert!(out.status.success(), "{}", text(&out));
}

/// A manifest trusting `issuers` that serves the counter's key-value
/// capability from the provider file `provider`.
fn manifest(dir: &Path, issuers: &[&str], provider: &str, extra_policy: &str) {
    let issuers: Vec<String> = issuers.iter().map(|i| format!("\"{i}\"")).collect();
    let text = format!(
        "[policy]\ntrusted_issuers = [{}]\n{extra_policy}\n[[actor]]\npath = \"counter_s.wasm\"\n\n\
         [[provider]]\nname = \"kv\"\npath = \"{provider}\"\n\n\
         [[link]]\nactor = \"counter\"\ncapability = \"wascc:keyvalue\"\nprovider = \"kv\"\nvalues = {{ PATH = \"kv.db\" }}\n",
        issuers.join(", ")
    );
    std::fs::write(dir.join("manifest.toml"), text).unwrap();
}

/// Asks the counter for `/hits` with the manifest's providers.
fn count(dir: &Path) -> Output {
    host_edge(dir, &["call", "counter", "HandleRequest", "--with-providers", "manifest.toml", "--json", r#"{"path": "/hits"}"#])
}

/// `check` and `run` both refuse the manifest, and both say `expected`.
fn assert_refused(dir: &Path, expected: &str) {
    let check = host_edge(dir, &["check", "manifest.toml"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(text(&check).contains(expected), "check says {expected:?}:\n{}", text(&check));
    let run = host_edge(dir, &["run", "manifest.toml", "--control", "control.sock"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(text(&run).contains(expected), "run says {expected:?}:\n{}", text(&run));
    assert!(text(&run).contains("nothing was started"), "{}", text(&run));
}

#[test]
fn a_bare_library_named_by_a_manifest_is_refused_by_check_and_run_as_unsigned() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = workspace(dir.path());
    manifest(dir.path(), &[&issuer], "libkeyvalue_sqlite.so", "");
    assert_refused(dir.path(), "libkeyvalue_sqlite.so is not signed: host-edge loads native providers from signed provider archives");
    assert_refused(dir.path(), "host-edge par create --capability CAPABILITY");
}

#[test]
fn a_bare_library_loads_where_the_manifest_allows_unsigned_providers() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = workspace(dir.path());
    manifest(dir.path(), &[&issuer], "libkeyvalue_sqlite.so", "");
    let text_now = std::fs::read_to_string(dir.path().join("manifest.toml")).unwrap();
    std::fs::write(dir.path().join("manifest.toml"), format!("[host]\nallow_unsigned_providers = true\n\n{text_now}")).unwrap();
    let out = count(dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(r#"{\"counter\":1}"#) || text(&out).contains(r#"{"counter":1}"#), "{}", text(&out));
}

#[test]
fn the_same_library_in_an_archive_signed_by_a_trusted_issuer_loads_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = workspace(dir.path());
    par_create(dir.path(), "kv.par.gz", &["--capability", "wascc:keyvalue", "--library", "libkeyvalue_sqlite.so"]);
    manifest(dir.path(), &[&issuer], "kv.par.gz", "");
    let check = host_edge(dir.path(), &["check", "manifest.toml"]);
    assert!(check.status.success(), "{}", text(&check));
    for expected in ["1", "2"] {
        let out = count(dir.path());
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains(&format!("counter\\\":{expected}")) || text(&out).contains(&format!("\"counter\":{expected}")), "{}", text(&out));
    }
    // The verified library was written owner-only, named by its hash.
    let libraries = dir.path().join("state/.libraries");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&libraries).unwrap().permissions().mode() & 0o777, 0o700);
    let installed: Vec<_> = std::fs::read_dir(&libraries).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(installed.len(), 1, "{installed:?}");
    let hash = host_edge_runtime::claims::archive::hash_bytes(&std::fs::read(dir.path().join("libkeyvalue_sqlite.so")).unwrap());
    assert_eq!(installed[0].file_name().unwrap().to_string_lossy(), format!("{hash}.so"));
    assert_eq!(std::fs::read(&installed[0]).unwrap(), std::fs::read(dir.path().join("libkeyvalue_sqlite.so")).unwrap());
}

#[test]
fn inspect_shows_an_archive_s_claims_libraries_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = workspace(dir.path());
    par_create(dir.path(), "kv.par", &["--capability", "wascc:keyvalue", "--library", "libkeyvalue_sqlite.so", "--rev", "7"]);
    let out = host_edge(dir.path(), &["inspect", "kv.par", "--trust", &issuer]);
    assert!(out.status.success(), "{}", text(&out));
    for expected in ["provider archive", "wascc:keyvalue", "revision     7", &format!("{HOST_TARGET} "), "signed", "ok   hash", "verdict: accepted"] {
        assert!(text(&out).contains(expected), "{expected:?} in:\n{}", text(&out));
    }
    let other = host_edge(dir.path(), &["inspect", "kv.par", "--target", "armv7-linux"]);
    assert_eq!(other.status.code(), Some(1));
    assert!(text(&other).contains("verdict: refused (claims check `target` failed)"), "{}", text(&other));
}

#[test]
fn one_changed_byte_in_an_archived_library_is_refused_by_the_hash_check() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = workspace(dir.path());
    par_create(dir.path(), "kv.par", &["--capability", "wascc:keyvalue", "--library", "libkeyvalue_sqlite.so"]);
    let mut bytes = std::fs::read(dir.path().join("kv.par")).unwrap();
    let library = bytes.windows(4).position(|w| w == b"\x7fELF").expect("the library is in the archive");
    bytes[library + 4096] ^= 0x01;
    std::fs::write(dir.path().join("kv.par"), bytes).unwrap();
    manifest(dir.path(), &[&issuer], "kv.par", "");
    assert_refused(dir.path(), "kv.par refused: claims check `hash` failed: the library for");
}

#[test]
fn an_archive_for_another_processor_only_is_refused_by_the_target_check() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = workspace(dir.path());
    let other = if HOST_TARGET == "aarch64-linux" { "armv7-linux=libkeyvalue_sqlite.so" } else { "aarch64-linux=libkeyvalue_sqlite.so" };
    par_create(dir.path(), "kv.par", &["--capability", "wascc:keyvalue", "--target", other]);
    manifest(dir.path(), &[&issuer], "kv.par", "");
    assert_refused(dir.path(), "claims check `target` failed: the archive holds libraries for");
    assert_refused(dir.path(), &format!("none for this machine ({HOST_TARGET})"));
}

#[test]
fn an_archive_from_an_untrusted_issuer_is_refused_by_the_trusted_issuer_check() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = workspace(dir.path());
    par_create(dir.path(), "kv.par", &["--capability", "wascc:keyvalue", "--library", "libkeyvalue_sqlite.so"]);
    let stranger = nkeys::KeyPair::new_account().public_key();
    // The manifest trusts a stranger and the actor's own signer, not the
    // archive's issuer.
    let actor = Signer::new();
    std::fs::write(dir.path().join("counter_s.wasm"), actor.sign(&actor_module("counter"), "counter", &["wascc:keyvalue"])).unwrap();
    let actor_issuer = actor.issuer.public_key();
    manifest(dir.path(), &[&stranger, &actor_issuer], "kv.par", "");
    assert_refused(dir.path(), &format!("claims check `trusted-issuer` failed: issuer {issuer} is not in the trusted issuers"));
}

#[test]
fn a_revoked_provider_is_refused_by_the_subject_revocation_check() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = workspace(dir.path());
    par_create(dir.path(), "kv.par", &["--capability", "wascc:keyvalue", "--library", "libkeyvalue_sqlite.so"]);
    let subject = host_edge(dir.path(), &["keys", "public", "kv.nk"]);
    let subject = String::from_utf8_lossy(&subject.stdout).trim().to_owned();
    manifest(dir.path(), &[&issuer], "kv.par", &format!("revoked_subjects = [\"{subject}\"]\n"));
    assert_refused(dir.path(), &format!("claims check `subject-revocation` failed: provider {subject} is revoked"));
}

#[test]
fn an_expired_archive_is_refused_by_the_expiry_check() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = workspace(dir.path());
    let issuer_pair = host_edge_runtime::claims::keys::read_seed(&dir.path().join("issuer.nk"), host_edge_runtime::claims::keys::KeyRole::Account).unwrap();
    let now = host_edge_runtime::claims::policy::now_secs();
    let options = ProviderSignOptions { expires: Some(now - 3600), ..ProviderSignOptions::new(keyvalue(), now - 7200) };
    let library = std::fs::read(dir.path().join("libkeyvalue_sqlite.so")).unwrap();
    let archive = sign_archive(&[(HOST_TARGET.to_owned(), library)], &issuer_pair, &nkeys::KeyPair::new_service(), &options, false).unwrap();
    std::fs::write(dir.path().join("kv.par"), archive).unwrap();
    manifest(dir.path(), &[&issuer], "kv.par", "");
    assert_refused(dir.path(), "claims check `expiry` failed: the token expired at");
}

#[test]
fn an_archive_whose_library_serves_another_capability_is_refused_by_the_capability_check() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = workspace(dir.path());
    par_create(dir.path(), "kv.par", &["--capability", "wascc:blobstore", "--library", "libkeyvalue_sqlite.so"]);
    manifest(dir.path(), &[&issuer], "kv.par", "");
    assert_refused(
        dir.path(),
        "claims check `capability` failed: the library serves wascc:keyvalue, but the archive's claims sign wascc:blobstore",
    );
}

#[test]
fn a_revocation_arriving_while_a_provider_runs_removes_it_and_keeps_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let (issuer, subject) = (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_service());
    let options = ProviderSignOptions::new(keyvalue(), host_edge_runtime::claims::policy::now_secs());
    let library = std::fs::read(provider_library("keyvalue_sqlite")).unwrap();
    let archive = sign_archive(&[(HOST_TARGET.to_owned(), library)], &issuer, &subject, &options, false).unwrap();
    let path = dir.path().join("kv.par");
    std::fs::write(&path, archive).unwrap();
    let policy = host_edge_runtime::claims::Policy { trusted_issuers: [issuer.public_key()].into(), ..Default::default() };
    let host = host_edge_runtime::Host::with_state_dir(policy, dir.path().join("state"));
    host.add_provider("kv", &path).unwrap();
    let removed = host.update_policy(|policy| {
        policy.revoked_subjects.insert(subject.public_key());
    });
    assert!(host.providers().is_empty(), "the revoked provider is gone");
    assert!(removed.iter().any(|line| line.contains("removed provider kv") && line.contains("is revoked")), "{removed:?}");
    let err = host.add_provider("kv", &path).unwrap_err();
    assert!(err.to_string().contains("claims check `subject-revocation` failed"), "{err}");
    host.shutdown();
}

#[test]
fn a_bare_library_given_to_a_running_host_as_ctl_add_provider_gives_it_is_refused_and_nothing_loads() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_edge_runtime::Host::with_state_dir(host_edge_runtime::claims::Policy::default(), dir.path().join("state"));
    let add = host_edge_runtime::Command::AddProvider {
        name: "kv".into(),
        path: provider_library("keyvalue_sqlite"),
        settings: Default::default(),
    };
    let err = host.execute(add).unwrap_err();
    assert!(err.to_string().contains("is not signed: host-edge loads native providers from signed provider archives"), "{err}");
    assert!(host.providers().is_empty());
    host.shutdown();
}
