//! JWT decoding: host-edge's own signed tokens (`claims::jwt`, fleet
//! commands) and wascap's actor tokens, from arbitrary text.
//!
//! The first byte picks the mode. `0`: the rest is a token, read by every
//! decoder. Otherwise the rest is claims JSON (`$OPERATOR` stands for the
//! fixed operator key) that the target signs with that key: the token must
//! then decode to the very same JSON when `iss` is the operator, and be
//! refused naming the issuer otherwise.

#![no_main]

mod common;

use claims::jwt::{self, JwtError};
use claims::keys::KeyRole;
use claims::ActorMetadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if mode == 0 {
        for role in [KeyRole::Account, KeyRole::Module, KeyRole::Operator] {
            let _ = jwt::decode::<serde_json::Value>(text, role);
        }
        let _ = claims::ActorClaims::decode(text);
        let _ = wascap::jwt::validate_token::<ActorMetadata>(text);
        return;
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&common::fill(text, "")) else { return };
    let operator = common::operator();
    let token = jwt::encode(&value, &operator).expect("JSON values serialize and seeded keys sign");
    let issued_by_operator = value.get("iss").and_then(serde_json::Value::as_str) == Some(&operator.public_key());
    match jwt::decode::<serde_json::Value>(&token, KeyRole::Operator) {
        Ok(signed) => {
            assert!(issued_by_operator, "a token whose iss is not its signer was accepted: {token}");
            assert_eq!(signed.claims, value);
            assert_eq!(signed.issuer, operator.public_key());
        }
        Err(JwtError::TooLarge(_)) => {}
        Err(e) => assert!(!issued_by_operator, "a token signed by its issuer was refused: {e}: {token}"),
    }
});
