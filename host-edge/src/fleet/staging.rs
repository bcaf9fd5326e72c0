//! Staging a deployment's modules: bytes in, checked, kept by SHA-256.
//!
//! A module comes in chunks over MQTT (retained under
//! `modules/SHA256/N`, so a device that was offline finds them) or from a
//! URL. Either way it is written to a file in `staging/` as it arrives, so a
//! 2 MB module never sits in memory, and only once every byte is there and
//! its SHA-256 is the one the signed deployment names is it moved into
//! `modules/`. Chunk topics are not signed, so a chunk of the wrong size or
//! index is ignored, and bytes that hash to something else are thrown away
//! and asked for again (the retained copies, by subscribing afresh), up to
//! [`MAX_RETRIES`] times. Nothing here touches what runs.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::deployment::{module_file, DeployedActor, Deployment};
use super::store::Store;

/// How often a module whose bytes hash wrong is asked for again.
pub const MAX_RETRIES: u32 = 3;

/// One module being received in chunks.
#[derive(Debug)]
struct Transfer {
    actor: DeployedActor,
    path: PathBuf,
    file: File,
    received: Vec<bool>,
    missing: u32,
    retries: u32,
}

/// What a chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Not a chunk awaited (another module, another cut, a wrong index or
    /// length, or one already had): ignored.
    Ignored,
    /// Kept; more are awaited.
    Stored,
    /// The module is complete, checked and kept.
    Completed,
    /// The module was complete but hashed wrong: its chunks must be
    /// received again.
    Retry,
}

/// The modules of one deployment still to arrive over MQTT.
#[derive(Debug)]
pub struct Staging {
    modules: PathBuf,
    transfers: BTreeMap<String, Transfer>,
    /// Bytes received in chunks so far.
    pub received_bytes: u64,
}

impl Staging {
    /// Starts staging `deployment`: modules already kept need nothing,
    /// modules with a URL are fetched now (within `timeout`), the rest wait
    /// for their chunks.
    pub fn start(store: &Store, deployment: &Deployment, timeout: Duration) -> Result<Staging, String> {
        let mut staging = Staging { modules: store.modules(), transfers: BTreeMap::new(), received_bytes: 0 };
        for actor in &deployment.actors {
            if store.has_module(&actor.sha256) || staging.transfers.contains_key(&actor.sha256) {
                continue;
            }
            let path = store.staging().join(format!("{}.part", actor.sha256));
            if let Some(url) = &actor.url {
                staging.received_bytes += fetch(url, actor, &path, timeout)?;
                keep(&path, &module_file(&staging.modules, &actor.sha256))?;
                continue;
            }
            let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            file.set_len(actor.size).map_err(|e| format!("{}: {e}", path.display()))?;
            let chunks = actor.chunks();
            staging.transfers.insert(
                actor.sha256.clone(),
                Transfer { actor: actor.clone(), path, file, received: vec![false; chunks as usize], missing: chunks, retries: 0 },
            );
        }
        Ok(staging)
    }

    /// The modules (SHA-256 and chunk size) whose chunks are still awaited.
    pub fn awaited(&self) -> Vec<(String, u32)> {
        self.transfers.iter().map(|(sha, t)| (sha.clone(), t.actor.chunk_size)).collect()
    }

    /// Whether every module is kept.
    pub fn is_done(&self) -> bool {
        self.transfers.is_empty()
    }

    /// Takes chunk `index` of module `sha256` cut in chunks of `size`.
    /// What is not awaited is ignored (see [`Progress`]); an error is an
    /// I/O failure, or a module that hashed wrong [`MAX_RETRIES`] times.
    pub fn chunk(&mut self, sha256: &str, size: u32, index: u32, bytes: &[u8]) -> Result<Progress, String> {
        let Some(transfer) = self.transfers.get_mut(sha256) else { return Ok(Progress::Ignored) };
        let chunks = transfer.actor.chunks();
        if size != transfer.actor.chunk_size || index >= chunks || transfer.received[index as usize] {
            return Ok(Progress::Ignored);
        }
        let chunk_size = u64::from(transfer.actor.chunk_size);
        let offset = u64::from(index) * chunk_size;
        let expected = chunk_size.min(transfer.actor.size - offset);
        if bytes.len() as u64 != expected {
            tracing::warn!(
                module = transfer.actor.name,
                "fleet: ignoring chunk {index}: {} bytes, where {expected} were expected",
                bytes.len()
            );
            return Ok(Progress::Ignored);
        }
        transfer.file.write_all_at(bytes, offset).map_err(|e| format!("{}: {e}", transfer.path.display()))?;
        transfer.received[index as usize] = true;
        transfer.missing -= 1;
        self.received_bytes += bytes.len() as u64;
        if transfer.missing > 0 {
            return Ok(Progress::Stored);
        }
        transfer.file.sync_all().map_err(|e| format!("{}: {e}", transfer.path.display()))?;
        if let Err(e) = check_hash(&transfer.path, &transfer.actor) {
            transfer.retries += 1;
            if transfer.retries > MAX_RETRIES {
                return Err(format!("{e} ({MAX_RETRIES} times)"));
            }
            tracing::warn!(module = transfer.actor.name, "fleet: {e}; receiving its chunks again");
            transfer.received.fill(false);
            transfer.missing = chunks;
            return Ok(Progress::Retry);
        }
        let transfer = self.transfers.remove(sha256).expect("the transfer is there");
        drop(transfer.file);
        keep(&transfer.path, &module_file(&self.modules, sha256))?;
        Ok(Progress::Completed)
    }
}

/// Checks that the file at `path` is the module `actor` names.
fn check_hash(path: &Path, actor: &DeployedActor) -> Result<(), String> {
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let actual = data_encoding::HEXLOWER.encode(&hasher.finalize());
    if actual != actor.sha256 {
        return Err(format!(
            "module {}: the bytes received hash to {actual}, and the signed deployment names {}; refused",
            actor.name, actor.sha256
        ));
    }
    Ok(())
}

/// Moves a checked module into place and makes the move durable.
fn keep(staged: &Path, kept: &Path) -> Result<(), String> {
    std::fs::rename(staged, kept).map_err(|e| format!("keeping {}: {e}", kept.display()))?;
    if let Some(folder) = kept.parent() {
        File::open(folder).and_then(|f| f.sync_all()).map_err(|e| format!("{}: {e}", folder.display()))?;
    }
    Ok(())
}

/// Downloads `actor`'s module from `url` into `path`, bounded by its size
/// and by `timeout`, and checks its hash. Returns the bytes received.
fn fetch(url: &str, actor: &DeployedActor, path: &Path, timeout: Duration) -> Result<u64, String> {
    let failed = |e: String| format!("module {} from {url}: {e}", actor.name);
    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let response = client.get(url).send().map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("the server answered {}", response.status())));
    }
    let mut body = response.take(actor.size + 1);
    let mut file = File::create(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let copied = std::io::copy(&mut body, &mut file).map_err(|e| failed(e.to_string()))?;
    if copied != actor.size {
        let _ = std::fs::remove_file(path);
        return Err(failed(format!("{copied} bytes arrived{}, and the deployment says {}", if copied > actor.size { " or more" } else { "" }, actor.size)));
    }
    file.flush().and_then(|()| file.sync_all()).map_err(|e| failed(e.to_string()))?;
    check_hash(path, actor).inspect_err(|_| {
        let _ = std::fs::remove_file(path);
    })?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::deployment::sha256_hex;

    fn actor(bytes: &[u8], chunk_size: u32) -> DeployedActor {
        DeployedActor {
            name: "counter".into(),
            key: "M".into(),
            rev: Some(1),
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
            url: None,
            chunk_size,
            instances: 1,
            fuel_per_call: None,
            max_memory_bytes: None,
        }
    }

    fn deployment(actors: Vec<DeployedActor>) -> Deployment {
        Deployment { label: None, actors, providers: vec![], links: vec![], checks: vec![], probe_timeout: None }
    }

    #[test]
    fn chunks_in_any_order_make_the_module_and_it_is_kept_by_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let bytes: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        let wanted = actor(&bytes, 1000);
        let mut staging = Staging::start(&store, &deployment(vec![wanted.clone()]), Duration::from_secs(1)).unwrap();
        assert_eq!(staging.awaited(), [(wanted.sha256.clone(), 1000)]);
        let sha = &wanted.sha256;
        assert_eq!(staging.chunk(sha, 1000, 2, &bytes[2000..]).unwrap(), Progress::Stored);
        assert_eq!(staging.chunk(sha, 1000, 2, &bytes[2000..]).unwrap(), Progress::Ignored, "a chunk had twice");
        assert_eq!(staging.chunk(sha, 500, 0, &bytes[..500]).unwrap(), Progress::Ignored, "another cut");
        assert_eq!(staging.chunk(sha, 1000, 0, &bytes[..1000]).unwrap(), Progress::Stored);
        assert_eq!(staging.chunk(sha, 1000, 1, &bytes[1000..2000]).unwrap(), Progress::Completed);
        assert!(staging.is_done());
        assert_eq!(std::fs::read(module_file(&store.modules(), &wanted.sha256)).unwrap(), bytes);
        assert!(Staging::start(&store, &deployment(vec![wanted]), Duration::from_secs(1)).unwrap().is_done(), "kept modules are not fetched again");
    }

    #[test]
    fn chunks_of_the_wrong_size_are_ignored_and_bytes_of_the_wrong_hash_asked_for_again_then_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let bytes = vec![7u8; 1500];
        let mut wanted = actor(&bytes, 1000);
        let mut staging = Staging::start(&store, &deployment(vec![wanted.clone()]), Duration::from_secs(1)).unwrap();
        assert_eq!(staging.chunk(&wanted.sha256, 1000, 1, &bytes[..100]).unwrap(), Progress::Ignored, "100 bytes where 500 belong");
        assert_eq!(staging.chunk(&wanted.sha256, 1000, 5, &bytes[..100]).unwrap(), Progress::Ignored, "no chunk 5 in 2");
        wanted.sha256 = sha256_hex(b"something else");
        let mut staging = Staging::start(&store, &deployment(vec![wanted.clone()]), Duration::from_secs(1)).unwrap();
        for _ in 0..MAX_RETRIES {
            staging.chunk(&wanted.sha256, 1000, 0, &bytes[..1000]).unwrap();
            assert_eq!(staging.chunk(&wanted.sha256, 1000, 1, &bytes[1000..]).unwrap(), Progress::Retry);
        }
        staging.chunk(&wanted.sha256, 1000, 0, &bytes[..1000]).unwrap();
        let err = staging.chunk(&wanted.sha256, 1000, 1, &bytes[1000..]).unwrap_err();
        assert!(err.contains("hash to") && err.contains("refused"), "{err}");
        assert!(!store.has_module(&wanted.sha256));
    }
}
