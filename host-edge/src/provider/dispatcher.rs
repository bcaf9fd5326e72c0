//! The way back from a provider into the host: the `dispatch` function the
//! host hands every provider, which delivers a call (an HTTP request, a
//! message) to an actor bound to that provider.

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use provider_sdk::abi::{self, Buffer, Dispatcher, STATUS_ERROR, STATUS_OK};

/// Delivers `(actor, operation, payload)` from a provider to an actor; the
/// host decides whether the provider may reach that actor.
pub type Deliver = Arc<dyn Fn(&str, &str, &[u8]) -> Result<Vec<u8>, String> + Send + Sync>;

/// The host's side of one provider's dispatcher; its address is the
/// `context` the provider passes back.
pub struct DispatchContext {
    provider: String,
    deliver: Deliver,
}

impl DispatchContext {
    /// A context for the provider instance `provider`.
    pub fn new(provider: &str, deliver: Deliver) -> DispatchContext {
        DispatchContext { provider: provider.to_owned(), deliver }
    }

    /// The C dispatcher pointing at this context. The context must not move
    /// or drop while the provider runs (it is boxed and kept by the provider
    /// handle).
    pub fn dispatcher(&self) -> Dispatcher {
        Dispatcher {
            context: (self as *const DispatchContext).cast::<c_void>(),
            dispatch,
            free_buffer,
        }
    }
}

unsafe extern "C" fn dispatch(
    context: *const c_void,
    actor: *const c_char,
    operation: *const c_char,
    payload: *const u8,
    payload_len: usize,
    out: *mut Buffer,
) -> i32 {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if context.is_null() || actor.is_null() || operation.is_null() {
            return Err("dispatch called with a null argument".to_owned());
        }
        // SAFETY: `context` is the DispatchContext this host handed out and
        // keeps alive until the provider has stopped; the strings and payload
        // are valid for the call, per the ABI.
        let (context, actor, operation, payload) = unsafe {
            (
                &*context.cast::<DispatchContext>(),
                CStr::from_ptr(actor),
                CStr::from_ptr(operation),
                abi::slice(payload, payload_len),
            )
        };
        let actor = actor.to_str().map_err(|_| "the actor key is not UTF-8".to_owned())?;
        let operation = operation.to_str().map_err(|_| "the operation is not UTF-8".to_owned())?;
        tracing::trace!(provider = %context.provider, actor, operation, "provider -> actor");
        (context.deliver)(actor, operation, payload)
    }));
    let (status, bytes) = match outcome {
        Ok(Ok(reply)) => (STATUS_OK, reply),
        Ok(Err(message)) => (STATUS_ERROR, message.into_bytes()),
        Err(_) => (STATUS_ERROR, b"the host failed while delivering the call".to_vec()),
    };
    if !out.is_null() {
        // SAFETY: the provider passes a writable slot.
        unsafe { *out = abi::buffer_from_vec(bytes) };
    }
    status
}

unsafe extern "C" fn free_buffer(_context: *const c_void, ptr: *mut u8, len: usize) {
    // SAFETY: the provider gives back exactly the buffers `dispatch` made.
    unsafe { abi::free_buffer(ptr, len) }
}
