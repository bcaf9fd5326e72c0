//! The way back from a provider into the host: the services every provider
//! instance gets at `start` — calling an actor bound to it (an HTTP request,
//! a message), waiting for the reply (`dispatch`) or answered later on a
//! callback (`dispatch_async`, for providers with an event loop), logging
//! into the host's `tracing` under the provider's name, and its own state
//! directory.

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use provider_abi::ffi::{self, Buffer, HostServices, ReplyFn};
use provider_abi::{ErrorKind, Failure};

/// Gets the outcome of [`Delivery::deliver_then`], exactly once.
pub type Answer = Box<dyn FnOnce(Result<Vec<u8>, Failure>) + Send>;

/// Delivers `(actor, operation, payload)` from a provider to an actor; the
/// host decides whether the provider may reach that actor. A plain function
/// of those three is a `Delivery` that always waits.
pub trait Delivery: Send + Sync {
    /// Delivers the call and waits for the actor's reply.
    fn deliver(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, Failure>;

    /// Delivers the call and returns, perhaps before it ran; `answer` gets
    /// the outcome exactly once. By default it waits in [`Delivery::deliver`].
    fn deliver_then(&self, actor: &str, operation: &str, payload: &[u8], answer: Answer) {
        answer(self.deliver(actor, operation, payload));
    }
}

impl<F> Delivery for F
where
    F: Fn(&str, &str, &[u8]) -> Result<Vec<u8>, Failure> + Send + Sync,
{
    fn deliver(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, Failure> {
        self(actor, operation, payload)
    }
}

/// How a provider instance's calls reach actors.
pub type Deliver = Arc<dyn Delivery>;

/// The host's side of one provider instance's services; its address is the
/// `context` the provider passes back.
pub(super) struct ServicesContext {
    provider: String,
    deliver: Deliver,
    state_dir: CString,
}

/// Why a state directory cannot be handed to a provider over the C ABI.
#[derive(Debug, thiserror::Error)]
pub(super) enum StateDirError {
    /// The C ABI passes it as UTF-8.
    #[error("the state directory {} is not UTF-8", .0.display())]
    NotUtf8(std::path::PathBuf),
    /// A C string ends at NUL.
    #[error("the state directory contains NUL")]
    Nul,
}

impl ServicesContext {
    /// A context for the provider instance `provider`, whose state lives in
    /// `state_dir`.
    pub(super) fn new(provider: &str, deliver: Deliver, state_dir: &Path) -> Result<ServicesContext, StateDirError> {
        let dir = state_dir.to_str().ok_or_else(|| StateDirError::NotUtf8(state_dir.to_path_buf()))?;
        let state_dir = CString::new(dir).map_err(|_| StateDirError::Nul)?;
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
            dispatch_async,
        }
    }
}

/// # Safety
/// `context` must be a [`ServicesContext`] this host handed out and still keeps.
unsafe fn context<'a>(context: *const c_void) -> &'a ServicesContext {
    // SAFETY: guaranteed by the caller.
    unsafe { &*context.cast::<ServicesContext>() }
}

/// The arguments of a call from a provider to an actor, read from C.
struct Call<'a> {
    context: &'a ServicesContext,
    actor: &'a str,
    operation: &'a str,
    payload: &'a [u8],
}

/// Reads the arguments `dispatch` and `dispatch_async` share.
///
/// # Safety
/// `context_ptr` must be null or a context this host handed out and still
/// keeps; `actor` and `operation` null or NUL-terminated; `payload` valid
/// for `payload_len` bytes; all of them for `'a`.
unsafe fn call<'a>(
    context_ptr: *const c_void,
    actor: *const c_char,
    operation: *const c_char,
    payload: *const u8,
    payload_len: usize,
) -> Result<Call<'a>, Failure> {
    if context_ptr.is_null() || actor.is_null() || operation.is_null() {
        return Err(Failure::new(ErrorKind::BadRequest, "dispatch called with a null argument"));
    }
    // SAFETY: guaranteed by the caller: the context is kept alive until the
    // provider has stopped; the strings and payload are valid for the call.
    let (context, actor, operation, payload) = unsafe {
        (context(context_ptr), CStr::from_ptr(actor), CStr::from_ptr(operation), ffi::slice(payload, payload_len))
    };
    let bad = |what: &str| Failure::new(ErrorKind::BadRequest, format!("the {what} is not UTF-8"));
    let actor = actor.to_str().map_err(|_| bad("actor key"))?;
    let operation = operation.to_str().map_err(|_| bad("operation"))?;
    tracing::trace!(provider = %context.provider, actor, operation, "provider -> actor");
    Ok(Call { context, actor, operation, payload })
}

/// What a host panic while delivering a call becomes.
fn host_failed() -> Failure {
    Failure::new(ErrorKind::Failed, "the host failed while delivering the call")
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
        // SAFETY: the arguments are as the ABI defines them (see `call`).
        let call = unsafe { call(context_ptr, actor, operation, payload, payload_len) }?;
        call.context.deliver.deliver(call.actor, call.operation, call.payload)
    }));
    let outcome = outcome.unwrap_or_else(|_| Err(host_failed()));
    // SAFETY: the provider passes a writable slot (or null).
    unsafe { ffi::give_reply(out, outcome) }
}

/// The provider's side of one `dispatch_async`: answered exactly once, by
/// [`Waiter::answer`] or, if the call is dropped unanswered, on drop.
struct Waiter {
    on_reply: ReplyFn,
    waiter: *mut c_void,
}

// SAFETY: the ABI requires `on_reply` to accept its call from any thread, and
// `waiter` is the provider's, only passed back to it.
unsafe impl Send for Waiter {}

impl Waiter {
    fn answer(self, outcome: Result<Vec<u8>, Failure>) {
        self.reply(outcome);
        std::mem::forget(self);
    }

    /// Called once per waiter: by `answer`, which then forgets it, or by drop.
    fn reply(&self, outcome: Result<Vec<u8>, Failure>) {
        let (status, bytes) = ffi::status_of(outcome);
        // SAFETY: the provider's reply function with its own waiter, once;
        // the bytes are lent for the call, as the ABI says.
        unsafe { (self.on_reply)(self.waiter, status, bytes.as_ptr(), bytes.len()) }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.reply(Err(host_failed()));
    }
}

unsafe extern "C" fn dispatch_async(
    context_ptr: *const c_void,
    actor: *const c_char,
    operation: *const c_char,
    payload: *const u8,
    payload_len: usize,
    on_reply: ReplyFn,
    waiter: *mut c_void,
) {
    let waiter = Waiter { on_reply, waiter };
    // A panic drops the waiter, which answers it.
    let _ = catch_unwind(AssertUnwindSafe(move || {
        // SAFETY: the arguments are as the ABI defines them (see `call`).
        match unsafe { call(context_ptr, actor, operation, payload, payload_len) } {
            Ok(call) => call.context.deliver.deliver_then(
                call.actor,
                call.operation,
                call.payload,
                Box::new(move |outcome| waiter.answer(outcome)),
            ),
            Err(refused) => waiter.answer(Err(refused)),
        }
    }));
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
