//! The one clock edge timestamps are read from: the kernel's monotonic
//! clock, which rppal's interrupt events also use. Wall time is useless on
//! a board without a real-time clock until NTP has run.

/// Microseconds of the monotonic clock (since boot).
pub(crate) fn now_us() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}
