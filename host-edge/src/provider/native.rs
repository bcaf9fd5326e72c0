//! One provider instance loaded from a shared library.

use std::ffi::{c_void, CStr};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use libloading::Library;
use provider_sdk::abi::{self, Buffer, CreateFn, Dispatcher, ProviderDescriptor, ABI_VERSION, STATUS_OK};

use super::dispatcher::{DispatchContext, Deliver};
use crate::capability::CapabilityId;
use crate::dispatch::CapabilityHandler;

/// How long `stop` waits for calls in flight before giving up on them.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Why a provider could not be loaded or a call to it failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The shared library could not be opened.
    #[error("provider library {path} could not be loaded: {source}")]
    Open {
        /// The library.
        path: PathBuf,
        /// The loader's error.
        source: libloading::Error,
    },
    /// The library does not export the entry point.
    #[error("{path} is not a host-edge provider: it does not export `__capability_provider_create` ({source})")]
    MissingSymbol {
        /// The library.
        path: PathBuf,
        /// The loader's error.
        source: libloading::Error,
    },
    /// The entry point returned null.
    #[error("provider {path} failed to start: `__capability_provider_create` returned no descriptor")]
    CreateFailed {
        /// The library.
        path: PathBuf,
    },
    /// The provider was built for another ABI version.
    #[error(
        "provider {path} speaks provider ABI version {found}, but this host speaks version {expected}; \
         rebuild the provider against host-edge-provider-sdk for ABI {expected}"
    )]
    AbiVersion {
        /// The library.
        path: PathBuf,
        /// The version the provider reported.
        found: u32,
        /// The host's version.
        expected: u32,
    },
    /// A required descriptor field is null or invalid.
    #[error("provider {path} has an invalid descriptor: {problem}")]
    Descriptor {
        /// The library.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The provider answered a call with an error.
    #[error("provider `{provider}`: {message}")]
    Call {
        /// The provider's name.
        provider: String,
        /// Its error text.
        message: String,
    },
    /// The provider has been stopped.
    #[error("provider `{0}` is stopped")]
    Stopped(String),
}

/// The descriptor's functions, checked non-null at load.
#[derive(Clone, Copy)]
struct Functions {
    set_dispatcher: unsafe extern "C" fn(*mut c_void, *const Dispatcher) -> i32,
    bind_actor: unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut Buffer) -> i32,
    remove_actor: unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut Buffer) -> i32,
    handle_call:
        unsafe extern "C" fn(*mut c_void, *const std::ffi::c_char, *const std::ffi::c_char, *const u8, usize, *mut Buffer) -> i32,
    health: unsafe extern "C" fn(*mut c_void, *mut Buffer) -> i32,
    free_buffer: unsafe extern "C" fn(*mut c_void, *mut u8, usize),
    stop: unsafe extern "C" fn(*mut c_void),
}

#[derive(Default)]
struct Lifecycle {
    stopped: bool,
    in_flight: usize,
}

/// A loaded provider instance. Every call is safe from any thread; `stop`
/// waits for calls in flight.
pub struct NativeProvider {
    name: String,
    path: PathBuf,
    capability: CapabilityId,
    display_name: String,
    instance: *mut c_void,
    functions: Functions,
    lifecycle: Mutex<Lifecycle>,
    idle: Condvar,
    /// Keeps the host's side of the dispatcher alive as long as the provider.
    context: Mutex<Option<Box<DispatchContext>>>,
    /// Never unloaded: a provider's threads may outlive `stop` by a moment,
    /// and unmapping their code under them would crash the host.
    _library: ManuallyDrop<Library>,
}

// SAFETY: the ABI requires every provider function but `stop` to be callable
// from any thread concurrently; `stop` is serialised by `lifecycle`.
unsafe impl Send for NativeProvider {}
// SAFETY: as above.
unsafe impl Sync for NativeProvider {}

impl std::fmt::Debug for NativeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeProvider")
            .field("name", &self.name)
            .field("capability", &self.capability)
            .field("path", &self.path)
            .finish()
    }
}

impl NativeProvider {
    /// Loads the provider library at `path` as the instance called `name`,
    /// checks its ABI version and descriptor, and hands it a dispatcher that
    /// delivers its calls through `deliver`.
    pub fn load(name: &str, path: &Path, deliver: Deliver) -> Result<NativeProvider, ProviderError> {
        let path = path.to_path_buf();
        // SAFETY: loading runs the library's initialisers. Providers are
        // code the operator chose to run, named in the manifest.
        let library = unsafe { Library::new(&path) }.map_err(|source| ProviderError::Open { path: path.clone(), source })?;
        // SAFETY: the symbol's type is fixed by the ABI.
        let create: CreateFn = *unsafe { library.get::<CreateFn>(abi::CREATE_SYMBOL) }
            .map_err(|source| ProviderError::MissingSymbol { path: path.clone(), source })?;
        // SAFETY: calling the entry point the ABI defines.
        let descriptor = unsafe { create() };
        if descriptor.is_null() {
            return Err(ProviderError::CreateFailed { path });
        }
        // SAFETY: non-null; `abi_version` is the first field in every version,
        // so reading it is sound whatever version built the provider.
        let found = unsafe { std::ptr::addr_of!((*descriptor).abi_version).read() };
        if found != ABI_VERSION {
            // Its layout is unknown, so nothing else is touched, not even `stop`.
            return Err(ProviderError::AbiVersion { path, found, expected: ABI_VERSION });
        }
        // SAFETY: the version matches, so the layout is ours.
        let descriptor: &ProviderDescriptor = unsafe { &*descriptor };
        let invalid = |problem: &str| ProviderError::Descriptor { path: path.clone(), problem: problem.to_owned() };
        let functions = Functions {
            set_dispatcher: descriptor.set_dispatcher.ok_or_else(|| invalid("set_dispatcher is null"))?,
            bind_actor: descriptor.bind_actor.ok_or_else(|| invalid("bind_actor is null"))?,
            remove_actor: descriptor.remove_actor.ok_or_else(|| invalid("remove_actor is null"))?,
            handle_call: descriptor.handle_call.ok_or_else(|| invalid("handle_call is null"))?,
            health: descriptor.health.ok_or_else(|| invalid("health is null"))?,
            free_buffer: descriptor.free_buffer.ok_or_else(|| invalid("free_buffer is null"))?,
            stop: descriptor.stop.ok_or_else(|| invalid("stop is null"))?,
        };
        let text = |ptr: *const std::ffi::c_char, what: &str| -> Result<String, ProviderError> {
            if ptr.is_null() {
                return Err(invalid(&format!("{what} is null")));
            }
            // SAFETY: a NUL-terminated string the descriptor owns.
            let text = unsafe { CStr::from_ptr(ptr) };
            text.to_str().map(str::to_owned).map_err(|_| invalid(&format!("{what} is not UTF-8")))
        };
        let capability = text(descriptor.capability_id, "capability_id")?;
        let capability =
            CapabilityId::parse(&capability).map_err(|e| invalid(&format!("capability_id `{capability}`: {e}")))?;
        let display_name = text(descriptor.name, "name")?;
        let set_dispatcher_failed = invalid("set_dispatcher failed");
        let provider = NativeProvider {
            name: name.to_owned(),
            path: path.clone(),
            capability,
            display_name,
            instance: descriptor.instance,
            functions,
            lifecycle: Mutex::new(Lifecycle::default()),
            idle: Condvar::new(),
            context: Mutex::new(None),
            _library: ManuallyDrop::new(library),
        };
        let context = Box::new(DispatchContext::new(name, deliver));
        let dispatcher = context.dispatcher();
        // SAFETY: a live instance; the dispatcher's context lives in
        // `provider.context` until after `stop`.
        let status = unsafe { (provider.functions.set_dispatcher)(provider.instance, &dispatcher) };
        *provider.context.lock().unwrap_or_else(|e| e.into_inner()) = Some(context);
        if status != STATUS_OK {
            provider.stop();
            return Err(set_dispatcher_failed);
        }
        tracing::info!(
            provider = %provider.name,
            capability = %provider.capability,
            name = %provider.display_name,
            path = %provider.path.display(),
            "provider loaded"
        );
        Ok(provider)
    }

    /// The name the manifest gave this instance.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The capability it serves.
    pub fn capability(&self) -> &CapabilityId {
        &self.capability
    }

    /// Its human-friendly name, as it describes itself.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// Binds an actor: `config` is the msgpack `CapabilityConfiguration`.
    pub fn bind_actor(&self, config: &[u8]) -> Result<(), ProviderError> {
        self.guarded(|p| {
            let mut out = Buffer::empty();
            // SAFETY: a live instance (guarded) and valid arguments.
            let status = unsafe { (p.functions.bind_actor)(p.instance, config.as_ptr(), config.len(), &mut out) };
            p.finish(status, out).map(drop)
        })
    }

    /// Removes an actor's binding.
    pub fn remove_actor(&self, config: &[u8]) -> Result<(), ProviderError> {
        self.guarded(|p| {
            let mut out = Buffer::empty();
            // SAFETY: a live instance (guarded) and valid arguments.
            let status = unsafe { (p.functions.remove_actor)(p.instance, config.as_ptr(), config.len(), &mut out) };
            p.finish(status, out).map(drop)
        })
    }

    /// Calls `operation` for `actor` with `payload`.
    pub fn call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let actor = std::ffi::CString::new(actor).map_err(|_| self.error("the actor key contains NUL"))?;
        let operation = std::ffi::CString::new(operation).map_err(|_| self.error("the operation contains NUL"))?;
        self.guarded(|p| {
            let mut out = Buffer::empty();
            // SAFETY: a live instance (guarded); every pointer is valid for the call.
            let status = unsafe {
                (p.functions.handle_call)(
                    p.instance,
                    actor.as_ptr(),
                    operation.as_ptr(),
                    payload.as_ptr(),
                    payload.len(),
                    &mut out,
                )
            };
            p.finish(status, out)
        })
    }

    /// Asks the provider whether it can serve.
    pub fn health(&self) -> Result<(), ProviderError> {
        self.guarded(|p| {
            let mut out = Buffer::empty();
            // SAFETY: a live instance (guarded).
            let status = unsafe { (p.functions.health)(p.instance, &mut out) };
            p.finish(status, out).map(drop)
        })
    }

    /// Stops the provider once every call in flight has returned (or after
    /// a grace period, leaving it running rather than freeing it under a
    /// call). Later calls fail with [`ProviderError::Stopped`].
    pub fn stop(&self) {
        let mut state = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        if state.stopped {
            return;
        }
        state.stopped = true;
        let (state, timeout) = self
            .idle
            .wait_timeout_while(state, STOP_GRACE, |s| s.in_flight > 0)
            .unwrap_or_else(|e| e.into_inner());
        if timeout.timed_out() {
            tracing::warn!(provider = %self.name, in_flight = state.in_flight, "provider still busy; not stopped");
            return;
        }
        drop(state);
        // SAFETY: no call is in flight and none can start; `stop` runs once.
        unsafe { (self.functions.stop)(self.instance) };
        tracing::info!(provider = %self.name, "provider stopped");
    }

    fn guarded<T>(&self, call: impl FnOnce(&Self) -> Result<T, ProviderError>) -> Result<T, ProviderError> {
        {
            let mut state = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
            if state.stopped {
                return Err(ProviderError::Stopped(self.name.clone()));
            }
            state.in_flight += 1;
        }
        let result = call(self);
        let mut state = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        state.in_flight -= 1;
        if state.in_flight == 0 {
            self.idle.notify_all();
        }
        result
    }

    /// Copies the provider's output, gives the buffer back, and maps the status.
    fn finish(&self, status: i32, out: Buffer) -> Result<Vec<u8>, ProviderError> {
        // SAFETY: the provider filled `out` (or left it empty); valid until freed.
        let bytes = unsafe { abi::slice(out.ptr, out.len) }.to_vec();
        if !out.ptr.is_null() {
            // SAFETY: given back once, to the provider that allocated it.
            unsafe { (self.functions.free_buffer)(self.instance, out.ptr, out.len) };
        }
        if status == STATUS_OK {
            Ok(bytes)
        } else {
            Err(self.error(&String::from_utf8_lossy(&bytes)))
        }
    }

    fn error(&self, message: &str) -> ProviderError {
        ProviderError::Call { provider: self.name.clone(), message: message.to_owned() }
    }
}

impl CapabilityHandler for NativeProvider {
    fn handle(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        self.call(actor, operation, payload).map_err(|e| match e {
            ProviderError::Call { message, .. } => message,
            other => other.to_string(),
        })
    }
}
