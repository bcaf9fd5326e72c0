//! The nine `wapc` imports, as wasmi host functions.
//!
//! These are the whole guest-facing surface of the host. Every pointer and
//! length comes from untrusted code, so every access to linear memory is
//! bounds-checked and a bad one traps the call instead of touching anything
//! outside the guest's memory.

use std::sync::Arc;
use wasmi::{Extern, Linker};

use super::reentry;
use super::store::{memory, span, Ctx, Nested, StoreData};
use crate::builtin::logging::MAX_LINE;
use super::{classify, Fault, InvokeError};

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
    caller: &mut Ctx<'_>,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<i32, wasmi::Error> {
    // The AssemblyScript SDK sends an empty binding: it means `default`.
    let binding = if binding.is_empty() { DEFAULT_BINDING } else { binding };
    let state = Arc::clone(&caller.data().wapc);
    let actor = Arc::clone(&caller.data().actor);
    let mut nested = |operation: &str, msg: &[u8]| nested_call(caller, operation, msg);
    reentry::offer(&actor, &mut nested, || state.do_host_call(binding, namespace, operation, payload))
        .map_err(|e| wasmi::Error::new(format!("host call failed: {e}")))
}

/// Runs `operation` on this instance while it waits in a host call: the
/// guest reads this request and hands over its reply through the same
/// imports, which look at the innermost nested call first.
fn nested_call(caller: &mut Ctx<'_>, operation: &str, msg: &[u8]) -> Result<Vec<u8>, InvokeError> {
    let guest_call = caller
        .get_export(wapc::wapc_functions::GUEST_CALL)
        .and_then(Extern::into_func)
        .and_then(|f| f.typed::<(i32, i32), i32>(&*caller).ok())
        .ok_or_else(|| InvokeError::Unavailable("the instance exports no `__guest_call`".into()))?;
    caller.data_mut().nested.push(Nested {
        operation: operation.to_owned(),
        msg: msg.to_vec(),
        response: None,
        error: None,
    });
    let outcome = guest_call.call(&mut *caller, (len_i32(operation.len()), len_i32(msg.len())));
    let call = caller.data_mut().nested.pop().expect("the nested call pushed above");
    match outcome {
        Ok(0) => Err(InvokeError::Guest(call.error.unwrap_or_else(|| "no error message was set".into()))),
        Ok(_) => call.response.ok_or_else(|| {
            InvokeError::Guest(call.error.unwrap_or_else(|| "no response or error was set".into()))
        }),
        Err(error) => {
            let fault = classify(&error);
            let text = format!("the actor failed in a nested call: {error}");
            let invoke = match fault {
                Fault::OutOfFuel => InvokeError::OutOfFuel(text),
                Fault::MemoryLimit => InvokeError::MemoryLimit(text),
                Fault::Trap(_) => InvokeError::Trap(text),
            };
            caller.data_mut().nested_fault = Some(fault);
            Err(invoke)
        }
    }
}

/// Defines the `wapc` imports on `linker`, with `__host_call` in `abi`'s shape.
pub(crate) fn define(linker: &mut Linker<StoreData>, abi: HostCallAbi) -> Result<(), wasmi::Error> {
    const NS: &str = wapc::HOST_NAMESPACE;
    linker.func_wrap(NS, "__guest_request", |mut caller: Ctx<'_>, op_ptr: i32, ptr: i32| {
        let (operation, msg) = match caller.data().nested.last() {
            Some(nested) => (nested.operation.clone().into_bytes(), nested.msg.clone()),
            None => match caller.data().wapc.get_guest_request() {
                Some(invocation) => (invocation.operation.into_bytes(), invocation.msg),
                None => return Err(wasmi::Error::new("__guest_request called outside a guest call")),
            },
        };
        write(&mut caller, op_ptr, &operation, "operation name")?;
        write(&mut caller, ptr, &msg, "request payload")
    })?;
    linker.func_wrap(NS, "__guest_response", |mut caller: Ctx<'_>, ptr: i32, len: i32| {
        let bytes = read(&caller, ptr, len, "guest response")?;
        match caller.data_mut().nested.last_mut() {
            Some(nested) => nested.response = Some(bytes),
            None => caller.data().wapc.set_guest_response(bytes),
        }
        Ok(())
    })?;
    linker.func_wrap(NS, "__guest_error", |mut caller: Ctx<'_>, ptr: i32, len: i32| {
        let text = String::from_utf8_lossy(&read(&caller, ptr, len, "guest error")?).into_owned();
        match caller.data_mut().nested.last_mut() {
            Some(nested) => nested.error = Some(text),
            None => caller.data().wapc.set_guest_error(text),
        }
        Ok(())
    })?;
    match abi {
        HostCallAbi::WithBinding => {
            linker.func_wrap(
                NS,
                "__host_call",
                |mut caller: Ctx<'_>,
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
                    host_call(&mut caller, &binding, &namespace, &operation, &payload)
                },
            )?;
        }
        HostCallAbi::WithoutBinding => {
            linker.func_wrap(
                NS,
                "__host_call",
                |mut caller: Ctx<'_>,
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
                    host_call(&mut caller, DEFAULT_BINDING, &namespace, &operation, &payload)
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
    linker.func_wrap(NS, "__console_log", |mut caller: Ctx<'_>, ptr: i32, len: i32| {
        // Checked whole, copied at most a line's worth: a guest asking to
        // log its whole memory costs no copy of it.
        let mem = memory(&caller)?;
        let range = span(ptr, len as u32 as usize, mem.data(&caller).len(), "console log line")?;
        let length = range.len();
        let line = mem.data(&caller)[range.start..range.end.min(range.start + MAX_LINE)].to_vec();
        let data = caller.data_mut();
        data.output.console(&data.actor, &line, length);
        Ok(())
    })?;
    Ok(())
}
