//! Staging a deployment's modules: bytes in, checked, kept by SHA-256.
//!
//! A module comes in chunks over MQTT (retained under
//! `modules/SHA256/N`, so a device that was offline finds them) or from a
//! URL. Either way it is written to a file in `staging/` as it arrives, so a
//! 2 MB module never sits in memory, and only once every byte is there and
//! its SHA-256 is the one the signed deployment names is it moved into
//! `modules/`. A chunk of the wrong size or index is refused; a module
//! whose hash differs is refused whole. Nothing here touches what runs.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::deployment::{module_file, DeployedActor, Deployment};
use super::store::Store;

/// One module being received in chunks.
#[derive(Debug)]
struct Transfer {
    actor: DeployedActor,
    path: PathBuf,
    file: File,
    received: Vec<bool>,
    missing: u32,
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
                Transfer { actor: actor.clone(), path, file, received: vec![false; chunks as usize], missing: chunks },
            );
        }
        Ok(staging)
    }

    /// The modules (SHA-256) whose chunks are still awaited.
    pub fn awaited(&self) -> Vec<String> {
        self.transfers.keys().cloned().collect()
    }

    /// Whether every module is kept.
    pub fn is_done(&self) -> bool {
        self.transfers.is_empty()
    }

    /// Takes chunk `index` of module `sha256`. Chunks of modules not awaited
    /// and chunks already had are ignored; a chunk of the wrong size is an
    /// error, and so is a complete module whose hash is not the signed one.
    /// Returns whether this chunk completed its module.
    pub fn chunk(&mut self, sha256: &str, index: u32, bytes: &[u8]) -> Result<bool, String> {
        let Some(transfer) = self.transfers.get_mut(sha256) else { return Ok(false) };
        let chunks = transfer.actor.chunks();
        if index >= chunks {
            return Err(format!("module {}: chunk {index} of a module of {chunks} chunks", transfer.actor.name));
        }
        if transfer.received[index as usize] {
            return Ok(false);
        }
        let chunk_size = u64::from(transfer.actor.chunk_size);
        let offset = u64::from(index) * chunk_size;
        let expected = chunk_size.min(transfer.actor.size - offset);
        if bytes.len() as u64 != expected {
            return Err(format!(
                "module {}: chunk {index} has {} bytes, and {expected} were expected",
                transfer.actor.name,
                bytes.len()
            ));
        }
        transfer.file.write_all_at(bytes, offset).map_err(|e| format!("{}: {e}", transfer.path.display()))?;
        transfer.received[index as usize] = true;
        transfer.missing -= 1;
        self.received_bytes += bytes.len() as u64;
        if transfer.missing > 0 {
            return Ok(false);
        }
        let transfer = self.transfers.remove(sha256).expect("the transfer is there");
        transfer.file.sync_all().map_err(|e| format!("{}: {e}", transfer.path.display()))?;
        drop(transfer.file);
        check_hash(&transfer.path, &transfer.actor)?;
        keep(&transfer.path, &module_file(&self.modules, sha256))?;
        Ok(true)
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
        let _ = std::fs::remove_file(path);
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
    check_hash(path, actor)?;
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
        assert_eq!(staging.awaited(), std::slice::from_ref(&wanted.sha256));
        assert!(!staging.chunk(&wanted.sha256, 2, &bytes[2000..]).unwrap());
        assert!(!staging.chunk(&wanted.sha256, 2, &bytes[2000..]).unwrap(), "a chunk had twice is ignored");
        assert!(!staging.chunk(&wanted.sha256, 0, &bytes[..1000]).unwrap());
        assert!(staging.chunk(&wanted.sha256, 1, &bytes[1000..2000]).unwrap());
        assert!(staging.is_done());
        assert_eq!(std::fs::read(module_file(&store.modules(), &wanted.sha256)).unwrap(), bytes);
        assert!(Staging::start(&store, &deployment(vec![wanted]), Duration::from_secs(1)).unwrap().is_done(), "kept modules are not fetched again");
    }

    #[test]
    fn a_chunk_of_the_wrong_size_and_bytes_of_the_wrong_hash_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let bytes = vec![7u8; 1500];
        let mut wanted = actor(&bytes, 1000);
        let mut staging = Staging::start(&store, &deployment(vec![wanted.clone()]), Duration::from_secs(1)).unwrap();
        assert!(staging.chunk(&wanted.sha256, 1, &bytes[..100]).unwrap_err().contains("has 100 bytes, and 500 were expected"));
        assert!(staging.chunk(&wanted.sha256, 5, &bytes[..100]).unwrap_err().contains("chunk 5 of a module of 2 chunks"));
        wanted.sha256 = sha256_hex(b"something else");
        let mut staging = Staging::start(&store, &deployment(vec![wanted.clone()]), Duration::from_secs(1)).unwrap();
        staging.chunk(&wanted.sha256, 0, &bytes[..1000]).unwrap();
        let err = staging.chunk(&wanted.sha256, 1, &bytes[1000..]).unwrap_err();
        assert!(err.contains("hash to") && err.contains("refused"), "{err}");
        assert!(!store.has_module(&wanted.sha256));
    }
}
