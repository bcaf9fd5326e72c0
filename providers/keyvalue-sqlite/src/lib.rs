//! `wascc:keyvalue` on SQLite: the embedded default, for boards that run no
//! database server.
//!
//! Link values:
//! - `PATH`: the database file (default `keyvalue.db`); a relative path is
//!   inside the state directory the host gives this provider. Actors linked
//!   with the same path share one database.
//! - `SYNC`: `full` (default: an acknowledged write is on the storage before
//!   the actor hears back, so it survives a crash or a power cut) or `normal`
//!   (faster on SD cards; survives a crash of the host, may lose the last
//!   writes on power loss).
//!
//! The database runs in WAL mode, so readers never wait for the writer.
//! Every key an actor touches must lie within its grant (`--grant
//! wascc:keyvalue=prefix:sensors:`); others are refused as denied.

mod store;

use std::path::PathBuf;

use provider_sdk::bindings::{read_grant, Bindings};
use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::{export_provider, keyvalue, Host, Provider, ProviderError, Setting, SettingKind, SettingScope, Settings};

use store::{Durability, Store};

/// The database file used when a link names none.
pub const DEFAULT_PATH: &str = "keyvalue.db";

/// The provider: one [`Store`] per database file, shared by the actors
/// linked to it.
pub struct SqliteKeyValue {
    state_dir: PathBuf,
    stores: Bindings<PathBuf, Store>,
}

impl Provider for SqliteKeyValue {
    const CAPABILITY_ID: &'static str = "wascc:keyvalue";
    const NAME: &'static str = "SQLite key-value store";

    fn settings() -> Vec<Setting> {
        vec![
            Setting {
                name: "PATH".to_owned(),
                scope: SettingScope::Link,
                kind: SettingKind::Text,
                default: Some(DEFAULT_PATH.to_owned()),
                required: false,
                doc: "the database file; relative paths are in the provider's state directory".to_owned(),
            },
            Setting {
                name: "SYNC".to_owned(),
                scope: SettingScope::Link,
                kind: SettingKind::Choice(vec!["full".to_owned(), "normal".to_owned()]),
                default: Some("full".to_owned()),
                required: false,
                doc: "full: a write is on storage before the actor hears back; normal: faster".to_owned(),
            },
            // Enforces grants: see `Setting::enforced_grant`.
            Setting::enforced_grant(),
        ]
    }

    fn start(host: Host, _settings: Settings) -> Result<SqliteKeyValue, ProviderError> {
        Ok(SqliteKeyValue { state_dir: host.state_dir().to_path_buf(), stores: Bindings::default() })
    }

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let path = self.state_dir.join(config.values.get("PATH").map_or(DEFAULT_PATH, String::as_str));
        let sync = match config.values.get("SYNC").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("full") => Durability::Full,
            Some("normal") => Durability::Normal,
            Some(other) => {
                return Err(ProviderError::bad_request(format!("SYNC must be `full` or `normal`, not `{other}`")))
            }
        };
        let grant = read_grant(&config.values)?;
        self.stores.bind(&config.module, path.clone(), grant, || Store::open(&path, sync))
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

export_provider!(SqliteKeyValue);
