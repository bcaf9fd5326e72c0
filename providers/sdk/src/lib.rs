//! Writing native capability providers for host-edge.
//!
//! A provider is a shared library (`cdylib`) the host loads at run time. The
//! host and the provider meet only at the plain C interface in [`abi`]:
//! pointers with lengths, integers and C strings, so a provider may be built
//! by another compiler version, or in C, and still load on 32-bit ARM. The
//! rest of this crate lets a Rust provider implement the safe [`Provider`]
//! trait and export it with [`export_provider!`], with no `unsafe` of its
//! own: the SDK converts every call, owns every buffer it hands out and
//! catches every panic before it could cross the boundary.

pub mod abi;
mod dispatcher;
#[doc(hidden)]
pub mod export;
pub mod bindings;
pub mod keyvalue;
mod provider;

pub use codec;
pub use dispatcher::HostDispatcher;
pub use provider::{Provider, ProviderError};

/// Exports `$provider` (a type implementing [`Provider`]) as this library's
/// provider, built by `$create` (a `fn() -> $provider`) when the host loads
/// it. Use it once per provider crate:
///
/// ```ignore
/// provider_sdk::export_provider!(MyProvider, MyProvider::new);
/// ```
#[macro_export]
macro_rules! export_provider {
    ($provider:ty, $create:path) => {
        /// The provider's entry point; see `host_edge_provider.h`.
        #[no_mangle]
        pub extern "C" fn __capability_provider_create() -> *mut $crate::abi::ProviderDescriptor {
            $crate::export::create::<$provider>($create)
        }
    };
}
