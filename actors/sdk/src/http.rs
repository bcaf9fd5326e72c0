//! `wascc:http_server`: HTTP requests handled by the actor.
//!
//! ```no_run
//! use host_edge_actor::prelude::*;
//!
//! actor_handlers! { http::HANDLE_REQUEST => hello }
//!
//! fn hello(request: http::Request) -> HandlerResult<http::Response> {
//!     Ok(match (request.method.as_str(), request.path.as_str()) {
//!         ("GET", "/hello") => {
//!             let name = request.query("name").unwrap_or_else(|| "world".to_owned());
//!             http::Response::ok().with_text(format!("hello, {name}"))
//!         }
//!         _ => http::Response::not_found(),
//!     })
//! }
//! ```
//!
//! A handler that fails makes the server answer by the failure's kind
//! (403 for a refused grant, 503 for a store that is down, 500 else).

pub use codec::http::{Request, Response};

/// The capability id.
pub const CAPABILITY: &str = "wascc:http_server";
/// Provider -> actor: a request arrived; carries a [`Request`], replies a
/// [`Response`].
pub const HANDLE_REQUEST: &str = codec::http::OP_HANDLE_REQUEST;
