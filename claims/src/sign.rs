//! Signing: embedding a fresh token in a module.
//!
//! The module's bytes are never re-encoded: any existing claims section is cut
//! out by byte range and the new `jwt` section appended, so modules from any
//! toolchain (bulk-memory, sign-extension, reference types…) sign as they are.

use std::collections::BTreeMap;

use nkeys::KeyPair;
use provider_abi::grant::Rule;

use super::section::{self, SectionError};
use super::token::{new_claims, ActorMetadata, ClaimsFields};
use crate::capability::CapabilityId;
use crate::keys::{check_public_key, KeyError, KeyRole};

/// What goes into a new token besides the keys.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// Friendly name (`wascap.name`).
    pub name: Option<String>,
    /// Capabilities granted (`wascap.caps`), canonical ids.
    pub caps: Vec<CapabilityId>,
    /// Module keys (`M…`) of the actors this one may call, written into
    /// `wascap.caps` beside the capability ids, as waSCC did: the host
    /// refuses a call to an actor whose key is not listed.
    pub actors: Vec<String>,
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
    /// Fine-grained grants (`wascap.grants`): for a capability in `caps`,
    /// the rules that narrow it (`prefix:sensors:` for `wascc:keyvalue`).
    /// A capability without an entry is not narrowed by the token.
    pub grants: BTreeMap<CapabilityId, Vec<Rule>>,
}

/// Why a module could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The input is not a readable module. The section error is part of the
    /// message, not repeated as a `source()`.
    #[error("cannot sign: {0}")]
    Module(SectionError),
    /// The input does not validate as a module the engine can run; the text
    /// is the engine's reason, which already says so (`invalid module: …`).
    #[error("cannot sign: {0}")]
    Invalid(String),
    /// The issuer seed is not an account seed.
    #[error("cannot sign: the issuer must be an account key (`A…`), got `{0}`")]
    IssuerRole(String),
    /// The subject seed is not a module seed.
    #[error("cannot sign: the subject must be a module key (`M…`), got `{0}`")]
    SubjectRole(String),
    /// The subject seed of a provider archive is not a service seed.
    #[error("cannot sign: a provider's subject must be a service key (`V…`, `host-edge keys generate service`), got `{0}`")]
    ProviderSubjectRole(String),
    /// A provider archive with no library.
    #[error("cannot sign: a provider archive needs at least one library")]
    NoLibraries,
    /// The archive could not be written.
    #[error("cannot sign: {0}")]
    Archive(crate::archive::ArchiveError),
    /// `nbf` is after `exp`: the token could never be valid.
    #[error("cannot sign: the token would become valid only after it expires")]
    EmptyValidity,
    /// A grant names a capability the token does not grant.
    #[error(
        "cannot sign: there is a grant for {0}, but the token does not grant {0}; \
         add the capability (`--cap {0}`) or drop the grant"
    )]
    GrantWithoutCapability(CapabilityId),
    /// A grant for a capability has no rules, which would permit nothing.
    #[error(
        "cannot sign: the grant for {0} has no rules and would permit nothing; \
         give at least one rule (`prefix:…`), or no grant to leave {0} unrestricted"
    )]
    EmptyGrant(CapabilityId),
    /// An actor the token would allow calling is not a module key.
    #[error("cannot sign: the actor to allow calling: {0}")]
    Actor(KeyError),
    /// Encoding or signing the token failed.
    #[error("cannot sign: {0}")]
    Token(String),
}

impl From<SectionError> for SignError {
    fn from(error: SectionError) -> SignError {
        SignError::Module(error)
    }
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
    for actor in &options.actors {
        check_public_key(actor, KeyRole::Module).map_err(SignError::Actor)?;
    }
    let grants = grants_metadata(options)?;
    let stripped = section::strip_claims(module)?;
    wasmparser::Validator::new().validate_all(&stripped).map_err(|e| SignError::Invalid(format!("invalid module: {e}")))?;

    let metadata = ActorMetadata {
        name: options.name.clone(),
        hash: section::hash_bytes(&stripped),
        tags: (!options.tags.is_empty()).then(|| options.tags.clone()),
        caps: Some(options.caps.iter().map(|c| c.as_str().to_owned()).chain(options.actors.iter().cloned()).collect()),
        rev: options.rev,
        ver: options.ver.clone(),
        prov: false,
        grants,
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
    Ok(section::append_claims(&stripped, &jwt))
}

/// Builds the claims of `fields` and `metadata` (an actor's or a
/// provider's) and signs them with `issuer`: the token as text.
pub(crate) fn sign_token<T>(fields: ClaimsFields, metadata: T, issuer: &KeyPair) -> Result<String, SignError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + wascap::jwt::WascapEntity,
{
    let claims = new_claims(fields, metadata).map_err(|e| SignError::Token(e.to_string()))?;
    claims.encode(issuer).map_err(|e| SignError::Token(e.to_string()))
}

/// The `grants` metadata for `options`: refused when a grant names a
/// capability the token does not grant or has no rules; `None` without
/// grants, so the field is left out.
fn grants_metadata(options: &SignOptions) -> Result<Option<BTreeMap<String, Vec<String>>>, SignError> {
    for (capability, rules) in &options.grants {
        if !options.caps.contains(capability) {
            return Err(SignError::GrantWithoutCapability(capability.clone()));
        }
        if rules.is_empty() {
            return Err(SignError::EmptyGrant(capability.clone()));
        }
    }
    if options.grants.is_empty() {
        return Ok(None);
    }
    let grants = options
        .grants
        .iter()
        .map(|(capability, rules)| {
            let mut texts: Vec<String> = Vec::new();
            for rule in rules {
                let text = rule.to_string();
                if !texts.contains(&text) {
                    texts.push(text);
                }
            }
            (capability.as_str().to_owned(), texts)
        })
        .collect();
    Ok(Some(grants))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::WellKnown;

    fn rules(texts: &[&str]) -> Vec<Rule> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    fn with_grants(caps: &[WellKnown], grants: &[(WellKnown, &[&str])]) -> SignOptions {
        SignOptions {
            caps: caps.iter().map(|&c| c.into()).collect(),
            grants: grants.iter().map(|(c, r)| ((*c).into(), rules(r))).collect(),
            ..SignOptions::default()
        }
    }

    #[test]
    fn grants_are_written_under_the_canonical_capability_id_as_rule_texts() {
        let options = with_grants(
            &[WellKnown::KeyValue],
            &[(WellKnown::KeyValue, &["prefix:sensors:", "exact:config", "prefix:sensors:"])],
        );
        let grants = grants_metadata(&options).unwrap().unwrap();
        assert_eq!(
            grants,
            BTreeMap::from([(
                "wascc:keyvalue".to_owned(),
                vec!["prefix:sensors:".to_owned(), "exact:config".to_owned()]
            )])
        );
    }

    #[test]
    fn a_token_without_grants_has_no_grants_field() {
        assert_eq!(grants_metadata(&with_grants(&[WellKnown::KeyValue], &[])).unwrap(), None);
        let metadata = ActorMetadata { hash: "AB".into(), ..ActorMetadata::default() };
        let json = serde_json::to_value(&metadata).unwrap();
        assert!(json.get("grants").is_none(), "{json}");
    }

    #[test]
    fn a_grant_for_a_capability_the_token_does_not_grant_is_refused() {
        let options = with_grants(&[WellKnown::HttpServer], &[(WellKnown::KeyValue, &["prefix:sensors:"])]);
        let err = grants_metadata(&options).unwrap_err();
        assert!(matches!(err, SignError::GrantWithoutCapability(_)));
        assert_eq!(
            err.to_string(),
            "cannot sign: there is a grant for wascc:keyvalue, but the token does not grant wascc:keyvalue; \
             add the capability (`--cap wascc:keyvalue`) or drop the grant"
        );
    }

    #[test]
    fn a_grant_without_rules_is_refused() {
        let options = with_grants(&[WellKnown::KeyValue], &[(WellKnown::KeyValue, &[])]);
        assert!(matches!(grants_metadata(&options), Err(SignError::EmptyGrant(_))));
    }

    #[test]
    fn bytes_that_are_not_wasm_are_refused_saying_why_once() {
        let issuer = KeyPair::new_account();
        let subject = KeyPair::new_module();
        let err = sign_module(b"hello", &issuer, &subject, &SignOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "cannot sign: not a WebAssembly module (bad magic number or version)");
        assert!(std::error::Error::source(&err).is_none(), "the cause is in the message, not repeated");
    }

    #[test]
    fn a_module_that_does_not_validate_is_refused_saying_invalid_once() {
        // One function typed `-> i32` whose body returns nothing.
        let module = b"\0asm\x01\0\0\0\x01\x05\x01\x60\x00\x01\x7f\x03\x02\x01\x00\x0a\x04\x01\x02\x00\x0b";
        let err = sign_module(module, &KeyPair::new_account(), &KeyPair::new_module(), &SignOptions::default()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SignError::Invalid(_)), "{text}");
        assert!(text.starts_with("cannot sign: invalid module: "), "{text}");
        assert_eq!(text.matches("invalid").count(), 1, "{text}");
    }
}
