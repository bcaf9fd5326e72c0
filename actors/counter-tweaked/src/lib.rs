//! `counter-tweaked`: the counter's next version, as waSCC's
//! `kvcounter_tweaked` was to `kvcounter`: the same keys, and
//! `{"counter": N, "version": 2}`, so a live replacement shows.

use host_edge_actor::prelude::*;

actor_handlers! { http::HANDLE_REQUEST => count }

fn count(request: http::Request) -> HandlerResult<http::Response> {
    let value = keyvalue::default().atomic_add(&request.path.replace('/', ":"), 1)?;
    Ok(http::Response::ok().with_json(format!("{{\"counter\":{value},\"version\":2}}")))
}
