//! `counter`: each HTTP request adds one to the key made from its path
//! (`/hits` becomes `:hits`) in the linked key-value store and answers
//! `{"counter": N}`.
//!
//! Needs the `wascc:http_server` and `wascc:keyvalue` capabilities. Without
//! the key-value one, the host refuses the `Add` and the request fails with
//! the host's error, which names the capability.

use codec::http::{Request, Response, OP_HANDLE_REQUEST};
use codec::keyvalue::{AddRequest, AddResponse, OP_ADD};
use wapc_guest::prelude::*;

#[no_mangle]
pub fn wapc_init() {
    register_function(OP_HANDLE_REQUEST, handle_request);
    register_function("HealthRequest", |_| Ok(codec::UNIT_REPLY.to_vec()));
}

fn handle_request(payload: &[u8]) -> CallResult {
    let request: Request = codec::deserialize(payload)?;
    let key = request.path.replace('/', ":");
    let add = codec::serialize(&AddRequest { key, value: 1 })?;
    let reply = host_call("default", "wascc:keyvalue", OP_ADD, &add)?;
    let AddResponse { value } = codec::deserialize(&reply)?;
    let body = format!("{{\"counter\":{value}}}").into_bytes();
    Ok(codec::serialize(&Response::json(200, "OK", body))?)
}
