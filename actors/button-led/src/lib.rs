//! `button-led`: each press of the button toggles the LED, and HTTP reads
//! and sets it:
//! - `GET /led` answers `{"led":"high"}`;
//! - `PUT /led` with `high`, `low`, `on`, `off` or `toggle` sets it;
//! - `GET /edges` answers how many edge events arrived, how many the
//!   provider dropped, and the last sequence number.
//!
//! The pins come from the link's `OPEN` value (the manifest), so the
//! button works from the moment the actor is linked. The actor needs
//! `iot:gpio` (granted `out:led,in:button`) and `wascc:http_server`.

use core::sync::atomic::{AtomicU64, Ordering};

use codec::gpio::{EdgeEvent, Level, PinRequest, PinState, WriteRequest, OP_HANDLE_EDGE, OP_READ, OP_TOGGLE, OP_WRITE};
use codec::http::{Request, Response, OP_HANDLE_REQUEST};
use wapc_guest::prelude::*;

const LED: &str = "led";

static EVENTS: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static LAST_SEQUENCE: AtomicU64 = AtomicU64::new(0);

#[no_mangle]
pub fn wapc_init() {
    register_function(OP_HANDLE_EDGE, handle_edge);
    register_function(OP_HANDLE_REQUEST, handle_request);
    register_function("HealthRequest", |_| Ok(codec::UNIT_REPLY.to_vec()));
}

/// One `iot:gpio` call on the LED; the reply is the pin's state.
fn gpio(operation: &str, request: Result<Vec<u8>, codec::CodecError>) -> Result<PinState, Box<dyn std::error::Error + Sync + Send>> {
    let reply = host_call("default", codec::gpio::CAPABILITY_ID, operation, &request?)?;
    Ok(codec::deserialize(&reply)?)
}

fn pin() -> Result<Vec<u8>, codec::CodecError> {
    codec::serialize(&PinRequest { pin: LED.into() })
}

fn write(level: Level) -> Result<Vec<u8>, codec::CodecError> {
    codec::serialize(&WriteRequest { pin: LED.into(), level })
}

fn handle_edge(payload: &[u8]) -> CallResult {
    let event: EdgeEvent = codec::deserialize(payload)?;
    EVENTS.fetch_add(1, Ordering::Relaxed);
    DROPPED.fetch_add(event.dropped, Ordering::Relaxed);
    LAST_SEQUENCE.store(event.sequence, Ordering::Relaxed);
    gpio(OP_TOGGLE, pin())?;
    Ok(codec::UNIT_REPLY.to_vec())
}

fn handle_request(payload: &[u8]) -> CallResult {
    let request: Request = codec::deserialize(payload)?;
    let response = match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/led") => led(gpio(OP_READ, pin())?),
        ("PUT", "/led") => match std::str::from_utf8(&request.body).unwrap_or("").trim() {
            "high" | "on" => led(gpio(OP_WRITE, write(Level::High))?),
            "low" | "off" => led(gpio(OP_WRITE, write(Level::Low))?),
            "toggle" => led(gpio(OP_TOGGLE, pin())?),
            other => Response::json(400, "Bad Request", format!("{{\"error\":\"`{other}` is not high, low, on, off or toggle\"}}").into_bytes()),
        },
        ("GET", "/edges") => {
            let body = format!(
                "{{\"events\":{},\"dropped\":{},\"last_sequence\":{}}}",
                EVENTS.load(Ordering::Relaxed),
                DROPPED.load(Ordering::Relaxed),
                LAST_SEQUENCE.load(Ordering::Relaxed)
            );
            Response::json(200, "OK", body.into_bytes())
        }
        _ => Response::json(404, "Not Found", b"{\"error\":\"try GET /led, PUT /led or GET /edges\"}".to_vec()),
    };
    Ok(codec::serialize(&response)?)
}

fn led(state: PinState) -> Response {
    Response::json(200, "OK", format!("{{\"led\":\"{}\",\"pin\":{}}}", state.level.as_str(), state.pin).into_bytes())
}
