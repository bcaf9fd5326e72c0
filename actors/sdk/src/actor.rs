//! Calls to other actors, and who called this one.
//!
//! An actor reaches another by its module key (`M…`), and only when its own
//! signed claims list that key (`host-edge sign --call KEY`, waSCC's rule);
//! the host refuses any other call with a message naming the missing grant.
//! While serving a call, an actor can ask the host which actor made it.
//!
//! ```no_run
//! use host_edge_actor::actor;
//!
//! # fn demo() -> Result<(), host_edge_actor::Error> {
//! let reply = actor::call("MB2ZQB6ROOMAYBO4ZCTFYWN7YIVBWA3MTKZYAQKJMTIHE2ELLRW2E3ZW", "Echo", b"ping")?;
//! if let Some(key) = actor::caller()? {
//!     // called by the actor `key`, not by a provider or the host
//! }
//! # Ok(()) }
//! ```

use crate::error::Error;
use crate::guest::host_call;

/// The namespace in which the host answers questions about the call being
/// served.
pub const CONTEXT: &str = "host-edge:context";

/// The operation of [`CONTEXT`] that answers the calling actor's key.
pub const OP_CALLER: &str = "Caller";

/// Calls `operation` on the actor with module key `key`, sending `payload`
/// as it is, and returns the reply's bytes.
pub fn call(key: &str, operation: &'static str, payload: &[u8]) -> Result<Vec<u8>, Error> {
    host_call("default", key, "actor", operation, payload)
}

/// The module key of the actor that made the call being served, or `None`
/// when a provider (an HTTP request, a message) or the host made it.
pub fn caller() -> Result<Option<String>, Error> {
    let reply = host_call("default", CONTEXT, CONTEXT, OP_CALLER, &[])?;
    let key = String::from_utf8(reply).map_err(|e| Error::Codec {
        capability: CONTEXT,
        operation: OP_CALLER,
        message: e.to_string(),
    })?;
    Ok((!key.is_empty()).then_some(key))
}
