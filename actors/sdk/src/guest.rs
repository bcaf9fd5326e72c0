//! The waPC boundary, written once: every host call and every handler goes
//! through here, so encoding, decoding and error text are the same for
//! every capability.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wapc_guest::CallResult;

use crate::{Error, HandlerResult};

/// The prefix `wapc-guest` puts before the host's message.
const HOST_ERROR_PREFIX: &str = "Host error: ";

/// Calls `operation` of `capability` on the link `binding` with `request`
/// and decodes the reply.
pub(crate) fn call<Q, R>(binding: &str, capability: &'static str, operation: &'static str, request: &Q) -> Result<R, Error>
where
    Q: Serialize + 'static,
    R: DeserializeOwned + 'static,
{
    let payload = codec::encode(request).map_err(|e| Error::Codec { capability, operation, message: e.to_string() })?;
    let reply = host_call(binding, capability, capability, operation, &payload)?;
    codec::decode(&reply).map_err(|e| Error::Codec { capability, operation, message: e.to_string() })
}

/// Calls `operation` and returns the reply's bytes undecoded (replies that
/// are `nil`, or raw bodies).
pub(crate) fn call_raw<Q>(binding: &str, capability: &'static str, operation: &'static str, request: &Q) -> Result<Vec<u8>, Error>
where
    Q: Serialize + ?Sized,
{
    let payload = codec::serialize(request).map_err(|e| Error::Codec { capability, operation, message: e.to_string() })?;
    host_call(binding, capability, capability, operation, &payload)
}

/// Makes one host call to `namespace` (a capability id, or an actor's
/// module key named `capability` in errors) with `payload` as it is.
pub(crate) fn host_call(
    binding: &str,
    namespace: &str,
    capability: &'static str,
    operation: &'static str,
    payload: &[u8],
) -> Result<Vec<u8>, Error> {
    wapc_guest::host_call(binding, namespace, operation, payload).map_err(|e| {
        let text = e.to_string();
        let message = text.strip_prefix(HOST_ERROR_PREFIX).map(str::to_owned).unwrap_or(text);
        Error::Host { binding: binding.to_owned(), capability, operation, message }
    })
}

/// Installs the logger and the default health handler; runs first in
/// `wapc_init`, so the actor's own handlers can replace the latter.
pub fn init() {
    crate::logging::install();
    register(crate::HEALTH_REQUEST, |_| Ok(codec::UNIT_REPLY.to_vec()));
}

/// Registers `handler` for `operation`.
pub fn register(operation: &str, handler: fn(&[u8]) -> CallResult) {
    wapc_guest::register_function(operation, handler);
}

/// Decodes `payload` as the handler's message, runs it and encodes its
/// reply; a message that does not decode fails naming its type.
pub fn dispatch<M, R>(payload: &[u8], handler: impl FnOnce(M) -> HandlerResult<R>) -> CallResult
where
    M: DeserializeOwned + 'static,
    R: Serialize + 'static,
{
    // `decode` and `encode` read and write an HTTP request and response by
    // hand: most of what an HTTP handler costs the interpreter otherwise.
    let message = codec::decode(payload)?;
    let reply = handler(message)?;
    Ok(codec::encode(&reply)?)
}
