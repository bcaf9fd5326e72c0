//! A loaded actor: verified claims plus a compiled module.
//!
//! Loading is the one gate every module passes: claims are verified under the
//! host's policy before a single instruction of the module is compiled, and
//! the capabilities granted are read from the verified claims only.

use std::collections::BTreeSet;
use std::path::Path;

use provider_abi::grant::Rule;

use crate::capability::CapabilityId;
use crate::claims::{self, ClaimsError, Policy, VerifiedClaims};
use crate::engine::{CompiledModule, EngineError};

/// Why an actor could not be loaded.
///
/// Each variant says its cause once: the message includes it, and it is not
/// repeated as a separate `source()` (an `{:#}` chain would print it twice).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error, part of the message.
        error: std::io::Error,
    },
    /// The claims were refused.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// The module is not one the engine can run.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The module is signed as a waSCC portable capability provider
    /// (`prov: true`), not as an actor.
    #[error(
        "{name} ({subject}) is signed as a waSCC portable capability provider (prov: true), not an actor; \
         host-edge serves capabilities with native providers (docs/providers.md) and does not run wasm providers"
    )]
    PortableProvider {
        /// The module's name from its claims.
        name: String,
        /// Its module key.
        subject: String,
    },
}

/// An actor whose claims passed verification, ready to instantiate.
#[derive(Debug, Clone)]
pub struct Actor {
    claims: VerifiedClaims,
    capabilities: BTreeSet<CapabilityId>,
    callable: BTreeSet<String>,
    compiled: CompiledModule,
}

impl Actor {
    /// Verifies `module` under `policy` at time `now` (seconds since the
    /// epoch), then compiles it.
    pub fn from_bytes(module: &[u8], policy: &Policy, now: u64) -> Result<Actor, LoadError> {
        let claims = claims::verify(module, policy, now)?;
        if claims.metadata.prov {
            return Err(LoadError::PortableProvider {
                name: claims.display_name().to_owned(),
                subject: claims.subject().to_owned(),
            });
        }
        let callable: BTreeSet<String> = claims.callable_actors().map(str::to_owned).collect();
        let mut capabilities = BTreeSet::new();
        for cap in claims.capabilities().iter().filter(|cap| !callable.contains(*cap)) {
            match CapabilityId::parse(cap) {
                Ok(id) => {
                    capabilities.insert(id);
                }
                Err(e) => tracing::warn!(actor = claims.subject(), "ignoring capability: {e}"),
            }
        }
        tracing::debug!(
            actor = claims.subject(),
            name = claims.display_name(),
            issuer = claims.issuer(),
            caps = ?claims.capabilities(),
            rev = ?claims.metadata.rev,
            "claims verified: signature, module hash, validity times, trusted issuer, revocations"
        );
        for warning in &claims.warnings {
            tracing::warn!(actor = claims.subject(), name = claims.display_name(), "{warning}");
        }
        let compiled = CompiledModule::new(module)?;
        Ok(Actor {
            claims,
            capabilities,
            callable,
            compiled,
        })
    }

    /// Reads and loads the module at `path`.
    pub fn from_file(path: &Path, policy: &Policy, now: u64) -> Result<Actor, LoadError> {
        let bytes = std::fs::read(path).map_err(|error| LoadError::Io {
            path: path.display().to_string(),
            error,
        })?;
        Actor::from_bytes(&bytes, policy, now)
    }

    /// The module key (`M…`): the actor's identity.
    pub fn subject(&self) -> &str {
        self.claims.subject()
    }

    /// The friendly name, or the subject.
    pub fn name(&self) -> &str {
        self.claims.display_name()
    }

    /// The verified claims.
    pub fn claims(&self) -> &VerifiedClaims {
        &self.claims
    }

    /// The capabilities the claims grant, canonicalised.
    pub fn capabilities(&self) -> &BTreeSet<CapabilityId> {
        &self.capabilities
    }

    /// The module keys of the actors the claims allow this one to call
    /// (waSCC's form: listed among `caps`).
    pub fn callable_actors(&self) -> &BTreeSet<String> {
        &self.callable
    }

    /// True when the claims grant `capability`.
    pub fn may_use(&self, capability: &CapabilityId) -> bool {
        self.capabilities.contains(capability)
    }

    /// The grant rules the signed claims carry for `capability` (any
    /// spelling of it), or `None` when the token sets no grant for it and
    /// only the capability check (and the link) decide.
    pub fn signed_grant(&self, capability: &CapabilityId) -> Option<Vec<Rule>> {
        self.claims.signed_grant(capability)
    }

    /// The compiled module.
    pub fn compiled(&self) -> &CompiledModule {
        &self.compiled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error and its causes as `{:#}` prints them: each joined by `: `.
    fn chain(error: &dyn std::error::Error) -> String {
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(next) = cause {
            text.push_str(": ");
            text.push_str(&next.to_string());
            cause = next.source();
        }
        text
    }

    #[test]
    fn a_claims_refusal_is_said_once_in_the_error_chain() {
        let unsigned = b"\0asm\x01\0\0\0";
        let err = Actor::from_bytes(unsigned, &Policy::default(), 1_800_000_000).unwrap_err();
        let text = chain(&err);
        assert!(matches!(err, LoadError::Claims(_)), "{text}");
        assert_eq!(text.matches("claims check `claims-section` failed").count(), 1, "{text}");
        assert_eq!(text.matches("not signed").count(), 1, "{text}");
    }

    #[test]
    fn a_missing_file_is_named_with_its_reason_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.wasm");
        let err = Actor::from_file(&path, &Policy::default(), 1_800_000_000).unwrap_err();
        let text = chain(&err);
        assert!(text.starts_with(&format!("{}: ", path.display())), "{text}");
        assert_eq!(text.matches("os error 2").count(), 1, "{text}");
    }
}
