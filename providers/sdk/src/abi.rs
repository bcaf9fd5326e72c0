//! The provider ABI: the plain C interface between the host and a provider
//! library. `include/host_edge_provider.h` is the same contract for C, and
//! `docs/provider-abi.md` explains it.
//!
//! Only C types cross: pointers with lengths, fixed-size integers and
//! NUL-terminated UTF-8 strings. No Rust type with an unspecified layout
//! (trait objects, `String`, `Vec`, `Result`) ever does: waSCC returned a
//! trait object from its entry point, which the ARM EABI returns through a
//! hidden pointer the caller never passed, and its providers crashed on
//! 32-bit Raspberry Pi OS.
//!
//! Rules both sides keep:
//! - The host calls [`CREATE_SYMBOL`] once per provider instance and reads
//!   [`ProviderDescriptor::abi_version`] (always the first field) before
//!   anything else; another version is refused.
//! - Every function but `stop` may be called from several threads at once.
//! - A buffer returned in a [`Buffer`] belongs to whoever allocated it and is
//!   given back through that side's `free_buffer`; `ptr` may be null when
//!   `len` is 0.
//! - After `stop` returns, the provider makes no more dispatcher calls and
//!   the descriptor is invalid.

use std::ffi::{c_char, c_void};

/// The ABI version this crate implements. Raised on any change to the types
/// or rules in this module.
pub const ABI_VERSION: u32 = 1;

/// The symbol every provider library exports, NUL-terminated:
/// `ProviderDescriptor *__capability_provider_create(void)`.
pub const CREATE_SYMBOL: &[u8] = b"__capability_provider_create\0";

/// The call succeeded; the output buffer holds the reply.
pub const STATUS_OK: i32 = 0;
/// The call failed; the output buffer holds a UTF-8 error message.
pub const STATUS_ERROR: i32 = 1;

/// An output slot for bytes: the callee stores a pointer and length it
/// allocated; the caller returns them through the callee's `free_buffer`.
#[repr(C)]
#[derive(Debug)]
pub struct Buffer {
    /// The bytes, or null when `len` is 0.
    pub ptr: *mut u8,
    /// How many bytes.
    pub len: usize,
}

impl Buffer {
    /// An empty slot, as the caller passes it.
    pub const fn empty() -> Buffer {
        Buffer { ptr: std::ptr::null_mut(), len: 0 }
    }
}

/// `ProviderDescriptor *__capability_provider_create(void)`; null if the
/// provider could not start.
pub type CreateFn = unsafe extern "C" fn() -> *mut ProviderDescriptor;

/// The host's dispatcher: delivers a call from the provider to an actor
/// bound to it. Writes the reply (`STATUS_OK`) or an error text
/// (`STATUS_ERROR`) into `out`, which the provider frees with
/// `free_buffer`.
pub type DispatchFn = unsafe extern "C" fn(
    context: *const c_void,
    actor: *const c_char,
    operation: *const c_char,
    payload: *const u8,
    payload_len: usize,
    out: *mut Buffer,
) -> i32;

/// Frees a buffer the other side allocated.
pub type FreeBufferFn = unsafe extern "C" fn(context: *const c_void, ptr: *mut u8, len: usize);

/// What the host hands a provider so it can call actors. Valid until the
/// provider's `stop` returns; the provider copies it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Dispatcher {
    /// The host's context, passed back on every call.
    pub context: *const c_void,
    /// Delivers a call to an actor.
    pub dispatch: DispatchFn,
    /// Frees a buffer `dispatch` returned.
    pub free_buffer: FreeBufferFn,
}

/// The provider's description of itself and its functions. `instance` is
/// passed back as the first argument of every function.
#[repr(C)]
#[derive(Debug)]
pub struct ProviderDescriptor {
    /// Must equal the host's [`ABI_VERSION`]. Always the first field.
    pub abi_version: u32,
    /// The capability id served, e.g. `wascc:keyvalue`.
    pub capability_id: *const c_char,
    /// A human-friendly name, e.g. `SQLite key-value store`.
    pub name: *const c_char,
    /// The provider's own state.
    pub instance: *mut c_void,
    /// Receives the host's dispatcher. Called once, before any actor is bound.
    pub set_dispatcher: Option<unsafe extern "C" fn(instance: *mut c_void, dispatcher: *const Dispatcher) -> i32>,
    /// Binds an actor: `config` is a msgpack `CapabilityConfiguration`
    /// `{module, values}`. `out` receives an error text on failure.
    pub bind_actor:
        Option<unsafe extern "C" fn(instance: *mut c_void, config: *const u8, config_len: usize, out: *mut Buffer) -> i32>,
    /// Removes an actor's binding; `config` as for `bind_actor`.
    pub remove_actor:
        Option<unsafe extern "C" fn(instance: *mut c_void, config: *const u8, config_len: usize, out: *mut Buffer) -> i32>,
    /// Handles `operation` from `actor` (module key) with a msgpack payload.
    pub handle_call: Option<
        unsafe extern "C" fn(
            instance: *mut c_void,
            actor: *const c_char,
            operation: *const c_char,
            payload: *const u8,
            payload_len: usize,
            out: *mut Buffer,
        ) -> i32,
    >,
    /// `STATUS_OK` when healthy; otherwise `out` says why.
    pub health: Option<unsafe extern "C" fn(instance: *mut c_void, out: *mut Buffer) -> i32>,
    /// Frees a buffer this provider returned.
    pub free_buffer: Option<unsafe extern "C" fn(instance: *mut c_void, ptr: *mut u8, len: usize)>,
    /// Stops the provider and frees `instance` and this descriptor.
    pub stop: Option<unsafe extern "C" fn(instance: *mut c_void)>,
}

/// Moves `bytes` into a [`Buffer`] the receiver gives back with
/// [`free_buffer`]. Both sides of a Rust-to-Rust pair use this.
pub fn buffer_from_vec(bytes: Vec<u8>) -> Buffer {
    if bytes.is_empty() {
        return Buffer::empty();
    }
    let boxed = bytes.into_boxed_slice();
    let len = boxed.len();
    Buffer { ptr: Box::into_raw(boxed).cast::<u8>(), len }
}

/// Frees a buffer made by [`buffer_from_vec`].
///
/// # Safety
/// `ptr` and `len` must come from one [`buffer_from_vec`] call in this same
/// library and not have been freed.
pub unsafe fn free_buffer(ptr: *mut u8, len: usize) {
    if !ptr.is_null() {
        // SAFETY: the caller guarantees ptr/len describe a boxed slice from
        // buffer_from_vec, allocated by this library's allocator.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
    }
}

/// Reads `len` bytes at `ptr` (null allowed when `len` is 0).
///
/// # Safety
/// When `len` > 0, `ptr` must point to `len` readable bytes that stay valid
/// for `'a`.
pub unsafe fn slice<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 || ptr.is_null() {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}
