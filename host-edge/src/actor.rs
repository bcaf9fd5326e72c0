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
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The claims were refused.
    #[error("{0}")]
    Claims(#[from] ClaimsError),
    /// The module is not one the engine can run.
    #[error("{0}")]
    Engine(#[from] EngineError),
}

/// An actor whose claims passed verification, ready to instantiate.
#[derive(Debug, Clone)]
pub struct Actor {
    claims: VerifiedClaims,
    capabilities: BTreeSet<CapabilityId>,
    compiled: CompiledModule,
}

impl Actor {
    /// Verifies `module` under `policy` at time `now` (seconds since the
    /// epoch), then compiles it.
    pub fn from_bytes(module: &[u8], policy: &Policy, now: u64) -> Result<Actor, LoadError> {
        let claims = claims::verify(module, policy, now)?;
        let mut capabilities = BTreeSet::new();
        for cap in claims.capabilities() {
            match CapabilityId::parse(cap) {
                Ok(id) => {
                    capabilities.insert(id);
                }
                Err(e) => tracing::warn!(actor = claims.subject(), "ignoring capability: {e}"),
            }
        }
        for warning in &claims.warnings {
            tracing::warn!(actor = claims.subject(), name = claims.display_name(), "{warning}");
        }
        let compiled = CompiledModule::new(module)?;
        Ok(Actor {
            claims,
            capabilities,
            compiled,
        })
    }

    /// Reads and loads the module at `path`.
    pub fn from_file(path: &Path, policy: &Policy, now: u64) -> Result<Actor, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.display().to_string(),
            source,
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
