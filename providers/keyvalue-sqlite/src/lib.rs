//! `wascc:keyvalue` on SQLite: the embedded default, for boards that run no
//! database server.
//!
//! Link values:
//! - `PATH`: the database file (default `keyvalue.db`, relative to the host's
//!   working directory). Actors linked with the same path share one database.
//! - `SYNC`: `full` (default: an acknowledged write is on the storage before
//!   the actor hears back, so it survives a crash or a power cut) or `normal`
//!   (faster on SD cards; survives a crash of the host, may lose the last
//!   writes on power loss).
//!
//! The database runs in WAL mode, so readers never wait for the writer.

mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::{export_provider, keyvalue, Provider, ProviderError};

use store::{Durability, Store};

/// The database file used when a link names none.
pub const DEFAULT_PATH: &str = "keyvalue.db";

/// The provider: one [`Store`] per database file, shared by the actors
/// linked to it.
#[derive(Default)]
pub struct SqliteKeyValue {
    stores: Mutex<HashMap<PathBuf, Arc<Store>>>,
    actors: Mutex<HashMap<String, Arc<Store>>>,
}

impl SqliteKeyValue {
    fn new() -> SqliteKeyValue {
        SqliteKeyValue::default()
    }

    fn store_for(&self, actor: &str) -> Result<Arc<Store>, ProviderError> {
        self.actors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(actor)
            .cloned()
            .ok_or_else(|| ProviderError::new(format!("actor {actor} is not bound to this key-value store")))
    }
}

impl Provider for SqliteKeyValue {
    const CAPABILITY_ID: &'static str = "wascc:keyvalue";
    const NAME: &'static str = "SQLite key-value store";

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let path = PathBuf::from(config.values.get("PATH").map_or(DEFAULT_PATH, String::as_str));
        let sync = match config.values.get("SYNC").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("full") => Durability::Full,
            Some("normal") => Durability::Normal,
            Some(other) => return Err(ProviderError::new(format!("SYNC must be `full` or `normal`, not `{other}`"))),
        };
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        let store = match stores.get(&path) {
            Some(store) => Arc::clone(store),
            None => {
                let store = Arc::new(Store::open(&path, sync)?);
                stores.insert(path, Arc::clone(&store));
                store
            }
        };
        self.actors.lock().unwrap_or_else(|e| e.into_inner()).insert(config.module, store);
        Ok(())
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        self.actors.lock().unwrap_or_else(|e| e.into_inner()).remove(&config.module);
        let in_use: Vec<Arc<Store>> = self.actors.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        // Close databases no actor uses any more.
        self.stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, store| in_use.iter().any(|s| Arc::ptr_eq(s, store)));
        Ok(())
    }

    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        keyvalue::handle(&*self.store_for(actor)?, operation, payload)
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

export_provider!(SqliteKeyValue, SqliteKeyValue::new);
