//! What the host functions of one instance reach (its store's data), and
//! bounds-checked access to the guest's linear memory, shared by the waPC
//! imports and the WASI functions.

use std::sync::Arc;

use wapc::ModuleState;
use wasmi::{Caller, Extern, Memory};

use super::output::Output;
use super::Fault;

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
    /// Nested guest calls in progress (see `reentry`), innermost last.
    pub nested: Vec<Nested>,
    /// How a nested call went wrong, if the engine stopped one: the
    /// instance must be replaced after the outer call.
    pub nested_fault: Option<Fault>,
    /// The instance's output (WASI stdout and stderr, `__console_log`) and its log budget.
    pub output: Output,
}

/// One nested guest call: its request, and the reply the guest hands over.
pub(crate) struct Nested {
    pub operation: String,
    pub msg: Vec<u8>,
    pub response: Option<Vec<u8>>,
    pub error: Option<String>,
}

/// A host function's view of its instance.
pub(super) type Ctx<'a> = Caller<'a, StoreData>;

pub(super) fn memory(caller: &Ctx<'_>) -> Result<Memory, wasmi::Error> {
    caller
        .data()
        .memory
        .or_else(|| caller.get_export("memory").and_then(Extern::into_memory))
        .ok_or_else(|| wasmi::Error::new("the module exports no `memory`"))
}

pub(super) fn span(ptr: i32, len: usize, size: usize, what: &str) -> Result<std::ops::Range<usize>, wasmi::Error> {
    let start = ptr as u32 as usize;
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(wasmi::Error::new(format!(
            "{what}: {len} bytes at {start:#x} lie outside the guest's {size}-byte memory"
        ))),
    }
}

