//! `gps`: the serial example. Its `iot:serial` link opens the port a GPS
//! module is on, its lines delivered (`OPEN = "ttyS0 baud=9600
//! frame=line"`); each GGA sentence (`$GPGGA`, `$GNGGA`) with a valid
//! checksum updates the fix. `GET /position` serves the latest
//! (`{"latitude":..,"longitude":..,"satellites":..,"sentences":..}`, 503
//! before one); `POST /send` writes the body to the module, with its
//! checksum and line end added (`PMTK220,1000` sets a 1 Hz rate on MediaTek
//! modules), to the port the actor heard its first sentence on.

use std::cell::RefCell;

use host_edge_actor::prelude::*;

#[derive(Default)]
struct State {
    /// The port the sentences came from.
    port: Option<String>,
    fix: Option<(f64, f64, u32)>,
    sentences: u64,
}

thread_local! {
    // wasm32 runs one thread: this is the instance's state.
    static STATE: RefCell<State> = RefCell::new(State::default());
}

actor_handlers! { serial::RECEIVE => line, http::HANDLE_REQUEST => serve }

/// The NMEA checksum: the XOR of the bytes between `$` and `*`.
fn checksum(body: &str) -> u8 {
    body.bytes().fold(0, |sum, b| sum ^ b)
}

/// A degrees-and-minutes field (`4807.038`) with its hemisphere, in
/// degrees.
fn degrees(value: &str, hemisphere: &str, degree_digits: usize) -> Option<f64> {
    let whole: f64 = value.get(..degree_digits)?.parse().ok()?;
    let minutes: f64 = value.get(degree_digits..)?.parse().ok()?;
    let sign = if matches!(hemisphere, "S" | "W") { -1.0 } else { 1.0 };
    Some(sign * (whole + minutes / 60.0))
}

/// The fix of a GGA sentence with a valid checksum and a fix.
fn gga(sentence: &str) -> Option<(f64, f64, u32)> {
    let (body, sum) = sentence.strip_prefix('$')?.split_once('*')?;
    if u8::from_str_radix(sum.trim(), 16).ok()? != checksum(body) {
        return None;
    }
    let fields: Vec<&str> = body.split(',').collect();
    if !matches!(fields.first(), Some(&("GPGGA" | "GNGGA"))) || fields.get(6).is_none_or(|q| *q == "0") {
        return None;
    }
    Some((degrees(fields.get(2)?, fields.get(3)?, 2)?, degrees(fields.get(4)?, fields.get(5)?, 3)?, fields.get(7)?.parse().ok()?))
}

fn line(frame: serial::Frame) -> HandlerResult<()> {
    let sentence = String::from_utf8_lossy(&frame.data);
    STATE.with_borrow_mut(|state| {
        state.port.get_or_insert(frame.port);
        state.sentences += 1;
        if let Some(fix) = gga(&sentence) {
            state.fix = Some(fix);
        }
    });
    Ok(())
}

fn serve(request: http::Request) -> HandlerResult<http::Response> {
    Ok(match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/position") => STATE.with_borrow(|state| match state.fix {
            Some((latitude, longitude, satellites)) => http::Response::ok().with_json(format!(
                r#"{{"latitude":{latitude:.6},"longitude":{longitude:.6},"satellites":{satellites},"sentences":{}}}"#,
                state.sentences
            )),
            None => http::Response::new(503).with_text("no fix yet"),
        }),
        ("POST", "/send") => {
            let Some(port) = STATE.with_borrow(|state| state.port.clone()) else {
                return Ok(http::Response::new(503).with_text("no port heard from yet"));
            };
            let body = String::from_utf8_lossy(&request.body);
            let command = format!("${body}*{:02X}\r\n", checksum(&body));
            serial::port(&port).write(command.as_bytes())?;
            http::Response::ok().with_text(command)
        }
        _ => http::Response::not_found().with_text("try GET /position or POST /send"),
    })
}
