//! Signed tokens of host-edge's own: JWTs signed with an nkey.
//!
//! Actor tokens are wascap's (see [`token`](crate::token)). Fleet commands
//! are host-edge's own claims, signed the same way NATS signs its JWTs: an
//! Ed25519 nkey, the header `{"typ":"JWT","alg":"ed25519-nkey"}`, and the
//! signer's public key in `iss`. Decoding checks the framing, the header,
//! the key's role and the signature, and nothing else: what the claims mean
//! (audience, sequence, times) is for their reader, offline.

use nkeys::KeyPair;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::keys::{check_public_key, KeyError, KeyRole};

/// The header of every token written here.
pub const HEADER: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;

/// The longest token accepted, in bytes: a bound on what a reader parses.
pub const MAX_TOKEN: usize = 1 << 20;

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url segments.
    #[error("not a signed token: expected a JWT of 3 segments, found {0}")]
    Framing(usize),
    /// Larger than [`MAX_TOKEN`].
    #[error("the token is {0} bytes, over the limit of {MAX_TOKEN}")]
    TooLarge(usize),
    /// A segment is not base64url, or not JSON.
    #[error("the token's {segment} cannot be read: {reason}")]
    Unreadable {
        /// `header`, `claims` or `signature`.
        segment: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The header is not host-edge's.
    #[error("the token's header is {0}, not {HEADER}")]
    Header(String),
    /// `iss` is missing, or not a key of the expected role.
    #[error("the token's issuer: {0}")]
    Issuer(String),
    /// The signature does not verify with the key in `iss`.
    #[error("the signature does not verify with the issuer's key {0} (signed by another key, or the claims were edited)")]
    Signature(String),
    /// Signing failed (a key without its seed).
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// A token whose signature verified: its signer and its claims.
#[derive(Debug, Clone)]
pub struct Signed<T> {
    /// The public key that signed it (`iss`).
    pub issuer: String,
    /// The claims.
    pub claims: T,
}

/// Signs `claims`, which must carry `iss` = `signer`'s public key.
pub fn encode<T: Serialize>(claims: &T, signer: &KeyPair) -> Result<String, JwtError> {
    let b64 = |bytes: &[u8]| data_encoding::BASE64URL_NOPAD.encode(bytes);
    let body = serde_json::to_vec(claims).map_err(|e| JwtError::Sign(e.to_string()))?;
    let signing_input = format!("{}.{}", b64(HEADER.as_bytes()), b64(&body));
    let signature = signer.sign(signing_input.as_bytes()).map_err(|e| JwtError::Sign(e.to_string()))?;
    Ok(format!("{signing_input}.{}", b64(&signature)))
}

/// Reads `token`, checks its header, that `iss` is a key of `role`, and its
/// signature by that key; returns the claims.
pub fn decode<T: DeserializeOwned>(token: &str, role: KeyRole) -> Result<Signed<T>, JwtError> {
    let token = token.trim();
    if token.len() > MAX_TOKEN {
        return Err(JwtError::TooLarge(token.len()));
    }
    let segments: Vec<&str> = token.split('.').collect();
    let [header, body, signature] = segments[..] else {
        return Err(JwtError::Framing(segments.len()));
    };
    let read = |segment: &'static str, text: &str| {
        data_encoding::BASE64URL_NOPAD
            .decode(text.as_bytes())
            .map_err(|e| JwtError::Unreadable { segment, reason: e.to_string() })
    };
    let header_json: serde_json::Value = serde_json::from_slice(&read("header", header)?)
        .map_err(|e| JwtError::Unreadable { segment: "header", reason: e.to_string() })?;
    let expected: serde_json::Value = serde_json::from_str(HEADER).expect("the header is JSON");
    if header_json != expected {
        return Err(JwtError::Header(header_json.to_string()));
    }
    let body_bytes = read("claims", body)?;
    let value: serde_json::Value = serde_json::from_slice(&body_bytes)
        .map_err(|e| JwtError::Unreadable { segment: "claims", reason: e.to_string() })?;
    let issuer = value
        .get("iss")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| JwtError::Issuer("the claims have no `iss`".to_owned()))?
        .to_owned();
    let key = check_public_key(&issuer, role).map_err(|e: KeyError| JwtError::Issuer(e.to_string()))?;
    // A signature that is not even base64url does not verify either.
    let signature = read("signature", signature).map_err(|_| JwtError::Signature(issuer.clone()))?;
    let signing_input = &token[..header.len() + 1 + body.len()];
    key.verify(signing_input.as_bytes(), &signature).map_err(|_| JwtError::Signature(issuer.clone()))?;
    let claims = serde_json::from_value(value)
        .map_err(|e| JwtError::Unreadable { segment: "claims", reason: e.to_string() })?;
    Ok(Signed { issuer, claims })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::keys::generate;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Note {
        iss: String,
        seq: u64,
    }

    fn signed(seq: u64) -> (KeyPair, String) {
        let operator = generate(KeyRole::Operator);
        let token = encode(&Note { iss: operator.public_key(), seq }, &operator).unwrap();
        (operator, token)
    }

    #[test]
    fn a_token_signed_by_its_issuer_reads_back() {
        let (operator, token) = signed(7);
        let read: Signed<Note> = decode(&token, KeyRole::Operator).unwrap();
        assert_eq!(read.issuer, operator.public_key());
        assert_eq!(read.claims.seq, 7);
    }

    #[test]
    fn edited_claims_and_another_signer_are_refused() {
        let (_, token) = signed(7);
        let parts: Vec<&str> = token.split('.').collect();
        let (_, other) = signed(8);
        let other_body = other.split('.').nth(1).unwrap();
        let edited = format!("{}.{}.{}", parts[0], other_body, parts[2]);
        let err = decode::<Note>(&edited, KeyRole::Operator).unwrap_err();
        assert!(matches!(err, JwtError::Signature(_)), "{err}");
    }

    #[test]
    fn an_unsigned_or_mis_framed_token_is_refused_by_name() {
        assert!(matches!(decode::<Note>("not a token", KeyRole::Operator), Err(JwtError::Framing(1))));
        let (_, token) = signed(1);
        let unsigned = format!("{}.", &token[..token.rfind('.').unwrap()]);
        let err = decode::<Note>(&unsigned, KeyRole::Operator).unwrap_err();
        assert!(matches!(err, JwtError::Signature(_)), "{err}");
    }

    #[test]
    fn a_token_signed_by_a_key_of_another_role_is_refused() {
        let account = generate(KeyRole::Account);
        let token = encode(&Note { iss: account.public_key(), seq: 1 }, &account).unwrap();
        let err = decode::<Note>(&token, KeyRole::Operator).unwrap_err();
        assert!(err.to_string().contains("operator keys start with `O`"), "{err}");
    }
}
