#![warn(unnameable_types)]
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

mod actor;
mod builtin;
mod command;
mod context;
mod engine;
mod handler;
mod host;
pub mod manifest;
pub mod metrics;
mod pool;
pub mod preflight;
pub mod provider;
mod registry;
pub mod reload;
mod router;
mod state_dir;
pub mod wascc_manifest;
mod wiring;

pub use actor::{Actor, LoadError};
pub use builtin::{BuiltinSettings, LogLimit};
/// The claims check, capability ids and signing: the `host-edge-claims`
/// crate, which the fleet commands sign with too.
pub use claims;
pub use claims::capability;
pub use command::{ActorStatus, Command, LinkSpec, LinkStatus, ProviderStatus, Status};
pub use engine::{CompiledModule, EngineError, Instance, InvokeError, Limits, Usage, DEFAULT_BINDING};
pub use handler::CapabilityHandler;
pub use host::{Host, HostError, Unserved, ACTOR_CALL_TIMEOUT, DRAIN_TIMEOUT};
pub use manifest::Manifest;
pub use pool::{ActorPool, CallbackFactory, Scaling, QUEUE_LIMIT};
pub use provider_abi::grant;
pub use provider_abi::settings::Scope as SettingScope;
pub use provider_abi::{ErrorKind, Failure};
pub use router::DispatchError;
pub use state_dir::{is_provider_name, ProviderNameError, CLOCK_FILE};
