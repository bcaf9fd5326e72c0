//! The glue between the C ABI and a [`Provider`]: one `extern "C"` function
//! per descriptor slot, generic over the provider type. Each converts its
//! arguments, calls the provider inside `catch_unwind`, and turns a panic
//! into `STATUS_ERROR` with a message, so no panic ever unwinds into the host.

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use codec::core::CapabilityConfiguration;

use crate::abi::{self, Buffer, Dispatcher, ProviderDescriptor, ABI_VERSION, STATUS_ERROR, STATUS_OK};
use crate::{HostDispatcher, Provider, ProviderError};

/// The descriptor and the provider in one allocation; `instance` points at
/// it. `repr(C)` keeps the descriptor first.
#[repr(C)]
struct Exported<P> {
    descriptor: ProviderDescriptor,
    capability_id: CString,
    name: CString,
    provider: P,
}

/// Builds the provider and its descriptor; null if `create` panicked.
pub fn create<P: Provider>(create: fn() -> P) -> *mut ProviderDescriptor {
    let built = catch_unwind(|| {
        let exported = Box::new(Exported {
            descriptor: ProviderDescriptor {
                abi_version: ABI_VERSION,
                capability_id: std::ptr::null(),
                name: std::ptr::null(),
                instance: std::ptr::null_mut(),
                set_dispatcher: Some(set_dispatcher::<P>),
                bind_actor: Some(bind_actor::<P>),
                remove_actor: Some(remove_actor::<P>),
                handle_call: Some(handle_call::<P>),
                health: Some(health::<P>),
                free_buffer: Some(free_buffer),
                stop: Some(stop::<P>),
            },
            capability_id: CString::new(P::CAPABILITY_ID).expect("capability id without NUL"),
            name: CString::new(P::NAME).expect("name without NUL"),
            provider: create(),
        });
        let raw = Box::into_raw(exported);
        // SAFETY: `raw` is a live allocation we own until `stop`; the
        // strings are moved already, so their pointers stay put.
        unsafe {
            (*raw).descriptor.capability_id = (*raw).capability_id.as_ptr();
            (*raw).descriptor.name = (*raw).name.as_ptr();
            (*raw).descriptor.instance = raw.cast::<c_void>();
            &mut (*raw).descriptor as *mut ProviderDescriptor
        }
    });
    built.unwrap_or(std::ptr::null_mut())
}

/// # Safety
/// `instance` must be the pointer `create::<P>` stored in the descriptor,
/// not yet stopped.
unsafe fn provider<'a, P: Provider>(instance: *mut c_void) -> &'a P {
    // SAFETY: guaranteed by the caller; only shared references are made.
    unsafe { &(*instance.cast::<Exported<P>>()).provider }
}

/// Runs `call` and writes its outcome to `out`: the reply or the error text.
fn answer(out: *mut Buffer, call: impl FnOnce() -> Result<Vec<u8>, ProviderError>) -> i32 {
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(reply)) => (STATUS_OK, reply),
        Ok(Err(e)) => (STATUS_ERROR, e.to_string().into_bytes()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            (STATUS_ERROR, format!("the provider panicked: {what}").into_bytes())
        }
    };
    if !out.is_null() {
        // SAFETY: the host passes a valid, writable slot.
        unsafe { *out = abi::buffer_from_vec(bytes) };
    }
    status
}

/// # Safety
/// `text` must be null or a NUL-terminated string valid for the call.
unsafe fn c_str<'a>(text: *const c_char, what: &str) -> Result<&'a str, ProviderError> {
    if text.is_null() {
        return Err(ProviderError::new(format!("the {what} is missing")));
    }
    // SAFETY: guaranteed by the caller.
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .map_err(|_| ProviderError::new(format!("the {what} is not UTF-8")))
}

unsafe extern "C" fn set_dispatcher<P: Provider>(instance: *mut c_void, dispatcher: *const Dispatcher) -> i32 {
    answer(std::ptr::null_mut(), || {
        if dispatcher.is_null() {
            return Err(ProviderError::new("the dispatcher is missing"));
        }
        // SAFETY: the host passes a valid dispatcher and a live instance.
        let (provider, dispatcher) = unsafe { (provider::<P>(instance), HostDispatcher::from_raw(*dispatcher)) };
        provider.set_dispatcher(dispatcher);
        Ok(Vec::new())
    })
}

fn configuration(config: *const u8, len: usize) -> Result<CapabilityConfiguration, ProviderError> {
    // SAFETY: the host passes `len` readable bytes at `config`.
    Ok(codec::deserialize(unsafe { abi::slice(config, len) })?)
}

unsafe extern "C" fn bind_actor<P: Provider>(
    instance: *mut c_void,
    config: *const u8,
    config_len: usize,
    out: *mut Buffer,
) -> i32 {
    answer(out, || {
        // SAFETY: a live instance, per the ABI.
        let provider = unsafe { provider::<P>(instance) };
        provider.bind_actor(configuration(config, config_len)?).map(|()| Vec::new())
    })
}

unsafe extern "C" fn remove_actor<P: Provider>(
    instance: *mut c_void,
    config: *const u8,
    config_len: usize,
    out: *mut Buffer,
) -> i32 {
    answer(out, || {
        // SAFETY: a live instance, per the ABI.
        let provider = unsafe { provider::<P>(instance) };
        provider.remove_actor(configuration(config, config_len)?).map(|()| Vec::new())
    })
}

unsafe extern "C" fn handle_call<P: Provider>(
    instance: *mut c_void,
    actor: *const c_char,
    operation: *const c_char,
    payload: *const u8,
    payload_len: usize,
    out: *mut Buffer,
) -> i32 {
    answer(out, || {
        // SAFETY: a live instance and valid arguments, per the ABI.
        let (provider, actor, operation, payload) = unsafe {
            (
                provider::<P>(instance),
                c_str(actor, "actor key")?,
                c_str(operation, "operation")?,
                abi::slice(payload, payload_len),
            )
        };
        provider.handle_call(actor, operation, payload)
    })
}

unsafe extern "C" fn health<P: Provider>(instance: *mut c_void, out: *mut Buffer) -> i32 {
    answer(out, || {
        // SAFETY: a live instance, per the ABI.
        unsafe { provider::<P>(instance) }.health().map(|()| Vec::new())
    })
}

unsafe extern "C" fn free_buffer(_instance: *mut c_void, ptr: *mut u8, len: usize) {
    // SAFETY: the host gives back exactly the buffers `answer` handed out.
    unsafe { abi::free_buffer(ptr, len) }
}

unsafe extern "C" fn stop<P: Provider>(instance: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a live instance, per the ABI.
        unsafe { provider::<P>(instance) }.stop();
    }));
    // SAFETY: `instance` came from Box::into_raw in `create`, and the host
    // calls `stop` once, after every other call has returned.
    let exported = unsafe { Box::from_raw(instance.cast::<Exported<P>>()) };
    // Dropping may run provider destructors; keep their panics here too.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(exported)));
}
