//! `faulty`: an actor that misbehaves on request.
//!
//! The host must survive every one of these and keep serving other calls:
//! - `Loop`: never returns (only the fuel budget stops it);
//! - `Panic`: panics, which traps (`panic = "abort"`);
//! - `Grow`: payload is a number of MiB to allocate and touch;
//! - `Fail`: returns an error the ordinary way;
//! - `Echo`: behaves, to show the instance (or its replacement) still works;
//! - `HandleRequest` (from the HTTP server): misbehaves by path — `/loop`,
//!   `/panic`, `/fail` — so each failure can be seen as an HTTP status.

use codec::http::{Request, OP_HANDLE_REQUEST};
use wapc_guest::prelude::*;

#[no_mangle]
pub fn wapc_init() {
    register_function("Loop", spin);
    register_function("Panic", panic);
    register_function("Grow", grow);
    register_function("Fail", fail);
    register_function("Echo", |payload| Ok(payload.to_vec()));
    register_function(OP_HANDLE_REQUEST, handle_request);
}

fn handle_request(payload: &[u8]) -> CallResult {
    let request: Request = codec::deserialize(payload)?;
    match request.path.as_str() {
        "/loop" => spin(payload),
        "/panic" => panic(payload),
        "/fail" => fail(payload),
        other => Err(format!("HandleRequest: no misbehaviour at `{other}`").into()),
    }
}

fn spin(_payload: &[u8]) -> CallResult {
    let mut n: u64 = 0;
    loop {
        n = core::hint::black_box(n.wrapping_add(1));
    }
}

fn panic(_payload: &[u8]) -> CallResult {
    panic!("asked to panic");
}

fn grow(payload: &[u8]) -> CallResult {
    let mib: usize = std::str::from_utf8(payload)?.trim().parse()?;
    let mut block = vec![0u8; mib * 1024 * 1024];
    for page in block.chunks_mut(65536) {
        page[0] = 1;
    }
    let touched = block.iter().filter(|b| **b == 1).count();
    Ok(touched.to_string().into_bytes())
}

fn fail(_payload: &[u8]) -> CallResult {
    Err("asked to fail".into())
}
