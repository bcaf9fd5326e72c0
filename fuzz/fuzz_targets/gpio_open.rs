//! The GPIO provider's `OPEN` link value (`providers/gpio/src/link.rs`,
//! compiled in from its source: the provider is a cdylib only): the pins a
//! link opens for its actor, from the manifest or a fleet deployment.
//!
//! Checks that a value that parses opens one pin per non-empty entry, each
//! with the pin named first in its entry.

#![no_main]

#[allow(dead_code)]
#[path = "../../providers/gpio/src/link.rs"]
mod link;

use libfuzzer_sys::fuzz_target;
use link::{parse, Open};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(opens) = parse(text) else { return };
    let entries: Vec<&str> = text.split(';').map(str::trim).filter(|e| !e.is_empty()).collect();
    assert_eq!(opens.len(), entries.len());
    for (open, entry) in opens.iter().zip(entries) {
        let pin = match open {
            Open::Input(request) => &request.pin,
            Open::Output(request) => &request.pin,
            Open::Pwm(request) => &request.pin,
        };
        assert_eq!(Some(pin.as_str()), entry.split_whitespace().next());
    }
});
