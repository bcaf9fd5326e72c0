//! Provider claims: the signed token of a provider archive, and its offline
//! check.
//!
//! A native provider runs with the host's full rights, so the host loads one
//! only from an [archive](crate::archive) whose claims it has verified, as
//! it does for actors and with the same policy: the signature by the issuer
//! (an account key, `A…`), the provider's identity (a service key, `V…`, as
//! wasmCloud names providers), the times under the clock rule, the trusted
//! issuers and the revocations. The claims sign the capability the provider
//! serves and the SHA-256 of the library for every target, so the check of
//! the library this machine will load is a hash of the very bytes it will
//! write and load.
//!
//! The token is wascap's JWT with wasmCloud's provider metadata (`name`,
//! `vendor`, `rev`, `ver`, `target_hashes`), which `wash par inspect` reads,
//! plus `capid`, the field wascap's earlier provider claims had.

use std::collections::BTreeMap;
use std::io::Read;

use nkeys::KeyPair;
use serde::{Deserialize, Serialize};
use wascap::jwt::WascapEntity;

use crate::archive::{self, ArchiveError, Contents};
use crate::capability::CapabilityId;
use crate::keys::{check_public_key, KeyRole};
use crate::policy::Policy;
use crate::sign::SignError;
use crate::sign::sign_token;
use crate::token::ClaimsFields;
use crate::verify::{first_failure, warnings, Check, CheckResult, ClaimsError, Run};

/// The JWT claims of a provider archive, as wascap encodes and decodes them.
pub type ProviderClaims = wascap::jwt::Claims<ProviderMetadata>;

/// The `wascap` object of a provider archive's token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    /// A friendly name for the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The capability id the provider serves (`wascc:keyvalue`).
    #[serde(default)]
    pub capid: String,
    /// Who made it (information only).
    #[serde(default)]
    pub vendor: String,
    /// A monotonically increasing revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i32>,
    /// A human-friendly version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    /// The SHA-256 (uppercase hex) of each target's library, by target.
    #[serde(default)]
    pub target_hashes: BTreeMap<String, String>,
    /// A JSON schema of the link configuration, when the author gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<serde_json::Value>,
}

impl WascapEntity for ProviderMetadata {
    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "Anonymous".to_owned())
    }
}

/// The target name of the libraries this machine loads (see
/// [`target_for_triple`]): the one this crate was compiled for.
pub const HOST_TARGET: &str = env!("HOST_EDGE_ARCHIVE_TARGET");

pub use crate::target::target_for_triple;

/// What goes into a provider archive's token besides the keys and the
/// libraries.
#[derive(Debug, Clone)]
pub struct ProviderSignOptions {
    /// The capability the provider serves.
    pub capability: CapabilityId,
    /// Friendly name.
    pub name: Option<String>,
    /// Who made it.
    pub vendor: String,
    /// Revision.
    pub rev: Option<i32>,
    /// Version.
    pub ver: Option<String>,
    /// Issue time, seconds since the epoch (`iat`).
    pub issued_at: u64,
    /// Expiry, seconds since the epoch (`exp`).
    pub expires: Option<u64>,
    /// Start of validity, seconds since the epoch (`nbf`).
    pub not_before: Option<u64>,
}

impl ProviderSignOptions {
    /// Options for a provider serving `capability`, issued at `issued_at`,
    /// with no name, vendor, revision or version, valid from issue on.
    pub fn new(capability: CapabilityId, issued_at: u64) -> ProviderSignOptions {
        ProviderSignOptions {
            capability,
            name: None,
            vendor: String::new(),
            rev: None,
            ver: None,
            issued_at,
            expires: None,
            not_before: None,
        }
    }
}

/// Signs `libraries` (target, bytes) as a provider archive: issued by
/// `issuer` (an account key) for the provider `subject` (a service key),
/// gzipped when `gzip` is set.
pub fn sign_archive(
    libraries: &[(String, Vec<u8>)],
    issuer: &KeyPair,
    subject: &KeyPair,
    options: &ProviderSignOptions,
    gzip: bool,
) -> Result<Vec<u8>, SignError> {
    let issuer_key = issuer.public_key();
    let subject_key = subject.public_key();
    check_public_key(&issuer_key, KeyRole::Account).map_err(|_| SignError::IssuerRole(issuer_key.clone()))?;
    check_public_key(&subject_key, KeyRole::Service).map_err(|_| SignError::ProviderSubjectRole(subject_key.clone()))?;
    if let (Some(nbf), Some(exp)) = (options.not_before, options.expires) {
        if nbf >= exp {
            return Err(SignError::EmptyValidity);
        }
    }
    if libraries.is_empty() {
        return Err(SignError::NoLibraries);
    }
    let metadata = ProviderMetadata {
        name: options.name.clone(),
        capid: options.capability.as_str().to_owned(),
        vendor: options.vendor.clone(),
        rev: options.rev,
        ver: options.ver.clone(),
        target_hashes: libraries.iter().map(|(target, bytes)| (target.clone(), archive::hash_bytes(bytes))).collect(),
        config_schema: None,
    };
    let fields = ClaimsFields {
        id: nuid::next().to_string(),
        issued_at: options.issued_at,
        issuer: issuer_key,
        subject: subject_key,
        expires: options.expires,
        not_before: options.not_before,
    };
    let jwt = sign_token(fields, metadata, issuer)?;
    archive::write(&jwt, libraries, gzip).map_err(SignError::Archive)
}

/// The checks of a provider archive, in the order they run.
const PROVIDER_CHECKS: [Check; 15] = [
    Check::Archive,
    Check::Token,
    Check::Header,
    Check::IssuerKey,
    Check::SubjectKey,
    Check::Signature,
    Check::Capability,
    Check::Target,
    Check::Hash,
    Check::Clock,
    Check::Expiry,
    Check::NotBefore,
    Check::TrustedIssuer,
    Check::SubjectRevocation,
    Check::TokenRevocation,
];

/// Everything the check of a provider archive found out.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderReport {
    /// Every check, in the order run.
    pub checks: Vec<CheckResult>,
    /// The decoded claims, when the token could be read.
    pub claims: Option<ProviderClaims>,
    /// The libraries the archive holds (their bytes are not reported).
    #[serde(skip)]
    pub contents: Option<Contents>,
    /// The target whose library the checks were for.
    pub target: String,
    /// The time the checks were evaluated at, in seconds since the epoch.
    pub evaluated_at: u64,
}

impl ProviderReport {
    /// The first failed check, if any.
    pub fn first_failure(&self) -> Option<ClaimsError> {
        first_failure(&self.checks)
    }

    /// The verified provider, or the first failed check.
    pub fn into_verified(self) -> Result<VerifiedProvider, ClaimsError> {
        if let Some(failure) = self.first_failure() {
            return Err(failure);
        }
        let missing = |what: &str| ClaimsError { check: Check::Archive, detail: format!("no {what} was read") };
        let claims = self.claims.ok_or_else(|| missing("claims"))?;
        let metadata = claims.metadata.clone().ok_or_else(|| missing("`wascap` metadata"))?;
        let capability = CapabilityId::parse(&metadata.capid).map_err(|e| ClaimsError {
            check: Check::Capability,
            detail: e.to_string(),
        })?;
        let library = self
            .contents
            .and_then(|c| c.libraries.into_iter().find(|l| l.target == self.target))
            .ok_or_else(|| missing("library"))?;
        Ok(VerifiedProvider {
            warnings: warnings(&self.checks),
            claims,
            metadata,
            capability,
            target: self.target,
            hash: library.hash,
            library: library.bytes.ok_or_else(|| missing("library"))?,
        })
    }
}

/// A provider archive that passed every check: its claims and the bytes of
/// the library for the target it was checked for.
#[derive(Clone)]
pub struct VerifiedProvider {
    /// The full JWT claims.
    pub claims: ProviderClaims,
    /// Their `wascap` metadata.
    pub metadata: ProviderMetadata,
    /// The capability the claims sign.
    pub capability: CapabilityId,
    /// The target of [`VerifiedProvider::library`].
    pub target: String,
    /// The library's bytes, whose hash the claims sign.
    pub library: Vec<u8>,
    /// Their SHA-256, uppercase hex.
    pub hash: String,
    /// Caveats the operator should see (an unset clock, any issuer trusted).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for VerifiedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedProvider")
            .field("subject", &self.claims.subject)
            .field("issuer", &self.claims.issuer)
            .field("capability", &self.capability)
            .field("target", &self.target)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl VerifiedProvider {
    /// The provider's service key (`V…`).
    pub fn subject(&self) -> &str {
        &self.claims.subject
    }

    /// The account key that signed it.
    pub fn issuer(&self) -> &str {
        &self.claims.issuer
    }
}

/// Reads the archive from `reader` and runs every check for the library of
/// `target` under `policy` at time `now`.
pub fn inspect_archive(reader: impl Read, target: &str, policy: &Policy, now: u64) -> ProviderReport {
    let mut run = Run::new(&PROVIDER_CHECKS, now);
    let (claims, contents) = match archive::read(reader, Some(target)) {
        Ok(contents) => {
            let libraries: Vec<String> =
                contents.libraries.iter().map(|l| format!("{} ({} bytes)", l.target, l.size)).collect();
            run.pass(
                Check::Archive,
                format!(
                    "{}tar: claims.jwt, {}",
                    if contents.gzipped { "gzipped " } else { "" },
                    if libraries.is_empty() { "no library".to_owned() } else { libraries.join(", ") }
                ),
            );
            (check_contents(&mut run, &contents, target, policy, now), Some(contents))
        }
        Err(e) => {
            let text = match e {
                ArchiveError::NoClaims => format!(
                    "{e}; sign it with `host-edge par create --capability CAPABILITY --issuer ISSUER.nk --subject PROVIDER.nk \
                     --library LIBRARY.so -o PROVIDER.par.gz`"
                ),
                _ => e.to_string(),
            };
            run.fail(Check::Archive, text);
            run.skip_rest(Check::Archive);
            (None, None)
        }
    };
    ProviderReport { checks: run.checks, claims, contents, target: target.to_owned(), evaluated_at: run.evaluated_at }
}

/// Verifies the archive from `reader` for `target` under `policy` at `now`:
/// the provider and its library's bytes, or the first failed check.
pub fn verify_archive(reader: impl Read, target: &str, policy: &Policy, now: u64) -> Result<VerifiedProvider, ClaimsError> {
    inspect_archive(reader, target, policy, now).into_verified()
}

/// The checks of the token and the libraries of `contents`.
fn check_contents(run: &mut Run, contents: &Contents, target: &str, policy: &Policy, now: u64) -> Option<ProviderClaims> {
    let jwt = contents.claims.trim();
    let segments: Vec<&str> = jwt.split('.').collect();
    if segments.len() != 3 {
        run.fail(Check::Token, format!("expected a JWT of 3 segments, found {}", segments.len()));
        run.skip_rest(Check::Token);
        return None;
    }
    let claims = match ProviderClaims::decode(jwt) {
        Ok(c) if c.metadata.is_some() => c,
        Ok(_) => {
            run.fail(Check::Token, "the claims have no `wascap` metadata");
            run.skip_rest(Check::Token);
            return None;
        }
        Err(e) => {
            run.fail(Check::Token, format!("the claims cannot be read as a provider's: {e}"));
            run.skip_rest(Check::Token);
            return None;
        }
    };
    run.pass(Check::Token, format!("jti {}", claims.id));
    let metadata = claims.metadata.clone().unwrap_or_default();
    run.header(segments[0]);
    let issuer_ok = match check_public_key(&claims.issuer, KeyRole::Account) {
        Ok(_) => run.pass(Check::IssuerKey, claims.issuer.clone()),
        Err(e) => run.fail(Check::IssuerKey, e.to_string()),
    };
    match check_public_key(&claims.subject, KeyRole::Service) {
        Ok(_) => run.pass(Check::SubjectKey, claims.subject.clone()),
        Err(e) => run.fail(Check::SubjectKey, format!("{e} (a provider's identity is a service key)")),
    };
    if issuer_ok {
        run.signature::<ProviderMetadata>(jwt);
    } else {
        run.record(Check::Signature, crate::verify::Outcome::Skipped("`issuer-key` failed".into()));
    }
    match CapabilityId::parse(&metadata.capid) {
        Ok(capability) => run.pass(Check::Capability, capability.as_str()),
        Err(_) if metadata.capid.is_empty() => {
            run.fail(Check::Capability, "the claims name no capability (`capid`); sign with --capability")
        }
        Err(e) => run.fail(Check::Capability, e.to_string()),
    };
    check_target(run, contents, &metadata, target);
    check_hashes(run, contents, &metadata);
    run.times(&claims, policy.clock, now);
    run.policy(&claims, policy);
    Some(claims)
}

/// The archive holds a library for `target`, and the claims sign it.
fn check_target(run: &mut Run, contents: &Contents, metadata: &ProviderMetadata, target: &str) -> bool {
    let held: Vec<&str> = contents.libraries.iter().map(|l| l.target.as_str()).collect();
    if contents.library(target).is_none() {
        let held = if held.is_empty() { "no library at all".to_owned() } else { format!("libraries for {}", held.join(", ")) };
        return run.fail(Check::Target, format!("the archive holds {held}, none for this machine ({target})"));
    }
    if !metadata.target_hashes.contains_key(target) {
        return run.fail(Check::Target, format!("the claims sign no library for {target}"));
    }
    run.pass(Check::Target, target)
}

/// Every library in the archive is the one the claims sign.
fn check_hashes(run: &mut Run, contents: &Contents, metadata: &ProviderMetadata) -> bool {
    let mut problems = Vec::new();
    for library in &contents.libraries {
        match metadata.target_hashes.get(&library.target) {
            Some(signed) if *signed == library.hash => {}
            Some(signed) => problems.push(format!(
                "the library for {} was changed after signing: the claims sign {signed}, the library is {}",
                library.target, library.hash
            )),
            None => problems.push(format!("the library for {} is not signed: the claims sign no hash for it", library.target)),
        }
    }
    if problems.is_empty() {
        let signed: Vec<String> = contents.libraries.iter().map(|l| format!("{} {}", l.target, l.hash)).collect();
        run.pass(Check::Hash, signed.join(", "))
    } else {
        run.fail(Check::Hash, problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::WellKnown;
    use crate::verify::Outcome;

    const NOW: u64 = 1_800_000_000;

    struct Signer {
        issuer: KeyPair,
        subject: KeyPair,
    }

    fn signer() -> Signer {
        Signer { issuer: KeyPair::new_account(), subject: KeyPair::new_service() }
    }

    fn options() -> ProviderSignOptions {
        ProviderSignOptions {
            capability: WellKnown::KeyValue.into(),
            name: Some("kv".into()),
            vendor: "host-edge".into(),
            rev: Some(3),
            ver: Some("0.1.0".into()),
            issued_at: NOW,
            expires: None,
            not_before: None,
        }
    }

    fn libraries() -> Vec<(String, Vec<u8>)> {
        vec![("x86_64-linux".into(), b"\x7fELF x86".to_vec()), ("aarch64-linux".into(), b"\x7fELF arm".to_vec())]
    }

    fn signed(signer: &Signer, options: &ProviderSignOptions) -> Vec<u8> {
        sign_archive(&libraries(), &signer.issuer, &signer.subject, options, true).unwrap()
    }

    fn trusting(signer: &Signer) -> Policy {
        Policy { trusted_issuers: [signer.issuer.public_key()].into(), ..Policy::default() }
    }

    #[test]
    fn a_signed_archive_verifies_with_the_library_for_the_target() {
        let signer = signer();
        let archive = signed(&signer, &options());
        let verified = verify_archive(&archive[..], "aarch64-linux", &trusting(&signer), NOW).unwrap();
        assert_eq!(verified.library, b"\x7fELF arm");
        assert_eq!(verified.capability, CapabilityId::from(WellKnown::KeyValue));
        assert_eq!(verified.subject(), signer.subject.public_key());
        assert_eq!(verified.metadata.rev, Some(3));
        assert!(verified.warnings.is_empty(), "{:?}", verified.warnings);
    }

    #[test]
    fn the_token_reads_as_wasmcloud_provider_claims() {
        let signer = signer();
        let archive = signed(&signer, &options());
        let contents = archive::read(&archive[..], None).unwrap();
        let claims = wascap::jwt::Claims::<wascap::jwt::CapabilityProvider>::decode(&contents.claims).unwrap();
        let metadata = claims.metadata.unwrap();
        assert_eq!(metadata.vendor, "host-edge");
        assert_eq!(metadata.target_hashes["x86_64-linux"], archive::hash_bytes(b"\x7fELF x86"));
        let validation = wascap::jwt::validate_token::<wascap::jwt::CapabilityProvider>(&contents.claims).unwrap();
        assert!(validation.signature_valid);
    }

    /// The archive with the library for `target` replaced by `bytes`, the
    /// claims kept.
    fn with_library(archive: &[u8], target: &str, bytes: &[u8]) -> Vec<u8> {
        let contents = archive::read(archive, None).unwrap();
        let mut libraries = libraries();
        libraries.iter_mut().find(|(t, _)| t == target).unwrap().1 = bytes.to_vec();
        archive::write(&contents.claims, &libraries, false).unwrap()
    }

    fn failed(archive: &[u8], target: &str, policy: &Policy) -> ClaimsError {
        verify_archive(archive, target, policy, NOW).unwrap_err()
    }

    #[test]
    fn one_changed_byte_in_a_library_fails_the_hash_check() {
        let signer = signer();
        let tampered = with_library(&signed(&signer, &options()), "aarch64-linux", b"\x7fELF arn");
        let err = failed(&tampered, "aarch64-linux", &trusting(&signer));
        assert_eq!(err.check, Check::Hash, "{err}");
        assert!(err.detail.contains("the library for aarch64-linux was changed after signing"), "{err}");
    }

    #[test]
    fn a_changed_library_for_another_target_still_fails_the_hash_check() {
        let signer = signer();
        let tampered = with_library(&signed(&signer, &options()), "x86_64-linux", b"evil");
        assert_eq!(failed(&tampered, "aarch64-linux", &trusting(&signer)).check, Check::Hash);
    }

    #[test]
    fn an_archive_for_another_processor_only_fails_the_target_check() {
        let signer = signer();
        let err = failed(&signed(&signer, &options()), "armv7-linux", &trusting(&signer));
        assert_eq!(err.check, Check::Target, "{err}");
        assert!(err.detail.contains("libraries for aarch64-linux, x86_64-linux, none for this machine (armv7-linux)"), "{err}");
    }

    #[test]
    fn an_untrusted_issuer_fails_the_trusted_issuer_check() {
        let archive = signed(&signer(), &options());
        assert_eq!(failed(&archive, "x86_64-linux", &trusting(&signer())).check, Check::TrustedIssuer);
    }

    #[test]
    fn a_revoked_provider_fails_the_subject_revocation_check() {
        let signer = signer();
        let mut policy = trusting(&signer);
        policy.revoked_subjects.insert(signer.subject.public_key());
        policy.validate().unwrap();
        let err = failed(&signed(&signer, &options()), "x86_64-linux", &policy);
        assert_eq!(err.check, Check::SubjectRevocation);
        assert!(err.detail.starts_with("provider V"), "{err}");
    }

    #[test]
    fn an_expired_archive_fails_the_expiry_check() {
        let signer = signer();
        let archive = signed(&signer, &ProviderSignOptions { expires: Some(NOW - 10), issued_at: NOW - 100, ..options() });
        assert_eq!(failed(&archive, "x86_64-linux", &trusting(&signer)).check, Check::Expiry);
    }

    #[test]
    fn claims_signed_by_another_key_fail_the_signature_check() {
        let signer = signer();
        let forger = KeyPair::new_account();
        let contents = archive::read(&signed(&signer, &options())[..], None).unwrap();
        let mut claims = ProviderClaims::decode(&contents.claims).unwrap();
        claims.metadata.as_mut().unwrap().capid = "wascc:http_server".into();
        let forged = claims.encode(&forger).unwrap();
        let archive = archive::write(&forged, &libraries(), false).unwrap();
        assert_eq!(failed(&archive, "x86_64-linux", &trusting(&signer)).check, Check::Signature);
    }

    #[test]
    fn an_unsigned_archive_names_the_command_that_signs_it() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(3);
        builder.append_data(&mut header, "x86_64-linux.bin", &b"lib"[..]).unwrap();
        let err = failed(&builder.into_inner().unwrap(), "x86_64-linux", &Policy::default());
        assert_eq!(err.check, Check::Archive);
        assert!(err.detail.contains("it is not signed; sign it with `host-edge par create"), "{err}");
    }

    #[test]
    fn an_actor_key_cannot_sign_for_a_provider() {
        let err = sign_archive(&libraries(), &KeyPair::new_account(), &KeyPair::new_module(), &options(), false).unwrap_err();
        assert!(err.to_string().contains("must be a service key (`V…`"), "{err}");
    }

    #[test]
    fn any_issuer_is_a_warning_when_none_is_trusted() {
        let report = inspect_archive(&signed(&signer(), &options())[..], "x86_64-linux", &Policy::default(), NOW);
        let trusted = report.checks.iter().find(|r| r.check == Check::TrustedIssuer).unwrap();
        assert!(matches!(trusted.outcome, Outcome::Warned(_)));
        assert_eq!(report.into_verified().unwrap().warnings.len(), 1);
    }
}
