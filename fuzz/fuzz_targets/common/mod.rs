//! What several targets share: fixed keys, so that a target can sign what
//! the fuzzer wrote and reach the checks behind the signature, and the
//! placeholders seeds use for them.

#![allow(dead_code)]

use nkeys::{KeyPair, KeyPairType};

/// A key pair of `kind` from fixed bytes: the same keys in every run, so
/// that a crashing input replays.
pub fn fixed_key(kind: KeyPairType, byte: u8) -> KeyPair {
    KeyPair::new_from_raw(kind, [byte; 32]).expect("32 bytes make a key")
}

/// The account key that signs actor tokens in the targets.
pub fn issuer() -> KeyPair {
    fixed_key(KeyPairType::Account, 1)
}

/// The module key actor tokens are about.
pub fn subject() -> KeyPair {
    fixed_key(KeyPairType::Module, 2)
}

/// The operator key that signs fleet commands.
pub fn operator() -> KeyPair {
    fixed_key(KeyPairType::Operator, 3)
}

/// `text` with the placeholders seeds use replaced: `$ISSUER`, `$SUBJECT`
/// and `$OPERATOR` by the fixed public keys, `$HASH` by `hash`.
pub fn fill(text: &str, hash: &str) -> String {
    text.replace("$ISSUER", &issuer().public_key())
        .replace("$SUBJECT", &subject().public_key())
        .replace("$OPERATOR", &operator().public_key())
        .replace("$HASH", hash)
}

/// Splits `data` at the first `\n`: (before, after); all of it before when
/// there is none.
pub fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}
