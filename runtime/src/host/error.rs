//! Why the host could not do what was asked: one error for every command,
//! naming the actor, provider or link it was about.

use crate::actor::LoadError;
use crate::capability::CapabilityId;
use crate::engine::InvokeError;
use crate::provider::ProviderError;
use crate::state_dir::ProviderNameError;

/// Why the host could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The actor could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The actor's instances could not start.
    #[error("actor {actor}: {error}")]
    Start {
        /// The actor.
        actor: String,
        /// Why.
        error: InvokeError,
    },
    /// An actor with the same module key is already running.
    #[error("actor {0} is already running; to run a new version of it, replace it")]
    AlreadyRunning(String),
    /// No running actor has that key or name.
    #[error("no actor {0} is running")]
    UnknownActor(String),
    /// A replacement was refused; the running version keeps serving.
    #[error("replacing {actor}: {reason}; the running version keeps serving")]
    Replace {
        /// The running actor.
        actor: String,
        /// Why.
        reason: String,
    },
    /// The call into the actor failed.
    #[error(transparent)]
    Invoke(#[from] InvokeError),
    /// A provider could not be loaded, or refused a binding.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A provider name that cannot name its state folder.
    #[error(transparent)]
    ProviderName(#[from] ProviderNameError),
    /// A provider with the same name is already loaded.
    #[error("a provider named `{0}` is already loaded")]
    ProviderExists(String),
    /// No provider has that name.
    #[error("no provider named `{0}` is loaded")]
    UnknownProvider(String),
    /// A link was refused before reaching the provider.
    #[error("link of {actor} to {capability}: {reason}")]
    Link {
        /// The actor.
        actor: String,
        /// The capability.
        capability: CapabilityId,
        /// Why.
        reason: String,
    },
    /// No such link exists.
    #[error("{actor} has no link for {capability} under the binding `{binding}`")]
    NotLinked {
        /// The actor.
        actor: String,
        /// The capability.
        capability: CapabilityId,
        /// The binding.
        binding: String,
    },
}
