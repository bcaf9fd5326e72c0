//! The provider instances a host loads: verified (or, where allowed, bare)
//! libraries started under a name that is also their state folder's.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::delivery::ProviderDelivery;
use super::links::unbind;
use super::{Host, HostError};
use crate::capability::CapabilityId;
use crate::provider::{trust, NativeProvider, Provenance, ProviderLibrary};
use crate::state_dir;

impl Host {
    /// Loads the provider at `path` (a signed archive, or a bare library
    /// where the host allows unsigned providers) as the instance `name`,
    /// with no provider-level settings. Returns its capability id.
    pub fn add_provider(&self, name: &str, path: &Path) -> Result<CapabilityId, HostError> {
        self.add_provider_with(name, path, &BTreeMap::new())
    }

    /// Loads the provider at `path` as the instance `name` with
    /// provider-level `settings`, checked against what it declares.
    pub fn add_provider_with(
        &self,
        name: &str,
        path: &Path,
        settings: &BTreeMap<String, String>,
    ) -> Result<CapabilityId, HostError> {
        self.add_provider_from(name, None, path, settings)
    }

    /// Starts the provider `name` from `opened`, the library at `path` a
    /// check already opened, or else from `path` opened now, once the name
    /// is known to be free.
    pub(super) fn add_provider_from(
        &self,
        name: &str,
        opened: Option<ProviderLibrary>,
        path: &Path,
        settings: &BTreeMap<String, String>,
    ) -> Result<CapabilityId, HostError> {
        let _command = self.command();
        state_dir::provider_name(name)?;
        if self.read().provider(name).is_some() {
            return Err(HostError::ProviderExists(name.to_owned()));
        }
        let library = Arc::new(match opened {
            Some(library) => library,
            None => trust::open(path, &self.provider_trust(), &self.inner.state_root)?,
        });
        let deliver = Arc::new(ProviderDelivery { host: Arc::downgrade(&self.inner), provider: name.to_owned() });
        let provider = NativeProvider::start(name, library, settings, deliver, &self.inner.state_root)?;
        let capability = provider.capability().clone();
        if let Provenance::Signed(signature) = provider.provenance() {
            // A trusted signature proves the time it was made has passed.
            if self.policy().trusted_issuers.contains(&signature.issuer) {
                if let Err(e) = self.inner.clock.observe(signature.issued_at) {
                    tracing::warn!(provider = %signature.subject, "the clock's mark was not kept: {e}");
                }
            }
        }
        self.write().put_provider(Arc::new(provider));
        Ok(capability)
    }

    /// Unlinks everything linked to the provider `name` and stops it.
    pub fn remove_provider(&self, name: &str) -> Result<String, HostError> {
        let _command = self.command();
        let (provider, links) =
            self.write().remove_provider(name).ok_or_else(|| HostError::UnknownProvider(name.to_owned()))?;
        for link in &links {
            unbind(&link.spec.actor, link);
        }
        provider.stop();
        Ok(format!("removed provider {name}; {} links removed", links.len()))
    }

    /// The loaded providers: (name, capability id, description).
    pub fn providers(&self) -> Vec<(String, CapabilityId, String)> {
        self.read()
            .providers()
            .map(|p| (p.name().to_owned(), p.capability().clone(), p.description().to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::Policy;

    #[test]
    fn a_provider_is_not_loaded_under_a_name_that_could_leave_the_state_directory() {
        let host = Host::with_state_dir(Policy::default(), std::env::temp_dir().join("host-edge-names"));
        let err = host.add_provider("../escape", Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(err, HostError::ProviderName(_)), "{err}");
    }
}
