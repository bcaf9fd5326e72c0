//! Telling the two kinds of library that export `__capability_provider_create`
//! apart: host-edge ABI 1 providers (a C descriptor, version 1 first) and
//! waSCC providers (a Rust trait object).
//!
//! Both are refused; the refusal should say which one it is and what to do.
//! The only way to know is to call the entry point, and calling waSCC's
//! crashes on 32-bit ARM (the trait object is returned through a hidden
//! pointer the caller never passes). So the call happens in a forked child
//! that does nothing else: it calls, reads the would-be descriptor, writes
//! one byte to a pipe and exits. A crash, a hang (killed after
//! [`PROBE_TIMEOUT`]) or anything that is not a well-formed version 1
//! descriptor reads as waSCC. The host's own process never runs the code.

use std::ffi::c_void;
use std::time::{Duration, Instant};

/// How long the child may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the legacy entry point turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Legacy {
    /// A host-edge ABI 1 descriptor.
    HostEdgeV1,
    /// Anything else: waSCC's trait object (or a crash, which is what waSCC's
    /// entry point does when called the C way on 32-bit ARM).
    Wascc,
}

const VERDICT_V1: u8 = 1;
const VERDICT_OTHER: u8 = 2;

/// The layout of an ABI 1 descriptor, as far as the probe reads it.
#[repr(C)]
struct DescriptorV1 {
    abi_version: u32,
    capability_id: *const u8,
    name: *const u8,
    instance: *mut c_void,
    functions: [*const c_void; 7],
}

/// Calls `create` in a forked child and classifies what it returns.
pub(crate) fn probe(create: unsafe extern "C" fn() -> *const c_void) -> Legacy {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Legacy::Wascc;
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    // SAFETY: the child only calls `create`, reads memory, writes to the
    // pipe and `_exit`s: it never returns into the parent's Rust code, never
    // runs destructors and never touches a lock another thread may hold.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: in the child; see above.
        unsafe {
            let verdict = if looks_like_v1(create()) { VERDICT_V1 } else { VERDICT_OTHER };
            libc::write(write_end, (&verdict as *const u8).cast(), 1);
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copy of the write end, so EOF arrives if the child dies.
    unsafe { libc::close(write_end) };
    let verdict = if pid < 0 { None } else { read_verdict(read_end, pid) };
    // SAFETY: our read end, closed once.
    unsafe { libc::close(read_end) };
    match verdict {
        Some(VERDICT_V1) => Legacy::HostEdgeV1,
        _ => Legacy::Wascc,
    }
}

/// Waits for the child's byte, reaps it, and kills it if it overstays.
fn read_verdict(read_end: i32, pid: libc::pid_t) -> Option<u8> {
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let mut verdict = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut poll = libc::pollfd { fd: read_end, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if ready > 0 {
            let mut byte = 0u8;
            // SAFETY: reading one byte into a local.
            let n = unsafe { libc::read(read_end, (&mut byte as *mut u8).cast(), 1) };
            if n == 1 {
                verdict = Some(byte);
            }
            break;
        }
        if ready == 0 || left.is_zero() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break;
        }
    }
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    verdict
}

/// # Safety
/// Reads through `pointer` as if it were an ABI 1 descriptor: call it only
/// in the probe's child, where a bad read ends the child, not the host.
unsafe fn looks_like_v1(pointer: *const c_void) -> bool {
    if pointer.is_null() {
        return false;
    }
    // SAFETY: see the function's contract.
    let descriptor = unsafe { &*pointer.cast::<DescriptorV1>() };
    // SAFETY: as above.
    descriptor.abi_version == 1
        && descriptor.functions.iter().all(|f| !f.is_null())
        && unsafe { is_text(descriptor.capability_id) && is_text(descriptor.name) }
}

/// # Safety
/// As [`looks_like_v1`].
unsafe fn is_text(pointer: *const u8) -> bool {
    if pointer.is_null() {
        return false;
    }
    for i in 0..256 {
        // SAFETY: as above.
        match unsafe { *pointer.add(i) } {
            0 => return i > 0,
            b if b.is_ascii_graphic() || b == b' ' => {}
            _ => return false,
        }
    }
    false
}
