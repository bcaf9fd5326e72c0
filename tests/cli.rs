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

/// Writes `tampered.wasm`: the signed echo with one byte changed.
fn write_tampered_echo(dir: &Path) {
    let mut module = std::fs::read(dir.join("echo_s.wasm")).unwrap();
    let middle = module.len() / 3;
    module[middle] ^= 0x20;
    std::fs::write(dir.join("tampered.wasm"), module).unwrap();
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
fn sign_warns_about_a_misspelt_or_misplaced_capability_id_and_still_signs() {
    let dir = tempfile::tempdir().unwrap();
    keys_and_signed_echo(dir.path());
    let base = ["sign", "echo.wasm", "-o", "doubted.wasm", "--issuer", "issuer.nk", "--subject", "echo.nk"];
    let sign = |extra: &[&str]| host_edge(dir.path(), &[&base[..], extra].concat());

    let out = sign(&["--cap", "wascc:keyvalu", "--cap", "wascc:thermostat", "--cap", "acme:thermostat", "-s"]);
    assert!(out.status.success(), "{out:?}");
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.contains("warning: `wascc:keyvalu` is not a capability host-edge knows (did you mean `wascc:keyvalue`?)"), "{warnings}");
    assert!(warnings.contains("`wascc:` is reserved for the well-known ones"), "{warnings}");
    assert!(!warnings.contains("warning: `acme:thermostat`"), "a namespace of one's own is fine: {warnings}");
    assert!(!warnings.contains("warning: `wascc:http_server`"), "a well-known id is fine: {warnings}");

    let out = sign(&["--grant", "iot:gpi=out:led"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `iot:gpio`?"), "{out:?}");
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
fn sign_lists_the_actors_it_may_call_and_inspect_shows_them_apart_from_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = keys_and_signed_echo(dir.path());
    let callee = nkeys::KeyPair::new_module().public_key();
    let sign = |call: &str| {
        host_edge(
            dir.path(),
            &["sign", "echo.wasm", "-o", "caller.wasm", "--issuer", "issuer.nk", "--subject", "echo.nk", "-s", "--call", call],
        )
    };
    let signed = sign(&callee);
    assert!(signed.status.success(), "{signed:?}");
    let text = stdout(&host_edge(dir.path(), &["inspect", "caller.wasm", "--trust", &issuer]));
    assert!(text.contains("capabilities wascc:http_server\n"), "the key is not shown as a capability: {text}");
    assert!(text.contains(&format!("may call     {callee}")), "{text}");

    // An account key, or a key with a broken checksum, is not an actor.
    let refused = sign(&nkeys::KeyPair::new_account().public_key());
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("cannot sign: the actor to allow calling"), "{err}");
}

#[test]
fn inspect_and_call_refuse_a_tampered_module_naming_the_check() {
    let dir = tempfile::tempdir().unwrap();
    keys_and_signed_echo(dir.path());
    write_tampered_echo(dir.path());

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
            "[policy]\ntrusted_issuers = [\"{issuer}\"]\n\n[[actor]]\npath = \"echo_s.wasm\"\ninstances = 2\n"
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
    assert!(log.contains("serving echo rev - with 2 instance(s)"), "what is served is said: {log}");
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
    assert!(err.contains("bad.toml:3: [[actor]] #1: invalid type: string \"two\", expected usize"), "{err}");
}

#[test]
fn check_and_run_refuse_a_manifest_with_three_mistakes_naming_each_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = keys_and_signed_echo(dir.path());
    std::fs::write(dir.path().join("broken.so"), "not a library").unwrap();
    let manifest = format!(
        r#"[policy]
trusted_issuers = ["{issuer}", "{providers}"]

[[actor]]
path = "echo_s.wasm"

[[actor]]
path = "missing.wasm"

[[provider]]
name = "broken"
path = "broken.so"

[[provider]]
name = "http"
path = "{http}"

[[link]]
actor = "echo"
capability = "wascc:http_server"
provider = "http"
values = {{ PROT = "8080" }}
"#,
        http = testkit::provider_archive("http_server").display(),
        providers = testkit::provider_issuer().public_key(),
    );
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    let expected = [
        "manifest.toml:7: [[actor]]",                 // the missing module
        "manifest.toml:10: [[provider]] `broken`",    // not a library
        "manifest.toml:18: [[link]] echo wascc:http_server -> `http`: provider `http`",
        "`PROT` is not a setting (did you mean `PORT`?)",
    ];
    let out = host_edge(dir.path(), &["check", "manifest.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for problem in expected {
        assert!(text.contains(problem), "{problem} in:\n{text}");
    }
    assert!(text.contains("missing.wasm") && text.contains("broken.so refused: claims check `archive` failed: not a provider archive"), "{text}");

    let out = host_edge(dir.path(), &["run", "manifest.toml", "--control", "control.sock"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for problem in expected {
        assert!(err.contains(problem), "{problem} in:\n{err}");
    }
    assert!(err.contains("nothing was started"), "{err}");
    assert!(!err.contains("host-edge is serving"), "{err}");
}

#[test]
fn check_and_run_list_structural_mistakes_with_the_rest_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = keys_and_signed_echo(dir.path());
    let manifest = format!(
        r#"[policy]
trusted_issuers = ["{issuer}", "{providers}"]

[[actor]]
path = "echo_s.wasm"
instance = 2

[[provider]]
name = "http"
path = "{http}"

[[provider]]
name = "kv"
path = "missing.par.gz"

[[link]]
actor = "echo"
capability = "wascc:http_server"
provider = "htpp"
"#,
        http = testkit::provider_archive("http_server").display(),
        providers = testkit::provider_issuer().public_key(),
    );
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    let expected = [
        "manifest.toml:6: [[actor]] #1: unknown field `instance`", // a mistyped key
        "did you mean `instances`?",
        "manifest.toml:12: [[provider]] `kv`: provider file", // a missing library
        "manifest.toml:16: [[link]] for echo on wascc:http_server names provider `htpp`, which no [[provider]] defines (did you mean `http`?)",
    ];
    let out = host_edge(dir.path(), &["check", "manifest.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for problem in expected {
        assert!(text.contains(problem), "{problem} in:\n{text}");
    }
    let out = host_edge(dir.path(), &["run", "manifest.toml", "--control", "control.sock"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for problem in expected {
        assert!(err.contains(problem), "{problem} in:\n{err}");
    }
}

#[test]
fn run_fails_naming_the_address_when_the_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = keys_and_signed_echo(dir.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let manifest = format!(
        "[policy]\ntrusted_issuers = [\"{issuer}\", \"{providers}\"]\n\n[[actor]]\npath = \"echo_s.wasm\"\n\n[[provider]]\nname = \"http\"\npath = \"{http}\"\n\n[[link]]\nactor = \"echo\"\ncapability = \"wascc:http_server\"\nprovider = \"http\"\nvalues = {{ ADDRESS = \"127.0.0.1\", PORT = \"{port}\" }}\n",
        http = testkit::provider_archive("http_server").display(),
        providers = testkit::provider_issuer().public_key(),
    );
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    let out = host_edge(dir.path(), &["run", "manifest.toml", "--control", "control.sock"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{err}");
    assert!(err.contains("nothing is served"), "{err}");
    drop(taken);
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    let dir = tempfile::tempdir().unwrap();
    for sub in [&["keys", "generate"][..], &["sign"], &["inspect"], &["call"], &["run"], &["check"], &["ctl", "status"]] {
        let mut args = sub.to_vec();
        args.push("--help");
        let out = host_edge(dir.path(), &args);
        assert!(out.status.success(), "{sub:?}");
        assert!(stdout(&out).contains("Examples:"), "{sub:?} help has examples");
    }
}

/// `host-edge` in `dir` with none of the variables that shape the log set,
/// as on a fresh shell: no NO_COLOR, no JOURNAL_STREAM, no log format, no
/// RUST_LOG.
fn host_edge_with_plain_env(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(host_edge_bin());
    command.current_dir(dir).args(args);
    for variable in ["NO_COLOR", "JOURNAL_STREAM", "HOST_EDGE_LOG_FORMAT", "RUST_LOG"] {
        command.env_remove(variable);
    }
    command
}

#[test]
fn logs_written_to_a_pipe_have_no_colour_codes_even_without_no_color() {
    let dir = tempfile::tempdir().unwrap();
    keys_and_signed_echo(dir.path());
    // No --trust: a warning as well as info lines.
    let out = host_edge_with_plain_env(dir.path(), &["call", "echo_s.wasm", "Echo", "hi"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WARN") && err.contains("no trusted issuers"), "{err}");
    assert!(err.contains("INFO") && err.contains("actor started"), "{err}");
    assert!(!err.contains("\x1b["), "escape codes on a pipe: {err:?}");
}

#[test]
fn log_format_json_writes_one_json_object_a_line_each_with_a_level() {
    let dir = tempfile::tempdir().unwrap();
    keys_and_signed_echo(dir.path());
    let out = host_edge_with_plain_env(dir.path(), &["call", "echo_s.wasm", "Echo", "hi", "--log-format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"hi");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(lines.len() >= 2, "{err}");
    for line in &lines {
        assert!(line["level"].is_string() && line["timestamp"].is_string() && line["target"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l["level"] == "WARN" && l["message"].as_str().unwrap().contains("no trusted issuers")), "{err}");
    let started = lines.iter().find(|l| l["message"] == "actor started").expect("an `actor started` line");
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["instances"], 1, "fields keep their JSON type: {started}");

    // Chosen by the environment too, and the final error is a JSON line as well.
    std::fs::write(dir.path().join("unsigned.wasm"), actor_module("echo")).unwrap();
    let out = host_edge_with_plain_env(dir.path(), &["call", "unsigned.wasm", "Echo"])
        .env("HOST_EDGE_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(last["level"], "ERROR", "{err}");
    assert!(last["message"].as_str().unwrap().contains("not signed"), "{err}");
}

#[test]
fn under_journald_each_line_starts_with_its_syslog_priority_and_has_no_timestamp() {
    use std::os::unix::fs::MetadataExt;
    /// Whether `text` holds an RFC 3339 date and time (`2026-11-22T05:`…).
    fn has_timestamp(text: &str) -> bool {
        text.as_bytes().windows(11).any(|w| {
            w.iter().enumerate().all(|(i, &b)| match i {
                4 | 7 => b == b'-',
                10 => b == b'T',
                _ => b.is_ascii_digit(),
            })
        })
    }
    let dir = tempfile::tempdir().unwrap();
    keys_and_signed_echo(dir.path());
    std::fs::write(dir.path().join("unsigned.wasm"), actor_module("echo")).unwrap();
    let journal = dir.path().join("journal.log");
    let run = |args: &[&str], stream: &dyn Fn(&std::fs::Metadata) -> String| {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&journal).unwrap();
        let value = stream(&file.metadata().unwrap());
        host_edge_with_plain_env(dir.path(), args)
            .env("JOURNAL_STREAM", value)
            .stdout(Stdio::null())
            .stderr(file)
            .status()
            .unwrap()
    };
    let this_stream = |meta: &std::fs::Metadata| format!("{}:{}", meta.dev(), meta.ino());

    assert!(run(&["call", "echo_s.wasm", "Echo", "hi"], &this_stream).success());
    assert!(!run(&["call", "unsigned.wasm", "Echo"], &this_stream).success());
    let log = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.iter().all(|l| l.len() > 3 && l.starts_with('<') && l.as_bytes()[2] == b'>'), "{log}");
    assert!(lines.iter().any(|l| l.starts_with("<4>WARN") && l.contains("no trusted issuers")), "{log}");
    assert!(lines.iter().any(|l| l.starts_with("<6>INFO") && l.contains("actor started")), "{log}");
    assert!(lines.iter().any(|l| l.starts_with("<3>error: ") && l.contains("not signed")), "{log}");
    assert!(!log.contains("\x1b["), "{log:?}");
    assert!(!has_timestamp(&log), "journald adds the timestamps: {log}");

    // JSON lines get the prefix too (journald strips it).
    std::fs::remove_file(&journal).unwrap();
    assert!(run(&["call", "echo_s.wasm", "Echo", "hi", "--log-format", "json"], &this_stream).success());
    let log = std::fs::read_to_string(&journal).unwrap();
    let info = log.lines().find(|l| l.contains("actor started")).unwrap_or_else(|| panic!("{log}"));
    let json = info.strip_prefix("<6>").unwrap_or_else(|| panic!("{info}"));
    assert_eq!(serde_json::from_str::<serde_json::Value>(json).unwrap()["level"], "INFO");

    // A JOURNAL_STREAM naming another file (inherited by a child that
    // redirected its stderr) is not the journal: plain text, with timestamps.
    std::fs::remove_file(&journal).unwrap();
    let other_stream = |meta: &std::fs::Metadata| format!("{}:{}", meta.dev(), meta.ino() + 1);
    assert!(run(&["call", "echo_s.wasm", "Echo", "hi"], &other_stream).success());
    let log = std::fs::read_to_string(&journal).unwrap();
    assert!(!log.contains("<6>") && !log.contains("<4>"), "{log}");
    assert!(log.contains("INFO") && has_timestamp(&log), "{log}");
}

#[test]
fn keys_generate_onto_an_existing_seed_says_so_once_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    assert!(host_edge(dir.path(), &["keys", "generate", "account", "-o", "a.nk"]).status.success());
    let before = std::fs::read(dir.path().join("a.nk")).unwrap();
    let out = host_edge(dir.path(), &["keys", "generate", "account", "-o", "a.nk"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: a.nk already exists"), "{err}");
    assert_eq!(err.matches("exists").count(), 1, "said once: {err}");
    assert!(err.contains("give another file with `-o`"), "the next step: {err}");
    assert_eq!(std::fs::read(dir.path().join("a.nk")).unwrap(), before, "the old seed is kept");
}

#[test]
fn an_unsigned_module_is_refused_once_with_the_command_that_signs_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("echo.wasm"), actor_module("echo")).unwrap();

    let out = host_edge(dir.path(), &["call", "echo.wasm", "Echo", "x"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let error = err.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("{err}"));
    assert_eq!(error.matches("claims check `claims-section` failed").count(), 1, "{error}");
    assert_eq!(error.matches("not signed").count(), 1, "{error}");
    assert!(error.contains("has no claims section") && error.contains("sign it with `host-edge sign "), "{error}");

    let out = host_edge(dir.path(), &["inspect", "echo.wasm"]);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert_eq!(text.matches("not signed").count(), 1, "{text}");
    assert!(text.contains("verdict: refused (claims check `claims-section` failed)"), "{text}");
}

#[test]
fn a_tampered_module_and_a_missing_file_are_each_refused_saying_why_once() {
    let dir = tempfile::tempdir().unwrap();
    keys_and_signed_echo(dir.path());
    write_tampered_echo(dir.path());

    let out = host_edge(dir.path(), &["call", "tampered.wasm", "Echo", "x"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("claims check `hash` failed").count(), 1, "{err}");
    assert_eq!(err.matches("changed after signing").count(), 1, "{err}");

    let out = host_edge(dir.path(), &["call", "missing.wasm", "Echo", "x"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.wasm") && err.contains("No such file"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");

    let out = host_edge(dir.path(), &["sign", "echo_s.wasm", "-o", "x.wasm", "--issuer", "absent.nk", "--subject", "echo.nk"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("absent.nk"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

#[test]
fn a_new_actor_builds_signs_and_answers_a_json_call_from_a_clean_directory() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = testkit::repo_root().join("actors/sdk");
    let out = host_edge(dir.path(), &["new", "actor", "door-bell", "--sdk", sdk.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("cd door-bell && cargo build --release"), "{out:?}");
    let again = host_edge(dir.path(), &["new", "actor", "door-bell", "--sdk", sdk.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("door-bell exists already; nothing was written"), "{again:?}");

    let project = dir.path().join("door-bell");
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&project)
        .args(["build", "--release", "--quiet"])
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    std::fs::copy(project.join("target/wasm32-unknown-unknown/release/door_bell.wasm"), dir.path().join("door_bell.wasm")).unwrap();
    for (kind, file) in [("account", "issuer.nk"), ("module", "door_bell.nk")] {
        assert!(host_edge(dir.path(), &["keys", "generate", kind, "-o", file]).status.success());
    }
    let sign = ["sign", "door_bell.wasm", "-o", "door_bell_s.wasm", "--issuer", "issuer.nk", "--subject", "door_bell.nk", "--name", "door-bell", "-s", "-k"];
    assert!(host_edge(dir.path(), &sign).status.success());

    // Alone, the key-value store is not linked: the actor says so in its answer.
    let json = r#"{"path": "/hello", "queryString": "name=edge"}"#;
    let out = host_edge(dir.path(), &["call", "door_bell_s.wasm", "HandleRequest", "--json", json]);
    assert!(out.status.success(), "{out:?}");
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["statusCode"], 200, "{reply}");
    assert_eq!(reply["body"], r#"{"hello":"edge","count":"?"}"#, "{reply}");

    // With its providers from a manifest, it counts.
    let manifest = format!(
        "[[actor]]\npath = \"door_bell_s.wasm\"\n\n[[provider]]\nname = \"kv\"\npath = \"{}\"\n\n[[link]]\nactor = \"door-bell\"\ncapability = \"wascc:keyvalue\"\nprovider = \"kv\"\nvalues = {{ PATH = \"kv.db\" }}\n",
        testkit::provider_archive("keyvalue_sqlite").display()
    );
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    for count in ["1", "2"] {
        let out = host_edge(dir.path(), &["call", "door-bell", "HandleRequest", "--with-providers", "manifest.toml", "--json", json]);
        assert!(out.status.success(), "{out:?}");
        let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(reply["body"], format!(r#"{{"hello":"edge","count":"{count}"}}"#), "{reply}");
    }
    let out = host_edge(dir.path(), &["call", "door-bel", "HandleRequest", "--with-providers", "manifest.toml", "--json", json]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs no actor named `door-bel` (did you mean `door-bell`?)"), "{out:?}");
    let out = host_edge(dir.path(), &["call", "door_bell_s.wasm", "HandleRequest", "--json", r#"{"pth": "/"}"#]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("HandleRequest has no field `pth` (did you mean `path`?)"), "{out:?}");
}
