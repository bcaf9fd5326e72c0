//! The waPC engine: wasmi behind the `wapc` host crate.
//!
//! host-edge interprets actors with wasmi rather than compiling them, so it
//! runs on armv6/armv7/aarch64 and on devices that forbid JIT. The `wapc`
//! crate owns the waPC conversation; this module plugs wasmi into it by
//! implementing [`wapc::WebAssemblyEngineProvider`], adds fuel and memory
//! limits, and turns every trap into an error for the caller.
//!
//! - [`CompiledModule`]: a validated module, compiled once and shared by all
//!   instances of an actor;
//! - [`WasmiEngine`]: one instance, as a waPC engine provider;
//! - [`Instance`]: a ready-to-call waPC host around one engine;
//! - [`limits`]: the fuel and memory limits;
//! - `resident`: the pages of linear memory a new instance never wrote,
//!   given back to the kernel.

mod imports;
mod instance;
mod output;
mod resident;
mod store;
pub(crate) use resident::trim_heap;
pub mod limits;
pub mod reentry;
mod wasi;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use wapc::{ModuleState, WebAssemblyEngineProvider};
use wasmi::{Linker, Module, Store, TrapCode, TypedFunc};

use imports::HostCallAbi;
use store::StoreData;
pub use imports::DEFAULT_BINDING;
pub use instance::{Instance, InvokeError};
pub use limits::Limits;

/// Why a module cannot be loaded into the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The module does not validate.
    #[error("invalid module: {0}")]
    Invalid(String),
    /// The module imports something the host does not provide.
    #[error("unsupported import: {0}")]
    Import(String),
    /// The module lacks a waPC export.
    #[error("the module does not export `{0}`; is it a waPC actor?")]
    MissingExport(&'static str),
    /// Instantiation or start-up failed.
    #[error("instantiation failed: {0}")]
    Instantiate(String),
}

/// The one wasmi engine of the process: fuel metering on, every proposal
/// today's rustc emits enabled.
fn shared_engine() -> &'static wasmi::Engine {
    static ENGINE: OnceLock<wasmi::Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmi::Config::default();
        config.consume_fuel(true);
        // The host reads the claims section itself (`claims::section`);
        // kept by wasmi, every custom section would be copied per compile.
        config.ignore_custom_sections(true);
        wasmi::Engine::new(&config)
    })
}

/// A validated module, compiled once, with the linker its imports need.
/// Cheap to clone; shared by every instance of an actor.
#[derive(Clone)]
pub struct CompiledModule {
    module: Module,
    linker: Arc<Linker<StoreData>>,
}

impl std::fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModule").finish_non_exhaustive()
    }
}

impl CompiledModule {
    /// Validates and compiles `wasm`, and checks its imports against the
    /// waPC host interface.
    pub fn new(wasm: &[u8]) -> Result<CompiledModule, EngineError> {
        let engine = shared_engine();
        let module = Module::new(engine, wasm).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let abi = host_call_abi(&module)?;
        let mut linker = Linker::new(engine);
        imports::define(&mut linker, abi).map_err(|e| EngineError::Import(e.to_string()))?;
        wasi::define(&mut linker).map_err(|e| EngineError::Import(e.to_string()))?;
        if module.get_export(wapc::wapc_functions::GUEST_CALL).is_none() {
            return Err(EngineError::MissingExport("__guest_call"));
        }
        if module.get_export("memory").is_none() {
            return Err(EngineError::MissingExport("memory"));
        }
        Ok(CompiledModule {
            module,
            linker: Arc::new(linker),
        })
    }
}

/// Picks the `__host_call` shape the module imports, and refuses imports
/// the host does not provide with a message that names them.
fn host_call_abi(module: &Module) -> Result<HostCallAbi, EngineError> {
    let mut abi = HostCallAbi::WithBinding;
    let mut refused_wasi = Vec::new();
    for import in module.imports() {
        if import.module() == wasi::MODULE {
            if !wasi::SERVED.contains(&import.name()) {
                refused_wasi.push(format!("`{}`", import.name()));
            }
            continue;
        }
        if import.module() != wapc::HOST_NAMESPACE {
            return Err(EngineError::Import(format!(
                "`{}::{}`: host-edge provides the `wapc` imports and a few of WASI's ({})",
                import.module(),
                import.name(),
                wasi::MODULE
            )));
        }
        if import.name() == wapc::wapc_functions::HOST_CALL {
            let params = import.ty().func().map_or(0, |f| f.params().len());
            abi = match params {
                8 => HostCallAbi::WithBinding,
                6 => HostCallAbi::WithoutBinding,
                n => {
                    return Err(EngineError::Import(format!(
                        "`wapc::__host_call` with {n} parameters is an ABI host-edge does not support (8, or 6 before April 2020)"
                    )))
                }
            };
        }
    }
    if !refused_wasi.is_empty() {
        return Err(EngineError::Import(format!(
            "{} from {}: host-edge serves actors only WASI's {}; files, sockets and polling go through capabilities",
            refused_wasi.join(", "),
            wasi::MODULE,
            wasi::SERVED_SUMMARY
        )));
    }
    Ok(abi)
}

/// How the last call into the guest went wrong, when the engine (not the
/// guest's own error handling) stopped it. Such an instance must not be
/// called again: its memory may be mid-update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The call used up its fuel.
    OutOfFuel,
    /// The guest grew its memory past the limit.
    MemoryLimit,
    /// Any other trap.
    Trap(String),
}

/// Sorts an error from the engine into the fault it stands for.
pub(crate) fn classify(error: &wasmi::Error) -> Fault {
    match error.as_trap_code() {
        Some(TrapCode::OutOfFuel) => Fault::OutOfFuel,
        Some(TrapCode::GrowthOperationLimited) => Fault::MemoryLimit,
        _ => Fault::Trap(error.to_string()),
    }
}

/// What an instance's last call used: fuel, and the linear memory it has
/// after the call. Read by the instance, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Fuel the last call consumed.
    pub fuel: u64,
    /// Linear memory after it, bytes.
    pub memory: u64,
}

/// One wasmi instance, driven by `wapc::WapcHost`.
pub struct WasmiEngine {
    compiled: CompiledModule,
    limits: Limits,
    actor: Arc<str>,
    fault: Rc<RefCell<Option<Fault>>>,
    usage: Rc<Cell<Usage>>,
    live: Option<Live>,
}

struct Live {
    store: Store<StoreData>,
    guest_call: TypedFunc<(i32, i32), i32>,
}

impl WasmiEngine {
    /// An engine for `compiled`, with `limits`, logging as `actor`.
    pub fn new(compiled: CompiledModule, limits: Limits, actor: Arc<str>) -> WasmiEngine {
        WasmiEngine {
            compiled,
            limits,
            actor,
            fault: Rc::new(RefCell::new(None)),
            usage: Rc::new(Cell::new(Usage::default())),
            live: None,
        }
    }

    pub(crate) fn fault_cell(&self) -> Rc<RefCell<Option<Fault>>> {
        Rc::clone(&self.fault)
    }

    pub(crate) fn usage_cell(&self) -> Rc<Cell<Usage>> {
        Rc::clone(&self.usage)
    }

    fn describe(&self, fault: &Fault) -> String {
        match fault {
            Fault::OutOfFuel => format!(
                "the actor ran out of fuel: it used its whole budget of {} for one call (endless loop?)",
                self.limits.fuel_per_call
            ),
            Fault::MemoryLimit => format!(
                "the actor tried to grow its memory past its limit of {} bytes",
                self.limits.max_memory_bytes
            ),
            Fault::Trap(text) => format!("the actor trapped: {text}"),
        }
    }

    fn instantiate(&mut self, state: Arc<ModuleState>) -> Result<(), EngineError> {
        let data = StoreData {
            wapc: state,
            memory: None,
            limits: self.limits.store_limits(),
            actor: Arc::clone(&self.actor),
            nested: Vec::new(),
            nested_fault: None,
            output: output::Output::default(),
        };
        let mut store = Store::new(shared_engine(), data);
        store.limiter(|data| &mut data.limits);
        store
            .set_fuel(self.limits.fuel())
            .map_err(|e| EngineError::Instantiate(e.to_string()))?;
        let instance = self
            .compiled
            .linker
            .instantiate_and_start(&mut store, &self.compiled.module)
            .map_err(|e| EngineError::Instantiate(self.describe(&classify(&e))))?;
        let memory = instance
            .get_memory(&store, "memory")
            .ok_or(EngineError::MissingExport("memory"))?;
        store.data_mut().memory = Some(memory);
        self.usage.set(Usage { fuel: 0, memory: memory.data_size(&store) as u64 });
        for start in wapc::wapc_functions::REQUIRED_STARTS {
            if let Some(func) = instance.get_func(&store, start) {
                store
                    .set_fuel(self.limits.fuel())
                    .map_err(|e| EngineError::Instantiate(e.to_string()))?;
                func.typed::<(), ()>(&store)
                    .and_then(|f| f.call(&mut store, ()))
                    .map_err(|e| {
                        EngineError::Instantiate(format!(
                            "`{start}`: {}",
                            self.describe(&classify(&e))
                        ))
                    })?;
            }
        }
        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&store, wapc::wapc_functions::GUEST_CALL)
            .map_err(|_| EngineError::MissingExport("__guest_call"))?;
        // wasmi wrote zeros into all of the new memory; what is still zero
        // after start-up need not stay resident.
        let released = resident::release_zero_pages(memory.data_mut(&mut store));
        tracing::trace!(actor = %self.actor, released, "linear memory pages given back after instantiation");
        self.live = Some(Live { store, guest_call });
        Ok(())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl WebAssemblyEngineProvider for WasmiEngine {
    fn init(&mut self, host: Arc<ModuleState>) -> Result<(), BoxError> {
        self.instantiate(host).map_err(Into::into)
    }

    fn call(&mut self, op_length: i32, msg_length: i32) -> Result<i32, BoxError> {
        let fuel = self.limits.fuel();
        let Some(live) = self.live.as_mut() else {
            return Err("the instance is not initialised".into());
        };
        live.store.set_fuel(fuel)?;
        let outcome = live.guest_call.call(&mut live.store, (op_length, msg_length));
        let used = fuel.saturating_sub(live.store.get_fuel().unwrap_or(0));
        let memory = live.store.data().memory.map_or(0, |m| m.data_size(&live.store) as u64);
        self.usage.set(Usage { fuel: used, memory });
        let data = live.store.data_mut();
        data.output.flush(&data.actor);
        if let Some(fault) = live.store.data_mut().nested_fault.take() {
            // A nested call was stopped by the engine: whatever the outer
            // call says, this instance's memory cannot be trusted any more.
            *self.fault.borrow_mut() = Some(fault);
        }
        match outcome {
            Ok(code) => Ok(code),
            Err(error) => {
                let fault = classify(&error);
                let text = self.describe(&fault);
                *self.fault.borrow_mut() = Some(fault);
                Err(text.into())
            }
        }
    }

    fn replace(&mut self, bytes: &[u8]) -> Result<(), BoxError> {
        let state = self
            .live
            .as_ref()
            .map(|live| Arc::clone(&live.store.data().wapc))
            .ok_or("the instance is not initialised")?;
        self.compiled = CompiledModule::new(bytes)?;
        *self.fault.borrow_mut() = None;
        self.instantiate(state).map_err(Into::into)
    }
}
