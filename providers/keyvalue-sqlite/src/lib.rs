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

use std::path::PathBuf;

use provider_sdk::bindings::Bindings;
use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::{export_provider, keyvalue, Provider, ProviderError};

use store::{Durability, Store};

/// The database file used when a link names none.
pub const DEFAULT_PATH: &str = "keyvalue.db";

/// The provider: one [`Store`] per database file, shared by the actors
/// linked to it.
#[derive(Default)]
pub struct SqliteKeyValue {
    stores: Bindings<PathBuf, Store>,
}

impl SqliteKeyValue {
    fn new() -> SqliteKeyValue {
        SqliteKeyValue::default()
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
        self.stores.bind(&config.module, path.clone(), || Store::open(&path, sync))
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

export_provider!(SqliteKeyValue, SqliteKeyValue::new);
