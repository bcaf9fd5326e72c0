//! The I2C provider's parsers and simulated parts (`providers/i2c/src/`,
//! compiled in from its sources: the provider is a cdylib only): the
//! provider settings `SIM_DEVICES`, `SIM_BUSES` and the link value
//! `SAMPLE_EVERY` (the SDK's `schedule::interval`) from a manifest; grant rules (`1:0x76`); and a
//! transaction from an actor, decoded, checked and run on a simulated bus
//! holding a BME280 and a 24C02.
//!
//! Checks that: a `SIM_DEVICES` that parses places one device per entry,
//! each at a device's address and no two at one; an accepted sampling
//! interval is within its bounds; a rule permits an address only when its
//! kind is a bus number; a transaction that passes the shape and address
//! checks becomes messages that alternate writes and reads, completes with
//! each read exactly as long as asked or reports a fault, never panics a
//! part, and leaves the BME280 answering its chip id.

#![no_main]

#[allow(dead_code)]
#[path = "../../providers/i2c/src/address.rs"]
mod address;
#[allow(dead_code, unused_imports)]
#[path = "../../providers/i2c/src/backend/mod.rs"]
mod backend;
#[allow(dead_code)]
#[path = "../../providers/i2c/src/config.rs"]
mod config;
#[allow(dead_code)]
#[path = "../../providers/i2c/src/segments.rs"]
mod segments;
#[allow(dead_code)]
#[path = "../../providers/i2c/src/shape.rs"]
mod shape;
#[allow(dead_code)]
#[path = "../../providers/i2c/src/sim/mod.rs"]
mod sim;

use std::sync::OnceLock;

use backend::{Backend, Step};
use codec::i2c::{Operation, Transaction};
use libfuzzer_sys::fuzz_target;

fn bus() -> &'static sim::Sim {
    static SIM: OnceLock<sim::Sim> = OnceLock::new();
    SIM.get_or_init(|| sim::Sim::new(&[1], &sim::parse("1:0x76 bme280; 1:0x50 at24c02").expect("the fixed devices parse")))
}

fn settings(text: &str) {
    if let Ok(placed) = sim::parse(text) {
        let entries = text.split(';').filter(|e| !e.trim().is_empty()).count();
        assert_eq!(placed.len(), entries, "one device per entry of {text:?}");
        for (i, device) in placed.iter().enumerate() {
            assert!(address::check(device.address).is_ok(), "{device:?} sits at a reserved address");
            assert!(!placed[..i].iter().any(|d| (d.bus, d.address) == (device.bus, device.address)), "two devices at one address");
        }
    }
    if let Ok(Some(every)) = provider_sdk::schedule::interval(text) {
        let bounds = provider_sdk::schedule::MIN_INTERVAL..=provider_sdk::schedule::MAX_INTERVAL;
        assert!(bounds.contains(&every), "{text:?} samples every {every:?}");
    }
    let values = [("BACKEND", "sim"), ("SIM_BUSES", text)].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
    let _ = config::Config::read(&values);
}

fn rule(text: &str, bus: u8, address_byte: u8) {
    let Some((kind, value)) = text.split_once(':') else { return };
    if address::permits(kind, value, bus, address_byte) {
        assert!(address::understood(kind), "`{kind}` permitted {bus}:{address_byte} without naming a bus");
        assert_eq!(kind.parse::<u8>().ok(), Some(bus));
    }
}

fn transaction(bytes: &[u8]) {
    let Ok(transaction) = codec::deserialize::<Transaction>(bytes) else { return };
    if shape::check(&transaction).is_err() || address::check(transaction.address).is_err() {
        return;
    }
    let asked: Vec<usize> = transaction
        .operations
        .iter()
        .filter_map(|op| match op {
            Operation::Read(len) => Some(*len as usize),
            Operation::Write(_) => None,
        })
        .collect();
    // As the provider does: adjacent operations of one kind are one message.
    let segments = segments::merge(transaction.operations);
    for pair in segments.windows(2) {
        assert!(std::mem::discriminant(&pair[0]) != std::mem::discriminant(&pair[1]), "two messages of one kind in a row");
    }
    let mut buffers: Vec<Vec<u8>> = segments.iter().map(segments::Segment::buffer).collect();
    let mut steps: Vec<Step<'_>> = segments
        .iter()
        .zip(buffers.iter_mut())
        .map(|(segment, buffer)| match segment {
            segments::Segment::Write(_) => Step::Write(buffer),
            segments::Segment::Read(_) => Step::Read(buffer),
        })
        .collect();
    let outcome = bus().transaction(transaction.bus, transaction.address, &mut steps);
    drop(steps);
    if let Ok(Ok(())) = outcome {
        let reads = segments::split(&segments, buffers);
        assert_eq!(reads.iter().map(Vec::len).collect::<Vec<_>>(), asked, "each read gets exactly its own bytes");
    }
    // Whatever an actor sent, the parts still answer: the BME280 its chip id.
    let mut id = [0u8];
    let answered = bus().transaction(1, 0x76, &mut [Step::Write(&[0xD0]), Step::Read(&mut id)]);
    assert_eq!((answered, id), (Ok(Ok(())), [0x60]), "the BME280 stopped answering its chip id");
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
            let Some((&[bus_byte, address_byte], text)) = rest.split_first_chunk::<2>() else { return };
            if let Ok(text) = std::str::from_utf8(text) {
                rule(text, bus_byte, address_byte);
            }
        }
        _ => transaction(rest),
    }
});
