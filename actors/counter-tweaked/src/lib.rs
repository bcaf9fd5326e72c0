//! `counter-tweaked`: the counter's next version, as waSCC's
//! `kvcounter_tweaked` was to `kvcounter`. It counts in the same keys as
//! `counter` (`/hits` adds one to `:hits`) and answers
//! `{"counter": N, "version": 2}`, so a live replacement shows in the
//! answers while the count goes on.

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
    let add = codec::serialize(&AddRequest { key: request.path.replace('/', ":"), value: 1 })?;
    let AddResponse { value } = codec::deserialize(&host_call("default", "wascc:keyvalue", OP_ADD, &add)?)?;
    let body = format!("{{\"counter\":{value},\"version\":2}}").into_bytes();
    Ok(codec::serialize(&Response::json(200, "OK", body))?)
}
