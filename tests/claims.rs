//! Claims verification on real modules built from `actors/`: every refusal
//! names the check that failed, and tokens move both ways between host-edge
//! and wascap.

use data_encoding::BASE64URL_NOPAD;
use host_edge_runtime::claims::policy::now_secs;
use host_edge_runtime::claims::section::{scan, strip_claims};
use host_edge_runtime::claims::{inspect, verify, Check, ClockRule, Outcome, Policy, SignOptions};
use host_edge_runtime::{Actor, Host};
use nkeys::KeyPair;
use testkit::{actor_module, options, Signer};

fn refusal(module: &[u8], policy: &Policy) -> Check {
    let err = verify(module, policy, now_secs()).expect_err("the module must be refused");
    assert!(
        err.to_string().starts_with(&format!("claims check `{}` failed: ", err.check)),
        "the error names its check: {err}"
    );
    err.check
}

fn token_of(module: &[u8]) -> String {
    scan(module).unwrap().claims[0].token.clone()
}

/// Replaces the token in `module` with `jwt` (no re-signing).
fn with_token(module: &[u8], jwt: &str) -> Vec<u8> {
    host_edge_runtime::claims::section::append_claims(&strip_claims(module).unwrap(), jwt)
}

fn claims_json(jwt: &str) -> serde_json::Value {
    let segment = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&BASE64URL_NOPAD.decode(segment.as_bytes()).unwrap()).unwrap()
}

fn encode_json(value: &serde_json::Value) -> String {
    BASE64URL_NOPAD.encode(value.to_string().as_bytes())
}

/// A token with the given claims JSON, signed by `key`.
fn token_signed_by(claims: &serde_json::Value, key: &KeyPair) -> String {
    let header = encode_json(&serde_json::json!({"typ": "jwt", "alg": "Ed25519"}));
    let signing_input = format!("{header}.{}", encode_json(claims));
    let signature = key.sign(signing_input.as_bytes()).unwrap();
    format!("{signing_input}.{}", BASE64URL_NOPAD.encode(&signature))
}

#[test]
fn a_signed_actor_answers_through_the_library_api() {
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let host = Host::new(Policy::default());
    let key = host.start_actor(host.load(&signed).unwrap(), 1, Default::default()).unwrap();
    assert_eq!(host.call(&key, "Echo", b"hello edge").unwrap(), b"hello edge");
    assert_eq!(host.call("echo", "Echo", b"by name").unwrap(), b"by name");
}

#[test]
fn a_signed_module_passes_every_check() {
    let signer = Signer::new();
    let signed = signer.sign(&actor_module("echo"), "echo", &["wascc:keyvalue", "wasmcloud:httpserver"]);
    let policy = Policy {
        trusted_issuers: [signer.issuer.public_key()].into(),
        ..Policy::default()
    };
    let report = inspect(&signed, &policy, now_secs());
    for result in &report.checks {
        assert!(matches!(result.outcome, Outcome::Passed(_)), "{:?}", result);
    }
    let verified = report.into_verified().unwrap();
    assert_eq!(verified.subject(), signer.subject.public_key());
    assert_eq!(verified.capabilities(), ["wascc:keyvalue", "wascc:http_server"]);
}

#[test]
fn an_unsigned_module_is_refused() {
    assert_eq!(refusal(&actor_module("echo"), &Policy::default()), Check::ClaimsSection);
}

#[test]
fn one_changed_code_byte_is_refused() {
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let code = wasmparser::Parser::new(0)
        .parse_all(&signed)
        .find_map(|p| match p.unwrap() {
            wasmparser::Payload::CodeSectionStart { range, .. } => Some(range),
            _ => None,
        })
        .unwrap();
    let mut tampered = signed.clone();
    tampered[(code.start + code.end) / 2] ^= 0x01;
    assert_eq!(refusal(&tampered, &Policy::default()), Check::Hash);
}

#[test]
fn edited_claims_are_refused() {
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let jwt = token_of(&signed);
    let mut claims = claims_json(&jwt);
    claims["wascap"]["caps"] = serde_json::json!(["wascc:keyvalue"]);
    let parts: Vec<&str> = jwt.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], encode_json(&claims), parts[2]);
    assert_eq!(refusal(&with_token(&signed, &forged), &Policy::default()), Check::Signature);
}

#[test]
fn a_token_signed_by_another_key_than_its_issuer_is_refused() {
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let claims = claims_json(&token_of(&signed));
    let forged = token_signed_by(&claims, &KeyPair::new_account());
    assert_eq!(refusal(&with_token(&signed, &forged), &Policy::default()), Check::Signature);
}

#[test]
fn a_bad_nkey_checksum_is_refused() {
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let mut claims = claims_json(&token_of(&signed));
    let issuer = claims["iss"].as_str().unwrap().to_owned();
    let last = issuer.chars().last().unwrap();
    let flipped = format!("{}{}", &issuer[..issuer.len() - 1], if last == 'A' { 'B' } else { 'A' });
    claims["iss"] = flipped.into();
    let forged = token_signed_by(&claims, &KeyPair::new_account());
    assert_eq!(refusal(&with_token(&signed, &forged), &Policy::default()), Check::IssuerKey);

    let mut claims = claims_json(&token_of(&signed));
    let subject = claims["sub"].as_str().unwrap().to_owned();
    claims["sub"] = format!("{}{}", &subject[..55], if subject.ends_with('Q') { 'R' } else { 'Q' }).into();
    let signer = KeyPair::new_account();
    claims["iss"] = signer.public_key().into();
    let forged = token_signed_by(&claims, &signer);
    assert_eq!(refusal(&with_token(&signed, &forged), &Policy::default()), Check::SubjectKey);
}

#[test]
fn an_expired_token_is_refused() {
    let now = now_secs();
    let signed = Signer::new().sign_with(
        &actor_module("echo"),
        &SignOptions {
            issued_at: now - 3600,
            expires: Some(now - 60),
            ..options("echo", &[])
        },
    );
    assert_eq!(refusal(&signed, &Policy::default()), Check::Expiry);
}

#[test]
fn a_token_not_yet_valid_is_refused() {
    let now = now_secs();
    let signed = Signer::new().sign_with(
        &actor_module("echo"),
        &SignOptions {
            not_before: Some(now + 3600),
            ..options("echo", &[])
        },
    );
    assert_eq!(refusal(&signed, &Policy::default()), Check::NotBefore);
}

#[test]
fn an_untrusted_issuer_is_refused() {
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let policy = Policy {
        trusted_issuers: [KeyPair::new_account().public_key()].into(),
        ..Policy::default()
    };
    assert_eq!(refusal(&signed, &policy), Check::TrustedIssuer);
}

#[test]
fn a_revoked_subject_is_refused() {
    let signer = Signer::new();
    let signed = signer.sign(&actor_module("echo"), "echo", &[]);
    let policy = Policy {
        revoked_subjects: [signer.subject.public_key()].into(),
        ..Policy::default()
    };
    assert_eq!(refusal(&signed, &policy), Check::SubjectRevocation);
}

#[test]
fn a_revoked_token_id_is_refused() {
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let jti = claims_json(&token_of(&signed))["jti"].as_str().unwrap().to_owned();
    let policy = Policy {
        revoked_tokens: [jti].into(),
        ..Policy::default()
    };
    assert_eq!(refusal(&signed, &policy), Check::TokenRevocation);
}

#[test]
fn malformed_and_truncated_modules_are_refused() {
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    assert_eq!(refusal(&signed[..signed.len() / 2], &Policy::default()), Check::Module);
    assert_eq!(refusal(b"\0asm\x01\0\0\0\x01\xff\xff", &Policy::default()), Check::Module);
    assert_eq!(refusal(b"ELF not wasm", &Policy::default()), Check::Module);
    assert_eq!(refusal(b"", &Policy::default()), Check::Module);
}

#[test]
fn a_module_with_two_claims_sections_is_refused() {
    let signer = Signer::new();
    let signed = signer.sign(&actor_module("echo"), "echo", &[]);
    let doubled = host_edge_runtime::claims::section::append_claims(&signed, &token_of(&signed));
    assert_eq!(refusal(&doubled, &Policy::default()), Check::ClaimsSection);
}

#[test]
fn signed_but_invalid_code_is_refused_by_the_engine() {
    // Framing intact, claims valid, code nonsense: the engine refuses it.
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.extend_from_slice(&[1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 10, 4, 1, 2, 0, 0xff]);
    let host_edge_refuses_to_sign =
        host_edge_runtime::claims::sign_module(&module, &KeyPair::new_account(), &KeyPair::new_module(), &options("x", &[]));
    assert!(host_edge_refuses_to_sign.unwrap_err().to_string().contains("invalid"));
}

#[test]
fn resigning_replaces_the_old_claims() {
    let first = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let second_signer = Signer::new();
    let second = second_signer.sign(&first, "echo-2", &["wascc:logging"]);
    assert_eq!(scan(&second).unwrap().claims.len(), 1);
    assert_eq!(strip_claims(&second).unwrap(), actor_module("echo"));
    let verified = verify(&second, &Policy::default(), now_secs()).unwrap();
    assert_eq!(verified.subject(), second_signer.subject.public_key());
    assert_eq!(verified.capabilities(), ["wascc:logging"]);
}

#[test]
fn a_clock_behind_the_issue_time_is_handled_by_the_clock_rule() {
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[]);
    let unset_clock = 0; // a board without an RTC, booted offline
    let lenient = Policy::default();
    assert_eq!(lenient.clock, ClockRule::TrustIssuedAt);
    let verified = verify(&signed, &lenient, unset_clock).unwrap();
    assert!(verified.warnings.iter().any(|w| w.starts_with("clock:")), "{:?}", verified.warnings);

    let strict = Policy {
        clock: ClockRule::Reject,
        ..Policy::default()
    };
    let err = verify(&signed, &strict, unset_clock).unwrap_err();
    assert_eq!(err.check, Check::Clock);
    assert!(err.to_string().contains("clock is probably not set"), "{err}");
}

#[test]
fn an_unset_clock_does_not_revive_a_token_that_expired_before_it_was_issued() {
    let now = now_secs();
    let signed = Signer::new().sign_with(
        &actor_module("echo"),
        &SignOptions {
            issued_at: now,
            expires: Some(now - 1),
            ..options("echo", &[])
        },
    );
    let err = verify(&signed, &Policy::default(), 0).unwrap_err();
    assert_eq!(err.check, Check::Expiry);
}

#[test]
fn a_module_signed_by_host_edge_passes_wascap() {
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &["wascc:keyvalue"]);
    let jwt = token_of(&signed);
    let validation = wascap::jwt::validate_token::<wascap::jwt::Component>(&jwt).unwrap();
    assert!(validation.signature_valid);
    assert!(!validation.expired);
    assert!(!validation.cannot_use_yet);
    // wascap also recomputes our module hash (we write wascap_revision 3).
    let token = wascap::wasm::extract_claims(&signed).unwrap().expect("wascap finds the claims");
    assert_eq!(token.jwt, jwt);
}

#[test]
fn a_module_signed_by_wascap_passes_host_edge() {
    let account = KeyPair::new_account();
    let module_key = KeyPair::new_module();
    let signed = wascap::wasm::sign_buffer_with_claims(
        "echo".into(),
        actor_module("echo"),
        &module_key,
        &account,
        Some(30),
        None,
        vec!["demo".into()],
        false,
        Some(1),
        Some("0.1.0".into()),
        None,
    )
    .unwrap();
    assert_eq!(scan(&signed).unwrap().claims[0].name, "wasmcloud_jwt");
    let policy = Policy {
        trusted_issuers: [account.public_key()].into(),
        ..Policy::default()
    };
    let actor = Actor::from_bytes(&signed, &policy, now_secs()).unwrap();
    assert_eq!(actor.subject(), module_key.public_key());
    assert_eq!(actor.name(), "echo");
}

#[test]
fn a_tampered_legacy_token_is_refused_although_wascap_accepts_it() {
    // A waSCC-era token carries no `wascap_revision`; wascap 0.16 then skips
    // the hash. host-edge checks the hash of every token.
    let account = KeyPair::new_account();
    let original = actor_module("echo");
    let claims = serde_json::json!({
        "jti": "legacy-1",
        "iat": now_secs(),
        "iss": account.public_key(),
        "sub": KeyPair::new_module().public_key(),
        "wascap": {
            "name": "legacy",
            "hash": host_edge_runtime::claims::section::hash_bytes(&original),
            "caps": ["wascc:keyvalue"],
            "prov": false
        }
    });
    let signed = with_token(&original, &token_signed_by(&claims, &account));
    assert!(verify(&signed, &Policy::default(), now_secs()).is_ok(), "the untampered legacy token verifies");

    let mut tampered = signed.clone();
    let middle = original.len() / 2;
    tampered[middle] ^= 0x01;
    assert!(wascap::wasm::extract_claims(&tampered).unwrap().is_some(), "wascap 0.16 accepts it");
    assert_eq!(refusal(&tampered, &Policy::default()), Check::Hash);
}

#[test]
fn a_module_signed_as_a_wascc_portable_provider_is_not_run_as_an_actor_and_inspect_says_what_it_is() {
    let account = KeyPair::new_account();
    let original = actor_module("echo");
    let claims = serde_json::json!({
        "jti": "portable-1",
        "iat": now_secs(),
        "iss": account.public_key(),
        "sub": KeyPair::new_module().public_key(),
        "wascap": {
            "name": "redis-portable",
            "hash": host_edge_runtime::claims::section::hash_bytes(&original),
            "caps": ["wascc:keyvalue"],
            "prov": true
        }
    });
    let signed = with_token(&original, &token_signed_by(&claims, &account));
    assert!(verify(&signed, &Policy::default(), now_secs()).is_ok(), "its claims themselves are valid");

    let err = Actor::from_bytes(&signed, &Policy::default(), now_secs()).unwrap_err();
    assert!(matches!(err, host_edge_runtime::LoadError::PortableProvider { .. }), "{err:?}");
    assert!(err.to_string().contains("redis-portable"), "{err}");
    assert!(err.to_string().contains("waSCC portable capability provider (prov: true), not an actor"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("redis-portable.wasm");
    std::fs::write(&file, &signed).unwrap();
    let output = std::process::Command::new(testkit::host_edge_bin()).arg("inspect").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "the host would not run it: {stdout}");
    assert!(stdout.contains("kind         waSCC portable capability provider (prov: true)"), "{stdout}");
    assert!(stdout.contains("serves       wascc:keyvalue"), "{stdout}");
    assert!(stdout.contains("verdict: refused: signed as a waSCC portable capability provider"), "{stdout}");

    let json = std::process::Command::new(testkit::host_edge_bin())
        .args(["inspect", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["kind"], "portable-provider");
    assert_eq!(report["verdict"], "refused");
}

#[test]
fn inspect_shows_an_actor_as_an_actor() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("echo.wasm");
    std::fs::write(&file, Signer::new().sign(&actor_module("echo"), "echo", &["wascc:http_server"])).unwrap();
    let output = std::process::Command::new(testkit::host_edge_bin()).arg("inspect").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("kind         actor"), "{stdout}");
    assert!(stdout.contains("capabilities wascc:http_server"), "{stdout}");
}
