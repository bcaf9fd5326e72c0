//! Write host-edge actors in a few lines: register handlers with
//! [`actor_handlers!`] and call capabilities through typed clients.
//!
//! ```no_run
//! use host_edge_actor::prelude::*;
//!
//! actor_handlers! { http::HANDLE_REQUEST => count }
//!
//! fn count(request: http::Request) -> HandlerResult<http::Response> {
//!     let hits = keyvalue::default().atomic_add(&request.path, 1)?;
//!     Ok(http::Response::ok().with_json(format!("{{\"counter\":{hits}}}")))
//! }
//! ```
//!
//! A handler takes the operation's message and returns its reply, both
//! decoded and encoded here (msgpack, as waSCC's actors and host-edge's
//! providers write them). Every capability has a module with its
//! operations and messages and a client: `keyvalue::default()` talks to the
//! link named `default`, `keyvalue::host("cache")` to the link named
//! `cache` in the manifest.
//!
//! | module | capability | client |
//! |---|---|---|
//! | [`http`] | `wascc:http_server` | (handlers only) |
//! | [`http_client`] | `wascc:http_client` | [`http_client::HttpClient`] |
//! | [`keyvalue`] | `wascc:keyvalue` | [`keyvalue::KeyValue`] |
//! | [`messaging`] | `wascc:messaging` | [`messaging::Messaging`] |
//! | [`blobstore`] | `wascc:blobstore` | [`blobstore::Blobstore`] |
//! | [`gpio`] | `iot:gpio` | [`gpio::Pin`] |
//! | [`i2c`] | `iot:i2c` | [`i2c::Bus`] (embedded-hal 1.0's `I2c`), [`i2c::Delay`] |
//! | [`spi`] | `iot:spi` | [`spi::Device`] (embedded-hal 1.0's `SpiDevice`) |
//! | [`serial`] | `iot:serial` | [`serial::Port`] |
//! | [`extras`] | `wascc:extras` | [`extras::Extras`] |
//! | [`logging`] | `wascc:logging` | the `log` macros |
//! | [`actor`] | another actor, by module key | [`actor::call`], [`actor::caller`] |
//!
//! A refused or failed call returns an [`Error`] whose text is the host's
//! own message: a missing grant reads as that, in the actor and in the
//! 500/403 the HTTP server answers with.
//!
//! Every actor answers the host's health probe (`HealthRequest`) unless it
//! registers a handler of its own for [`HEALTH_REQUEST`].

mod error;
mod guest;

pub mod actor;
pub mod blobstore;
pub mod extras;
pub mod gpio;
pub mod i2c;
pub mod http;
pub mod http_client;
pub mod keyvalue;
pub mod logging;
pub mod messaging;
pub mod serial;
pub mod spi;

pub use codec;
/// The traits of embedded-hal 1.0, which [`i2c::Bus`], [`i2c::Delay`] and
/// [`spi::Device`] implement, for actors that call them without a driver.
pub use embedded_hal;

/// The actor's allocator: small blocks kept for reuse, so that the two
/// dozen allocations of a request cost a few interpreted instructions each
/// rather than dlmalloc's two thousand (the `small-alloc` feature, on by
/// default; host-edge-actor-alloc).
#[cfg(all(feature = "small-alloc", target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: actor_alloc::SizeClasses<std::alloc::System> = actor_alloc::SizeClasses::new(std::alloc::System);
pub use error::{Error, HandlerResult};

/// Host -> actor: the health probe; carries [`codec::core::HealthRequest`].
pub const HEALTH_REQUEST: &str = codec::core::OP_HEALTH_REQUEST;

/// What most actors import: the macro, the result types, every capability
/// module and the `log` macros.
pub mod prelude {
    pub use crate::{actor, actor_handlers, blobstore, extras, gpio, http, http_client, i2c, keyvalue, logging, messaging, serial, spi};
    pub use crate::{Error, HandlerResult};
    pub use log::{debug, error, info, trace, warn};
}

/// Registers the actor's handlers: `OPERATION => handler`, where the
/// operation is its name (the constants in each capability module, or any
/// `&str`) and the handler a function from the operation's message to its
/// reply, e.g. `fn(http::Request) -> HandlerResult<http::Response>`.
///
/// Defines the module's `wapc_init`, which the host runs once per instance;
/// it also installs the `log` macros' link to `wascc:logging` and a default
/// health handler.
#[macro_export]
macro_rules! actor_handlers {
    ($($operation:expr => $handler:path),* $(,)?) => {
        #[no_mangle]
        pub fn wapc_init() {
            $crate::__private::init();
            $(
                $crate::__private::register($operation, |payload| $crate::__private::dispatch(payload, $handler));
            )*
        }
    };
}

#[doc(hidden)]
pub mod __private {
    //! What [`actor_handlers!`] expands to; not part of the API.
    pub use crate::guest::{dispatch, init, register};
}
