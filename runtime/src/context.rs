//! The `host-edge:context` namespace: what an actor may learn about the
//! call it is serving, from the host, without any grant.
//!
//! A call from one actor to another is allowed by the caller's signed claims
//! (see [`crate::router`]); the callee may still want to know who called it,
//! to answer each caller differently or to log it. The host knows: the
//! worker serving the call holds the caller's module key
//! ([`crate::pool::current_origin`]). The answer tells an actor only about
//! its own current call, so it needs no capability.
//!
//! Operations:
//! - `Caller`: the module key (`M…`) of the actor that made the call being
//!   served, as UTF-8; empty when a provider or the host made it.

use provider_abi::{ErrorKind, Failure};

use crate::capability::CapabilityId;
use crate::router::DispatchError;

/// The namespace an actor calls to ask about its current call.
pub const NAMESPACE: &str = "host-edge:context";

/// The operation that answers the caller's module key.
pub const OP_CALLER: &str = "Caller";

/// Answers `operation` of the context namespace for the call running on
/// this thread.
pub(crate) fn answer(operation: &str) -> Result<Vec<u8>, DispatchError> {
    match operation {
        OP_CALLER => Ok(crate::pool::current_origin().map(|key| key.as_bytes().to_vec()).unwrap_or_default()),
        other => Err(DispatchError::Provider {
            capability: CapabilityId::parse(NAMESPACE).expect("a well-formed capability id"),
            failure: Failure::new(
                ErrorKind::BadRequest,
                format!("{NAMESPACE} has no operation `{other}`; it answers `{OP_CALLER}`"),
            ),
        }),
    }
}
