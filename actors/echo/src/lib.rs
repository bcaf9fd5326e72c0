//! `echo`: the smallest useful actor, on the wapc-guest 1.x SDK.
//!
//! Operations:
//! - `Echo`: replies with the request payload unchanged;
//! - `Empty`: does nothing and replies with nothing (measures call overhead);
//! - `HostCall`: payload `binding\nnamespace\noperation\nbody` (the body may be
//!   binary); makes that one host call and replies with the host's answer, or
//!   fails with its error.

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
    // Split on bytes: the body may be binary (msgpack), only the three
    // header lines must be text.
    let mut parts = payload.splitn(4, |b| *b == b'\n');
    let mut line = |what: &str| -> Result<&str, Box<dyn std::error::Error + Sync + Send>> {
        let part = parts.next().ok_or_else(|| format!("HostCall payload lacks the {what}"))?;
        Ok(std::str::from_utf8(part)?)
    };
    let binding = line("binding")?;
    let namespace = line("namespace")?;
    let operation = line("operation")?;
    let body = parts.next().unwrap_or_default();
    host_call(binding, namespace, operation, body)
}
