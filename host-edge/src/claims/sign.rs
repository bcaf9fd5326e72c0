//! Signing: embedding a fresh token in a module.
//!
//! The module's bytes are never re-encoded: any existing claims section is cut
//! out by byte range and the new `jwt` section appended, so modules from any
//! toolchain (bulk-memory, sign-extension, reference types…) sign as they are.

use nkeys::KeyPair;

use super::section::{self, SectionError};
use super::token::{new_claims, ActorMetadata, ClaimsFields};
use crate::capability::CapabilityId;

/// What goes into a new token besides the keys.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// Friendly name (`wascap.name`).
    pub name: Option<String>,
    /// Capabilities granted (`wascap.caps`), canonical ids.
    pub caps: Vec<CapabilityId>,
    /// Tags (`wascap.tags`).
    pub tags: Vec<String>,
    /// Revision (`wascap.rev`).
    pub rev: Option<i32>,
    /// Version (`wascap.ver`).
    pub ver: Option<String>,
    /// Expiry, seconds since the epoch (`exp`).
    pub expires: Option<u64>,
    /// Start of validity, seconds since the epoch (`nbf`).
    pub not_before: Option<u64>,
    /// Issue time, seconds since the epoch (`iat`).
    pub issued_at: u64,
}

/// Why a module could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The input is not a readable module.
    #[error("cannot sign: {0}")]
    Module(#[from] SectionError),
    /// The input does not validate as a module the engine can run.
    #[error("cannot sign: the module is invalid: {0}")]
    Invalid(String),
    /// The issuer seed is not an account seed.
    #[error("cannot sign: the issuer must be an account key (`A…`), got `{0}`")]
    IssuerRole(String),
    /// The subject seed is not a module seed.
    #[error("cannot sign: the subject must be a module key (`M…`), got `{0}`")]
    SubjectRole(String),
    /// `nbf` is after `exp`: the token could never be valid.
    #[error("cannot sign: the token would become valid only after it expires")]
    EmptyValidity,
    /// Encoding or signing the token failed.
    #[error("cannot sign: {0}")]
    Token(String),
}

/// Signs `module` with `issuer` (an account key) for `subject` (the module's
/// own key), replacing any claims it already carries.
pub fn sign_module(
    module: &[u8],
    issuer: &KeyPair,
    subject: &KeyPair,
    options: &SignOptions,
) -> Result<Vec<u8>, SignError> {
    let issuer_key = issuer.public_key();
    let subject_key = subject.public_key();
    if !issuer_key.starts_with('A') {
        return Err(SignError::IssuerRole(issuer_key));
    }
    if !subject_key.starts_with('M') {
        return Err(SignError::SubjectRole(subject_key));
    }
    if let (Some(nbf), Some(exp)) = (options.not_before, options.expires) {
        if nbf >= exp {
            return Err(SignError::EmptyValidity);
        }
    }
    let stripped = section::strip_claims(module)?;
    crate::engine::validate(&stripped).map_err(|e| SignError::Invalid(e.to_string()))?;

    let metadata = ActorMetadata {
        name: options.name.clone(),
        hash: section::hash_bytes(&stripped),
        tags: (!options.tags.is_empty()).then(|| options.tags.clone()),
        caps: Some(options.caps.iter().map(|c| c.as_str().to_owned()).collect()),
        rev: options.rev,
        ver: options.ver.clone(),
        prov: false,
    };
    let fields = ClaimsFields {
        id: nuid::next().to_string(),
        issued_at: options.issued_at,
        issuer: issuer_key,
        subject: subject_key,
        expires: options.expires,
        not_before: options.not_before,
    };
    let claims = new_claims(fields, metadata).map_err(|e| SignError::Token(e.to_string()))?;
    let jwt = claims
        .encode(issuer)
        .map_err(|e| SignError::Token(e.to_string()))?;
    Ok(section::append_claims(&stripped, &jwt))
}
