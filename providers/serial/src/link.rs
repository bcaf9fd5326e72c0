//! The ports a link opens for its actor: the link value `OPEN`, so an
//! actor hears its GPS from the moment it is linked, without a start-up
//! call of its own (waPC has none), and an operator sees in the manifest
//! what each actor listens to.
//!
//! `OPEN = "ttyS0 baud=9600 frame=line; ttyUSB0 baud=115200 parity=even
//! stop=2 flow=hardware delimiter=0x0d"`: entries separated by `;`, each a
//! port and options. The ports are opened at bind time under the same
//! checks as the actor's own calls, so a port outside the grant refuses the
//! link.

use provider_sdk::codec::serial::{FlowControl, Framing, OpenRequest, Parity};

/// Why an entry of `OPEN` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OPEN: `{entry}`: {problem}")]
pub(crate) struct OpenError {
    /// The entry as given.
    pub(crate) entry: String,
    /// What is wrong with it.
    pub(crate) problem: String,
}

/// The options an entry takes.
const OPTIONS: &str = "baud, data, parity, stop, flow, frame, delimiter and length";

/// Reads the `OPEN` link value.
pub(crate) fn parse(text: &str) -> Result<Vec<OpenRequest>, OpenError> {
    text.split(';').map(str::trim).filter(|e| !e.is_empty()).map(entry).collect()
}

fn entry(text: &str) -> Result<OpenRequest, OpenError> {
    let fail = |problem: String| OpenError { entry: text.to_owned(), problem };
    let mut words = text.split_whitespace();
    let Some(port) = words.next() else { return Err(fail("expected a port and options, such as `ttyS0 baud=9600 frame=line`".into())) };
    let mut request = OpenRequest::new(port);
    for word in words {
        let (name, value) = word.split_once('=').ok_or_else(|| fail(format!("`{word}` is not an option of the form name=value")))?;
        let number = |max: u64| {
            parse_number(value)
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| fail(format!("{name} takes a number from 1 to {max}, not `{value}`")))
        };
        let choice = |choices: &[&str]| {
            choices.iter().position(|c| *c == value).ok_or_else(|| fail(format!("`{value}` is not one of {}", choices.join(", "))))
        };
        match name {
            "baud" => request.baud_rate = number(4_000_000)? as u32,
            "data" => request.data_bits = [5, 6, 7, 8][choice(&["5", "6", "7", "8"])?],
            "parity" => request.parity = [Parity::None, Parity::Even, Parity::Odd][choice(&["none", "even", "odd"])?],
            "stop" => request.stop_bits = [1, 2][choice(&["1", "2"])?],
            "flow" => {
                request.flow_control = [FlowControl::None, FlowControl::Software, FlowControl::Hardware][choice(&["none", "software", "hardware"])?]
            }
            "frame" => request.framing = [Framing::None, Framing::Line][choice(&["none", "line"])?],
            "delimiter" => request.framing = Framing::Delimiter(number(255)? as u8),
            "length" => request.framing = Framing::Length(number(4096)? as u32),
            other => return Err(fail(format!("`{other}` is not an option; an entry takes {OPTIONS}"))),
        }
    }
    Ok(request)
}

/// A number written in decimal or as `0x..`.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_names_a_port_and_its_line_settings() {
        let opens = parse("ttyS0 baud=9600 frame=line; ttyUSB0 baud=115200 parity=even stop=2 flow=hardware delimiter=0x0d;").unwrap();
        assert_eq!(opens[0], OpenRequest { framing: Framing::Line, ..OpenRequest::new("ttyS0") });
        assert_eq!(
            opens[1],
            OpenRequest {
                baud_rate: 115_200,
                parity: Parity::Even,
                stop_bits: 2,
                flow_control: FlowControl::Hardware,
                framing: Framing::Delimiter(0x0d),
                ..OpenRequest::new("ttyUSB0")
            }
        );
        assert_eq!(parse(" ").unwrap(), []);
    }

    #[test]
    fn a_mistake_is_refused_naming_the_entry_and_what_would_fit() {
        let err = |text: &str| parse(text).unwrap_err().to_string();
        assert_eq!(err("ttyS0 parity=mark"), "OPEN: `ttyS0 parity=mark`: `mark` is not one of none, even, odd");
        assert!(err("ttyS0 baud=0").contains("baud takes a number from 1 to 4000000, not `0`"));
        assert!(err("ttyS0 speed=9600").contains("`speed` is not an option; an entry takes baud, data"));
        assert!(err("ttyS0 9600").contains("`9600` is not an option of the form name=value"));
    }
}
