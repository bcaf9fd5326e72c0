//! nkeys: the Ed25519 keys that sign actors, and the files they live in.
//!
//! Keys are nkeys (NATS/wascap encoding): base32 of a prefix byte, the 32-byte
//! key and a CRC16 checksum. The `nkeys` crate does the encoding and checks the
//! checksum; this module adds the role checks (an issuer must be an account
//! key, a subject a module key, a fleet command's signer an operator key) and
//! the seed files the CLI writes.

use nkeys::{KeyPair, KeyPairType};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

/// The role a key plays in a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The signer of actor tokens (`A…`).
    Account,
    /// The identity of one actor module (`M…`).
    Module,
    /// The signer of fleet commands (`O…`): deployments, revocations.
    Operator,
    /// The identity of one native provider (`V…`), as wasmCloud's provider
    /// archives name it: the subject of a provider archive's claims.
    Service,
}

impl KeyRole {
    fn key_type(self) -> KeyPairType {
        match self {
            KeyRole::Account => KeyPairType::Account,
            KeyRole::Module => KeyPairType::Module,
            KeyRole::Operator => KeyPairType::Operator,
            KeyRole::Service => KeyPairType::Service,
        }
    }

    /// The first letter of a public key of this role.
    pub fn prefix(self) -> char {
        match self {
            KeyRole::Account => 'A',
            KeyRole::Module => 'M',
            KeyRole::Operator => 'O',
            KeyRole::Service => 'V',
        }
    }

    /// `account`, `module`, `operator` or `service`.
    pub fn name(self) -> &'static str {
        match self {
            KeyRole::Account => "account",
            KeyRole::Module => "module",
            KeyRole::Operator => "operator",
            KeyRole::Service => "service",
        }
    }
}

/// `an` before a role starting with a vowel (`an account`), else `a`.
fn article(role: &str) -> &'static str {
    if role.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Why a key or key file was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text is not a well-formed nkey (bad base32, length or checksum).
    #[error("`{key}` is not a valid {role} key: {reason}")]
    Invalid {
        /// The offending text (public keys only; seeds are never echoed).
        key: String,
        /// The role it was meant to play.
        role: &'static str,
        /// What nkeys said.
        reason: String,
    },
    /// A well-formed key of the wrong role.
    #[error("`{key}` is not {} {role} key: {role} keys start with `{prefix}`", article(.role))]
    WrongRole {
        /// The offending key.
        key: String,
        /// The expected role.
        role: &'static str,
        /// The expected first letter.
        prefix: char,
    },
    /// The seed file does not hold a valid seed of the expected role.
    #[error("{path}: not a valid {role} seed: {reason}")]
    BadSeed {
        /// The seed file.
        path: String,
        /// The expected role.
        role: &'static str,
        /// What went wrong (the seed itself is never printed).
        reason: String,
    },
    /// A seed file is already there; seeds are never overwritten.
    #[error("{path} already exists, and a seed file is never overwritten")]
    Exists {
        /// The existing file.
        path: String,
    },
    /// Reading or writing a key file failed.
    #[error("{path}: {error}")]
    Io {
        /// The key file.
        path: String,
        /// The I/O error, part of the message (not repeated as a `source()`).
        error: std::io::Error,
    },
}

/// Checks that `key` is a public nkey of `role`, checksum included.
pub fn check_public_key(key: &str, role: KeyRole) -> Result<KeyPair, KeyError> {
    let pair = KeyPair::from_public_key(key).map_err(|e| KeyError::Invalid {
        key: key.to_owned(),
        role: role.name(),
        reason: e.to_string(),
    })?;
    if pair.key_pair_type() != role.key_type() {
        return Err(KeyError::WrongRole {
            key: key.to_owned(),
            role: role.name(),
            prefix: role.prefix(),
        });
    }
    Ok(pair)
}

/// A fresh key pair of `role`.
pub fn generate(role: KeyRole) -> KeyPair {
    KeyPair::new(role.key_type())
}

/// Writes the seed of `pair` to `path`, readable by the owner only (0600).
/// An existing file is never overwritten.
pub fn write_seed(pair: &KeyPair, path: &Path) -> Result<(), KeyError> {
    let io = |error| KeyError::Io {
        path: path.display().to_string(),
        error,
    };
    let seed = pair.seed().map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::AlreadyExists => KeyError::Exists {
            path: path.display().to_string(),
        },
        _ => io(error),
    })?;
    writeln!(file, "{seed}").map_err(io)?;
    file.sync_all().map_err(io)
}

/// Reads a seed of `role` from `path`.
pub fn read_seed(path: &Path, role: KeyRole) -> Result<KeyPair, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|error| KeyError::Io {
        path: path.display().to_string(),
        error,
    })?;
    let bad = |reason: String| KeyError::BadSeed {
        path: path.display().to_string(),
        role: role.name(),
        reason,
    };
    let pair = KeyPair::from_seed(text.trim()).map_err(|e| bad(e.to_string()))?;
    if pair.key_pair_type() != role.key_type() {
        return Err(bad(format!(
            "it holds a {:?} seed; {} seeds start with `S{}`",
            pair.key_pair_type(),
            role.name(),
            role.prefix()
        )));
    }
    Ok(pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let key = generate(KeyRole::Account).public_key();
        let mut chars: Vec<char> = key.chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        let err = check_public_key(&tampered, KeyRole::Account).unwrap_err();
        assert!(matches!(err, KeyError::Invalid { .. }), "{err}");
    }

    #[test]
    fn a_module_key_cannot_act_as_an_account() {
        let key = generate(KeyRole::Module).public_key();
        let err = check_public_key(&key, KeyRole::Account).unwrap_err();
        assert!(err.to_string().contains("is not an account key: account keys start with `A`"), "{err}");
    }

    #[test]
    fn seed_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.nk");
        let pair = generate(KeyRole::Account);
        write_seed(&pair, &path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(read_seed(&path, KeyRole::Account).unwrap().public_key(), pair.public_key());
        assert!(write_seed(&generate(KeyRole::Account), &path).is_err());
        assert!(read_seed(&path, KeyRole::Module).is_err());
    }

    #[test]
    fn an_existing_seed_file_is_refused_by_name_and_said_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.nk");
        let first = generate(KeyRole::Account);
        write_seed(&first, &path).unwrap();
        let err = write_seed(&generate(KeyRole::Account), &path).unwrap_err();
        assert!(matches!(err, KeyError::Exists { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("{} already exists, and a seed file is never overwritten", path.display()));
        assert!(std::error::Error::source(&err).is_none(), "nothing to repeat after the message");
        assert_eq!(read_seed(&path, KeyRole::Account).unwrap().public_key(), first.public_key(), "the old seed is kept");
    }

    #[test]
    fn a_missing_seed_file_names_the_file_and_the_reason_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.nk");
        let err = read_seed(&path, KeyRole::Account).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&format!("{}: ", path.display())), "{text}");
        assert_eq!(text.matches("os error 2").count(), 1, "{text}");
        assert!(std::error::Error::source(&err).is_none());
    }
}
