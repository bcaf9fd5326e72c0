//! `button-led`: each press of the button toggles the LED, and HTTP reads
//! and sets it: `GET /led` answers `{"led":"high","pin":17}`, `PUT /led`
//! with `high`, `low`, `on`, `off` or `toggle` sets it, and `GET /edges`
//! counts the edge events, those the provider dropped, and the last
//! sequence number. The link's `OPEN` value opens the pins; the actor is
//! granted `iot:gpio` (`out:17,in:27`; the manifest labels them `led` and `button`) and `wascc:http_server`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use host_edge_actor::prelude::*;

static EVENTS: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static LAST_SEQUENCE: AtomicU64 = AtomicU64::new(0);

actor_handlers! { gpio::HANDLE_EDGE => pressed, http::HANDLE_REQUEST => serve }

fn pressed(event: gpio::EdgeEvent) -> HandlerResult<()> {
    EVENTS.fetch_add(1, Relaxed);
    DROPPED.fetch_add(event.dropped, Relaxed);
    LAST_SEQUENCE.store(event.sequence, Relaxed);
    gpio::pin("led").toggle()?;
    Ok(())
}

fn serve(request: http::Request) -> HandlerResult<http::Response> {
    let (led, json) = (gpio::pin("led"), |response: http::Response, body: String| Ok(response.with_json(body)));
    let state = match (request.method.as_str(), request.path.as_str(), request.text().trim()) {
        ("GET", "/led", _) => led.state()?,
        ("PUT", "/led", "high" | "on") => led.set_high()?,
        ("PUT", "/led", "low" | "off") => led.set_low()?,
        ("PUT", "/led", "toggle") => led.toggle()?,
        ("PUT", "/led", other) => return json(http::Response::bad_request(), format!(r#"{{"error":"`{other}` is not high, low, on, off or toggle"}}"#)),
        ("GET", "/edges", _) => {
            let (events, dropped, last) = (EVENTS.load(Relaxed), DROPPED.load(Relaxed), LAST_SEQUENCE.load(Relaxed));
            return json(http::Response::ok(), format!(r#"{{"events":{events},"dropped":{dropped},"last_sequence":{last}}}"#));
        }
        _ => return json(http::Response::not_found(), r#"{"error":"try GET /led, PUT /led or GET /edges"}"#.to_owned()),
    };
    json(http::Response::ok(), format!(r#"{{"led":"{}","pin":{}}}"#, state.level.as_str(), state.pin))
}
