//! The safe face of a provider: what a Rust provider implements.

use codec::core::CapabilityConfiguration;

use crate::HostDispatcher;

/// An error a provider reports to the host, and through it to the actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError(String);

impl ProviderError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> ProviderError {
        ProviderError(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProviderError {}

impl From<codec::CodecError> for ProviderError {
    fn from(e: codec::CodecError) -> ProviderError {
        ProviderError(e.to_string())
    }
}

/// A capability provider. The host may call every method from several
/// threads at once, hence `Sync`.
pub trait Provider: Send + Sync + 'static {
    /// The capability id served, e.g. `wascc:keyvalue`.
    const CAPABILITY_ID: &'static str;
    /// A human-friendly name, e.g. `SQLite key-value store`.
    const NAME: &'static str;

    /// Receives the dispatcher for calling bound actors; called once, before
    /// any actor is bound. Providers that never call actors ignore it.
    fn set_dispatcher(&self, _dispatcher: HostDispatcher) {}

    /// An actor is linked to this provider, with the link's values.
    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError>;

    /// An actor's link is removed.
    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError>;

    /// Handles `operation` from `actor` (module key) with a msgpack payload,
    /// returning the msgpack reply.
    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError>;

    /// Whether the provider can serve; the error says why not.
    fn health(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Stops serving: close listeners and connections. Called once.
    fn stop(&self) {}
}
