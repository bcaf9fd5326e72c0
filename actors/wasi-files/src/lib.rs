//! `wasi-files`: an actor built for `wasm32-wasip1` that reads a file on
//! `GET /hostname`. host-edge serves actors no file system, so the module
//! is refused when it is loaded, with an error naming the WASI import.

use host_edge_actor::prelude::*;

actor_handlers! { http::HANDLE_REQUEST => hostname }

fn hostname(_request: http::Request) -> HandlerResult<http::Response> {
    Ok(http::Response::ok().with_text(std::fs::read_to_string("/etc/hostname")?))
}
