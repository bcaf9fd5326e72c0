//! `echo`: the smallest useful actor, on the wapc-guest 1.x SDK.
//!
//! Operations:
//! - `Echo`: replies with the request payload unchanged;
//! - `Empty`: does nothing and replies with nothing (measures call overhead);
//! - `HostCall`: payload `binding\nnamespace\noperation\nbody`; makes that one
//!   host call and replies with the host's answer, or fails with its error.

use wapc_guest::prelude::*;

#[no_mangle]
pub fn wapc_init() {
    register_function("Echo", echo);
    register_function("Empty", empty);
    register_function("HostCall", forward);
}

fn echo(payload: &[u8]) -> CallResult {
    Ok(payload.to_vec())
}

fn empty(_payload: &[u8]) -> CallResult {
    Ok(Vec::new())
}

fn forward(payload: &[u8]) -> CallResult {
    let text = std::str::from_utf8(payload)?;
    let mut parts = text.splitn(4, '\n');
    let mut next = |what: &str| parts.next().ok_or_else(|| format!("HostCall payload lacks the {what}"));
    let binding = next("binding")?;
    let namespace = next("namespace")?;
    let operation = next("operation")?;
    let body = next("body").unwrap_or_default();
    host_call(binding, namespace, operation, body.as_bytes())
}
