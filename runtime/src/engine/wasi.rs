//! The few WASI (preview 1) calls an actor built for `wasm32-wasip1` needs
//! to print, draw random numbers, read clocks and start up, as wasmi host
//! functions.
//!
//! Many actors are built for `wasm32-wasip1` and import a handful of WASI
//! functions through Rust's standard library even when they only print.
//! host-edge serves exactly those: stdout and stderr become log lines with
//! the actor's identity (escaped, cut and rate-limited as `wascc:logging`
//! lines are), random bytes come from the OS, the clocks are real, and the
//! environment and arguments are empty. Everything else WASI offers (files,
//! sockets, polling) would bypass the capability model, so a module that
//! imports any of it is refused at load with the imports named, before it
//! runs. Written here rather than taken from `wasmi_wasi`, which links the
//! whole of `wasi-common` (file system included) and follows wasmi's
//! releases rather than the version host-edge pins.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmi::{Caller, Linker};

use super::imports::{memory, span, StoreData};
use crate::builtin::logging::{printable, Bucket, LogLimit, MAX_LINE};

/// The import module of WASI preview 1.
pub(crate) const MODULE: &str = "wasi_snapshot_preview1";

/// The WASI functions host-edge serves.
pub(crate) const SERVED: [&str; 10] = [
    "args_get",
    "args_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "environ_get",
    "environ_sizes_get",
    "fd_write",
    "proc_exit",
    "random_get",
    "sched_yield",
];

/// What [`SERVED`] covers, for refusals.
pub(crate) const SERVED_SUMMARY: &str =
    "printing to stdout and stderr, random numbers, clocks, an empty environment and arguments, and exit";

// WASI errno values.
const SUCCESS: i32 = 0;
const BADF: i32 = 8;
const INVAL: i32 = 28;

/// The most `iovec`s one `fd_write` may pass (POSIX's IOV_MAX).
const MAX_IOVECS: u32 = 1024;

/// The WASI state of one instance: partial lines and the log budget.
#[derive(Debug)]
pub(crate) struct WasiState {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    bucket: Bucket,
}

impl Default for WasiState {
    fn default() -> Self {
        WasiState { stdout: Vec::new(), stderr: Vec::new(), bucket: Bucket::full(LogLimit::default(), Instant::now()) }
    }
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

type Ctx<'a> = Caller<'a, StoreData>;

fn write_u32(caller: &mut Ctx<'_>, ptr: i32, value: u32, what: &str) -> Result<(), wasmi::Error> {
    write_bytes(caller, ptr, &value.to_le_bytes(), what)
}

fn write_u64(caller: &mut Ctx<'_>, ptr: i32, value: u64, what: &str) -> Result<(), wasmi::Error> {
    write_bytes(caller, ptr, &value.to_le_bytes(), what)
}

fn write_bytes(caller: &mut Ctx<'_>, ptr: i32, bytes: &[u8], what: &str) -> Result<(), wasmi::Error> {
    let mem = memory(caller)?;
    let data = mem.data_mut(caller);
    let range = span(ptr, bytes.len(), data.len(), what)?;
    data[range].copy_from_slice(bytes);
    Ok(())
}

/// Nanoseconds on the monotonic clock, from the first time it was read.
fn monotonic_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    u64::try_from(BASE.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Defines the [`SERVED`] functions on `linker`.
pub(crate) fn define(linker: &mut Linker<StoreData>) -> Result<(), wasmi::Error> {
    // An empty environment and no arguments: counts and sizes are zero,
    // and there is nothing to copy.
    for (sizes, get) in [("args_sizes_get", "args_get"), ("environ_sizes_get", "environ_get")] {
        linker.func_wrap(MODULE, sizes, |mut caller: Ctx<'_>, count: i32, size: i32| -> Result<i32, wasmi::Error> {
            write_u32(&mut caller, count, 0, "WASI count")?;
            write_u32(&mut caller, size, 0, "WASI size")?;
            Ok(SUCCESS)
        })?;
        linker.func_wrap(MODULE, get, |_: Ctx<'_>, _list: i32, _buf: i32| -> i32 { SUCCESS })?;
    }
    linker.func_wrap(MODULE, "clock_res_get", |mut caller: Ctx<'_>, id: i32, out: i32| -> Result<i32, wasmi::Error> {
        match id {
            0 | 1 => write_u64(&mut caller, out, 1, "clock resolution").map(|()| SUCCESS),
            _ => Ok(INVAL),
        }
    })?;
    linker.func_wrap(
        MODULE,
        "clock_time_get",
        |mut caller: Ctx<'_>, id: i32, _precision: i64, out: i32| -> Result<i32, wasmi::Error> {
            let now = match id {
                0 => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
                1 => monotonic_ns(),
                // The CPU-time clocks of a process or thread mean nothing
                // for an instance that shares its thread.
                _ => return Ok(INVAL),
            };
            write_u64(&mut caller, out, now, "clock time").map(|()| SUCCESS)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut caller: Ctx<'_>, fd: i32, iovs: i32, count: i32, written: i32| -> Result<i32, wasmi::Error> {
            let stream = match fd {
                1 => Stream::Stdout,
                2 => Stream::Stderr,
                _ => return Ok(BADF),
            };
            let count = count as u32;
            if count > MAX_IOVECS {
                return Ok(INVAL);
            }
            let mem = memory(&caller)?;
            let data = mem.data(&caller);
            let table = &data[span(iovs, count as usize * 8, data.len(), "fd_write iovecs")?];
            let mut bytes = Vec::new();
            for iovec in table.chunks_exact(8) {
                let ptr = i32::from_le_bytes(iovec[..4].try_into().expect("4 bytes"));
                let len = u32::from_le_bytes(iovec[4..].try_into().expect("4 bytes")) as usize;
                bytes.extend_from_slice(&data[span(ptr, len, data.len(), "fd_write buffer")?]);
            }
            let total = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            let (actor, wasi) = {
                let data = caller.data_mut();
                (std::sync::Arc::clone(&data.actor), &mut data.wasi)
            };
            wasi.push(&actor, stream, &bytes);
            write_u32(&mut caller, written, total, "fd_write count")?;
            Ok(SUCCESS)
        },
    )?;
    linker.func_wrap(MODULE, "proc_exit", |_: Ctx<'_>, code: i32| -> Result<(), wasmi::Error> {
        Err(wasmi::Error::new(format!("the actor called WASI's proc_exit({code})")))
    })?;
    linker.func_wrap(MODULE, "random_get", |mut caller: Ctx<'_>, buf: i32, len: i32| -> Result<i32, wasmi::Error> {
        let mem = memory(&caller)?;
        let data = mem.data_mut(&mut caller);
        let range = span(buf, len as u32 as usize, data.len(), "random_get buffer")?;
        getrandom::fill(&mut data[range]).map_err(|e| wasmi::Error::new(format!("the OS gave no random bytes: {e}")))?;
        Ok(SUCCESS)
    })?;
    linker.func_wrap(MODULE, "sched_yield", |_: Ctx<'_>| -> i32 { SUCCESS })?;
    Ok(())
}

impl WasiState {
    /// Adds `bytes` written to `stream` and logs every line they complete
    /// (a line longer than the log's limit is logged in parts).
    fn push(&mut self, actor: &str, stream: Stream, bytes: &[u8]) {
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
        let mut wasi = WasiState::default();
        wasi.push("MA", Stream::Stdout, b"hello ");
        assert_eq!(wasi.stdout, b"hello ");
        wasi.push("MA", Stream::Stdout, b"world\nsecond\nthi");
        assert_eq!(wasi.stdout, b"thi", "two complete lines went to the log");
        wasi.flush("MA");
        assert!(wasi.stdout.is_empty());
    }

    #[test]
    fn a_console_log_flood_is_dropped_past_the_instance_budget() {
        let mut wasi = WasiState::default();
        let burst = u64::from(LogLimit::default().burst);
        for _ in 0..burst + 50 {
            wasi.console("MA", b"spam", 4);
        }
        assert!(wasi.bucket.dropped >= 50, "lines past the burst were dropped, not logged: {}", wasi.bucket.dropped);
    }

    #[test]
    fn a_line_without_an_end_is_logged_in_parts_of_the_longest_line() {
        let mut wasi = WasiState::default();
        wasi.push("MA", Stream::Stderr, &vec![b'x'; MAX_LINE * 2 + 10]);
        assert_eq!(wasi.stderr.len(), 10, "two parts of {MAX_LINE} bytes were logged");
    }
}
