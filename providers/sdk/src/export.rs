//! The glue between the C ABI and a [`Provider`]: one `extern "C"` function
//! per descriptor slot, generic over the provider type. Each converts its
//! arguments, calls the provider inside `catch_unwind`, and turns a panic
//! into an error status with a message, so no panic ever unwinds into the
//! host.

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use codec::core::CapabilityConfiguration;
use provider_abi::ffi::{self, Buffer, HostServices, ProviderDescriptor, ABI_VERSION};
use provider_abi::{settings, ErrorKind, Failure};

use crate::{Host, Provider, ProviderError, Settings};

/// A provider's static descriptor and the strings it points at. The
/// `export_provider!` macro keeps one in a static of the provider crate.
pub struct Exported {
    descriptor: ProviderDescriptor,
    _strings: [CString; 3],
}

// SAFETY: immutable after construction; the pointers point into `_strings`,
// whose heap buffers never move or change.
unsafe impl Send for Exported {}
// SAFETY: as above.
unsafe impl Sync for Exported {}

/// The descriptor of `P`, built once into `slot`; null if building it
/// panicked (a capability id or name with a NUL in it).
pub fn descriptor<P: Provider>(slot: &'static OnceLock<Option<Exported>>) -> *const ProviderDescriptor {
    let exported = slot.get_or_init(|| {
        catch_unwind(|| {
            let strings = [
                CString::new(P::CAPABILITY_ID).expect("capability id without NUL"),
                CString::new(P::NAME).expect("name without NUL"),
                CString::new(settings::to_json(&P::settings())).expect("settings without NUL"),
            ];
            Exported {
                descriptor: ProviderDescriptor {
                    abi_version: ABI_VERSION,
                    capability_id: strings[0].as_ptr(),
                    name: strings[1].as_ptr(),
                    settings: strings[2].as_ptr(),
                    start: Some(start::<P>),
                    bind_actor: Some(bind_actor::<P>),
                    remove_actor: Some(remove_actor::<P>),
                    handle_call: Some(handle_call::<P>),
                    health: Some(health::<P>),
                    free_buffer: Some(free_buffer),
                    stop: Some(stop::<P>),
                },
                _strings: strings,
            }
        })
        .ok()
    });
    exported.as_ref().map_or(std::ptr::null(), |e| &e.descriptor as *const ProviderDescriptor)
}

/// # Safety
/// `instance` must be the pointer `start::<P>` stored, not yet stopped.
unsafe fn provider<'a, P: Provider>(instance: *mut c_void) -> &'a P {
    // SAFETY: guaranteed by the caller; only shared references are made.
    unsafe { &*instance.cast::<P>() }
}

/// Runs `call` and writes its outcome to `out`: the reply, or the error text
/// with its kind's code. A panic becomes a `failed` error naming it.
fn answer(out: *mut Buffer, call: impl FnOnce() -> Result<Vec<u8>, ProviderError>) -> i32 {
    let outcome = match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(e)) => Err(Failure::new(e.kind(), e.message())),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Err(Failure::new(ErrorKind::Failed, format!("the provider panicked: {what}")))
        }
    };
    // SAFETY: the host passes a valid, writable slot (or null).
    unsafe { ffi::give_reply(out, outcome) }
}

/// # Safety
/// `text` must be null or a NUL-terminated string valid for the call.
unsafe fn c_str<'a>(text: *const c_char, what: &str) -> Result<&'a str, ProviderError> {
    if text.is_null() {
        return Err(ProviderError::bad_request(format!("the {what} is missing")));
    }
    // SAFETY: guaranteed by the caller.
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .map_err(|_| ProviderError::bad_request(format!("the {what} is not UTF-8")))
}

unsafe extern "C" fn start<P: Provider>(
    host: *const HostServices,
    settings: *const u8,
    settings_len: usize,
    instance: *mut *mut c_void,
    error: *mut Buffer,
) -> i32 {
    answer(error, || {
        if host.is_null() || instance.is_null() {
            return Err(ProviderError::bad_request("start was called with a null argument"));
        }
        // SAFETY: the host passes valid services and `settings_len` readable bytes.
        let (host, settings) = unsafe { (Host::from_raw(*host)?, ffi::slice(settings, settings_len)) };
        let settings: Settings = if settings.is_empty() { Settings::new() } else { codec::deserialize(settings)? };
        let started = Box::new(P::start(host, settings)?);
        // SAFETY: a writable slot, checked non-null above.
        unsafe { *instance = Box::into_raw(started).cast::<c_void>() };
        Ok(Vec::new())
    })
}

fn configuration(config: *const u8, len: usize) -> Result<CapabilityConfiguration, ProviderError> {
    // SAFETY: the host passes `len` readable bytes at `config`.
    Ok(codec::deserialize(unsafe { ffi::slice(config, len) })?)
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
                ffi::slice(payload, payload_len),
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

unsafe extern "C" fn free_buffer(ptr: *mut u8, len: usize) {
    // SAFETY: the host gives back exactly the buffers `answer` handed out.
    unsafe { ffi::free_buffer(ptr, len) }
}

unsafe extern "C" fn stop<P: Provider>(instance: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a live instance, per the ABI.
        unsafe { provider::<P>(instance) }.stop();
    }));
    // SAFETY: `instance` came from Box::into_raw in `start`, and the host
    // calls `stop` once, after every other call has returned.
    let started = unsafe { Box::from_raw(instance.cast::<P>()) };
    // Dropping may run provider destructors; keep their panics here too.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(started)));
}
