//! The way back from a provider into the host: the services every provider
//! instance gets at `start` — calling an actor bound to it (an HTTP request,
//! a message), logging into the host's `tracing` under the provider's name,
//! and its own state directory.

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use provider_abi::ffi::{self, Buffer, HostServices};
use provider_abi::{ErrorKind, Failure};

/// Delivers `(actor, operation, payload)` from a provider to an actor; the
/// host decides whether the provider may reach that actor.
pub type Deliver = Arc<dyn Fn(&str, &str, &[u8]) -> Result<Vec<u8>, Failure> + Send + Sync>;

/// The host's side of one provider instance's services; its address is the
/// `context` the provider passes back.
pub(super) struct ServicesContext {
    provider: String,
    deliver: Deliver,
    state_dir: CString,
}

impl ServicesContext {
    /// A context for the provider instance `provider`, whose state lives in
    /// `state_dir`.
    pub(super) fn new(provider: &str, deliver: Deliver, state_dir: &Path) -> Result<ServicesContext, String> {
        let dir = state_dir.to_str().ok_or_else(|| format!("the state directory {} is not UTF-8", state_dir.display()))?;
        let state_dir = CString::new(dir).map_err(|_| "the state directory contains NUL".to_owned())?;
        Ok(ServicesContext { provider: provider.to_owned(), deliver, state_dir })
    }

    /// The C view of these services. The context must not move or drop
    /// while the provider runs (it is boxed and kept by the provider handle).
    pub(super) fn services(&self) -> HostServices {
        HostServices {
            context: (self as *const ServicesContext).cast::<c_void>(),
            dispatch,
            free_buffer,
            log,
            state_dir: self.state_dir.as_ptr(),
        }
    }
}

/// # Safety
/// `context` must be a [`ServicesContext`] this host handed out and still keeps.
unsafe fn context<'a>(context: *const c_void) -> &'a ServicesContext {
    // SAFETY: guaranteed by the caller.
    unsafe { &*context.cast::<ServicesContext>() }
}

unsafe extern "C" fn dispatch(
    context_ptr: *const c_void,
    actor: *const c_char,
    operation: *const c_char,
    payload: *const u8,
    payload_len: usize,
    out: *mut Buffer,
) -> i32 {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if context_ptr.is_null() || actor.is_null() || operation.is_null() {
            return Err(Failure::new(ErrorKind::BadRequest, "dispatch called with a null argument"));
        }
        // SAFETY: `context_ptr` is the context this host handed out and keeps
        // alive until the provider has stopped; the strings and payload are
        // valid for the call, per the ABI.
        let (context, actor, operation, payload) = unsafe {
            (context(context_ptr), CStr::from_ptr(actor), CStr::from_ptr(operation), ffi::slice(payload, payload_len))
        };
        let bad = |what: &str| Failure::new(ErrorKind::BadRequest, format!("the {what} is not UTF-8"));
        let actor = actor.to_str().map_err(|_| bad("actor key"))?;
        let operation = operation.to_str().map_err(|_| bad("operation"))?;
        tracing::trace!(provider = %context.provider, actor, operation, "provider -> actor");
        (context.deliver)(actor, operation, payload)
    }));
    let outcome = outcome
        .unwrap_or_else(|_| Err(Failure::new(ErrorKind::Failed, "the host failed while delivering the call")));
    // SAFETY: the provider passes a writable slot (or null).
    unsafe { ffi::give_reply(out, outcome) }
}

unsafe extern "C" fn free_buffer(_context: *const c_void, ptr: *mut u8, len: usize) {
    // SAFETY: the provider gives back exactly the buffers `dispatch` made.
    unsafe { ffi::free_buffer(ptr, len) }
}

unsafe extern "C" fn log(context_ptr: *const c_void, level: u32, message: *const u8, message_len: usize) {
    if context_ptr.is_null() {
        return;
    }
    // SAFETY: as for `dispatch`; the message is valid for the call.
    let (context, message) = unsafe { (context(context_ptr), ffi::slice(message, message_len)) };
    let message = String::from_utf8_lossy(message);
    let provider = context.provider.as_str();
    match level {
        ffi::level::ERROR => tracing::error!(provider, "{message}"),
        ffi::level::WARN => tracing::warn!(provider, "{message}"),
        ffi::level::INFO => tracing::info!(provider, "{message}"),
        ffi::level::DEBUG => tracing::debug!(provider, "{message}"),
        _ => tracing::trace!(provider, "{message}"),
    }
}
