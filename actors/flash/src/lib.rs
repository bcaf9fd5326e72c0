//! `flash`: an SPI NOR flash example (Winbond W25Q and the parts that
//! share its commands) on chip select 0 of SPI bus 0, through the SDK's
//! embedded-hal `SpiDevice`. Each time its `iot:spi` link's `SAMPLE_EVERY`
//! comes round it reads the part's JEDEC id (logged on the first sample,
//! with the maker and size it names); `GET /flash` serves the id and `GET
//! /flash/ADDRESS` (hex) the 16 bytes from there. `cargo xtask raspi-check`
//! runs it on the emulated Raspberry Pi 3 B against QEMU's `w25q80` on the
//! BCM2835's SPI controller, through the real kernel's `spidev`.

use std::cell::Cell;

use host_edge_actor::embedded_hal::spi::{Operation, SpiDevice};
use host_edge_actor::prelude::*;

/// The bus and chip select the part is on, and the clock it is read at.
const BUS: u8 = 0;
const CHIP_SELECT: u8 = 0;
const SPEED_HZ: u32 = 1_000_000;

thread_local! {
    // wasm32 runs one thread: this is the instance's state.
    static ID: Cell<Option<[u8; 3]>> = const { Cell::new(None) };
}

actor_handlers! { spi::SAMPLE => sample, http::HANDLE_REQUEST => serve }

fn part() -> spi::Device {
    spi::device(BUS, CHIP_SELECT).with_speed(SPEED_HZ)
}

/// The JEDEC id (`0x9F`): maker, memory type, capacity. Six bytes are
/// clocked, as many as QEMU's flash models answer to one command, so a
/// model whose chip select the controller does not drive is left between
/// commands, as a real part is when the select rises.
fn jedec_id() -> Result<[u8; 3], spi::SpiError> {
    let mut id = [0u8; 6];
    part().transaction(&mut [Operation::Write(&[0x9F]), Operation::Read(&mut id)])?;
    Ok([id[0], id[1], id[2]])
}

/// The maker a JEDEC manufacturer byte names.
fn maker(byte: u8) -> &'static str {
    match byte {
        0xEF => "Winbond",
        0xC2 => "Macronix",
        0x20 => "Micron",
        0x01 => "Infineon (Spansion)",
        0xBF => "Microchip (SST)",
        0x9D => "ISSI",
        _ => "an unknown maker",
    }
}

/// The size the capacity byte gives (2 to its power), where it is one.
fn size(byte: u8) -> Option<u64> {
    (0x10..=0x21).contains(&byte).then(|| 1u64 << byte)
}

fn describe([maker_byte, kind, capacity]: [u8; 3]) -> String {
    let size = size(capacity).map_or_else(|| "an unknown size".to_owned(), |bytes| format!("{} KiB", bytes / 1024));
    format!("JEDEC id {maker_byte:02x} {kind:02x} {capacity:02x}: {}, {size}", maker(maker_byte))
}

fn sample(tick: spi::Sample) -> HandlerResult<()> {
    let id = jedec_id()?;
    if tick.sequence == 0 || ID.get() != Some(id) {
        info!("flash: {}", describe(id));
    }
    ID.set(Some(id));
    Ok(())
}

/// 16 bytes from `address` (`0x03`, a 24-bit address).
fn read(address: u32) -> Result<[u8; 16], spi::SpiError> {
    let [_, high, middle, low] = address.to_be_bytes();
    let mut bytes = [0u8; 16];
    part().transaction(&mut [Operation::Write(&[0x03, high, middle, low]), Operation::Read(&mut bytes)])?;
    Ok(bytes)
}

fn serve(request: http::Request) -> HandlerResult<http::Response> {
    if request.method != "GET" {
        return Ok(http::Response::not_found().with_text("try GET /flash or GET /flash/ADDRESS"));
    }
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Ok(match request.path.strip_prefix("/flash") {
        Some("") => match jedec_id() {
            Ok(id) => http::Response::ok().with_json(format!(
                r#"{{"id":"{}","maker":"{}","bytes":{}}}"#,
                hex(&id),
                maker(id[0]),
                size(id[2]).unwrap_or(0)
            )),
            Err(e) => http::Response::new(502).with_text(e.to_string()),
        },
        Some(rest) => match rest.strip_prefix('/').and_then(|a| u32::from_str_radix(a, 16).ok()).filter(|a| *a < 1 << 24) {
            Some(address) => match read(address) {
                Ok(bytes) => http::Response::ok().with_json(format!(r#"{{"address":{address},"bytes":"{}"}}"#, hex(&bytes))),
                Err(e) => http::Response::new(502).with_text(e.to_string()),
            },
            None => http::Response::new(400).with_text("the address is up to six hex digits: /flash/1f00"),
        },
        None => http::Response::not_found().with_text("try GET /flash or GET /flash/ADDRESS"),
    })
}
