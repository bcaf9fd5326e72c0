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

use wasmi::Linker;

use super::output::Stream;
use super::store::{memory, span, Ctx, StoreData};

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
                (std::sync::Arc::clone(&data.actor), &mut data.output)
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
