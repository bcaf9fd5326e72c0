//! Native capability providers: shared libraries loaded at run time through
//! the plain C ABI of `host-edge-provider-sdk` (`providers/sdk/src/abi.rs`).
//!
//! [`NativeProvider`] owns one loaded provider instance and is the only place
//! the host crosses into provider code; [`dispatcher`] is the way back, from
//! a provider's thread into an actor.

pub mod dispatcher;
mod native;

pub use native::{NativeProvider, ProviderError};
