//! `wascc-kvcounter`: waSCC's kvcounter example as waSCC users wrote it,
//! on waSCC's own SDK (wascc-actor 0.7), run by host-edge unmodified.
//! Each request adds one to the key made from its path (`/hits` becomes
//! `:hits`) and answers `{"counter": N}`: in the store linked as `default`,
//! or with `?binding=NAME` in the store linked under that binding name.

extern crate wascc_actor as actor;

use actor::prelude::*;
use serde_json::json;

actor_handlers! {
    codec::http::OP_HANDLE_REQUEST => increment_counter,
    codec::core::OP_HEALTH_REQUEST => health
}

fn increment_counter(msg: codec::http::Request) -> HandlerResult<codec::http::Response> {
    let key = msg.path.replace('/', ":");
    let store = match msg.query_string.strip_prefix("binding=") {
        Some(binding) => keyvalue::host(binding),
        None => keyvalue::default(),
    };
    let value = store.atomic_add(&key, 1)?;
    Ok(codec::http::Response::json(json!({ "counter": value }), 200, "OK"))
}

fn health(_req: codec::core::HealthRequest) -> HandlerResult<()> {
    Ok(())
}
