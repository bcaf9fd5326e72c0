//! An instance's output as log lines: what a WASI actor writes to stdout
//! and stderr, cut into lines, and waPC's `__console_log`, all under one
//! log budget per instance so that no actor can fill a board's journal.

use std::time::Instant;

use crate::builtin::logging::{printable, Bucket, LogLimit, MAX_LINE};

/// One instance's output: partial lines and the log budget.
#[derive(Debug)]
pub(crate) struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    bucket: Bucket,
}

impl Default for Output {
    fn default() -> Self {
        Output { stdout: Vec::new(), stderr: Vec::new(), bucket: Bucket::full(LogLimit::default(), Instant::now()) }
    }
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Output {
    /// Adds `bytes` written to `stream` and logs every line they complete
    /// (a line longer than the log's limit is logged in parts).
    pub(super) fn push(&mut self, actor: &str, stream: Stream, bytes: &[u8]) {
        let buffer = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        buffer.extend_from_slice(bytes);
        let mut lines = Vec::new();
        loop {
            let cut = match buffer.iter().position(|b| *b == b'\n') {
                Some(newline) => newline + 1,
                None if buffer.len() >= MAX_LINE => MAX_LINE,
                None => break,
            };
            lines.push(buffer.drain(..cut).collect::<Vec<u8>>());
        }
        for line in lines {
            self.log(actor, stream, &line);
        }
    }

    /// Logs what is left of unfinished lines (at the end of each call, so
    /// a `print!` without a newline is not held back).
    pub(crate) fn flush(&mut self, actor: &str) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = match stream {
                Stream::Stdout => std::mem::take(&mut self.stdout),
                Stream::Stderr => std::mem::take(&mut self.stderr),
            };
            if !rest.is_empty() {
                self.log(actor, stream, &rest);
            }
        }
    }

    /// Logs one waPC `__console_log` line under the same budget as the
    /// instance's WASI output, cut at [`MAX_LINE`] bytes: `__console_log`
    /// is not a capability, so without a budget any actor could fill a
    /// board's journal from a loop.
    /// `line` holds the first bytes of a line `length` bytes long.
    pub(crate) fn console(&mut self, actor: &str, line: &[u8], length: usize) {
        if !self.admit(actor) {
            return;
        }
        let text = printable(&String::from_utf8_lossy(&line[..line.len().min(MAX_LINE)]));
        match length > MAX_LINE {
            true => tracing::info!(target: "actor", actor = %actor, stream = "console", cut_from = length, "{text}"),
            false => tracing::info!(target: "actor", actor = %actor, stream = "console", "{text}"),
        }
    }

    /// Takes a line from the instance's log budget; logs how many were
    /// dropped before it, if any.
    fn admit(&mut self, actor: &str) -> bool {
        if !self.bucket.take(LogLimit::default(), Instant::now()) {
            return false;
        }
        let dropped = std::mem::take(&mut self.bucket.dropped);
        if dropped > 0 {
            tracing::warn!(target: "actor", actor = %actor, dropped, "{dropped} lines of output were dropped: over the log limit");
        }
        true
    }

    fn log(&mut self, actor: &str, stream: Stream, line: &[u8]) {
        if !self.admit(actor) {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let text = printable(text.strip_suffix('\n').map_or(&*text, |t| t.strip_suffix('\r').unwrap_or(t)));
        match stream {
            Stream::Stdout => tracing::info!(target: "actor", actor = %actor, stream = "stdout", "{text}"),
            Stream::Stderr => tracing::warn!(target: "actor", actor = %actor, stream = "stderr", "{text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_logged_by_whole_lines_and_the_rest_at_the_end_of_the_call() {
        let mut output = Output::default();
        output.push("MA", Stream::Stdout, b"hello ");
        assert_eq!(output.stdout, b"hello ");
        output.push("MA", Stream::Stdout, b"world\nsecond\nthi");
        assert_eq!(output.stdout, b"thi", "two complete lines went to the log");
        output.flush("MA");
        assert!(output.stdout.is_empty());
    }

    #[test]
    fn a_console_log_flood_is_dropped_past_the_instance_budget() {
        let mut output = Output::default();
        let burst = u64::from(LogLimit::default().burst);
        for _ in 0..burst + 50 {
            output.console("MA", b"spam", 4);
        }
        assert!(output.bucket.dropped >= 50, "lines past the burst were dropped, not logged: {}", output.bucket.dropped);
    }

    #[test]
    fn a_line_without_an_end_is_logged_in_parts_of_the_longest_line() {
        let mut output = Output::default();
        output.push("MA", Stream::Stderr, &vec![b'x'; MAX_LINE * 2 + 10]);
        assert_eq!(output.stderr.len(), 10, "two parts of {MAX_LINE} bytes were logged");
    }
}
