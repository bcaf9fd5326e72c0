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

use provider_sdk::bindings::Bindings;
use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::{export_provider, keyvalue, Provider, ProviderError};

use store::Store;

/// The server used when a link names none.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379/";

/// The provider: one [`Store`] (connection pool) per URL, shared by the
/// actors linked to it.
#[derive(Default)]
pub struct RedisKeyValue {
    stores: Bindings<String, Store>,
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
        self.stores.bind(&config.module, url.clone(), || Store::open(&url, pool_size))
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        self.stores.remove(&config.module);
        Ok(())
    }

    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        keyvalue::handle(&*self.stores.get(actor)?, operation, payload)
    }

    fn health(&self) -> Result<(), ProviderError> {
        self.stores.all().iter().try_for_each(|s| s.check())
    }

    fn stop(&self) {
        self.stores.clear();
    }
}

export_provider!(RedisKeyValue, RedisKeyValue::new);
