//! The I2C provider's parsers and simulated parts (`providers/i2c/src/`,
//! compiled in from its sources: the provider is a cdylib only): the
//! provider settings `SIM_DEVICES`, `SIM_BUSES` and the link value
//! `SAMPLE_EVERY` (the SDK's `schedule::interval`) from a manifest; grant rules (`1:0x76`); and a
//! transaction from an actor, decoded, checked and run on a simulated bus
//! holding a BME280 and a 24C02.
//!
//! Checks that: a `SIM_DEVICES` that parses places one device per entry,
//! each at a device's address and no two at one; an accepted sampling
//! interval is at least the minimum; a rule permits an address only when
//! its kind is a bus number; a transaction that passes the shape and
//! address checks either completes with each read exactly as long as asked
//! or reports a fault, and never panics a part.

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
        assert!(every >= provider_sdk::schedule::MIN_INTERVAL, "{text:?} samples every {every:?}");
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
    let mut reads: Vec<Vec<u8>> = transaction
        .operations
        .iter()
        .filter_map(|op| match op {
            Operation::Read(len) => Some(vec![0; *len as usize]),
            Operation::Write(_) => None,
        })
        .collect();
    let asked: Vec<usize> = reads.iter().map(Vec::len).collect();
    let mut buffers = reads.iter_mut();
    let mut steps: Vec<Step<'_>> = transaction
        .operations
        .iter()
        .map(|op| match op {
            Operation::Write(bytes) => Step::Write(bytes),
            Operation::Read(_) => Step::Read(buffers.next().expect("a buffer per read").as_mut_slice()),
        })
        .collect();
    let _ = bus().transaction(transaction.bus, transaction.address, &mut steps);
    drop(steps);
    assert_eq!(reads.iter().map(Vec::len).collect::<Vec<_>>(), asked, "a read's buffer changed length");
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
