//! Where a provider library may come from: a signed archive, verified before
//! anything of it is loaded, or, only where the operator allows it for
//! development, a bare library.
//!
//! A provider runs with the host's full rights, so loading one is the
//! host's most trusting act. The file a manifest, `ctl add-provider` or a
//! fleet deployment names is read once: an archive is unpacked in memory
//! (only this machine's library kept), its claims checked with the same
//! policy and clock as actors' (see `claims::provider`), and the hash of
//! the very bytes in memory compared with the signed one. Only then are
//! those bytes written where they will be loaded (the state directory's
//! owner-only `.libraries/`, named by their hash) and opened; the file the
//! name pointed at is never read again, so changing it after the check
//! changes nothing. Last, the library's own descriptor must name the
//! capability the claims sign.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::capability::CapabilityId;
use crate::claims::provider::{inspect_archive, VerifiedProvider, HOST_TARGET};
use crate::claims::verify::{Check, ClaimsError};
use crate::claims::Policy;

use super::{ProviderError, ProviderLibrary};

/// The folder under the state directory that holds verified libraries.
pub const LIBRARY_DIR: &str = ".libraries";

/// What the host trusts a provider file by.
#[derive(Debug, Clone)]
pub struct ProviderTrust {
    /// Trusted issuers, revocations and the clock rule: the actors' policy.
    pub policy: Policy,
    /// The time claims are checked at, in seconds since the epoch (the
    /// host's trusted clock).
    pub now: u64,
    /// Whether a bare library, with no signature, may be loaded
    /// (`[host] allow_unsigned_providers`, for development).
    pub allow_unsigned: bool,
}

/// Who vouches for a loaded provider library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// A verified archive.
    Signed(Signature),
    /// A bare library, loaded because unsigned providers are allowed.
    Unsigned,
}

/// What a verified archive says of its library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The provider's service key (`V…`).
    pub subject: String,
    /// The account key that signed it.
    pub issuer: String,
    /// The capability the claims sign.
    pub capability: CapabilityId,
    /// The revision, if the claims carry one.
    pub revision: Option<i32>,
    /// The version, if the claims carry one.
    pub version: Option<String>,
    /// The target of the library loaded.
    pub target: String,
    /// The SHA-256 of the library loaded, uppercase hex.
    pub hash: String,
    /// When the claims were issued (`iat`), seconds since the epoch.
    pub issued_at: u64,
    /// The token's id (`jti`).
    pub token_id: String,
}

impl Signature {
    /// Why `policy` revokes this provider now, if it does.
    pub fn revocation(&self, policy: &Policy) -> Option<String> {
        policy.revocation(&self.subject, &self.token_id, self.issued_at)
    }
}

/// A provider file after its check, before anything of it is loaded.
#[derive(Debug)]
pub enum Checked {
    /// A verified archive, with the bytes of this machine's library.
    Signed(Box<VerifiedProvider>),
    /// A bare library, allowed unsigned.
    Unsigned,
}

/// The first bytes of an ELF file.
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// Reads the provider file at `path` once and checks it under `trust`,
/// loading nothing: an archive must pass every claims check for this
/// machine's library; a bare library is refused unless unsigned providers
/// are allowed.
pub fn check(path: &Path, trust: &ProviderTrust) -> Result<Checked, ProviderError> {
    let read_error = |source: std::io::Error| ProviderError::Read { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut reader = std::io::BufReader::new(file);
    let start = std::io::BufRead::fill_buf(&mut reader).map_err(read_error)?;
    if start.starts_with(ELF_MAGIC) {
        return if trust.allow_unsigned {
            Ok(Checked::Unsigned)
        } else {
            Err(ProviderError::Unsigned { path: path.to_path_buf() })
        };
    }
    let report = inspect_archive(reader.by_ref(), HOST_TARGET, &trust.policy, trust.now);
    let verified = report.into_verified().map_err(|error| ProviderError::Refused { path: path.to_path_buf(), error })?;
    for warning in &verified.warnings {
        tracing::warn!(provider = %verified.subject(), archive = %path.display(), "provider archive: {warning}");
    }
    Ok(Checked::Signed(Box::new(verified)))
}

/// Checks the provider file at `path` under `trust`, writes a verified
/// library into `state_root`'s library folder and opens it there; a bare
/// library, where allowed, is opened where it is. The library must serve
/// the capability its claims sign.
pub fn open(path: &Path, trust: &ProviderTrust, state_root: &Path) -> Result<ProviderLibrary, ProviderError> {
    match check(path, trust)? {
        Checked::Unsigned => {
            tracing::warn!(
                library = %path.display(),
                "loading an unsigned provider library: [host] allow_unsigned_providers is on (for development only)"
            );
            ProviderLibrary::open_unsigned(path)
        }
        Checked::Signed(verified) => {
            let installed = install(&verified, &state_root.join(LIBRARY_DIR))?;
            // The bytes are on disk now: free them before the loader maps
            // the library, so a board holds one copy at a time.
            let signature = signature(&verified);
            drop(verified);
            let library = ProviderLibrary::open_unsigned(&installed)?;
            if library.capability() != &signature.capability {
                return Err(ProviderError::Refused {
                    path: path.to_path_buf(),
                    error: ClaimsError {
                        check: Check::Capability,
                        detail: format!(
                            "the library serves {}, but the archive's claims sign {}",
                            library.capability(),
                            signature.capability
                        ),
                    },
                });
            }
            tracing::info!(
                provider = %signature.subject,
                issuer = %signature.issuer,
                capability = %signature.capability,
                revision = ?signature.revision,
                archive = %path.display(),
                "provider archive verified"
            );
            Ok(library.with_provenance(path, Provenance::Signed(signature)))
        }
    }
}

/// What `verified` says of its library.
fn signature(verified: &VerifiedProvider) -> Signature {
    Signature {
        subject: verified.subject().to_owned(),
        issuer: verified.issuer().to_owned(),
        capability: verified.capability.clone(),
        revision: verified.metadata.rev,
        version: verified.metadata.ver.clone(),
        target: verified.target.clone(),
        hash: verified.hash.clone(),
        issued_at: verified.claims.issued_at,
        token_id: verified.claims.id.clone(),
    }
}

/// Writes the verified library into `dir` (owner-only) as `<hash>.so`,
/// unless a file of exactly those bytes is there already; returns its path.
fn install(verified: &VerifiedProvider, dir: &Path) -> Result<PathBuf, ProviderError> {
    use atomic_write_file::unix::OpenOptionsExt as _;
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt as _, PermissionsExt};
    let path = dir.join(format!("{}{}", verified.hash, std::env::consts::DLL_SUFFIX));
    let failed = |source: std::io::Error| ProviderError::Install { path: path.clone(), source };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(failed)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(failed)?;
    if std::fs::read(&path).is_ok_and(|bytes| bytes == verified.library) {
        return Ok(path);
    }
    let mut file = atomic_write_file::AtomicWriteFile::options()
        .mode(0o500)
        .preserve_mode(false)
        .open(&path)
        .map_err(failed)?;
    file.write_all(&verified.library).map_err(failed)?;
    file.commit().map_err(failed)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_library_is_refused_unless_unsigned_providers_are_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libfake.so");
        std::fs::write(&path, b"\x7fELF\x02\x01\x01").unwrap();
        let mut trust = ProviderTrust { policy: Policy::default(), now: 0, allow_unsigned: false };
        let err = check(&path, &trust).unwrap_err();
        assert!(matches!(err, ProviderError::Unsigned { .. }), "{err}");
        assert!(err.to_string().contains("host-edge par create"), "{err}");
        trust.allow_unsigned = true;
        assert!(matches!(check(&path, &trust), Ok(Checked::Unsigned)));
    }

    #[test]
    fn a_file_that_is_neither_is_refused_by_the_archive_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, b"hello").unwrap();
        let trust = ProviderTrust { policy: Policy::default(), now: 0, allow_unsigned: true };
        let err = check(&path, &trust).unwrap_err();
        assert!(err.to_string().contains("claims check `archive` failed"), "{err}");
    }
}
