//! Log output on stderr, shaped for where stderr goes.
//!
//! - On a terminal: text with colour, unless `NO_COLOR` is set to anything
//!   non-empty. Anywhere else (a pipe, a file): the same text, no escape codes.
//! - Connected to journald (systemd sets `JOURNAL_STREAM=DEV:INODE` and stderr
//!   is that very stream): each line starts with its syslog priority, `<3>`
//!   error, `<4>` warning, `<6>` info, `<7>` debug and trace (the sd-daemon(3)
//!   convention), so `journalctl -p warning` selects by level; no timestamp,
//!   journald adds its own.
//! - `--log-format json`: one JSON object a line (`timestamp`, `level`,
//!   `target`, `message` and the event's fields), with the priority prefix too
//!   under journald (journald strips it, the stored message is pure JSON).
//!
//! `RUST_LOG` sets the filter; without it, `-v` is debug, `-vv` trace. The
//! filter is a list of `level` and `target=level` directives
//! (`info,host_edge_runtime::pool=debug`), read by tracing-subscriber's
//! `Targets`: no span or field filters, which is what keeps the regex
//! engine out of the binary (about 300 KiB).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::time::SystemTime;

use clap::ValueEnum;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The shape of each log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// How the log was set up; prints the final error the same way.
#[derive(Debug, Clone, Copy)]
pub struct Logging {
    format: LogFormat,
    journald: bool,
}

impl Logging {
    /// Prints the error that ends the command, whatever the filter: `error:
    /// …` as text (every line with priority `<3>` under journald), or one
    /// JSON object at level `ERROR`.
    pub fn print_error(&self, message: &str) {
        let text = match self.format {
            LogFormat::Text => format!("error: {message}\n"),
            LogFormat::Json => {
                let mut line = JsonLine::new(&Level::ERROR, "host_edge");
                line.push("message".into(), message.into());
                format!("{}\n", line.finish())
            }
        };
        let text = if self.journald { with_priority(priority(&Level::ERROR), &text) } else { text };
        // Nothing is left to report a failure of stderr to.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// Sets up `tracing` output on stderr for `verbose` (`-v` count) and
/// `format`, and says how it did.
pub fn init(verbose: u8, format: LogFormat) -> Logging {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let mut bad_filter = None;
    let fallback = || default.parse::<Targets>().unwrap_or_default();
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => directives.trim().parse::<Targets>().unwrap_or_else(|e| {
            bad_filter = Some(format!("RUST_LOG={directives:?} is not a valid filter ({e}); logging at {default}"));
            fallback()
        }),
        _ => fallback(),
    };
    let journald = stderr_is_journal();
    let colour = !journald && colour_wanted(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(colour);
    let layer = match (format, journald) {
        (LogFormat::Text, false) => layer.boxed(),
        (LogFormat::Text, true) => layer.event_format(Journald(format::format().without_time())).boxed(),
        (LogFormat::Json, false) => layer.event_format(JsonLines).boxed(),
        (LogFormat::Json, true) => layer.event_format(Journald(JsonLines)).boxed(),
    };
    let init = tracing_subscriber::registry().with(layer.with_filter(filter)).try_init();
    if let Err(e) = init {
        // Only possible when something set a global subscriber before us.
        let _ = writeln!(std::io::stderr(), "host-edge: logging not set up: {e}");
    }
    if let Some(warning) = bad_filter {
        tracing::warn!("{warning}");
    }
    Logging { format, journald }
}

/// Whether to colour the text: only on a terminal, and never when
/// `NO_COLOR` is set to anything non-empty (<https://no-color.org>).
fn colour_wanted(stderr_is_terminal: bool, no_color: Option<OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Whether stderr is the journald stream systemd named in `JOURNAL_STREAM`
/// (device and inode must both match: a child of the service that redirects
/// stderr elsewhere inherits the variable, not the stream).
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    match std::fs::File::from(fd).metadata() {
        Ok(meta) => journal_stream_names(&stream.to_string_lossy(), meta.dev(), meta.ino()),
        Err(_) => false,
    }
}

/// Whether a `JOURNAL_STREAM` value (`DEV:INODE`, decimal) names the file
/// with device `dev` and inode `ino`.
fn journal_stream_names(value: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = value.trim().split_once(':') else {
        return false;
    };
    d.parse::<u64>() == Ok(dev) && i.parse::<u64>() == Ok(ino)
}

/// The syslog priority of a `tracing` level.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// `text` with `<priority>` at the start of each of its lines, so that each
/// line journald stores carries the level (a multi-line message is several
/// journal entries).
fn with_priority(priority: u8, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for line in text.lines() {
        let _ = writeln!(out, "<{priority}>{line}");
    }
    out
}

/// An event format with each line prefixed by the event's syslog priority.
struct Journald<F>(F);

impl<S, N, F> FormatEvent<S, N> for Journald<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        let mut text = String::new();
        self.0.format_event(ctx, Writer::new(&mut text), event)?;
        // The text format pads the level (` INFO`); the priority leads instead.
        writer.write_str(&with_priority(priority(event.metadata().level()), text.trim_start()))
    }
}

/// One JSON object a line: `timestamp` (RFC 3339, UTC), `level`, `target`,
/// the event's fields (`message` among them) and, inside spans, `spans`.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = JsonLine::new(meta.level(), meta.target());
        event.record(&mut line);
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<serde_json::Value> = scope.from_root().map(|span| span.name().into()).collect();
            line.push("spans".into(), spans.into());
        }
        writeln!(writer, "{}", line.finish())
    }
}

/// The current time as RFC 3339 in UTC, to the microsecond.
fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

/// One JSON object, its keys in the order written: `timestamp`, `level`,
/// `target` first, then the event's fields. A field named like one of the
/// line's own keys (`level`, …) is kept as `field.level`.
struct JsonLine(Vec<(String, serde_json::Value)>);

impl JsonLine {
    fn new(level: &Level, target: &str) -> JsonLine {
        JsonLine(vec![
            ("timestamp".into(), now_rfc3339().into()),
            ("level".into(), level.as_str().into()),
            ("target".into(), target.into()),
        ])
    }

    fn push(&mut self, key: String, value: serde_json::Value) {
        self.0.push((key, value));
    }

    fn insert(&mut self, field: &Field, value: serde_json::Value) {
        let name = field.name();
        let key = match name {
            "timestamp" | "level" | "target" | "spans" => format!("field.{name}"),
            _ => name.to_owned(),
        };
        self.push(key, value);
    }

    /// The object as one line of JSON text.
    fn finish(self) -> String {
        let mut out = String::from("{");
        for (i, (key, value)) in self.0.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::Value::from(key).to_string());
            out.push(':');
            out.push_str(&value.to_string());
        }
        out.push('}');
        out
    }
}

impl Visit for JsonLine {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, serde_json::Number::from_f64(value).map_or_else(|| value.to_string().into(), Into::into));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}
