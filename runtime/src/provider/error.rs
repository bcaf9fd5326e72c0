//! Why a provider could not be loaded, started, or answer.

use std::path::PathBuf;

use provider_abi::Failure;

/// Why a provider could not be loaded, started, or answer.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The shared library could not be opened; `reason` is the loader's own
    /// (dlerror) text: a missing file, a missing glibc version, a bad ELF.
    #[error("provider library {path} could not be loaded: {reason}")]
    Open {
        /// The library.
        path: PathBuf,
        /// The loader's reason.
        reason: String,
    },
    /// The provider file could not be read.
    #[error("provider file {path} cannot be read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A bare library where a signed archive is required.
    #[error(
        "provider library {path} is not signed: host-edge loads native providers from signed provider archives. \
         Make one with `host-edge par create --capability CAPABILITY --issuer ISSUER.nk --subject PROVIDER.nk \
         --library {path} -o PROVIDER.par.gz` and name the archive instead, or, for development only, set \
         `allow_unsigned_providers = true` under [host]"
    )]
    Unsigned {
        /// The library.
        path: PathBuf,
    },
    /// A provider archive failed a check.
    #[error("provider archive {path} refused: {error}")]
    Refused {
        /// The archive.
        path: PathBuf,
        /// The check that failed, and why.
        error: crate::claims::ClaimsError,
    },
    /// A verified library could not be written where it is loaded from.
    #[error("cannot write the verified provider library {path}: {source}")]
    Install {
        /// Where it was to be written.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The library is built for another processor.
    #[error(
        "provider library {path} is built for {found}, but this host runs on {expected}; \
         use the provider built for {expected} (cargo xtask bundle <target> builds both together)"
    )]
    Architecture {
        /// The library.
        path: PathBuf,
        /// The library's architecture.
        found: String,
        /// The host's.
        expected: &'static str,
    },
    /// The library exports neither entry point.
    #[error("{path} is not a host-edge provider: it does not export `host_edge_provider`")]
    MissingSymbol {
        /// The library.
        path: PathBuf,
    },
    /// A provider built for waSCC: its entry point returns a Rust trait
    /// object, which cannot cross a C boundary (and crashes on 32-bit ARM).
    #[error(
        "{path} is a waSCC capability provider: it exports waSCC's `__capability_provider_create`, \
         which returns a Rust trait object instead of a C descriptor, so host-edge does not load it \
         (on 32-bit ARM it would crash the host). Port it to host-edge-provider-sdk (ABI version {expected}): \
         implement `provider_sdk::Provider` and export it with `export_provider!`; docs/provider-abi.md \
         shows how"
    )]
    WasccProvider {
        /// The library.
        path: PathBuf,
        /// The host's ABI version.
        expected: u32,
    },
    /// The provider was built for another ABI version.
    #[error(
        "provider {path} speaks provider ABI version {found}, but this host speaks version {expected} \
         (and loads version {}); rebuild the provider against host-edge-provider-sdk for ABI {expected}",
        provider_abi::ffi::OLDEST_ABI_VERSION
    )]
    AbiVersion {
        /// The library.
        path: PathBuf,
        /// The version the provider reported.
        found: u32,
        /// The host's version.
        expected: u32,
    },
    /// A descriptor field is null or invalid.
    #[error("provider {path} has an invalid descriptor: {problem}")]
    Descriptor {
        /// The library.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Settings or link values do not fit what the provider declares.
    #[error("provider `{provider}` ({path}): {}", problems.join("; "))]
    Settings {
        /// The provider's name.
        provider: String,
        /// The library.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<String>,
    },
    /// The provider's state directory could not be made.
    #[error("provider `{provider}`: cannot create its state directory {dir}: {source}")]
    StateDir {
        /// The provider's name.
        provider: String,
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `start` failed.
    #[error("provider `{provider}` failed to start: {failure}")]
    Start {
        /// The provider's name.
        provider: String,
        /// Its failure.
        failure: Failure,
    },
    /// The provider answered a call with an error.
    #[error("provider `{provider}`: {}", failure.message)]
    Call {
        /// The provider's name.
        provider: String,
        /// Its failure, typed.
        failure: Failure,
    },
    /// The provider has been stopped.
    #[error("provider `{0}` is stopped")]
    Stopped(String),
}

impl ProviderError {
    /// The failure as the actor (or the provider that asked) sees it.
    pub fn failure(&self) -> Failure {
        match self {
            ProviderError::Call { failure, .. } => failure.clone(),
            ProviderError::Stopped(_) => Failure::new(provider_abi::ErrorKind::Unavailable, self.to_string()),
            other => Failure::new(provider_abi::ErrorKind::Failed, other.to_string()),
        }
    }
}
