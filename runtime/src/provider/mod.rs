//! Native capability providers: shared libraries loaded at run time through
//! the plain C ABI of `host-edge-provider-abi` (`providers/abi/src/ffi.rs`).
//!
//! - [`library`]: opening a library, reading its descriptor and declared
//!   settings, and refusing what is not a host-edge provider of ABI 2 or 3;
//! - `legacy`: telling a waSCC provider from a host-edge ABI 1 one without
//!   ever calling its entry point in the host's process;
//! - [`trust`]: where a library may come from: a signed archive verified
//!   before anything of it is loaded, or a bare one allowed for development;
//! - [`native`]: one started provider instance, the only place the host
//!   crosses into provider code;
//! - `services`: the way back, from a provider's thread into the host
//!   (calling actors, waiting or not, logging, the state directory).

mod error;
mod legacy;
pub mod library;
pub mod native;
mod services;
pub mod trust;

pub use error::ProviderError;
pub use library::ProviderLibrary;
pub use native::NativeProvider;
pub use services::{Answer, Deliver, Delivery};
pub use trust::{Provenance, ProviderTrust};
