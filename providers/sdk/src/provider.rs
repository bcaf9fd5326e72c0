//! The safe face of a provider: what a Rust provider implements.

use std::collections::BTreeMap;

use codec::core::CapabilityConfiguration;
use provider_abi::settings::Setting;
use provider_abi::{ErrorKind, Failure};

use crate::Host;

/// An error a provider reports to the host, and through it to the actor:
/// a kind the host and the actor can tell apart, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    kind: ErrorKind,
    message: String,
}

impl ProviderError {
    /// A failure of no particular kind ([`ErrorKind::Failed`]).
    pub fn new(message: impl Into<String>) -> ProviderError {
        ProviderError::of(ErrorKind::Failed, message)
    }

    /// A failure of `kind`.
    pub fn of(kind: ErrorKind, message: impl Into<String>) -> ProviderError {
        ProviderError { kind, message: message.into() }
    }

    /// Refused by a grant or a permission ([`ErrorKind::Denied`]).
    pub fn denied(message: impl Into<String>) -> ProviderError {
        ProviderError::of(ErrorKind::Denied, message)
    }

    /// The backend cannot be reached now ([`ErrorKind::Unavailable`]).
    pub fn unavailable(message: impl Into<String>) -> ProviderError {
        ProviderError::of(ErrorKind::Unavailable, message)
    }

    /// The request is malformed ([`ErrorKind::BadRequest`]).
    pub fn bad_request(message: impl Into<String>) -> ProviderError {
        ProviderError::of(ErrorKind::BadRequest, message)
    }

    /// Why.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}

impl From<codec::CodecError> for ProviderError {
    fn from(e: codec::CodecError) -> ProviderError {
        ProviderError::bad_request(e.to_string())
    }
}

impl From<Failure> for ProviderError {
    fn from(f: Failure) -> ProviderError {
        ProviderError::of(f.kind, f.message)
    }
}

/// The provider-level settings from the manifest's `[[provider]] settings`,
/// checked by the host against [`Provider::settings`], with declared
/// defaults filled in.
pub type Settings = BTreeMap<String, String>;

/// A capability provider. The host may call every method from several
/// threads at once, hence `Sync`.
pub trait Provider: Send + Sync + Sized + 'static {
    /// The capability id served, e.g. `wascc:keyvalue`.
    const CAPABILITY_ID: &'static str;
    /// A human-friendly name, e.g. `SQLite key-value store`.
    const NAME: &'static str;

    /// The settings it accepts, provider-level and per link, with types and
    /// defaults; the host refuses a manifest that does not fit them.
    fn settings() -> Vec<Setting> {
        Vec::new()
    }

    /// Starts an instance with the host's services and its provider-level
    /// settings.
    fn start(host: Host, settings: Settings) -> Result<Self, ProviderError>;

    /// An actor is linked to this provider, with the link's values; for an
    /// actor already bound, its binding is updated.
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
