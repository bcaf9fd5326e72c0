//! Opening a provider library and reading its descriptor, before any
//! instance exists: what it serves, what it calls itself, which settings it
//! takes. A library that is not a host-edge ABI 2 or 3 provider is refused here,
//! with a message that says what it is.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CStr};
use std::path::{Path, PathBuf};

use libloading::Library;
use provider_abi::ffi::{self, EntryFn, ProviderDescriptor, ABI_VERSION, OLDEST_ABI_VERSION};
use provider_abi::settings::{self, Scope, Setting};

use super::legacy::{self, Legacy};
use super::trust::Provenance;
use super::native::Functions;
use super::ProviderError;
use crate::capability::CapabilityId;

/// An opened provider library whose descriptor passed every check. Never
/// unloaded: a provider's threads may outlive `stop` by a moment, and
/// unmapping their code under them would crash the host.
pub struct ProviderLibrary {
    /// The file the operator named: an archive, or a bare library.
    path: PathBuf,
    /// Who vouches for it.
    provenance: Provenance,
    capability: CapabilityId,
    description: String,
    settings: Vec<Setting>,
    pub(super) functions: Functions,
}

impl std::fmt::Debug for ProviderLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderLibrary")
            .field("path", &self.path)
            .field("capability", &self.capability)
            .finish_non_exhaustive()
    }
}

impl ProviderLibrary {
    /// Opens the library at `path` and reads its descriptor, with no
    /// signature check: for libraries already verified (see
    /// [`trust`](super::trust)), tests and tools. Nothing is started.
    pub fn open_unsigned(path: &Path) -> Result<ProviderLibrary, ProviderError> {
        let path = path.to_path_buf();
        check_architecture(&path)?;
        // SAFETY: loading runs the library's initialisers. Providers are
        // code the operator chose to run, named in the manifest.
        let library = unsafe { Library::new(&path) }
            .map_err(|e| ProviderError::Open { path: path.clone(), reason: loader_reason(&e) })?;
        // Never unloaded (see the type's comment).
        let library: &'static Library = Box::leak(Box::new(library));
        // SAFETY: the symbol's type is fixed by the ABI.
        let entry = match unsafe { library.get::<EntryFn>(ffi::ENTRY_SYMBOL) } {
            Ok(entry) => *entry,
            Err(_) => return Err(refuse_without_entry(library, path)),
        };
        // SAFETY: calling the entry point the ABI defines; it only returns
        // a pointer to static data.
        let descriptor = unsafe { entry() };
        let invalid = |problem: &str| ProviderError::Descriptor { path: path.clone(), problem: problem.to_owned() };
        if descriptor.is_null() {
            return Err(invalid("`host_edge_provider` returned no descriptor"));
        }
        // SAFETY: non-null; `abi_version` is the first field in every
        // version, so reading it is sound whatever version built it.
        let found = unsafe { std::ptr::addr_of!((*descriptor).abi_version).read() };
        if !(OLDEST_ABI_VERSION..=ABI_VERSION).contains(&found) {
            // Its layout is unknown, so nothing else is touched.
            return Err(ProviderError::AbiVersion { path, found, expected: ABI_VERSION });
        }
        // SAFETY: a version whose descriptor layout is ours (3 changed only
        // the host's services); static data.
        let descriptor: &'static ProviderDescriptor = unsafe { &*descriptor };
        let functions = Functions {
            start: descriptor.start.ok_or_else(|| invalid("start is null"))?,
            bind_actor: descriptor.bind_actor.ok_or_else(|| invalid("bind_actor is null"))?,
            remove_actor: descriptor.remove_actor.ok_or_else(|| invalid("remove_actor is null"))?,
            handle_call: descriptor.handle_call.ok_or_else(|| invalid("handle_call is null"))?,
            health: descriptor.health.ok_or_else(|| invalid("health is null"))?,
            free_buffer: descriptor.free_buffer.ok_or_else(|| invalid("free_buffer is null"))?,
            stop: descriptor.stop.ok_or_else(|| invalid("stop is null"))?,
        };
        let text = |ptr: *const c_char, what: &str| -> Result<Option<String>, ProviderError> {
            if ptr.is_null() {
                return Ok(None);
            }
            // SAFETY: a NUL-terminated string the static descriptor owns.
            let text = unsafe { CStr::from_ptr(ptr) };
            text.to_str().map(|s| Some(s.to_owned())).map_err(|_| invalid(&format!("{what} is not UTF-8")))
        };
        let capability = text(descriptor.capability_id, "capability_id")?.ok_or_else(|| invalid("capability_id is null"))?;
        let capability =
            CapabilityId::parse(&capability).map_err(|e| invalid(&format!("capability_id `{capability}`: {e}")))?;
        let description = text(descriptor.name, "name")?.ok_or_else(|| invalid("name is null"))?;
        let settings = match text(descriptor.settings, "settings")? {
            None => Vec::new(),
            Some(json) => settings::parse(&json).map_err(|e| invalid(&e.to_string()))?,
        };
        Ok(ProviderLibrary { path, provenance: Provenance::Unsigned, capability, description, settings, functions })
    }

    /// The library as opened from the verified archive `archive`.
    pub(super) fn with_provenance(self, archive: &Path, provenance: Provenance) -> ProviderLibrary {
        ProviderLibrary { path: archive.to_path_buf(), provenance, ..self }
    }

    /// Who vouches for the library.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// The file the library came from: its archive, or the bare library.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The capability it serves.
    pub fn capability(&self) -> &CapabilityId {
        &self.capability
    }

    /// How it describes itself.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The settings it declares.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// Checks `values` given at `scope` against the declaration and fills
    /// in the declared defaults of what is absent; `provider` names the
    /// instance in errors.
    pub fn settle(
        &self,
        provider: &str,
        scope: Scope,
        values: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        settings::check(&self.settings, scope, values).map_err(|problems| ProviderError::Settings {
            provider: provider.to_owned(),
            path: self.path.clone(),
            problems: problems
                .into_iter()
                .map(|p| format!("{} {p}", if scope == Scope::Provider { "settings:" } else { "link values:" }))
                .collect(),
        })?;
        let mut settled = values.clone();
        for setting in self.settings.iter().filter(|s| s.scope == scope) {
            if let Some(default) = &setting.default {
                settled.entry(setting.name.clone()).or_insert_with(|| default.clone());
            }
        }
        Ok(settled)
    }
}

/// The loader's own words: libloading's `Display` says only "dlopen failed"
/// and keeps dlerror's text (which names the missing file, symbol version
/// or ELF problem) as the error's source.
fn loader_reason(error: &libloading::Error) -> String {
    use std::error::Error;
    match error.source() {
        Some(source) => source.to_string(),
        None => error.to_string(),
    }
}

/// The ELF machine this host runs as, and its name.
const HOST_MACHINE: (u16, &str) = if cfg!(target_arch = "x86_64") {
    (62, "x86_64")
} else if cfg!(target_arch = "aarch64") {
    (183, "aarch64")
} else if cfg!(target_arch = "arm") {
    (40, "32-bit ARM")
} else if cfg!(target_arch = "x86") {
    (3, "x86")
} else if cfg!(target_arch = "riscv64") {
    (243, "riscv64")
} else {
    (0, std::env::consts::ARCH)
};

/// Refuses, before the loader sees it, an ELF library built for another
/// processor, naming both (the loader would say only "wrong ELF class" or
/// "cannot open shared object file"). Files that are not ELF, or that cannot
/// be read, are left to the loader's own error.
fn check_architecture(path: &Path) -> Result<(), ProviderError> {
    use std::io::Read;
    let mut header = [0u8; 20];
    let Ok(mut file) = std::fs::File::open(path) else { return Ok(()) };
    if file.read_exact(&mut header).is_err() || &header[..4] != b"\x7fELF" || HOST_MACHINE.0 == 0 {
        return Ok(());
    }
    // e_machine, in the byte order e_ident[EI_DATA] names.
    let machine = match header[5] {
        2 => u16::from_be_bytes([header[18], header[19]]),
        _ => u16::from_le_bytes([header[18], header[19]]),
    };
    if machine == HOST_MACHINE.0 {
        return Ok(());
    }
    let found = match machine {
        62 => "x86_64".to_owned(),
        183 => "aarch64".to_owned(),
        40 => "32-bit ARM".to_owned(),
        3 => "x86".to_owned(),
        243 => "riscv64".to_owned(),
        other => format!("ELF machine {other}"),
    };
    Err(ProviderError::Architecture { path: path.to_path_buf(), found, expected: HOST_MACHINE.1 })
}

/// The refusal for a library without `host_edge_provider`: a legacy one
/// (host-edge ABI 1 or waSCC), or not a provider at all.
fn refuse_without_entry(library: &'static Library, path: PathBuf) -> ProviderError {
    type LegacyFn = unsafe extern "C" fn() -> *const c_void;
    // SAFETY: only the symbol's address is taken here; the probe calls it
    // in a child process.
    match unsafe { library.get::<LegacyFn>(ffi::LEGACY_SYMBOL) } {
        Err(_) => ProviderError::MissingSymbol { path },
        Ok(create) => match legacy::probe(*create) {
            Legacy::HostEdgeV1 => ProviderError::AbiVersion { path, found: 1, expected: ABI_VERSION },
            Legacy::Wascc => ProviderError::WasccProvider { path, expected: ABI_VERSION },
        },
    }
}
