//! `weather`: the I2C example. Each time its `iot:i2c` link's
//! `SAMPLE_EVERY` comes round, it reads a BME280 (bus 1, address 0x76)
//! with the `bme280` driver from crates.io, unmodified, over the SDK's
//! embedded-hal bus and host-side delay; publishes the reading as JSON on
//! `weather/reading`; and serves the latest at `GET /weather` (503 before
//! the first). A failed reading is an error of that sampling call, and the
//! next call starts the sensor afresh.

use std::cell::RefCell;

use bme280::i2c::BME280;
use host_edge_actor::prelude::*;

/// Where the sensor sits.
const BUS: u8 = 1;
/// Where each reading is published.
const TOPIC: &str = "weather/reading";

thread_local! {
    // wasm32 runs one thread: this is the instance's state.
    static SENSOR: RefCell<Option<BME280<i2c::Bus>>> = const { RefCell::new(None) };
    static LATEST: RefCell<Option<String>> = const { RefCell::new(None) };
}

actor_handlers! { i2c::SAMPLE => sample, http::HANDLE_REQUEST => serve }

/// The driver's error in words: the bus's own message for a bus error.
fn describe(error: bme280::Error<i2c::I2cError>) -> String {
    match error {
        bme280::Error::Bus(e) => format!("the BME280 on bus {BUS}: {e}"),
        other => format!("the BME280 on bus {BUS}: {other:?}"),
    }
}

fn sample(tick: i2c::Sample) -> HandlerResult<()> {
    let mut delay = i2c::delay();
    let measured = SENSOR.with_borrow_mut(|sensor| {
        let ready = match sensor.take() {
            Some(ready) => ready,
            None => {
                let mut fresh = BME280::new_primary(i2c::bus(BUS));
                fresh.init(&mut delay).map_err(describe)?;
                fresh
            }
        };
        let ready = sensor.insert(ready);
        ready.measure(&mut delay).map_err(describe)
    });
    delay.check()?;
    let measured = measured.inspect_err(|_| SENSOR.set(None))?;
    let reading = format!(
        r#"{{"temperature":{:.2},"pressure":{:.2},"humidity":{:.2},"sequence":{}}}"#,
        measured.temperature,
        measured.pressure / 100.0,
        measured.humidity,
        tick.sequence
    );
    LATEST.set(Some(reading.clone()));
    messaging::default().publish(TOPIC, reading.as_bytes())?;
    Ok(())
}

fn serve(request: http::Request) -> HandlerResult<http::Response> {
    Ok(match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/weather") => match LATEST.with_borrow(Clone::clone) {
            Some(reading) => http::Response::ok().with_json(reading),
            None => http::Response::new(503).with_text("no reading yet"),
        },
        _ => http::Response::not_found().with_text("try GET /weather"),
    })
}
