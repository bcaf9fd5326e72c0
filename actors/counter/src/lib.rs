//! `counter`: each HTTP request adds one to the key made from its path
//! (`/hits` becomes `:hits`) in the linked key-value store and answers
//! `{"counter": N}`. Without a `wascc:keyvalue` grant the host refuses the
//! `Add`, and the request fails with the host's message.

use host_edge_actor::prelude::*;

actor_handlers! { http::HANDLE_REQUEST => count }

fn count(request: http::Request) -> HandlerResult<http::Response> {
    let value = keyvalue::default().atomic_add(&request.path.replace('/', ":"), 1)?;
    Ok(http::Response::ok().with_json(format!("{{\"counter\":{value}}}")))
}
