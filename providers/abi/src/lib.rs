//! The provider ABI, written once for both sides of the C boundary.
//!
//! The host (`host-edge`) and the Rust provider SDK both build on this crate,
//! so the glue that crosses the boundary (the `repr(C)` types, the buffer
//! rules, the outcome codes) exists in one place. Beside the raw types it
//! holds what both sides must read the same way: the declared [`settings`]
//! of a provider and the [`grant`] format of fine-grained permissions.
//! `include/host_edge_provider.h` is the same contract for C, and
//! `docs/provider-abi.md` explains it.

pub mod ffi;
pub mod grant;
mod outcome;
pub mod redact;
pub mod settings;
pub mod suggest;

pub use outcome::{ErrorKind, Failure};
