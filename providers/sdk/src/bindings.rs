//! Which store serves which actor, under which grant: providers that open a
//! resource per link setting (a database file, a server URL) share it
//! between the actors linked with the same setting, and close it when the
//! last one goes. Each binding also remembers the actor's [`Grant`], read
//! from the binding values with [`read_grant`], so a call finds its store
//! and the limits it must enforce in one lookup.
//!
//! Binding an actor that is already bound updates its binding (ABI v2): the
//! new setting and grant replace the old ones at once, and the old store
//! closes when no other actor uses it. Calls already running keep the
//! store they fetched until they finish.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use provider_abi::grant::Grant;

use crate::ProviderError;

/// Reads the actor's grant from its binding values (the JSON the host puts
/// under [`GRANT_KEY`](provider_abi::grant::GRANT_KEY)); no value means
/// unrestricted. A value that cannot be read is a bad request, so the
/// binding is refused rather than left unrestricted.
pub fn read_grant(values: &BTreeMap<String, String>) -> Result<Grant, ProviderError> {
    Grant::from_values(values).map_err(|e| ProviderError::bad_request(e.to_string()))
}

/// Resources of type `S` keyed by the link setting `K`, and the actors using
/// each with their grants. Safe to share between threads.
pub struct Bindings<K, S> {
    inner: Mutex<State<K, S>>,
}

struct Binding<K, S> {
    setting: K,
    resource: Arc<S>,
    grant: Arc<Grant>,
}

struct State<K, S> {
    by_setting: HashMap<K, Arc<S>>,
    by_actor: HashMap<String, Binding<K, S>>,
}

impl<K: Eq + Hash, S> State<K, S> {
    /// Forgets the resource for `setting` when no actor uses it any more,
    /// handing it back so it is closed outside the lock.
    fn release(&mut self, setting: &K) -> Option<Arc<S>> {
        if self.by_actor.values().any(|b| b.setting == *setting) {
            return None;
        }
        self.by_setting.remove(setting)
    }
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

    /// Binds `actor` to the resource for `setting` under `grant`, opening
    /// the resource with `open` when no other actor uses it yet.
    ///
    /// For an actor that is already bound this is an update: the new
    /// setting and grant replace the old ones, and the old resource closes
    /// if no other actor uses it. If `open` fails, the error is returned and
    /// the actor's previous binding, if any, stays as it was.
    pub fn bind(
        &self,
        actor: &str,
        setting: K,
        grant: Grant,
        open: impl FnOnce() -> Result<S, ProviderError>,
    ) -> Result<(), ProviderError> {
        let closed = {
            let mut state = self.state();
            let resource = match state.by_setting.get(&setting) {
                Some(resource) => Arc::clone(resource),
                None => {
                    let resource = Arc::new(open()?);
                    state.by_setting.insert(setting.clone(), Arc::clone(&resource));
                    resource
                }
            };
            let binding = Binding { setting, resource, grant: Arc::new(grant) };
            match state.by_actor.insert(actor.to_owned(), binding) {
                Some(previous) => state.release(&previous.setting),
                None => None,
            }
        };
        drop(closed);
        Ok(())
    }

    /// Unbinds `actor`; closes its resource if no other actor uses it.
    pub fn remove(&self, actor: &str) {
        let closed = {
            let mut state = self.state();
            match state.by_actor.remove(actor) {
                Some(previous) => state.release(&previous.setting),
                None => None,
            }
        };
        drop(closed);
    }

    /// The resource serving `actor` and the grant it must enforce, or a
    /// [`NotLinked`](crate::ErrorKind::NotLinked) error saying the actor is
    /// not bound.
    pub fn get(&self, actor: &str) -> Result<(Arc<S>, Arc<Grant>), ProviderError> {
        self.state()
            .by_actor
            .get(actor)
            .map(|b| (Arc::clone(&b.resource), Arc::clone(&b.grant)))
            .ok_or_else(|| {
                ProviderError::of(
                    crate::ErrorKind::NotLinked,
                    format!("actor {actor} is not bound to this provider"),
                )
            })
    }

    /// Every open resource.
    pub fn all(&self) -> Vec<Arc<S>> {
        self.state().by_setting.values().cloned().collect()
    }

    /// Unbinds everyone and closes everything.
    pub fn clear(&self) {
        let closed = {
            let mut state = self.state();
            state.by_actor.clear();
            std::mem::take(&mut state.by_setting)
        };
        drop(closed);
    }
}

#[cfg(test)]
mod tests {
    use provider_abi::grant::{Layer, Source, GRANT_KEY};

    use super::*;
    use crate::ErrorKind;

    fn grant(rule: &str) -> Grant {
        Grant::new(vec![Layer::new(Source::Signed, vec![rule.parse().unwrap()])])
    }

    #[test]
    fn actors_with_the_same_setting_share_one_resource_until_the_last_leaves() {
        let bindings: Bindings<&str, u32> = Bindings::default();
        let mut opened = 0;
        bindings.bind("A", "db1", Grant::unrestricted(), || { opened += 1; Ok(1) }).unwrap();
        bindings.bind("B", "db1", Grant::unrestricted(), || { opened += 1; Ok(2) }).unwrap();
        assert_eq!(opened, 1);
        assert!(Arc::ptr_eq(&bindings.get("A").unwrap().0, &bindings.get("B").unwrap().0));
        bindings.remove("A");
        assert_eq!(bindings.all().len(), 1);
        bindings.remove("B");
        assert!(bindings.all().is_empty());
        let err = bindings.get("B").unwrap_err();
        assert!(err.to_string().contains("not bound"));
        assert_eq!(err.kind(), ErrorKind::NotLinked);
    }

    #[test]
    fn each_actor_gets_its_own_grant_with_a_shared_store() {
        let bindings: Bindings<&str, u32> = Bindings::default();
        bindings.bind("A", "db1", grant("prefix:sensors:"), || Ok(1)).unwrap();
        bindings.bind("B", "db1", Grant::unrestricted(), || Ok(2)).unwrap();
        let (store_a, grant_a) = bindings.get("A").unwrap();
        let (store_b, grant_b) = bindings.get("B").unwrap();
        assert!(Arc::ptr_eq(&store_a, &store_b));
        assert!(grant_a.permits("sensors:t1") && !grant_a.permits("admin:x"));
        assert!(grant_b.is_unrestricted());
    }

    #[test]
    fn binding_a_bound_actor_again_replaces_its_grant_without_reopening() {
        let bindings: Bindings<&str, u32> = Bindings::default();
        let mut opened = 0;
        bindings.bind("A", "db1", Grant::unrestricted(), || { opened += 1; Ok(1) }).unwrap();
        let (before, _) = bindings.get("A").unwrap();
        bindings.bind("A", "db1", grant("prefix:sensors:"), || { opened += 1; Ok(2) }).unwrap();
        assert_eq!(opened, 1);
        let (after, grant) = bindings.get("A").unwrap();
        assert!(Arc::ptr_eq(&before, &after));
        assert!(!grant.permits("admin:x"));
        assert_eq!(bindings.all().len(), 1);
    }

    #[test]
    fn binding_a_bound_actor_to_another_setting_moves_it_and_closes_the_unused_store() {
        let bindings: Bindings<&str, u32> = Bindings::default();
        bindings.bind("A", "db1", Grant::unrestricted(), || Ok(1)).unwrap();
        let (in_flight, _) = bindings.get("A").unwrap();
        bindings.bind("A", "db2", Grant::unrestricted(), || Ok(2)).unwrap();
        assert_eq!(*bindings.get("A").unwrap().0, 2);
        assert_eq!(bindings.all().len(), 1, "db1 is closed once no actor uses it");
        assert_eq!(*in_flight, 1, "a call already running keeps its store");
        assert_eq!(Arc::strong_count(&in_flight), 1);
    }

    #[test]
    fn moving_one_actor_keeps_a_store_that_others_still_use() {
        let bindings: Bindings<&str, u32> = Bindings::default();
        bindings.bind("A", "db1", Grant::unrestricted(), || Ok(1)).unwrap();
        bindings.bind("B", "db1", Grant::unrestricted(), || Ok(1)).unwrap();
        bindings.bind("A", "db2", Grant::unrestricted(), || Ok(2)).unwrap();
        assert_eq!(*bindings.get("B").unwrap().0, 1);
        assert_eq!(*bindings.get("A").unwrap().0, 2);
        assert_eq!(bindings.all().len(), 2);
    }

    #[test]
    fn a_failed_update_leaves_the_previous_binding_in_place() {
        let bindings: Bindings<&str, u32> = Bindings::default();
        bindings.bind("A", "db1", grant("prefix:sensors:"), || Ok(1)).unwrap();
        let err = bindings
            .bind("A", "db2", Grant::unrestricted(), || Err(ProviderError::unavailable("db2 is down")))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        let (store, grant) = bindings.get("A").unwrap();
        assert_eq!(*store, 1);
        assert!(!grant.permits("admin:x"));
        assert_eq!(bindings.all().len(), 1);
    }

    #[test]
    fn the_grant_is_read_from_the_binding_values_and_a_bad_one_is_refused() {
        let values = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert!(read_grant(&values(&[("PATH", "kv.db")])).unwrap().is_unrestricted());
        let signed = grant("prefix:sensors:");
        let carried = values(&[(GRANT_KEY, &signed.to_value().unwrap())]);
        assert_eq!(read_grant(&carried).unwrap(), signed);
        let err = read_grant(&values(&[(GRANT_KEY, "prefix:sensors:")])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains(GRANT_KEY), "{err}");
    }
}
