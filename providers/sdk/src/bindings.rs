//! Which store serves which actor: providers that open a resource per link
//! setting (a database file, a server URL) share it between the actors
//! linked with the same setting, and close it when the last one goes.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::ProviderError;

/// Resources of type `S` keyed by the link setting `K`, and the actors using
/// each. Safe to share between threads.
pub struct Bindings<K, S> {
    inner: Mutex<State<K, S>>,
}

struct State<K, S> {
    by_setting: HashMap<K, Arc<S>>,
    by_actor: HashMap<String, (K, Arc<S>)>,
}

impl<K: Eq + Hash + Clone, S> Default for Bindings<K, S> {
    fn default() -> Self {
        Bindings { inner: Mutex::new(State { by_setting: HashMap::new(), by_actor: HashMap::new() }) }
    }
}

impl<K: Eq + Hash + Clone, S> Bindings<K, S> {
    fn state(&self) -> std::sync::MutexGuard<'_, State<K, S>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Binds `actor` to the resource for `setting`, opening it with `open`
    /// when no other actor uses it yet.
    pub fn bind(
        &self,
        actor: &str,
        setting: K,
        open: impl FnOnce() -> Result<S, ProviderError>,
    ) -> Result<(), ProviderError> {
        let mut state = self.state();
        let resource = match state.by_setting.get(&setting) {
            Some(resource) => Arc::clone(resource),
            None => {
                let resource = Arc::new(open()?);
                state.by_setting.insert(setting.clone(), Arc::clone(&resource));
                resource
            }
        };
        state.by_actor.insert(actor.to_owned(), (setting, resource));
        Ok(())
    }

    /// Unbinds `actor`; closes its resource if no other actor uses it.
    pub fn remove(&self, actor: &str) {
        let mut state = self.state();
        if let Some((setting, _)) = state.by_actor.remove(actor) {
            if !state.by_actor.values().any(|(s, _)| *s == setting) {
                state.by_setting.remove(&setting);
            }
        }
    }

    /// The resource serving `actor`, or an error saying it is not bound.
    pub fn get(&self, actor: &str) -> Result<Arc<S>, ProviderError> {
        self.state()
            .by_actor
            .get(actor)
            .map(|(_, resource)| Arc::clone(resource))
            .ok_or_else(|| ProviderError::new(format!("actor {actor} is not bound to this provider")))
    }

    /// Every open resource.
    pub fn all(&self) -> Vec<Arc<S>> {
        self.state().by_setting.values().cloned().collect()
    }

    /// Unbinds everyone and closes everything.
    pub fn clear(&self) {
        let mut state = self.state();
        state.by_actor.clear();
        state.by_setting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_with_the_same_setting_share_one_resource_until_the_last_leaves() {
        let bindings: Bindings<&str, u32> = Bindings::default();
        let mut opened = 0;
        bindings.bind("A", "db1", || { opened += 1; Ok(1) }).unwrap();
        bindings.bind("B", "db1", || { opened += 1; Ok(2) }).unwrap();
        assert_eq!(opened, 1);
        assert!(Arc::ptr_eq(&bindings.get("A").unwrap(), &bindings.get("B").unwrap()));
        bindings.remove("A");
        assert_eq!(bindings.all().len(), 1);
        bindings.remove("B");
        assert!(bindings.all().is_empty());
        assert!(bindings.get("B").unwrap_err().to_string().contains("not bound"));
    }
}
