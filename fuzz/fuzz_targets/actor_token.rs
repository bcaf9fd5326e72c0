//! Actor tokens whose claims are whatever the fuzzer writes, properly
//! signed: the input is the claims JSON (`$ISSUER`, `$SUBJECT` and `$HASH`
//! stand for the fixed issuer and module keys and the hash of the module
//! the token is put in). The target signs it with the fixed issuer key,
//! puts it in the `jwt` section of an empty module and runs the claims
//! check, so mutations reach everything behind the signature: times,
//! grants, revocations, the printing of dates.
//!
//! Checks that the signature check passes for every token the target signs
//! whose `iss` is the issuer, and that `verify` agrees with the report.

#![no_main]

mod common;

use claims::section::{append_claims, hash_bytes};
use claims::verify::{inspect, verify, Check, Outcome};
use claims::{ClockRule, Policy};
use libfuzzer_sys::fuzz_target;

/// An empty module: magic number and version.
const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

/// wascap's JWT header.
const HEADER: &str = r#"{"typ":"jwt","alg":"Ed25519"}"#;

const NOWS: [u64; 3] = [0, 1_800_000_000, u64::MAX];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let claims = common::fill(text, &hash_bytes(EMPTY_MODULE));
    let b64 = |bytes: &[u8]| data_encoding::BASE64URL_NOPAD.encode(bytes);
    let signing_input = format!("{}.{}", b64(HEADER.as_bytes()), b64(claims.as_bytes()));
    let signature = common::issuer().sign(signing_input.as_bytes()).expect("a seeded key signs");
    let module = append_claims(EMPTY_MODULE, &format!("{signing_input}.{}", b64(&signature)));
    let mut policy = Policy::default();
    policy.revoked_issued_before.insert(common::subject().public_key(), 1_700_000_000);
    for clock in [ClockRule::TrustIssuedAt, ClockRule::Reject] {
        policy.clock = clock;
        for now in NOWS {
            let report = inspect(&module, &policy, now);
            let signature = report.checks.iter().find(|c| c.check == Check::Signature).map(|c| &c.outcome);
            if report.claims.as_ref().is_some_and(|c| c.issuer == common::issuer().public_key()) {
                assert!(matches!(signature, Some(Outcome::Passed(_))), "a token signed by its issuer fails: {signature:?}");
            }
            assert_eq!(report.first_failure().is_none(), verify(&module, &policy, now).is_ok());
        }
    }
});
