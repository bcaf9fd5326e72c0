//! The C types of provider ABI version 3, and the buffer rules.
//!
//! Only C types cross: pointers with lengths, fixed-size integers and
//! NUL-terminated UTF-8 strings. No Rust type with an unspecified layout
//! (trait objects, `String`, `Vec`, `Result`) ever does: waSCC returned a
//! trait object from `__capability_provider_create`, which the ARM EABI
//! returns through a hidden pointer the caller never passed, and its
//! providers crashed on 32-bit Raspberry Pi OS.
//!
//! Rules both sides keep:
//! - A provider library exports [`ENTRY_SYMBOL`] (`host_edge_provider`), a
//!   function returning a pointer to a static [`ProviderDescriptor`]. The
//!   name cannot be confused with waSCC's `__capability_provider_create`.
//!   The host reads [`ProviderDescriptor::abi_version`] (always the first
//!   field, in every version) before anything else and refuses another
//!   version; calling the entry point does no work and starts nothing.
//! - `start` makes an instance with the host's services ([`HostServices`])
//!   and the provider-level settings; every other function takes that
//!   instance.
//! - Every function but `stop` may be called from several threads at once.
//! - A status is `0` (success) or an error code ([`crate::ErrorKind`]); on
//!   error the output buffer holds a UTF-8 message.
//! - A buffer returned in a [`Buffer`] belongs to whoever allocated it and is
//!   given back through that side's `free_buffer`; `ptr` may be null when
//!   `len` is 0.
//! - `bind_actor` for an actor that is already bound updates its binding
//!   (new link values, a new grant) without a gap in service.
//! - After `stop` returns, the provider makes no more host calls.
//! - [`HostServices::dispatch_async`] answers through the provider's
//!   [`ReplyFn`] exactly once, from whichever thread finishes the call
//!   (perhaps before it returns); the reply bytes are lent for that call.

use std::ffi::{c_char, c_void};

use crate::{ErrorKind, Failure};

/// The ABI version this crate implements. Raised on any change to the types
/// or rules in this module.
pub const ABI_VERSION: u32 = 3;

/// The oldest ABI version the host still loads. Version 3 only appended
/// [`HostServices::dispatch_async`], which a version 2 provider never reads.
pub const OLDEST_ABI_VERSION: u32 = 2;

/// The symbol every provider library exports, NUL-terminated:
/// `const he_provider_descriptor *host_edge_provider(void)`.
pub const ENTRY_SYMBOL: &[u8] = b"host_edge_provider\0";

/// The entry point of ABI version 1, which waSCC's providers also export
/// (with a Rust trait object as the return value). Its presence without
/// [`ENTRY_SYMBOL`] marks a library the host refuses, never calls.
pub const LEGACY_SYMBOL: &[u8] = b"__capability_provider_create\0";

/// The call succeeded; the output buffer holds the reply.
pub const STATUS_OK: i32 = 0;

/// Log levels of [`HostServices::log`], as `tracing` has them.
pub mod level {
    /// An error.
    pub const ERROR: u32 = 1;
    /// A warning.
    pub const WARN: u32 = 2;
    /// Information.
    pub const INFO: u32 = 3;
    /// Debugging detail.
    pub const DEBUG: u32 = 4;
    /// Tracing detail.
    pub const TRACE: u32 = 5;
}

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

/// `const he_provider_descriptor *host_edge_provider(void)`.
pub type EntryFn = unsafe extern "C" fn() -> *const ProviderDescriptor;

/// Delivers a call from the provider to an actor bound to it. Writes the
/// reply (status 0) or an error text (an [`ErrorKind`] code) into `out`,
/// which the provider frees with [`HostServices::free_buffer`].
pub type DispatchFn = unsafe extern "C" fn(
    context: *const c_void,
    actor: *const c_char,
    operation: *const c_char,
    payload: *const u8,
    payload_len: usize,
    out: *mut Buffer,
) -> i32;

/// Receives the outcome of [`HostServices::dispatch_async`]: `waiter` as the
/// provider passed it, a status as [`DispatchFn`] returns one, and the reply
/// (status 0) or error text, lent until this function returns.
pub type ReplyFn = unsafe extern "C" fn(waiter: *mut c_void, status: i32, bytes: *const u8, len: usize);

/// Queues a call from the provider to an actor bound to it and returns at
/// once; the outcome reaches `on_reply(waiter, ...)` exactly once, from the
/// thread that finishes the call, or from this one when it cannot be queued
/// or runs nested (called from `handle_call` for that same actor). No thread
/// of the provider waits meanwhile, and `on_reply` may come after `stop`.
pub type DispatchAsyncFn = unsafe extern "C" fn(
    context: *const c_void,
    actor: *const c_char,
    operation: *const c_char,
    payload: *const u8,
    payload_len: usize,
    on_reply: ReplyFn,
    waiter: *mut c_void,
);

/// Frees a buffer the host allocated.
pub type HostFreeFn = unsafe extern "C" fn(context: *const c_void, ptr: *mut u8, len: usize);

/// Writes a log line into the host's log, under the provider's identity.
pub type LogFn = unsafe extern "C" fn(context: *const c_void, level: u32, message: *const u8, message_len: usize);

/// What the host offers a provider instance. Valid until the provider's
/// `stop` returns; the provider copies it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HostServices {
    /// The host's context, passed back on every call.
    pub context: *const c_void,
    /// Delivers a call to an actor.
    pub dispatch: DispatchFn,
    /// Frees a buffer `dispatch` returned.
    pub free_buffer: HostFreeFn,
    /// Logs a line; `level` is one of [`level`].
    pub log: LogFn,
    /// The provider's own state directory (absolute, UTF-8, NUL-terminated,
    /// created by the host, private to this provider instance).
    pub state_dir: *const c_char,
    /// Delivers a call to an actor without blocking the caller (version 3).
    pub dispatch_async: DispatchAsyncFn,
}

/// Makes a provider instance: `settings` is a msgpack map of the
/// provider-level settings (string to string). On success stores the
/// instance in `*instance`; on failure writes an error text into `error`
/// (freed with the descriptor's `free_buffer`).
pub type StartFn = unsafe extern "C" fn(
    host: *const HostServices,
    settings: *const u8,
    settings_len: usize,
    instance: *mut *mut c_void,
    error: *mut Buffer,
) -> i32;

/// Binds or removes an actor: `config` is a msgpack `CapabilityConfiguration`
/// `{module, values}`.
pub type BindFn = unsafe extern "C" fn(instance: *mut c_void, config: *const u8, config_len: usize, out: *mut Buffer) -> i32;

/// Handles `operation` from `actor` (module key) with a msgpack payload.
pub type HandleCallFn = unsafe extern "C" fn(
    instance: *mut c_void,
    actor: *const c_char,
    operation: *const c_char,
    payload: *const u8,
    payload_len: usize,
    out: *mut Buffer,
) -> i32;

/// Reports health: status 0 when healthy; otherwise `out` says why.
pub type HealthFn = unsafe extern "C" fn(instance: *mut c_void, out: *mut Buffer) -> i32;

/// Frees a buffer this provider returned.
pub type ProviderFreeFn = unsafe extern "C" fn(ptr: *mut u8, len: usize);

/// Stops the instance and frees it.
pub type StopFn = unsafe extern "C" fn(instance: *mut c_void);

/// A provider's static description of itself and its functions.
#[repr(C)]
#[derive(Debug)]
pub struct ProviderDescriptor {
    /// [`ABI_VERSION`], or an older version the host still loads (from
    /// [`OLDEST_ABI_VERSION`]). Always the first field.
    pub abi_version: u32,
    /// The capability id served, e.g. `wascc:keyvalue`.
    pub capability_id: *const c_char,
    /// A human-friendly name, e.g. `SQLite key-value store`.
    pub name: *const c_char,
    /// The settings it accepts, as JSON (see [`crate::settings`]); null when
    /// it accepts none.
    pub settings: *const c_char,
    /// Makes an instance.
    pub start: Option<StartFn>,
    /// Binds an actor, or updates the binding of one already bound.
    pub bind_actor: Option<BindFn>,
    /// Removes an actor's binding.
    pub remove_actor: Option<BindFn>,
    /// Handles a call from an actor.
    pub handle_call: Option<HandleCallFn>,
    /// Reports health.
    pub health: Option<HealthFn>,
    /// Frees a buffer this provider returned.
    pub free_buffer: Option<ProviderFreeFn>,
    /// Stops and frees an instance.
    pub stop: Option<StopFn>,
}

// SAFETY: a descriptor is immutable static data (strings and function
// pointers) once the entry point has returned it.
unsafe impl Sync for ProviderDescriptor {}

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

/// Copies the bytes the other side left in `out`, gives its buffer back
/// through `free`, and reads `status`: the reply, or the typed failure.
/// Both directions (host calling provider, provider calling host) end a
/// call this way.
///
/// # Safety
/// `out` must be what the other side wrote (or left empty) for this call,
/// and `free` must be that side's function for freeing it.
pub unsafe fn take_reply(status: i32, out: Buffer, free: impl FnOnce(*mut u8, usize)) -> Result<Vec<u8>, Failure> {
    // SAFETY: the callee filled `out` (or left it empty); valid until freed.
    let outcome = outcome_of(status, unsafe { slice(out.ptr, out.len) });
    if !out.ptr.is_null() {
        free(out.ptr, out.len);
    }
    outcome
}

/// Reads a status and the bytes that came with it: the reply, or the typed
/// failure whose message the bytes are.
pub fn outcome_of(status: i32, bytes: &[u8]) -> Result<Vec<u8>, Failure> {
    match ErrorKind::from_code(status) {
        None => Ok(bytes.to_vec()),
        Some(kind) => Err(Failure { kind, message: String::from_utf8_lossy(bytes).into_owned() }),
    }
}

/// A call's outcome as it crosses: status 0 with the reply, or the failure's
/// code with its message.
pub fn status_of(outcome: Result<Vec<u8>, Failure>) -> (i32, Vec<u8>) {
    match outcome {
        Ok(reply) => (STATUS_OK, reply),
        Err(failure) => (failure.kind.code(), failure.message.into_bytes()),
    }
}

/// Writes a call's outcome into the caller's `out` slot and returns its
/// status: the reply with 0, or the failure's text with its code.
///
/// # Safety
/// `out` must be null or a writable slot the caller passed.
pub unsafe fn give_reply(out: *mut Buffer, outcome: Result<Vec<u8>, Failure>) -> i32 {
    let (status, bytes) = status_of(outcome);
    if !out.is_null() {
        // SAFETY: a writable slot, per the caller.
        unsafe { *out = buffer_from_vec(bytes) };
    }
    status
}
