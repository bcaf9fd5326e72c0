//! Writing native capability providers for host-edge.
//!
//! A provider is a shared library (`cdylib`) the host loads at run time. The
//! host and the provider meet only at the plain C interface of
//! [`provider_abi`] (re-exported as [`abi`]): pointers with lengths,
//! integers and C strings, so a provider may be built by another compiler
//! version, or in C, and still load on 32-bit ARM. This crate lets a Rust
//! provider implement the safe [`Provider`] trait and export it with
//! [`export_provider!`], with no `unsafe` of its own: the SDK converts every
//! call, owns every buffer it hands out and catches every panic before it
//! could cross the boundary.

pub mod bindings;
#[doc(hidden)]
pub mod export;
mod host;
pub mod keyvalue;
mod provider;
pub mod schedule;

pub use codec;
pub use host::{Host, Level};
pub use provider::{Provider, ProviderError, Settings};
pub use provider_abi as abi;
pub use provider_abi::grant;
pub use provider_abi::settings::{Kind as SettingKind, Scope as SettingScope, Setting};
pub use provider_abi::ErrorKind;

/// Exports `$provider` (a type implementing [`Provider`]) as this library's
/// provider. Use it once per provider crate:
///
/// ```ignore
/// provider_sdk::export_provider!(MyProvider);
/// ```
#[macro_export]
macro_rules! export_provider {
    ($provider:ty) => {
        /// The provider's entry point; see `host_edge_provider.h`.
        #[no_mangle]
        pub extern "C" fn host_edge_provider() -> *const $crate::abi::ffi::ProviderDescriptor {
            static DESCRIPTOR: ::std::sync::OnceLock<::std::option::Option<$crate::export::Exported>> =
                ::std::sync::OnceLock::new();
            $crate::export::descriptor::<$provider>(&DESCRIPTOR)
        }
    };
}
