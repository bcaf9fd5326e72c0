//! Redaction (`provider_abi::redact`): what hides credentials in URLs and
//! secret settings before text reaches a log, `ctl status` or an HTTP body.
//!
//! The input is split at its first two newlines: a setting name, a
//! password, and text. Checks that redaction never panics on any text, and
//! that the password, put into a URL (`scheme://user:PASSWORD@host/path`)
//! inside that text, never appears in the redacted output where it does
//! not appear in the rest.

#![no_main]

use libfuzzer_sys::fuzz_target;
use provider_abi::redact::{is_secret_name, redact_text, redact_url, redact_value, MASK};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\n');
    let (name, password, rest) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let _ = redact_url(text);
    let _ = redact_text(text);
    let value = redact_value(name, rest);
    if is_secret_name(name) && !rest.is_empty() {
        assert_eq!(value, MASK);
    }
    if password.is_empty() || password.contains("://") || reads_as_a_port_and_path(password) {
        return;
    }
    // As one value (a link value, a setting): the password may hold
    // anything but another URL's `://`. What should show is the URL with
    // the password masked; a password that is part of that anyway (`app`,
    // `*`) proves nothing.
    let url = |password: &str| format!("redis://app:{password}@db.local:6379/0");
    let expected = url(MASK);
    let written = url(password);
    let shown = redact_url(&written);
    if !expected.contains(password) {
        assert!(!shown.contains(password), "`{password}` shows in `{shown}`");
    }
    // In a message, where a URL ends at white space or a quote, among
    // other words that hold no URL.
    if password.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>')) || rest.contains("://") {
        return;
    }
    let expected = format!("{rest} {} {rest}", url(MASK));
    let written = format!("{rest} {} {rest}", url(password));
    let shown = redact_text(&written);
    if !expected.contains(password) {
        assert!(!shown.contains(password), "`{password}` shows in `{shown}`");
    }
});

/// Whether `password` starts with digits and then `/`, `?` or `#`: then
/// `user:PASSWORD@host` reads as well as `host:PORT/path...@...`
/// (`example.com:8080/login?mail=bob@example.com`), which redaction leaves
/// shown by design. A known limit (docs/fuzzing.md), not checked here.
fn reads_as_a_port_and_path(password: &str) -> bool {
    let digits = password.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(password.as_bytes().get(digits), Some(b'/' | b'?' | b'#'))
}
