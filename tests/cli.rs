//! The `host-edge` binary, driven as a user would drive it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use testkit::{actor_module, host_edge_bin};

fn host_edge(dir: &Path, args: &[&str]) -> Output {
    Command::new(host_edge_bin())
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("host-edge runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Generates keys and signs the echo actor in `dir` with the CLI; returns the
/// issuer's public key.
fn keys_and_signed_echo(dir: &Path) -> String {
    std::fs::write(dir.join("echo.wasm"), actor_module("echo")).unwrap();
    let issuer = host_edge(dir, &["keys", "generate", "account", "-o", "issuer.nk"]);
    assert!(issuer.status.success(), "{issuer:?}");
    assert!(host_edge(dir, &["keys", "generate", "module", "-o", "echo.nk"]).status.success());
    let signed = host_edge(
        dir,
        &["sign", "echo.wasm", "-o", "echo_s.wasm", "--issuer", "issuer.nk", "--subject", "echo.nk", "--name", "echo", "-k", "--cap", "wasmcloud:httpserver", "--expires-in", "30d"],
    );
    assert!(signed.status.success(), "{signed:?}");
    stdout(&issuer)
}

#[test]
fn keys_generate_writes_a_private_seed_and_prints_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = host_edge(dir.path(), &["keys", "generate", "account", "-o", "a.nk"]);
    assert!(out.status.success());
    let public = stdout(&out);
    assert!(public.starts_with('A') && public.len() == 56, "{public}");
    let seed = std::fs::read_to_string(dir.path().join("a.nk")).unwrap();
    assert!(seed.starts_with("SA"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("a.nk")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = host_edge(dir.path(), &["keys", "generate", "account", "-o", "a.nk"]);
    assert!(!again.status.success(), "an existing seed is never overwritten");
}

#[test]
fn a_signed_actor_answers_through_host_edge_call() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = keys_and_signed_echo(dir.path());
    let out = host_edge(dir.path(), &["call", "echo_s.wasm", "Echo", "hello edge", "--trust", &issuer]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"hello edge");
}

#[test]
fn inspect_shows_the_claims_and_every_verdict_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = keys_and_signed_echo(dir.path());
    let out = host_edge(dir.path(), &["inspect", "echo_s.wasm", "--json", "--trust", &issuer]);
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "accepted");
    assert_eq!(report["claims"]["iss"], issuer.as_str());
    assert_eq!(report["claims"]["wascap"]["caps"], serde_json::json!(["wascc:http_server", "wascc:keyvalue"]));
    assert_eq!(report["checks"].as_array().unwrap().len(), 15);
}

#[test]
fn sign_writes_fine_grained_grants_and_inspect_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = keys_and_signed_echo(dir.path());
    let sign = |grants: &[&str]| {
        let mut args = vec!["sign", "echo.wasm", "-o", "granted.wasm", "--issuer", "issuer.nk", "--subject", "echo.nk", "-k"];
        for grant in grants {
            args.extend(["--grant", grant]);
        }
        host_edge(dir.path(), &args)
    };
    let signed = sign(&["wasmcloud:keyvalue=prefix:sensors:", "wascc:keyvalue=exact:config"]);
    assert!(signed.status.success(), "{signed:?}");

    let out = host_edge(dir.path(), &["inspect", "granted.wasm", "--trust", &issuer]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("grants       wascc:keyvalue: prefix:sensors:, exact:config"), "{text}");
    assert!(text.contains("grants               wascc:keyvalue: prefix:sensors:, exact:config"), "{text}");

    let out = host_edge(dir.path(), &["inspect", "granted.wasm", "--json", "--trust", &issuer]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["claims"]["wascap"]["grants"],
        serde_json::json!({"wascc:keyvalue": ["prefix:sensors:", "exact:config"]})
    );

    let refused = sign(&["wascc:messaging=prefix:a"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("the token does not grant wascc:messaging; add the capability"), "{err}");

    let malformed = sign(&["wascc:keyvalue=sensors"]);
    assert!(!malformed.status.success());
    let err = String::from_utf8_lossy(&malformed.stderr);
    assert!(err.contains("`sensors` is not a grant rule"), "{err}");
}

#[test]
fn inspect_and_call_refuse_a_tampered_module_naming_the_check() {
    let dir = tempfile::tempdir().unwrap();
    keys_and_signed_echo(dir.path());
    let mut module = std::fs::read(dir.path().join("echo_s.wasm")).unwrap();
    let middle = module.len() / 3;
    module[middle] ^= 0x20;
    std::fs::write(dir.path().join("tampered.wasm"), module).unwrap();

    let out = host_edge(dir.path(), &["inspect", "tampered.wasm"]);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(text.contains("verdict: refused (claims check `hash` failed"), "{text}");

    let out = host_edge(dir.path(), &["call", "tampered.wasm", "Echo", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("claims check `hash` failed"), "{out:?}");
}

#[test]
fn run_serves_until_sigterm_and_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = keys_and_signed_echo(dir.path());
    std::fs::write(
        dir.path().join("manifest.toml"),
        format!(
            "[policy]\ntrusted_issuers = [\"{issuer}\"]\n\n[[actor]]\npath = \"echo_s.wasm\"\ninstances = 2\n\n[[actor]]\npath = \"missing.wasm\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(host_edge_bin())
        .current_dir(dir.path())
        .args(["run", "manifest.toml", "--control", "control.sock"])
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let serving = line.contains("host-edge is serving");
        seen.push(line);
        if serving {
            break;
        }
    }
    let log = seen.join("\n");
    assert!(log.contains("host-edge is serving"), "{log}");
    assert!(log.contains("missing.wasm") && log.contains("actor not started"), "a bad entry is named: {log}");
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "exit {status:?}: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}

#[test]
fn run_refuses_a_bad_manifest_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[[actor]]\npath = \"a.wasm\"\ninstances = \"two\"\n").unwrap();
    let out = host_edge(dir.path(), &["run", "bad.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("manifest bad.toml") && err.contains("line 3"), "{err}");
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    let dir = tempfile::tempdir().unwrap();
    for sub in [&["keys", "generate"][..], &["sign"], &["inspect"], &["call"], &["run"]] {
        let mut args = sub.to_vec();
        args.push("--help");
        let out = host_edge(dir.path(), &args);
        assert!(out.status.success(), "{sub:?}");
        assert!(stdout(&out).contains("Examples:"), "{sub:?} help has examples");
    }
}
