//! `thermometer`: an I2C example without a driver crate. Each time its
//! `iot:i2c` link's `SAMPLE_EVERY` comes round it reads an LM75-compatible
//! thermometer (LM75, TMP102, TMP105) at 0x48 on bus 1, register by
//! register through the SDK's device client, logs the reading, and keeps it
//! in a 24C02 EEPROM at 0x50 so that the reading before a restart is known
//! after it (logged on the first sample). `GET /temperature` serves the
//! latest. `cargo xtask raspi-check` runs it on the emulated Raspberry Pi
//! 3 B against QEMU's TMP105 and AT24C, through the real kernel's I2C
//! driver.

use std::cell::Cell;

use host_edge_actor::prelude::*;

/// The bus, the thermometer and the EEPROM.
const BUS: u8 = 1;
const THERMOMETER: u8 = 0x48;
const EEPROM: u8 = 0x50;
/// Where in the EEPROM the last reading is kept (two bytes, as the
/// thermometer gives them).
const SLOT: u8 = 0x00;

thread_local! {
    // wasm32 runs one thread: this is the instance's state.
    static LATEST: Cell<Option<i16>> = const { Cell::new(None) };
}

actor_handlers! { i2c::SAMPLE => sample, http::HANDLE_REQUEST => serve }

/// The temperature register's raw value in degrees Celsius: a signed
/// 16-bit value, 1/256 degree per unit (the low bits the part does not
/// resolve are zero).
fn celsius(raw: i16) -> f64 {
    f64::from(raw) / 256.0
}

fn sample(tick: i2c::Sample) -> HandlerResult<()> {
    let bus = i2c::bus(BUS);
    let eeprom = bus.device(EEPROM);
    if tick.sequence == 0 {
        let kept = eeprom.write_read(&[SLOT], 2)?;
        match <[u8; 2]>::try_from(kept.as_slice()) {
            Ok([0xFF, 0xFF]) | Err(_) => info!("no earlier reading in the EEPROM"),
            Ok(bytes) => info!("the reading before this start: {:.2} C", celsius(i16::from_be_bytes(bytes))),
        }
    }
    let bytes = bus.device(THERMOMETER).write_read(&[0x00], 2)?;
    let raw = i16::from_be_bytes([bytes[0], bytes[1]]);
    LATEST.set(Some(raw));
    eeprom.write(&[SLOT, bytes[0], bytes[1]])?;
    info!("temperature {:.2} C, kept in the EEPROM", celsius(raw));
    Ok(())
}

fn serve(request: http::Request) -> HandlerResult<http::Response> {
    Ok(match (request.method.as_str(), request.path.as_str(), LATEST.get()) {
        ("GET", "/temperature", Some(raw)) => http::Response::ok().with_json(format!(r#"{{"celsius":{:.2}}}"#, celsius(raw))),
        ("GET", "/temperature", None) => http::Response::new(503).with_text("no reading yet"),
        _ => http::Response::not_found().with_text("try GET /temperature"),
    })
}
