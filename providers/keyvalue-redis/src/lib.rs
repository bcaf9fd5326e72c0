//! `wascc:keyvalue` on Redis.
//!
//! Link values:
//! - `URL`: the server (default `redis://127.0.0.1:6379/`), as waSCC's Redis
//!   provider read it. Actors linked with the same URL share one pool.
//! - `POOL_SIZE`: connections per URL (default 8).
//!
//! Every key an actor touches must lie within its grant (`--grant
//! wascc:keyvalue=prefix:sensors:`); others are refused as denied.
//!
//! Each pooled connection is checked with a `PING` before use and a broken
//! one is dropped, so when Redis goes away calls fail with a clear error and
//! when it comes back they succeed again, without restarting the host.
//!
//! A `URL` may carry a password (`redis://:PASSWORD@host:6379/`). Every error
//! that names the server shows its URL with the credentials hidden
//! (`redis://:***@host:6379/`), so the password reaches no log line, no
//! `host-edge ctl status` and no HTTP body.

mod store;

use provider_sdk::bindings::{read_grant, Bindings};
use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::{export_provider, keyvalue, Host, Provider, ProviderError, Setting, SettingKind, SettingScope, Settings};

use store::Store;

/// The server used when a link names none.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379/";

/// The provider: one [`Store`] (connection pool) per URL, shared by the
/// actors linked to it.
#[derive(Default)]
pub struct RedisKeyValue {
    stores: Bindings<String, Store>,
}

impl Provider for RedisKeyValue {
    const CAPABILITY_ID: &'static str = "wascc:keyvalue";
    const NAME: &'static str = "Redis key-value store";

    fn settings() -> Vec<Setting> {
        vec![
            Setting {
                name: "URL".to_owned(),
                scope: SettingScope::Link,
                kind: SettingKind::Text,
                default: Some(DEFAULT_URL.to_owned()),
                required: false,
                doc: "the Redis server; actors linked with the same URL share one pool".to_owned(),
            },
            Setting {
                name: "POOL_SIZE".to_owned(),
                scope: SettingScope::Link,
                kind: SettingKind::Integer { min: Some(1), max: Some(256) },
                default: Some("8".to_owned()),
                required: false,
                doc: "connections per URL".to_owned(),
            },
            // Enforces grants: see `Setting::enforced_grant`.
            Setting::enforced_grant(),
        ]
    }

    fn start(_host: Host, _settings: Settings) -> Result<RedisKeyValue, ProviderError> {
        Ok(RedisKeyValue::default())
    }

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let url = config.values.get("URL").map_or(DEFAULT_URL, String::as_str).to_owned();
        let pool_size = match config.values.get("POOL_SIZE") {
            None => 8,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or_else(|| ProviderError::bad_request(format!("POOL_SIZE must be 1 to 256, not `{text}`")))?,
        };
        let grant = read_grant(&config.values)?;
        self.stores.bind(&config.module, url.clone(), grant, || Store::open(&url, pool_size))
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        self.stores.remove(&config.module);
        Ok(())
    }

    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let (store, grant) = self.stores.get(actor)?;
        keyvalue::handle(&*store, &grant, operation, payload)
    }

    fn health(&self) -> Result<(), ProviderError> {
        self.stores.all().iter().try_for_each(|s| s.check())
    }

    fn stop(&self) {
        self.stores.clear();
    }
}

export_provider!(RedisKeyValue);
