//! `wascc:blobstore` on the local file system: each actor's containers are
//! folders under a root of its own, its objects files in them.
//!
//! - **Isolation**: an actor works in `ROOT/ACTOR_KEY`; container and
//!   object names are single path segments ([`names`]), so `..`, absolute
//!   paths and separators are refused by name, and a container or object
//!   that is a symbolic link on disk is refused, never followed.
//! - **Grants**: the containers an actor may use come from its signed grant
//!   for `wascc:blobstore`, narrowed by the link: `container:NAME`,
//!   `prefix:NAME-START`, `exact:NAME`.
//! - **Crash safety**: an upload goes to a temporary file beside its object
//!   and replaces it by rename only when every byte is there and fsynced,
//!   then the folder is fsynced; a host killed mid-upload leaves the old
//!   object whole. Temporary files left by a crash are removed when the
//!   actor is bound again.
//! - **Downloads** are delivered back into the waiting actor as
//!   `ReceiveChunk` calls, one per chunk, while its `StartDownload` waits
//!   (ABI v2 re-entrant calls), so a single-instance actor can download.
//! - **Quota** per actor: `MAX_BYTES` and `MAX_OBJECTS`, uploads in
//!   progress reserving what they announced; past it, `denied` naming it.
//!
//! Link values (defaults in brackets): `ROOT` [the provider's state
//! folder; relative paths resolve there], `MAX_BYTES` [1073741824],
//! `MAX_OBJECTS` [10000], `MAX_CHUNK_BYTES` [1048576], `MAX_UPLOADS` [8].

mod names;
#[cfg(test)]
mod names_properties;
mod quota;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use provider_sdk::bindings::read_grant;
use provider_sdk::codec::blobstore::{
    Blob, Container, FileChunk, StreamRequest, OP_CREATE_CONTAINER, OP_GET_OBJECT_INFO, OP_LIST_OBJECTS,
    OP_RECEIVE_CHUNK, OP_REMOVE_CONTAINER, OP_REMOVE_OBJECT, OP_START_DOWNLOAD, OP_START_UPLOAD, OP_UPLOAD_CHUNK,
};
use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::codec::{deserialize, serialize};
use provider_sdk::{export_provider, ErrorKind, Host, Level, Provider, ProviderError, Setting, SettingScope, Settings};

use quota::Limits;
use store::ActorStore;

/// The provider: a store per bound actor.
pub struct BlobstoreFs {
    host: Host,
    stores: Mutex<HashMap<String, Arc<ActorStore>>>,
}

fn number(values: &BTreeMap<String, String>, key: &str, default: u64) -> Result<u64, ProviderError> {
    values.get(key).map_or(Ok(default), |text| {
        text.trim()
            .parse()
            .map_err(|_| ProviderError::bad_request(format!("{key} must be a whole number, not `{text}`")))
    })
}

impl BlobstoreFs {
    fn store(&self, actor: &str) -> Result<Arc<ActorStore>, ProviderError> {
        let stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        stores.get(actor).cloned().ok_or_else(|| {
            ProviderError::of(ErrorKind::NotLinked, format!("actor {actor} is not bound to this blobstore"))
        })
    }

    /// The actor's root: `ROOT/ACTOR_KEY`.
    fn root(&self, values: &BTreeMap<String, String>, actor: &str) -> PathBuf {
        let base = match values.get("ROOT").map(|r| r.trim()).filter(|r| !r.is_empty()) {
            Some(root) => self.host.state_dir().join(root),
            None => self.host.state_dir().to_owned(),
        };
        base.join(actor)
    }
}

impl Provider for BlobstoreFs {
    const CAPABILITY_ID: &'static str = store::CAPABILITY;
    const NAME: &'static str = "file-system blobstore";

    fn settings() -> Vec<Setting> {
        let link = SettingScope::Link;
        vec![
            Setting::text("ROOT", link, None, "folder holding a folder per actor; relative to the state folder; default: the state folder"),
            Setting::integer("MAX_BYTES", link, 0, None, "1073741824", "bytes an actor may store, uploads in progress included"),
            Setting::integer("MAX_OBJECTS", link, 0, None, "10000", "objects an actor may store"),
            Setting::integer("MAX_CHUNK_BYTES", link, 1, None, "1048576", "the largest chunk, up or down"),
            Setting::integer("MAX_UPLOADS", link, 1, Some(1024), "8", "uploads an actor may have in progress at once"),
            // Enforces grants: see `Setting::enforced_grant`.
            Setting::enforced_grant(),
        ]
    }

    fn start(host: Host, _settings: Settings) -> Result<BlobstoreFs, ProviderError> {
        Ok(BlobstoreFs { host, stores: Mutex::new(HashMap::new()) })
    }

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let values = &config.values;
        let limits = Limits { max_bytes: number(values, "MAX_BYTES", 1 << 30)?, max_objects: number(values, "MAX_OBJECTS", 10_000)? };
        let max_chunk = number(values, "MAX_CHUNK_BYTES", 1 << 20)?.max(1);
        let max_uploads = number(values, "MAX_UPLOADS", 8)?.max(1) as usize;
        let root = self.root(values, &config.module);
        let (store, opened) = ActorStore::open(root.clone(), read_grant(values)?, limits, max_chunk, max_uploads)?;
        if opened.cleaned > 0 {
            self.host.log(
                Level::Warn,
                &format!(
                    "actor {}: removed {} temporary file(s) of uploads a crash interrupted; the objects they would have \
                     replaced are whole",
                    config.module, opened.cleaned
                ),
            );
        }
        self.host.log(
            Level::Info,
            &format!(
                "actor {} stores in {}: {} objects, {} bytes (quota {} objects, {} bytes)",
                config.module,
                root.display(),
                opened.usage.objects,
                opened.usage.bytes,
                limits.max_objects,
                limits.max_bytes
            ),
        );
        self.stores.lock().unwrap_or_else(|e| e.into_inner()).insert(config.module, Arc::new(store));
        Ok(())
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        // Uploads in progress are dropped with the store: their temporary
        // files are removed, the objects stay as they were.
        self.stores.lock().unwrap_or_else(|e| e.into_inner()).remove(&config.module);
        Ok(())
    }

    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let store = self.store(actor)?;
        match operation {
            OP_CREATE_CONTAINER => {
                let container: Container = deserialize(payload)?;
                store.create_container(&container.id)?;
                Ok(serialize(&container)?)
            }
            OP_REMOVE_CONTAINER => {
                let container: Container = deserialize(payload)?;
                store.remove_container(&container.id)?;
                Ok(serialize(&())?)
            }
            OP_LIST_OBJECTS => {
                let container: Container = deserialize(payload)?;
                Ok(serialize(&store.list(&container.id)?)?)
            }
            OP_GET_OBJECT_INFO => {
                let blob: Blob = deserialize(payload)?;
                Ok(serialize(&store.info(&blob.container, &blob.id)?)?)
            }
            OP_REMOVE_OBJECT => {
                let blob: Blob = deserialize(payload)?;
                store.remove_object(&blob.container, &blob.id)?;
                Ok(serialize(&())?)
            }
            OP_START_UPLOAD => {
                store.start_upload(deserialize::<FileChunk>(payload)?)?;
                Ok(serialize(&())?)
            }
            OP_UPLOAD_CHUNK => {
                store.upload_chunk(deserialize::<FileChunk>(payload)?)?;
                Ok(serialize(&())?)
            }
            OP_START_DOWNLOAD => {
                let request: StreamRequest = deserialize(payload)?;
                store.download(&request, |chunk| {
                    self.host.dispatch(actor, OP_RECEIVE_CHUNK, &serialize(&chunk)?).map(|_| ())
                })?;
                Ok(serialize(&())?)
            }
            other => Err(ProviderError::bad_request(format!(
                "wascc:blobstore has no operation `{other}` (it serves {})",
                [
                    OP_CREATE_CONTAINER,
                    OP_REMOVE_CONTAINER,
                    OP_LIST_OBJECTS,
                    OP_GET_OBJECT_INFO,
                    OP_REMOVE_OBJECT,
                    OP_START_UPLOAD,
                    OP_UPLOAD_CHUNK,
                    OP_START_DOWNLOAD
                ]
                .join(", ")
            ))),
        }
    }

    fn stop(&self) {
        self.stores.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

export_provider!(BlobstoreFs);
