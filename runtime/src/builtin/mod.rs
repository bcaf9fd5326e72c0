//! Capabilities the host serves itself: `wascc:logging` and `wascc:extras`.
//!
//! waSCC bound both to every actor whose claims granted them, with no
//! configuration at all, and actors written for it rely on that: its SDK
//! sends every `log` macro to `wascc:logging` (and ignores a refusal, so the
//! lines vanish without a word), and an actor that asks for a GUID with no
//! extras provider answers every request with an error. host-edge does the
//! same: a call to a built-in capability that no link serves goes to the
//! host's own handler here, still only when the actor's claims grant it. A
//! manifest can serve either from a provider instead (a link for that
//! binding wins) or turn the built-ins off (`[host] builtins = []`).

mod extras;
pub(crate) mod logging;

use std::path::Path;

use provider_abi::{ErrorKind, Failure};

use crate::capability::{CapabilityId, WellKnown};

pub use extras::{Extras, SequenceStore};
pub use logging::{LogLimit, Logging};

/// Which built-in capabilities a host serves, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinSettings {
    /// Serve `wascc:logging` to actors with no logging link.
    pub logging: bool,
    /// Serve `wascc:extras` to actors with no extras link.
    pub extras: bool,
    /// How many lines an actor may log before its lines are dropped.
    pub log_limit: LogLimit,
}

impl Default for BuiltinSettings {
    fn default() -> Self {
        BuiltinSettings { logging: true, extras: true, log_limit: LogLimit::default() }
    }
}

impl BuiltinSettings {
    /// The capabilities these settings serve.
    pub fn capabilities(&self) -> Vec<CapabilityId> {
        let mut served = Vec::new();
        if self.logging {
            served.push(WellKnown::Logging.into());
        }
        if self.extras {
            served.push(WellKnown::Extras.into());
        }
        served
    }
}

/// Who is calling a built-in capability.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The actor's module key.
    pub key: &'a str,
    /// The actor's name from its claims.
    pub name: &'a str,
    /// The binding the actor named (`default`).
    pub binding: &'a str,
}

/// The built-in handlers of one host.
#[derive(Debug)]
pub struct Builtins {
    logging: Option<Logging>,
    extras: Option<Extras>,
}

impl Builtins {
    /// The handlers `settings` turn on; extras keeps its sequences under
    /// `state_root/extras`.
    pub fn new(settings: &BuiltinSettings, state_root: &Path) -> Builtins {
        Builtins {
            logging: settings.logging.then(|| Logging::new(settings.log_limit)),
            extras: settings.extras.then(|| Extras::new(SequenceStore::new(state_root.join("extras")))),
        }
    }

    /// Whether a built-in handler serves `capability`.
    pub fn serves(&self, capability: &CapabilityId) -> bool {
        match capability.well_known() {
            Some(WellKnown::Logging) => self.logging.is_some(),
            Some(WellKnown::Extras) => self.extras.is_some(),
            _ => false,
        }
    }

    /// The capabilities served here.
    pub fn capabilities(&self) -> Vec<CapabilityId> {
        [WellKnown::Logging, WellKnown::Extras]
            .into_iter()
            .map(CapabilityId::from)
            .filter(|c| self.serves(c))
            .collect()
    }

    /// Handles `operation` on `capability` for `caller`; `None` when no
    /// built-in serves the capability.
    pub fn call(
        &self,
        caller: Caller<'_>,
        capability: &CapabilityId,
        operation: &str,
        payload: &[u8],
    ) -> Option<Result<Vec<u8>, Failure>> {
        match capability.well_known()? {
            WellKnown::Logging => Some(self.logging.as_ref()?.handle(caller, operation, payload)),
            WellKnown::Extras => Some(self.extras.as_ref()?.handle(caller, operation, payload)),
            _ => None,
        }
    }
}

/// The failure for an operation a built-in does not know.
fn unknown_operation(capability: WellKnown, operation: &str, known: &[&str]) -> Failure {
    Failure::new(
        ErrorKind::BadRequest,
        format!("{} has no operation `{operation}` (it serves {})", capability.id(), known.join(", ")),
    )
}

/// The failure for a payload that does not decode.
fn bad_payload(capability: WellKnown, operation: &str, error: impl std::fmt::Display) -> Failure {
    Failure::new(ErrorKind::BadRequest, format!("{} {operation}: the request does not decode: {error}", capability.id()))
}
