//! Re-entrant calls: a provider calling back into the very instance that is
//! waiting for it, without a second instance and without a timeout.
//!
//! While an instance is inside `__host_call`, its worker thread is blocked
//! in the host, and a call queued for that actor would wait for the thread
//! to come back: with one instance, for ever (until the call timeout). So
//! the `__host_call` import leaves a [`Frame`] on its thread while it waits:
//! a way to run a nested guest call on the same instance, through the
//! `Caller` it holds. When a provider, from inside its `handle_call` for that
//! call (that is, on the same thread), dispatches to the same actor, the
//! host finds the frame on top of this thread's stack and runs the call
//! right there, nested, instead of queueing it. The nested call shares the
//! outer call's fuel budget. Calls from other threads queue as usual.

use std::cell::RefCell;
use std::sync::Arc;

use super::InvokeError;

/// Runs one nested guest call: operation and payload in, reply out.
pub(crate) type NestedCall<'a> = dyn FnMut(&str, &[u8]) -> Result<Vec<u8>, InvokeError> + 'a;

struct Frame {
    actor: Arc<str>,
    call: *mut NestedCall<'static>,
    busy: bool,
}

thread_local! {
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Pops the frame when the host call returns, panics included.
struct Popped;

impl Drop for Popped {
    fn drop(&mut self) {
        FRAMES.with(|frames| frames.borrow_mut().pop());
    }
}

/// Runs `body` (the host call) with `call` offered to re-entrant
/// dispatches for `actor` on this thread.
pub(crate) fn offer<R>(actor: &Arc<str>, call: &mut NestedCall<'_>, body: impl FnOnce() -> R) -> R {
    let erased: *mut NestedCall<'_> = call;
    // SAFETY: only the lifetime is erased. The pointer is used solely by
    // `call_waiting` while this frame is on the stack, and `Popped` removes
    // the frame before `call` (borrowed for this whole function) goes away.
    let erased: *mut NestedCall<'static> = unsafe { std::mem::transmute(erased) };
    FRAMES.with(|frames| frames.borrow_mut().push(Frame { actor: Arc::clone(actor), call: erased, busy: false }));
    let _popped = Popped;
    body()
}

/// When this thread is an instance of `actor` waiting in a host call, runs
/// `operation` on it, nested, and returns the outcome; otherwise `None`.
pub fn call_waiting(actor: &str, operation: &str, payload: &[u8]) -> Option<Result<Vec<u8>, InvokeError>> {
    let call = FRAMES.with(|frames| {
        let mut frames = frames.borrow_mut();
        let top = frames.last_mut()?;
        if top.busy || &*top.actor != actor {
            return None;
        }
        top.busy = true;
        Some(top.call)
    })?;
    // SAFETY: the frame is on this thread's stack (so `call` is alive: see
    // `offer`), and marked busy, so no other use of it runs meanwhile.
    let outcome = unsafe { (*call)(operation, payload) };
    FRAMES.with(|frames| {
        if let Some(top) = frames.borrow_mut().last_mut() {
            top.busy = false;
        }
    });
    Some(outcome)
}
