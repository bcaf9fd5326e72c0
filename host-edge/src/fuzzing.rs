//! Entry points for the fuzz targets in `fuzz/` to parsers that are private
//! to this crate. Not an API: hidden from the documentation and free to
//! change with the targets.

use std::io::BufReader;

use crate::control::protocol::{read_line, LineRead};

/// One result of the control socket's line reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlLine {
    /// A line, without its newline.
    Line(Vec<u8>),
    /// A line longer than the limit: the server answers it with an error
    /// and closes the connection.
    TooLong,
}

/// Reads `stream` as the control server reads a connection, through a
/// buffer of `capacity` bytes, lines of at most `max` bytes: every line up
/// to the end of the stream or the first that is too long.
pub fn read_control_lines(stream: &[u8], max: usize, capacity: usize) -> Vec<ControlLine> {
    let mut reader = BufReader::with_capacity(capacity, stream);
    let mut lines = Vec::new();
    loop {
        match read_line(&mut reader, max) {
            Ok(LineRead::Line(line)) => lines.push(ControlLine::Line(line)),
            Ok(LineRead::TooLong) => {
                lines.push(ControlLine::TooLong);
                return lines;
            }
            Ok(LineRead::End) | Err(_) => return lines,
        }
    }
}
