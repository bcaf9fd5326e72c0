//! The nine `wapc` imports, as wasmi host functions.
//!
//! These are the whole guest-facing surface of the host. Every pointer and
//! length comes from untrusted code, so every access to linear memory is
//! bounds-checked and a bad one traps the call instead of touching anything
//! outside the guest's memory.

use std::sync::Arc;
use wapc::ModuleState;
use wasmi::{Caller, Extern, Linker, Memory};

/// What the host functions of one instance can reach.
pub(crate) struct StoreData {
    /// waPC's per-instance state: the current request, responses, errors.
    pub wapc: Arc<ModuleState>,
    /// The instance's exported memory, once instantiated.
    pub memory: Option<Memory>,
    /// Store limits (memory ceiling).
    pub limits: wasmi::StoreLimits,
    /// The actor's identity, for logs.
    pub actor: Arc<str>,
}

/// The shapes of `__host_call` that actors in the wild import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostCallAbi {
    /// Current waPC: binding, namespace, operation, payload (8 × i32).
    WithBinding,
    /// Before April 2020: namespace, operation, payload (6 × i32); the
    /// binding is always `default`.
    WithoutBinding,
}

/// The binding used when an actor names none.
pub const DEFAULT_BINDING: &str = "default";

type Ctx<'a> = Caller<'a, StoreData>;

fn memory(caller: &Ctx<'_>) -> Result<Memory, wasmi::Error> {
    caller
        .data()
        .memory
        .or_else(|| caller.get_export("memory").and_then(Extern::into_memory))
        .ok_or_else(|| wasmi::Error::new("the module exports no `memory`"))
}

fn span(ptr: i32, len: usize, size: usize, what: &str) -> Result<std::ops::Range<usize>, wasmi::Error> {
    let start = ptr as u32 as usize;
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(wasmi::Error::new(format!(
            "{what}: {len} bytes at {start:#x} lie outside the guest's {size}-byte memory"
        ))),
    }
}

fn read(caller: &Ctx<'_>, ptr: i32, len: i32, what: &str) -> Result<Vec<u8>, wasmi::Error> {
    let mem = memory(caller)?;
    let data = mem.data(caller);
    let range = span(ptr, len as u32 as usize, data.len(), what)?;
    Ok(data[range].to_vec())
}

fn read_str(caller: &Ctx<'_>, ptr: i32, len: i32, what: &str) -> Result<String, wasmi::Error> {
    String::from_utf8(read(caller, ptr, len, what)?)
        .map_err(|_| wasmi::Error::new(format!("{what} is not UTF-8")))
}

fn write(caller: &mut Ctx<'_>, ptr: i32, bytes: &[u8], what: &str) -> Result<(), wasmi::Error> {
    let mem = memory(caller)?;
    let data = mem.data_mut(caller);
    let range = span(ptr, bytes.len(), data.len(), what)?;
    data[range].copy_from_slice(bytes);
    Ok(())
}

fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

fn host_call(
    caller: &Ctx<'_>,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<i32, wasmi::Error> {
    // The AssemblyScript SDK sends an empty binding: it means `default`.
    let binding = if binding.is_empty() { DEFAULT_BINDING } else { binding };
    caller
        .data()
        .wapc
        .do_host_call(binding, namespace, operation, payload)
        .map_err(|e| wasmi::Error::new(format!("host call failed: {e}")))
}

/// Defines the `wapc` imports on `linker`, with `__host_call` in `abi`'s shape.
pub(crate) fn define(linker: &mut Linker<StoreData>, abi: HostCallAbi) -> Result<(), wasmi::Error> {
    const NS: &str = wapc::HOST_NAMESPACE;
    linker.func_wrap(NS, "__guest_request", |mut caller: Ctx<'_>, op_ptr: i32, ptr: i32| {
        let Some(invocation) = caller.data().wapc.get_guest_request() else {
            return Err(wasmi::Error::new("__guest_request called outside a guest call"));
        };
        write(&mut caller, op_ptr, invocation.operation.as_bytes(), "operation name")?;
        write(&mut caller, ptr, &invocation.msg, "request payload")
    })?;
    linker.func_wrap(NS, "__guest_response", |caller: Ctx<'_>, ptr: i32, len: i32| {
        let bytes = read(&caller, ptr, len, "guest response")?;
        caller.data().wapc.set_guest_response(bytes);
        Ok(())
    })?;
    linker.func_wrap(NS, "__guest_error", |caller: Ctx<'_>, ptr: i32, len: i32| {
        let bytes = read(&caller, ptr, len, "guest error")?;
        caller
            .data()
            .wapc
            .set_guest_error(String::from_utf8_lossy(&bytes).into_owned());
        Ok(())
    })?;
    match abi {
        HostCallAbi::WithBinding => {
            linker.func_wrap(
                NS,
                "__host_call",
                |caller: Ctx<'_>,
                 bd_ptr: i32,
                 bd_len: i32,
                 ns_ptr: i32,
                 ns_len: i32,
                 op_ptr: i32,
                 op_len: i32,
                 ptr: i32,
                 len: i32|
                 -> Result<i32, wasmi::Error> {
                    let binding = read_str(&caller, bd_ptr, bd_len, "binding")?;
                    let namespace = read_str(&caller, ns_ptr, ns_len, "namespace")?;
                    let operation = read_str(&caller, op_ptr, op_len, "operation")?;
                    let payload = read(&caller, ptr, len, "host call payload")?;
                    host_call(&caller, &binding, &namespace, &operation, &payload)
                },
            )?;
        }
        HostCallAbi::WithoutBinding => {
            linker.func_wrap(
                NS,
                "__host_call",
                |caller: Ctx<'_>,
                 ns_ptr: i32,
                 ns_len: i32,
                 op_ptr: i32,
                 op_len: i32,
                 ptr: i32,
                 len: i32|
                 -> Result<i32, wasmi::Error> {
                    let namespace = read_str(&caller, ns_ptr, ns_len, "namespace")?;
                    let operation = read_str(&caller, op_ptr, op_len, "operation")?;
                    let payload = read(&caller, ptr, len, "host call payload")?;
                    host_call(&caller, DEFAULT_BINDING, &namespace, &operation, &payload)
                },
            )?;
        }
    }
    linker.func_wrap(NS, "__host_response_len", |caller: Ctx<'_>| -> i32 {
        len_i32(caller.data().wapc.host_response_len())
    })?;
    linker.func_wrap(NS, "__host_response", |mut caller: Ctx<'_>, ptr: i32| {
        let state = Arc::clone(&caller.data().wapc);
        state
            .with_host_response(|bytes| write(&mut caller, ptr, bytes, "host response"))
            .unwrap_or(Ok(()))
    })?;
    linker.func_wrap(NS, "__host_error_len", |caller: Ctx<'_>| -> i32 {
        len_i32(caller.data().wapc.get_host_error().map_or(0, |e| e.len()))
    })?;
    linker.func_wrap(NS, "__host_error", |mut caller: Ctx<'_>, ptr: i32| {
        match caller.data().wapc.get_host_error() {
            Some(error) => write(&mut caller, ptr, error.as_bytes(), "host error"),
            None => Ok(()),
        }
    })?;
    linker.func_wrap(NS, "__console_log", |caller: Ctx<'_>, ptr: i32, len: i32| {
        let bytes = read(&caller, ptr, len, "console log line")?;
        let actor = &caller.data().actor;
        tracing::info!(actor = %actor, "{}", String::from_utf8_lossy(&bytes));
        Ok(())
    })?;
    Ok(())
}
