//! One started provider instance, and every call into it.

use std::collections::BTreeMap;
use std::ffi::{c_void, CString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use provider_abi::ffi::{self, BindFn, Buffer, HandleCallFn, HealthFn, ProviderFreeFn, StartFn, StopFn};
use provider_abi::settings::Scope;
use provider_abi::{ErrorKind, Failure};

use super::services::{Deliver, ServicesContext};
use super::{ProviderError, ProviderLibrary};
use crate::capability::CapabilityId;

/// How long `stop` waits for calls in flight before giving up on them.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The descriptor's functions, checked non-null when the library is opened.
#[derive(Clone, Copy)]
pub(crate) struct Functions {
    pub start: StartFn,
    pub bind_actor: BindFn,
    pub remove_actor: BindFn,
    pub handle_call: HandleCallFn,
    pub health: HealthFn,
    pub free_buffer: ProviderFreeFn,
    pub stop: StopFn,
}

/// Where an instance is in its life. `closed` and `stopped` differ while
/// calls that outlasted the stop grace are still in flight: the instance
/// takes no new calls, but keeps running (and keeps the host's services
/// alive) until the last of them returns, and is stopped then.
#[derive(Default)]
struct Lifecycle {
    /// No new call may start.
    closed: bool,
    /// The provider's own `stop` has been called (exactly once).
    stopped: bool,
    in_flight: usize,
}

/// A started provider instance. Every call is safe from any thread; `stop`
/// waits for calls in flight.
pub struct NativeProvider {
    name: String,
    library: Arc<ProviderLibrary>,
    settings: BTreeMap<String, String>,
    instance: *mut c_void,
    lifecycle: Mutex<Lifecycle>,
    idle: Condvar,
    /// Keeps the host's side of the services alive as long as the provider.
    _services: Box<ServicesContext>,
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
            .field("capability", self.library.capability())
            .field("path", &self.library.path())
            .finish()
    }
}

impl NativeProvider {
    /// Opens the bare library at `path`, with no signature check, and
    /// starts it as `name` with empty settings and a fresh state directory
    /// under `state_root`; a shortcut for tests and tools.
    pub fn load(name: &str, path: &Path, deliver: Deliver, state_root: &Path) -> Result<NativeProvider, ProviderError> {
        let library = Arc::new(ProviderLibrary::open_unsigned(path)?);
        NativeProvider::start(name, library, &BTreeMap::new(), deliver, state_root)
    }

    /// Starts an instance of `library` called `name` with the
    /// provider-level `settings` (checked against its declaration first),
    /// delivering its calls to actors through `deliver`. Its state
    /// directory is `state_root/name`, created if missing.
    pub fn start(
        name: &str,
        library: Arc<ProviderLibrary>,
        settings: &BTreeMap<String, String>,
        deliver: Deliver,
        state_root: &Path,
    ) -> Result<NativeProvider, ProviderError> {
        let settings = library.settle(name, Scope::Provider, settings)?;
        let state_dir = state_root.join(name);
        make_private_dir(&state_dir).map_err(|source| ProviderError::StateDir {
            provider: name.to_owned(),
            dir: state_dir.clone(),
            source,
        })?;
        let state_dir = state_dir.canonicalize().unwrap_or(state_dir);
        let services = ServicesContext::new(name, deliver, &state_dir).map_err(|problem| ProviderError::Descriptor {
            path: library.path().to_path_buf(),
            problem: problem.to_string(),
        })?;
        let services = Box::new(services);
        let raw_services = services.services();
        let encoded = codec::serialize(&settings).map_err(|e| ProviderError::Start {
            provider: name.to_owned(),
            failure: Failure::new(ErrorKind::BadRequest, e.to_string()),
        })?;
        let functions = library.functions;
        let mut instance: *mut c_void = std::ptr::null_mut();
        let mut error = Buffer::empty();
        // SAFETY: valid arguments; the services context is boxed and kept by
        // the returned handle until after `stop`.
        let status =
            unsafe { (functions.start)(&raw_services, encoded.as_ptr(), encoded.len(), &mut instance, &mut error) };
        // SAFETY: the provider filled `error` (or left it empty); freed once.
        let started = unsafe { ffi::take_reply(status, error, |ptr, len| (functions.free_buffer)(ptr, len)) };
        if let Err(failure) = started {
            return Err(ProviderError::Start { provider: name.to_owned(), failure });
        }
        if instance.is_null() {
            return Err(ProviderError::Start {
                provider: name.to_owned(),
                failure: Failure::new(ErrorKind::Failed, "start reported success but made no instance"),
            });
        }
        tracing::info!(
            provider = %name,
            capability = %library.capability(),
            description = %library.description(),
            path = %library.path().display(),
            state_dir = %state_dir.display(),
            "provider started"
        );
        Ok(NativeProvider {
            name: name.to_owned(),
            library,
            settings,
            instance,
            lifecycle: Mutex::new(Lifecycle::default()),
            idle: Condvar::new(),
            _services: services,
        })
    }

    /// The name the manifest gave this instance.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The capability it serves.
    pub fn capability(&self) -> &CapabilityId {
        self.library.capability()
    }

    /// How it describes itself.
    pub fn description(&self) -> &str {
        self.library.description()
    }

    /// Who vouches for its library.
    pub fn provenance(&self) -> &super::Provenance {
        self.library.provenance()
    }

    /// The library it runs from.
    pub fn library(&self) -> &Arc<ProviderLibrary> {
        &self.library
    }

    /// Its provider-level settings, defaults filled in.
    pub fn settings(&self) -> &BTreeMap<String, String> {
        &self.settings
    }

    /// Binds an actor, or updates its binding: `config` is the msgpack
    /// `CapabilityConfiguration`.
    pub fn bind_actor(&self, config: &[u8]) -> Result<(), ProviderError> {
        self.guarded(|p| {
            let mut out = Buffer::empty();
            // SAFETY: a live instance (guarded) and valid arguments.
            let status = unsafe { (p.functions().bind_actor)(p.instance, config.as_ptr(), config.len(), &mut out) };
            p.finish(status, out).map(drop)
        })
    }

    /// Removes an actor's binding.
    pub fn remove_actor(&self, config: &[u8]) -> Result<(), ProviderError> {
        self.guarded(|p| {
            let mut out = Buffer::empty();
            // SAFETY: a live instance (guarded) and valid arguments.
            let status = unsafe { (p.functions().remove_actor)(p.instance, config.as_ptr(), config.len(), &mut out) };
            p.finish(status, out).map(drop)
        })
    }

    /// Calls `operation` for `actor` with `payload`.
    pub fn call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let bad = |what: &str| self.error(Failure::new(ErrorKind::BadRequest, format!("the {what} contains NUL")));
        let actor = CString::new(actor).map_err(|_| bad("actor key"))?;
        let operation = CString::new(operation).map_err(|_| bad("operation"))?;
        self.guarded(|p| {
            let mut out = Buffer::empty();
            // SAFETY: a live instance (guarded); every pointer is valid for the call.
            let status = unsafe {
                (p.functions().handle_call)(
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
            let status = unsafe { (p.functions().health)(p.instance, &mut out) };
            p.finish(status, out).map(drop)
        })
    }

    /// Stops the provider once every call in flight has returned. Later
    /// calls fail with [`ProviderError::Stopped`]. Calls still in flight
    /// after a grace period are not cut off: the provider is stopped when
    /// the last of them returns, never freed under one.
    pub fn stop(&self) {
        self.stop_within(STOP_GRACE);
    }

    /// [`NativeProvider::stop`], waiting at most `grace` for calls in
    /// flight before leaving the stop to the last of them.
    pub fn stop_within(&self, grace: Duration) {
        let mut state = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        if state.closed {
            return;
        }
        state.closed = true;
        let (state, timeout) = self
            .idle
            .wait_timeout_while(state, grace, |s| s.in_flight > 0)
            .unwrap_or_else(|e| e.into_inner());
        if timeout.timed_out() {
            tracing::warn!(
                provider = %self.name,
                in_flight = state.in_flight,
                "provider still busy; it stops when its last call returns"
            );
            return;
        }
        self.stop_idle(state);
    }

    /// Calls the provider's `stop` unless done already; `state` shows the
    /// instance closed with no call in flight. The lock is released first:
    /// a provider's `stop` may wait for threads of its own that are calling
    /// into the host.
    fn stop_idle(&self, mut state: std::sync::MutexGuard<'_, Lifecycle>) {
        debug_assert!(state.closed && state.in_flight == 0);
        if std::mem::replace(&mut state.stopped, true) {
            return;
        }
        drop(state);
        // SAFETY: the instance is closed, so no call can start, none is in
        // flight, and `stopped` makes this the only call of `stop`.
        unsafe { (self.functions().stop)(self.instance) };
        tracing::info!(provider = %self.name, "provider stopped");
    }

    fn functions(&self) -> Functions {
        self.library.functions
    }

    fn guarded<T>(&self, call: impl FnOnce(&Self) -> Result<T, ProviderError>) -> Result<T, ProviderError> {
        {
            let mut state = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
            if state.closed {
                return Err(ProviderError::Stopped(self.name.clone()));
            }
            state.in_flight += 1;
        }
        let result = call(self);
        let mut state = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        state.in_flight -= 1;
        if state.in_flight == 0 {
            self.idle.notify_all();
            if state.closed {
                // A stop gave up waiting for this call: finish it now.
                self.stop_idle(state);
            }
        }
        result
    }

    /// Copies the provider's output, gives the buffer back, and maps the status.
    fn finish(&self, status: i32, out: Buffer) -> Result<Vec<u8>, ProviderError> {
        let free = self.functions().free_buffer;
        // SAFETY: the provider filled `out` for this call; freed once, by it.
        unsafe { ffi::take_reply(status, out, |ptr, len| free(ptr, len)) }.map_err(|failure| self.error(failure))
    }

    fn error(&self, failure: Failure) -> ProviderError {
        ProviderError::Call { provider: self.name.clone(), failure }
    }
}

impl Drop for NativeProvider {
    /// Stops the provider before the services context it holds is freed:
    /// its threads may use that context until its `stop` returns. No call
    /// can be in flight here (each borrows the provider).
    fn drop(&mut self) {
        let mut state = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        state.closed = true;
        self.stop_idle(state);
    }
}

/// Creates `dir` (and its parents) readable by the owner only.
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// The state directory a host uses when none is configured: systemd's
/// `$STATE_DIRECTORY` (the first entry, when a unit lists several), else
/// `state` beside the manifest.
pub fn default_state_root(manifest_dir: &Path) -> PathBuf {
    std::env::var_os("STATE_DIRECTORY")
        .and_then(|dirs| std::env::split_paths(&dirs).find(|d| !d.as_os_str().is_empty()))
        .unwrap_or_else(|| manifest_dir.join("state"))
}
