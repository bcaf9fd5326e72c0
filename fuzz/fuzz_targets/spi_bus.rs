//! The SPI provider's parsers and simulated part (`providers/spi/src/`,
//! compiled in from its sources: the provider is a cdylib only): the
//! provider settings `SIM_DEVICES` and `SIM_BUSES` from a manifest; grant
//! rules (`0:0`); and a transaction from an actor, decoded, checked and
//! clocked through a simulated MCP3008.
//!
//! Checks that: a `SIM_DEVICES` that parses places one part per entry and
//! no two at one chip select; a rule permits a device only when its kind
//! and value are its bus and chip select; a transaction that passes the
//! shape check either completes with every read and transfer exactly as
//! long as asked, or reports a fault, never panics the part, and leaves it
//! converting correctly the next time its chip select falls.

#![no_main]

#[allow(dead_code, unused_imports)]
#[path = "../../providers/spi/src/backend/mod.rs"]
mod backend;
#[allow(dead_code)]
#[path = "../../providers/spi/src/config.rs"]
mod config;
#[allow(dead_code)]
#[path = "../../providers/spi/src/device.rs"]
mod device;
#[allow(dead_code)]
#[path = "../../providers/spi/src/shape.rs"]
mod shape;
#[allow(dead_code)]
#[path = "../../providers/spi/src/sim/mod.rs"]
mod sim;

use std::sync::OnceLock;

use backend::{Backend, Clocking, Step};
use codec::spi::{Operation, Transaction};
use libfuzzer_sys::fuzz_target;

fn bus() -> &'static sim::Sim {
    static SIM: OnceLock<sim::Sim> = OnceLock::new();
    SIM.get_or_init(|| sim::Sim::new(&[0], &sim::parse("0:0 mcp3008 ch0=1.65 ch5=3.0; 0:1 w25q80").expect("the fixed part parses")))
}

fn settings(text: &str) {
    if let Ok(placed) = sim::parse(text) {
        let entries = text.split(';').filter(|e| !e.trim().is_empty()).count();
        assert_eq!(placed.len(), entries, "one part per entry of {text:?}");
        for (i, part) in placed.iter().enumerate() {
            assert!(!placed[..i].iter().any(|p| (p.bus, p.cs) == (part.bus, part.cs)), "two parts at one chip select");
        }
    }
    let values = [("BACKEND", "sim"), ("SIM_BUSES", text)].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
    let _ = config::read(&values);
}

fn rule(text: &str, bus_byte: u8, cs: u8) {
    let Some((kind, value)) = text.split_once(':') else { return };
    if device::permits(kind, value, bus_byte, cs) {
        assert_eq!(device::number(kind), Some(bus_byte), "`{kind}` permitted bus {bus_byte}");
        assert!(value == "*" || device::number(value) == Some(cs), "`{value}` permitted chip select {cs}");
    }
}

fn transaction(bytes: &[u8]) {
    let Ok(transaction) = codec::deserialize::<Transaction>(bytes) else { return };
    if shape::check(&transaction).is_err() {
        return;
    }
    let mut buffers: Vec<Vec<u8>> = transaction
        .operations
        .iter()
        .filter_map(|op| match op {
            Operation::Read(len) => Some(vec![0; *len as usize]),
            Operation::Transfer(bytes) => Some(bytes.clone()),
            Operation::Write(_) | Operation::DelayNs(_) => None,
        })
        .collect();
    let asked: Vec<usize> = buffers.iter().map(Vec::len).collect();
    let mut filled = buffers.iter_mut();
    let mut steps: Vec<Step<'_>> = transaction
        .operations
        .iter()
        .map(|op| match op {
            Operation::Write(bytes) => Step::Write(bytes),
            Operation::Read(_) => Step::Read(filled.next().expect("a buffer per read")),
            Operation::Transfer(_) => Step::Transfer(filled.next().expect("a buffer per transfer")),
            // The simulator really waits; a fuzzer has no time for it.
            Operation::DelayNs(_) => Step::Delay(0),
        })
        .collect();
    let clocking = Clocking { mode: transaction.mode, speed_hz: transaction.speed_hz, bits_per_word: transaction.bits_per_word };
    let _ = bus().transaction(transaction.bus, transaction.chip_select, clocking, &mut steps);
    drop(steps);
    assert_eq!(buffers.iter().map(Vec::len).collect::<Vec<_>>(), asked, "a buffer changed length");
    // Whatever an actor clocked, the next conversion starts afresh when the
    // chip select falls: channel 0 (1.65 V of 3.3) still reads 512.
    let mut frame = [0x01, 0x80, 0x00];
    let clocking = Clocking { mode: 0, speed_hz: 1_000_000, bits_per_word: 8 };
    assert_eq!(bus().transaction(0, 0, clocking, &mut [Step::Transfer(&mut frame)]), Ok(Ok(())));
    assert_eq!(u16::from(frame[1] & 3) << 8 | u16::from(frame[2]), 512, "the MCP3008 lost its way after {frame:02x?}");
    // And the flash answers its id, whatever was programmed or erased.
    let mut id = [0x9F, 0, 0, 0];
    assert_eq!(bus().transaction(0, 1, clocking, &mut [Step::Transfer(&mut id)]), Ok(Ok(())));
    assert_eq!(id[1..], [0xEF, 0x50, 0x14], "the W25Q80 lost its way");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                settings(text);
            }
        }
        1 => {
            let Some((&[bus_byte, cs], text)) = rest.split_first_chunk::<2>() else { return };
            if let Ok(text) = std::str::from_utf8(text) {
                rule(text, bus_byte, cs);
            }
        }
        _ => transaction(rest),
    }
});
