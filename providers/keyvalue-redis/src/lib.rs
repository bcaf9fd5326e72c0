//! `wascc:keyvalue` on Redis.
//!
//! Link values:
//! - `URL`: the server (default `redis://127.0.0.1:6379/`), as waSCC's Redis
//!   provider read it. Actors linked with the same URL share one pool.
//! - `POOL_SIZE`: connections per URL (default 8).
//!
//! Each pooled connection is checked with a `PING` before use and a broken
//! one is dropped, so when Redis goes away calls fail with a clear error and
//! when it comes back they succeed again, without restarting the host.

mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::{export_provider, keyvalue, Provider, ProviderError};

use store::Store;

/// The server used when a link names none.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379/";

/// The provider: one [`Store`] (connection pool) per URL.
#[derive(Default)]
pub struct RedisKeyValue {
    stores: Mutex<HashMap<String, Arc<Store>>>,
    actors: Mutex<HashMap<String, Arc<Store>>>,
}

impl RedisKeyValue {
    fn new() -> RedisKeyValue {
        RedisKeyValue::default()
    }
}

impl Provider for RedisKeyValue {
    const CAPABILITY_ID: &'static str = "wascc:keyvalue";
    const NAME: &'static str = "Redis key-value store";

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let url = config.values.get("URL").map_or(DEFAULT_URL, String::as_str).to_owned();
        let pool_size = match config.values.get("POOL_SIZE") {
            None => 8,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or_else(|| ProviderError::new(format!("POOL_SIZE must be 1 to 256, not `{text}`")))?,
        };
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        let store = match stores.get(&url) {
            Some(store) => Arc::clone(store),
            None => {
                let store = Arc::new(Store::open(&url, pool_size)?);
                stores.insert(url, Arc::clone(&store));
                store
            }
        };
        self.actors.lock().unwrap_or_else(|e| e.into_inner()).insert(config.module, store);
        Ok(())
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        self.actors.lock().unwrap_or_else(|e| e.into_inner()).remove(&config.module);
        let in_use: Vec<Arc<Store>> = self.actors.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        self.stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, store| in_use.iter().any(|s| Arc::ptr_eq(s, store)));
        Ok(())
    }

    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let store = self
            .actors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(actor)
            .cloned()
            .ok_or_else(|| ProviderError::new(format!("actor {actor} is not bound to this key-value store")))?;
        keyvalue::handle(&*store, operation, payload)
    }

    fn health(&self) -> Result<(), ProviderError> {
        let stores: Vec<_> = self.stores.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        stores.iter().try_for_each(|s| s.check())
    }

    fn stop(&self) {
        self.actors.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.stores.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

export_provider!(RedisKeyValue, RedisKeyValue::new);
