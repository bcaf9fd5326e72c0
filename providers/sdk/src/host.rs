//! The host's services, wrapped safely for Rust providers: calling bound
//! actors (waiting, or as a future), logging into the host's log, and the
//! provider's state directory.

use std::ffi::{c_void, CStr, CString};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use futures_channel::oneshot;
use provider_abi::ffi::{self, Buffer, HostServices};
use provider_abi::{ErrorKind, Failure};

use crate::ProviderError;

/// A log level for [`Host::log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// An error.
    Error,
    /// A warning.
    Warn,
    /// Information.
    Info,
    /// Debugging detail.
    Debug,
    /// Tracing detail.
    Trace,
}

impl Level {
    fn code(self) -> u32 {
        match self {
            Level::Error => ffi::level::ERROR,
            Level::Warn => ffi::level::WARN,
            Level::Info => ffi::level::INFO,
            Level::Debug => ffi::level::DEBUG,
            Level::Trace => ffi::level::TRACE,
        }
    }
}

/// The host, as a provider instance sees it. Cheap to clone; valid until
/// the provider is stopped.
#[derive(Debug, Clone)]
pub struct Host {
    raw: HostServices,
    state_dir: PathBuf,
}

// SAFETY: the ABI requires the host's services to accept calls from any
// thread, concurrently, until the provider's `stop` returns.
unsafe impl Send for Host {}
// SAFETY: as above; the struct is only read.
unsafe impl Sync for Host {}

impl Host {
    /// Wraps the services the host passed to `start`.
    ///
    /// # Safety
    /// `raw` must be the services handed over by the host, still valid, with
    /// `state_dir` a NUL-terminated string.
    pub unsafe fn from_raw(raw: HostServices) -> Result<Host, ProviderError> {
        if raw.state_dir.is_null() {
            return Err(ProviderError::new("the host passed no state directory"));
        }
        // SAFETY: NUL-terminated and valid, per the caller.
        let dir = unsafe { CStr::from_ptr(raw.state_dir) }
            .to_str()
            .map_err(|_| ProviderError::new("the state directory is not UTF-8"))?;
        Ok(Host { raw, state_dir: PathBuf::from(dir) })
    }

    /// Calls `operation` on `actor` (module key) with `payload`; returns the
    /// actor's reply or the typed failure. Blocks until the actor answers.
    /// Called from inside [`crate::Provider::handle_call`] for that same
    /// actor, it runs on the very instance that is waiting for this
    /// provider, so a single-instance actor can be called back.
    pub fn dispatch(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let (actor, operation) = names(actor, operation)?;
        let mut out = Buffer::empty();
        // SAFETY: every pointer is valid for the call; the host owns `context`
        // and guarantees the functions are callable until `stop` returns.
        let status = unsafe {
            (self.raw.dispatch)(self.raw.context, actor.as_ptr(), operation.as_ptr(), payload.as_ptr(), payload.len(), &mut out)
        };
        // SAFETY: the host filled `out` for this call; it is given back
        // through the host's own free function, once.
        unsafe {
            ffi::take_reply(status, out, |ptr, len| (self.raw.free_buffer)(self.raw.context, ptr, len))
        }
        .map_err(ProviderError::from)
    }

    /// Calls `operation` on `actor` like [`Host::dispatch`], but no thread
    /// waits: the call is queued at once and the returned future resolves
    /// when the actor has answered, on any executor. For providers with an
    /// event loop (the HTTP server's runtime), where a blocked thread per
    /// call would cost two more thread switches. The host sets no timeout;
    /// dropping the future stops waiting (the call still runs). From inside
    /// [`crate::Provider::handle_call`] for that same actor it runs nested,
    /// as [`Host::dispatch`] does, and is ready at once.
    pub fn dispatch_async(
        &self,
        actor: &str,
        operation: &str,
        payload: &[u8],
    ) -> impl Future<Output = Result<Vec<u8>, ProviderError>> + Send + 'static {
        let queued = names(actor, operation).map(|(actor, operation)| {
            let (sender, receiver) = oneshot::channel::<Result<Vec<u8>, Failure>>();
            let waiter = Box::into_raw(Box::new(sender)).cast::<c_void>();
            // SAFETY: every pointer is valid for the call; the host answers
            // `on_reply` with `waiter` exactly once, which frees it.
            unsafe {
                (self.raw.dispatch_async)(
                    self.raw.context,
                    actor.as_ptr(),
                    operation.as_ptr(),
                    payload.as_ptr(),
                    payload.len(),
                    on_reply,
                    waiter,
                )
            };
            receiver
        });
        async move {
            let outcome = queued?.await.unwrap_or_else(|_| {
                Err(Failure::new(ErrorKind::Unavailable, "the host dropped the call without answering"))
            });
            outcome.map_err(ProviderError::from)
        }
    }

    /// Writes `message` into the host's log under this provider's name.
    pub fn log(&self, level: Level, message: &str) {
        // SAFETY: the message is valid for the call; the host copies it.
        unsafe { (self.raw.log)(self.raw.context, level.code(), message.as_ptr(), message.len()) }
    }

    /// The provider instance's own state directory: it exists, and only
    /// this instance writes there. Relative file settings resolve here.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }
}

/// An actor key and an operation as C strings.
fn names(actor: &str, operation: &str) -> Result<(CString, CString), ProviderError> {
    let actor = CString::new(actor).map_err(|_| ProviderError::bad_request("an actor key cannot contain NUL"))?;
    let operation = CString::new(operation).map_err(|_| ProviderError::bad_request("an operation cannot contain NUL"))?;
    Ok((actor, operation))
}

/// The provider's end of `dispatch_async`: hands the outcome to the future.
unsafe extern "C" fn on_reply(waiter: *mut c_void, status: i32, bytes: *const u8, len: usize) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `waiter` is the boxed sender `dispatch_async` made, given
        // back exactly once; the bytes are lent for this call.
        let (sender, bytes) = unsafe {
            (Box::from_raw(waiter.cast::<oneshot::Sender<Result<Vec<u8>, Failure>>>()), ffi::slice(bytes, len))
        };
        // The future may have been dropped (a timeout): nothing to do.
        let _ = sender.send(ffi::outcome_of(status, bytes));
    }));
}
