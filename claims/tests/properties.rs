//! Properties of the claims section scan, the module hash, the claims
//! check and host-edge's own JWTs, over generated modules, tokens and
//! times. The fuzz targets in fuzz/ (`wasm_sections`, `claims_verify`,
//! `actor_token`, `jwt_decode`) check the same on arbitrary bytes.

use claims::jwt;
use claims::keys::{generate, KeyRole};
use claims::section::{append_claims, hash_bytes, module_hash, scan, strip_claims};
use claims::verify::inspect;
use claims::{sign_module, ClockRule, Policy, SignOptions};
use proptest::prelude::*;

/// A module of custom sections only (names and bodies as generated),
/// written with minimal LEB128 sizes.
fn module_of(sections: &[(String, Vec<u8>)]) -> Vec<u8> {
    use wasm_encoder::{CustomSection, Module};
    let mut module = Module::new();
    for (name, data) in sections {
        module.section(&CustomSection { name: name.as_str().into(), data: data.as_slice().into() });
    }
    module.finish()
}

fn sections() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    // Names that are never a claims section's.
    proptest::collection::vec(("[a-z_.]{0,12}".prop_filter("not a claims section", |n| n != "jwt" && n != "wasmcloud_jwt"), proptest::collection::vec(any::<u8>(), 0..64)), 0..5)
}

proptest! {
    #[test]
    fn a_token_appended_to_any_module_is_found_and_leaves_the_hash_of_the_module_unchanged(
        sections in sections(),
        token in "[A-Za-z0-9_.-]{0,200}",
    ) {
        let original = module_of(&sections);
        let signed = append_claims(&original, &token);
        let found = scan(&signed).unwrap().claims;
        prop_assert_eq!(found.len(), 1);
        prop_assert_eq!(&found[0].token, &token);
        prop_assert_eq!(strip_claims(&signed).unwrap(), original.clone());
        prop_assert_eq!(module_hash(&signed).unwrap(), hash_bytes(&original));
    }

    #[test]
    fn scanning_any_bytes_after_the_magic_number_is_an_answer_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend_from_slice(&bytes);
        if let Ok(sections) = scan(&module) {
            prop_assert_eq!(module_hash(&module).unwrap(), hash_bytes(&strip_claims(&module).unwrap()));
            prop_assert!(sections.claims.iter().all(|c| c.range.end <= module.len()));
        }
    }

    #[test]
    fn a_signed_module_is_checked_at_any_time_whatever_dates_its_token_carries(
        issued_at in any::<u64>(),
        expires in proptest::option::of(any::<u64>()),
        not_before in proptest::option::of(any::<u64>()),
        now in any::<u64>(),
        reject in any::<bool>(),
    ) {
        let options = SignOptions { name: Some("echo".into()), issued_at, expires, not_before, ..SignOptions::default() };
        // Signing refuses dates that leave no validity; the rest is signed.
        let Ok(signed) = sign_module(b"\0asm\x01\0\0\0", &generate(KeyRole::Account), &generate(KeyRole::Module), &options) else {
            return Ok(());
        };
        let policy = Policy { clock: if reject { ClockRule::Reject } else { ClockRule::TrustIssuedAt }, ..Policy::default() };
        let report = inspect(&signed, &policy, now);
        prop_assert_eq!(report.checks.len(), 15);
    }

    #[test]
    fn a_token_signed_by_its_issuer_decodes_to_the_claims_it_was_signed_with(
        fields in proptest::collection::btree_map("[a-z]{1,8}", any::<i64>(), 0..6),
        text in ".{0,40}",
    ) {
        let operator = generate(KeyRole::Operator);
        let mut claims = serde_json::Map::new();
        for (name, value) in fields {
            claims.insert(name, value.into());
        }
        claims.insert("note".into(), text.into());
        claims.insert("iss".into(), operator.public_key().into());
        let claims = serde_json::Value::Object(claims);
        let token = jwt::encode(&claims, &operator).unwrap();
        let read: jwt::Signed<serde_json::Value> = jwt::decode(&token, KeyRole::Operator).unwrap();
        prop_assert_eq!(read.claims, claims);
        prop_assert_eq!(read.issuer, operator.public_key());
    }
}
