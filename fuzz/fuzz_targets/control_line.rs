//! The control socket's lines (`control::protocol`): the bounded line
//! reader the server reads a connection with, and the request and response
//! lines it parses.
//!
//! The first byte sets the reader's buffer size (1 to 256 bytes) and the
//! rest is the stream a client sends. Checks that every line read is at
//! most the limit and holds no newline, that the lines are the stream's
//! own bytes in order, and that every request or response that parses
//! writes back to one line that parses to the same value.

#![no_main]

use host_edge::control::{Request, Response};
use host_edge::fuzzing::{read_control_lines, ControlLine};
use libfuzzer_sys::fuzz_target;

/// A small limit, so that the fuzzer reaches it.
const MAX: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&capacity, stream)) = data.split_first() else { return };
    let lines = read_control_lines(stream, MAX, usize::from(capacity).max(1));
    let mut rest = stream;
    for line in &lines {
        let ControlLine::Line(line) = line else { break };
        assert!(line.len() <= MAX && !line.contains(&b'\n'));
        assert!(rest.starts_with(line), "a line that is not the next bytes of the stream");
        rest = &rest[line.len()..];
        rest = rest.strip_prefix(b"\n").unwrap_or(rest);
        if let Ok(request) = Request::from_line(line) {
            let written = request.to_line().expect("a request encodes");
            assert_eq!(written.matches('\n').count(), 1);
            assert_eq!(Request::from_line(written.trim_end_matches('\n').as_bytes()).unwrap(), request);
        }
        if let Ok(response) = Response::from_line(line) {
            let written = response.to_line().expect("a response encodes");
            assert_eq!(written.matches('\n').count(), 1);
            assert_eq!(Response::from_line(written.trim_end_matches('\n').as_bytes()).unwrap(), response);
        }
    }
    if !matches!(lines.last(), Some(ControlLine::TooLong)) {
        assert!(rest.is_empty(), "bytes of the stream were lost");
    }
});
