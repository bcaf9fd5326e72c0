//! host-edge's runtime: the part of host-edge that runs signed WebAssembly
//! actors and binds them to capability providers, as a library.
//!
//! Actors are waPC modules carrying signed claims. The runtime verifies the
//! claims offline ([`claims`]), interprets the modules with wasmi
//! ([`engine`]) and runs each actor as a pool of instances ([`pool`]) that
//! the [`Host`] routes calls to, enforcing the capabilities the claims
//! grant, down to the fine grants. Providers are native libraries behind
//! the C ABI ([`provider`]), loaded only when a trusted issuer signed them.
//! The [`manifest`] says what to load; [`Command`]s change it while it runs.
//!
//! Fleet control (the `host-edge-fleet` crate) and the command line, the
//! control socket and the metrics endpoint (the `host-edge` binary) are
//! built on this crate and are not part of it: a device build can leave
//! them out.

pub mod actor;
pub mod builtin;
pub mod command;
pub mod context;
pub mod engine;
mod handler;
pub mod host;
pub mod manifest;
pub mod metrics;
pub mod pool;
pub mod preflight;
pub mod provider;
pub mod reload;
mod registry;
pub mod router;
pub mod state_dir;
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
