//! host-edge: a WebAssembly actor host for edge and IoT boards.
//!
//! Actors are waPC modules carrying signed claims. host-edge verifies the
//! claims offline ([`claims`]), interprets the modules with wasmi
//! ([`engine`]) and runs each actor as a pool of instances ([`pool`]) that
//! the [`host`] routes calls to, enforcing the capabilities the claims grant.
//! The [`manifest`] says what to load.

pub mod actor;
pub mod builtin;
pub mod command;
pub mod context;
pub mod control;
pub mod endpoint;
pub mod engine;
pub mod fleet;
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod manifest;
pub mod metrics;
pub mod pool;
pub mod preflight;
pub mod provider;
pub mod reload;
mod registry;
pub mod router;
pub mod wascc_manifest;

pub use actor::{Actor, LoadError};
/// The claims check, capability ids and signing: the `host-edge-claims`
/// crate, which the fleet commands sign with too.
pub use claims;
pub use claims::capability;
pub use command::{Command, LinkSpec, Status};
pub use host::{Host, HostError, Unserved};
pub use manifest::Manifest;
pub use provider_abi::grant;
pub use provider_abi::settings::Scope as SettingScope;
pub use provider_abi::{ErrorKind, Failure};
