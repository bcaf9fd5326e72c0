//! The host's dispatcher, wrapped safely for Rust providers.

use std::ffi::CString;

use crate::abi::{self, Buffer, Dispatcher, STATUS_OK};

/// Calls actors bound to this provider through the host (e.g. an HTTP
/// request delivered as `HandleRequest`). Cheap to copy; valid until the
/// provider is stopped.
#[derive(Debug, Clone, Copy)]
pub struct HostDispatcher {
    raw: Dispatcher,
}

// SAFETY: the ABI requires the host's dispatcher to accept calls from any
// thread, concurrently, until the provider's `stop` returns.
unsafe impl Send for HostDispatcher {}
// SAFETY: as above; the struct is only read.
unsafe impl Sync for HostDispatcher {}

impl HostDispatcher {
    /// Wraps the dispatcher the host passed to `set_dispatcher`.
    ///
    /// # Safety
    /// `raw` must be a dispatcher handed over by the host and still valid.
    pub unsafe fn from_raw(raw: Dispatcher) -> HostDispatcher {
        HostDispatcher { raw }
    }

    /// Calls `operation` on `actor` (module key) with `payload`; returns the
    /// actor's reply or the host's error text. Blocks until the actor answers.
    pub fn dispatch(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let actor = CString::new(actor).map_err(|_| "an actor key cannot contain NUL".to_owned())?;
        let operation = CString::new(operation).map_err(|_| "an operation cannot contain NUL".to_owned())?;
        let mut out = Buffer::empty();
        // SAFETY: every pointer is valid for the call; the host owns `context`
        // and guarantees the functions are callable until `stop` returns.
        let status = unsafe {
            (self.raw.dispatch)(
                self.raw.context,
                actor.as_ptr(),
                operation.as_ptr(),
                payload.as_ptr(),
                payload.len(),
                &mut out,
            )
        };
        // SAFETY: the host filled `out` with a buffer it allocated (or left it
        // empty); it stays valid until we give it back below.
        let bytes = unsafe { abi::slice(out.ptr, out.len) }.to_vec();
        if !out.ptr.is_null() {
            // SAFETY: returned exactly once, to the side that allocated it.
            unsafe { (self.raw.free_buffer)(self.raw.context, out.ptr, out.len) };
        }
        if status == STATUS_OK {
            Ok(bytes)
        } else {
            Err(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}
