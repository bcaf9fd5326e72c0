//! The serial provider's parsers of outside input (`providers/serial/src/`,
//! compiled in from its sources: the provider is a cdylib only): the link
//! value `OPEN` from a manifest, port names from actors and grants, and the
//! framer that cuts what a device sends; and the simulated GPS's setting
//! and its answers to what an actor writes to it.
//!
//! Checks that: a value that parses opens one port per non-empty entry,
//! named first in its entry; an accepted port name is one plain file name
//! (joined to the device folder, it stays one level below it); and framing
//! loses or adds no byte and never makes a frame longer than the limit.

#![no_main]

#[allow(dead_code)]
#[path = "../../providers/serial/src/framer.rs"]
mod framer;
#[allow(dead_code)]
#[path = "../../providers/serial/src/link.rs"]
mod link;
#[allow(dead_code)]
#[path = "../../providers/serial/src/name.rs"]
mod name;
#[allow(dead_code)]
#[path = "../../providers/serial/src/nmea.rs"]
mod nmea;

use std::path::Path;

use codec::serial::Framing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 5 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            let Ok(opens) = link::parse(text) else { return };
            let entries: Vec<&str> = text.split(';').map(str::trim).filter(|e| !e.is_empty()).collect();
            assert_eq!(opens.len(), entries.len());
            for (open, entry) in opens.iter().zip(entries) {
                assert_eq!(Some(open.port.as_str()), entry.split_whitespace().next());
            }
        }
        1 => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            if name::check(text).is_ok() {
                assert_eq!(Path::new("/dev").join(text).parent(), Some(Path::new("/dev")), "`{}` leaves the folder", text.escape_debug());
                assert!(text != "." && text != "..");
            }
        }
        3 => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            if let Ok(Some(spec)) = nmea::parse(text) {
                // Whatever the setting, every sentence of the fix carries its checksum.
                for line in nmea::fix(&spec, u64::from(mode) * 86_399).split_terminator("\r\n") {
                    let (body, sum) = line.strip_prefix('$').and_then(|l| l.split_once('*')).expect("a sentence");
                    assert_eq!(u8::from_str_radix(sum, 16).ok(), Some(body.bytes().fold(0, |a, b| a ^ b)));
                }
            }
        }
        4 => {
            let text = String::from_utf8_lossy(rest);
            if let Some(reply) = nmea::answer(&text) {
                assert!(text.trim().starts_with("$PMTK") && reply.starts_with("$PMTK001,"), "{text:?} -> {reply:?}");
            }
        }
        _ => {
            let Some((&[kind, limit], stream)) = rest.split_first_chunk::<2>() else { return };
            let framing = match kind % 4 {
                0 => Framing::None,
                1 => Framing::Line,
                2 => Framing::Delimiter(limit),
                _ => Framing::Length(u32::from(limit)),
            };
            let longest = usize::from(limit).max(1);
            let mut framer = framer::Framer::new(framing, longest);
            let mut out = 0usize;
            for chunk in stream.chunks(7) {
                for frame in framer.push(chunk) {
                    assert!(frame.data.len() <= longest, "a frame of {} bytes past the limit {longest}", frame.data.len());
                    out += frame.data.len();
                }
            }
            // A line loses its line end (and a \r before it); nothing else goes.
            let ends = if framing == Framing::Line { stream.iter().filter(|&&b| b == b'\n').count() * 2 } else { 0 };
            assert!(out <= stream.len() && out + ends >= stream.len().saturating_sub(longest), "bytes lost: {out} of {}", stream.len());
        }
    }
});
