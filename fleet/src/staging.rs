//! Staging what a deployment carries, modules and provider archives: bytes
//! in, checked, kept by SHA-256.
//!
//! A module or an archive (a [`Shipment`]) comes in chunks over MQTT
//! (retained under `modules/SHA256/SIZE/N`, so a device that was offline
//! finds them) or from a URL. Either way it is written to a file in
//! `staging/` as it arrives, so a 20 MB archive never sits in memory, and
//! only once every byte is there and its SHA-256 is the one the signed
//! deployment names is it moved into `modules/`. Chunk topics are not
//! signed, so a chunk of the wrong size or index is ignored, and bytes that
//! hash to something else are thrown away and asked for again (the retained
//! copies, by subscribing afresh), up to [`MAX_RETRIES`] times. Nothing here
//! touches what runs, and nothing here opens a provider library: a kept
//! archive is verified by [`check_archive`], which reads it and loads
//! nothing.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::deployment::{DeployedArchive, Deployment, Shipment};
use super::http::HttpError;
use super::store::Store;
use host_edge_runtime::claims::provider::VerifiedProvider;
use host_edge_runtime::provider::trust::{self, Checked};
use host_edge_runtime::provider::{ProviderError, ProviderTrust};

/// How often a module or archive whose bytes hash wrong is asked for again.
pub const MAX_RETRIES: u32 = 3;

/// One module or archive being received in chunks.
#[derive(Debug)]
struct Transfer {
    shipment: Shipment,
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

/// The modules and archives of one deployment still to arrive over MQTT.
#[derive(Debug)]
pub struct Staging {
    transfers: BTreeMap<String, Transfer>,
    /// Bytes received in chunks so far.
    pub received_bytes: u64,
}

impl Staging {
    /// Starts staging `deployment`: files already kept need nothing, those
    /// with a URL are fetched now (within `timeout`), the rest wait for
    /// their chunks.
    pub fn start(store: &Store, deployment: &Deployment, timeout: Duration) -> Result<Staging, StagingError> {
        let mut staging = Staging { transfers: BTreeMap::new(), received_bytes: 0 };
        for shipment in deployment.shipments(&store.modules()) {
            if shipment.file.is_file() || staging.transfers.contains_key(&shipment.sha256) {
                continue;
            }
            let path = store.staging().join(format!("{}.part", shipment.sha256));
            if let Some(url) = &shipment.url {
                staging.received_bytes += fetch(url, &shipment, &path, timeout)?;
                keep(&path, &shipment.file)?;
                continue;
            }
            let file = File::create(&path).map_err(io_error(&path))?;
            file.set_len(shipment.size).map_err(io_error(&path))?;
            let chunks = shipment.chunks();
            staging.transfers.insert(
                shipment.sha256.clone(),
                Transfer { shipment, path, file, received: vec![false; chunks as usize], missing: chunks, retries: 0 },
            );
        }
        Ok(staging)
    }

    /// The files (SHA-256 and chunk size) whose chunks are still awaited.
    pub fn awaited(&self) -> Vec<(String, u32)> {
        self.transfers.iter().map(|(sha, t)| (sha.clone(), t.shipment.chunk_size)).collect()
    }

    /// Whether every file is kept.
    pub fn is_done(&self) -> bool {
        self.transfers.is_empty()
    }

    /// Takes chunk `index` of the file `sha256` cut in chunks of `size`.
    /// What is not awaited is ignored (see [`Progress`]); an error is an
    /// I/O failure, or a file that hashed wrong [`MAX_RETRIES`] times.
    pub fn chunk(&mut self, sha256: &str, size: u32, index: u32, bytes: &[u8]) -> Result<Progress, StagingError> {
        let Some(transfer) = self.transfers.get_mut(sha256) else { return Ok(Progress::Ignored) };
        let chunks = transfer.shipment.chunks();
        if size != transfer.shipment.chunk_size || index >= chunks || transfer.received[index as usize] {
            return Ok(Progress::Ignored);
        }
        let chunk_size = u64::from(transfer.shipment.chunk_size);
        let offset = u64::from(index) * chunk_size;
        let expected = chunk_size.min(transfer.shipment.size - offset);
        if bytes.len() as u64 != expected {
            tracing::warn!(
                shipment = transfer.shipment.what,
                sha256 = sha256,
                "fleet: ignoring chunk {index}: {} bytes, where {expected} were expected",
                bytes.len()
            );
            return Ok(Progress::Ignored);
        }
        transfer.file.write_all_at(bytes, offset).map_err(io_error(&transfer.path))?;
        transfer.received[index as usize] = true;
        transfer.missing -= 1;
        self.received_bytes += bytes.len() as u64;
        if transfer.missing > 0 {
            return Ok(Progress::Stored);
        }
        transfer.file.sync_all().map_err(io_error(&transfer.path))?;
        if let Err(e) = check_hash(&transfer.path, &transfer.shipment) {
            transfer.retries += 1;
            if transfer.retries > MAX_RETRIES {
                return Err(match e {
                    StagingError::Hash { what, actual, signed, .. } => StagingError::Hash { what, actual, signed, retries: MAX_RETRIES },
                    other => other,
                });
            }
            tracing::warn!(shipment = transfer.shipment.what, sha256 = sha256, "fleet: {e}; receiving its chunks again");
            transfer.received.fill(false);
            transfer.missing = chunks;
            return Ok(Progress::Retry);
        }
        let Some(transfer) = self.transfers.remove(sha256) else { return Ok(Progress::Ignored) };
        drop(transfer.file);
        keep(&transfer.path, &transfer.shipment.file)?;
        Ok(Progress::Completed)
    }
}

/// Why staging a deployment's files failed.
#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    /// A file in the fleet store could not be written, read or moved.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A file named by URL could not be fetched whole.
    #[error("{what} from {url}: {problem}")]
    Fetch {
        /// The module or archive.
        what: String,
        /// Its URL, as the deployment gives it.
        url: String,
        /// What went wrong.
        problem: FetchProblem,
    },
    /// The bytes received are not the ones the deployment signed.
    #[error("{what}: the bytes received hash to {actual}, and the signed deployment names {signed}; refused{}", retried_note(*.retries))]
    Hash {
        /// The module or archive.
        what: String,
        /// Their SHA-256.
        actual: String,
        /// The signed SHA-256.
        signed: String,
        /// How often its chunks were received again before giving up.
        retries: u32,
    },
}

fn retried_note(retries: u32) -> String {
    if retries == 0 {
        String::new()
    } else {
        format!(" ({retries} times)")
    }
}

/// What went wrong fetching a file by URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchProblem {
    /// The GET failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The server answered something other than a success.
    #[error("the server answered {0}")]
    Status(hyper::StatusCode),
    /// Fewer bytes arrived than the deployment says.
    #[error("{arrived} bytes arrived, and the deployment says {size}")]
    Short {
        /// Bytes received.
        arrived: u64,
        /// The signed size.
        size: u64,
    },
    /// More bytes than the deployment says.
    #[error("more than the {0} bytes the deployment says arrived")]
    Long(u64),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StagingError + '_ {
    move |source| StagingError::Io { path: path.display().to_string(), source }
}

/// Why a provider archive a deployment carries is refused while staging.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveCheckError {
    /// The archive cannot be read, or fails a check: its claims, the hash
    /// of this machine's library, the device's policy and clock.
    #[error("provider archive {name}: {source}")]
    Refused {
        /// The provider.
        name: String,
        /// What the check said.
        #[source]
        source: ProviderError,
    },
    /// A bare library: a deployment carries signed archives only, whatever
    /// the device allows for libraries of its own.
    #[error("provider archive {name}: a bare library, not a signed provider archive")]
    Unsigned {
        /// The provider.
        name: String,
    },
    /// The archive's claims differ from what the signed deployment says of
    /// them.
    #[error("provider archive {name}: its claims name {what} {found}, and the signed deployment names {signed}")]
    Mismatch {
        /// The provider.
        name: String,
        /// `service key` or `capability`.
        what: &'static str,
        /// What the claims say.
        found: String,
        /// What the deployment says.
        signed: String,
    },
}

/// Verifies the provider archive kept at `file` for the provider `name`,
/// which the deployment carries as `archive`, under `trust` (the device's
/// policy and clock), loading nothing: it must be a signed archive (even
/// where the device allows bare libraries of its own) that passes every
/// check for this machine's library, with the service key and capability
/// the deployment names.
pub fn check_archive(file: &Path, name: &str, archive: &DeployedArchive, trust: &ProviderTrust) -> Result<Box<VerifiedProvider>, ArchiveCheckError> {
    let trust = ProviderTrust { allow_unsigned: false, ..trust.clone() };
    let verified = match trust::check(file, &trust) {
        Ok(Checked::Signed(verified)) => verified,
        Ok(Checked::Unsigned) | Err(ProviderError::Unsigned { .. }) => return Err(ArchiveCheckError::Unsigned { name: name.to_owned() }),
        Err(source) => return Err(ArchiveCheckError::Refused { name: name.to_owned(), source }),
    };
    let mismatch = |what, found: &str, signed: &str| ArchiveCheckError::Mismatch {
        name: name.to_owned(),
        what,
        found: found.to_owned(),
        signed: signed.to_owned(),
    };
    if verified.subject() != archive.key {
        return Err(mismatch("service key", verified.subject(), &archive.key));
    }
    if verified.capability != archive.capability {
        return Err(mismatch("capability", verified.capability.as_str(), archive.capability.as_str()));
    }
    Ok(verified)
}

/// Checks that the file at `path` is the one `shipment` names.
fn check_hash(path: &Path, shipment: &Shipment) -> Result<(), StagingError> {
    let mut file = File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let actual = data_encoding::HEXLOWER.encode(&hasher.finalize());
    if actual != shipment.sha256 {
        return Err(StagingError::Hash { what: shipment.what.clone(), actual, signed: shipment.sha256.clone(), retries: 0 });
    }
    Ok(())
}

/// Moves a checked file into place and makes the move durable.
fn keep(staged: &Path, kept: &Path) -> Result<(), StagingError> {
    std::fs::rename(staged, kept).map_err(io_error(kept))?;
    if let Some(folder) = kept.parent() {
        File::open(folder).and_then(|f| f.sync_all()).map_err(io_error(folder))?;
    }
    Ok(())
}

/// Downloads `shipment` from `url` into `path`, bounded by its size and by
/// `timeout`, and checks its hash. Returns the bytes received.
fn fetch(url: &str, shipment: &Shipment, path: &Path, timeout: Duration) -> Result<u64, StagingError> {
    let failed = |problem: FetchProblem| StagingError::Fetch { what: shipment.what.clone(), url: url.to_owned(), problem };
    let mut file = File::create(path).map_err(io_error(path))?;
    let mut copied = 0u64;
    let answer = super::http::download(url, timeout, shipment.size, &mut |data| {
        copied += data.len() as u64;
        file.write_all(data)
    });
    let outcome = match answer {
        Ok(status) if status.is_success() && copied == shipment.size => Ok(()),
        Ok(status) if status.is_success() => Err(failed(FetchProblem::Short { arrived: copied, size: shipment.size })),
        Ok(status) => Err(failed(FetchProblem::Status(status))),
        Err(HttpError::TooLong(_)) => Err(failed(FetchProblem::Long(shipment.size))),
        Err(e) => Err(failed(FetchProblem::Http(e))),
    };
    if let Err(e) = outcome.and_then(|()| file.flush().and_then(|()| file.sync_all()).map_err(io_error(path))) {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    check_hash(path, shipment).inspect_err(|_| {
        let _ = std::fs::remove_file(path);
    })?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use host_edge_runtime::capability::CapabilityId;
    use host_edge_runtime::claims::Policy;
    use crate::deployment::{archive_file, module_file, sha256_hex, DeployedActor, DeployedProvider};

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
        let err = staging.chunk(&wanted.sha256, 1000, 1, &bytes[1000..]).unwrap_err().to_string();
        assert!(err.contains("hash to") && err.contains("refused"), "{err}");
        assert!(!store.has_module(&wanted.sha256));
    }

    /// A signed archive of a stand-in library for this machine (nothing
    /// here opens it), what a deployment says of it, and its issuer.
    fn signed_archive() -> (Vec<u8>, DeployedArchive, nkeys::KeyPair) {
        let (issuer, subject) = (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_service());
        let options = host_edge_runtime::claims::ProviderSignOptions {
            capability: CapabilityId::parse("wascc:keyvalue").unwrap(),
            name: Some("kv".into()),
            vendor: "tests".into(),
            rev: Some(2),
            ver: None,
            issued_at: host_edge_runtime::claims::policy::now_secs(),
            expires: None,
            not_before: None,
        };
        let library: Vec<u8> = (0..30_000u32).map(|i| (i % 241) as u8).collect();
        let target = host_edge_runtime::claims::provider::HOST_TARGET.to_owned();
        let bytes = host_edge_runtime::claims::sign_archive(&[(target, library)], &issuer, &subject, &options, false).unwrap();
        let archive = DeployedArchive {
            key: subject.public_key(),
            capability: options.capability,
            rev: Some(2),
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
            url: None,
            chunk_size: 4096,
        };
        (bytes, archive, issuer)
    }

    fn carrying(archive: &DeployedArchive) -> Deployment {
        let provider = DeployedProvider { name: "kv".into(), path: None, archive: Some(archive.clone()), settings: Default::default() };
        Deployment { providers: vec![provider], ..deployment(vec![]) }
    }

    fn trusting(issuer: &nkeys::KeyPair) -> ProviderTrust {
        let policy = Policy { trusted_issuers: [issuer.public_key()].into(), ..Policy::default() };
        ProviderTrust { policy, now: host_edge_runtime::claims::policy::now_secs(), allow_unsigned: true }
    }

    #[test]
    fn a_provider_archive_comes_in_chunks_as_a_module_does_and_is_kept_by_its_hash_then_verified_unopened() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (bytes, archive, issuer) = signed_archive();
        let mut staging = Staging::start(&store, &carrying(&archive), Duration::from_secs(1)).unwrap();
        assert_eq!(staging.awaited(), [(archive.sha256.clone(), 4096)]);
        let chunks: Vec<&[u8]> = bytes.chunks(4096).collect();
        for (index, chunk) in chunks.iter().enumerate().rev() {
            let progress = staging.chunk(&archive.sha256, 4096, index as u32, chunk).unwrap();
            assert_eq!(progress, if index == 0 { Progress::Completed } else { Progress::Stored });
        }
        let kept = archive_file(&store.modules(), &archive.sha256);
        assert_eq!(std::fs::read(&kept).unwrap(), bytes);
        assert_eq!(staging.received_bytes, bytes.len() as u64);
        let verified = check_archive(&kept, "kv", &archive, &trusting(&issuer)).unwrap();
        assert_eq!((verified.subject(), verified.metadata.rev), (archive.key.as_str(), Some(2)));
        assert!(Staging::start(&store, &carrying(&archive), Duration::from_secs(1)).unwrap().is_done(), "kept archives are not fetched again");
    }

    #[test]
    fn a_carried_archive_with_one_changed_byte_an_untrusted_issuer_another_key_or_no_signature_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, archive, issuer) = signed_archive();
        let file = dir.path().join("kv.par");
        let mut tampered = bytes.clone();
        let middle = tampered.len() / 2;
        tampered[middle] ^= 0x20;
        std::fs::write(&file, &tampered).unwrap();
        let err = check_archive(&file, "kv", &archive, &trusting(&issuer)).unwrap_err();
        assert!(matches!(err, ArchiveCheckError::Refused { .. }) && err.to_string().contains("was changed after signing"), "{err}");

        std::fs::write(&file, &bytes).unwrap();
        let err = check_archive(&file, "kv", &archive, &trusting(&nkeys::KeyPair::new_account())).unwrap_err();
        assert!(err.to_string().contains("trusted-issuer"), "{err}");
        let other = DeployedArchive { key: nkeys::KeyPair::new_service().public_key(), ..archive.clone() };
        let err = check_archive(&file, "kv", &other, &trusting(&issuer)).unwrap_err();
        assert!(matches!(err, ArchiveCheckError::Mismatch { what: "service key", .. }), "{err}");
        let other = DeployedArchive { capability: CapabilityId::parse("wascc:blobstore").unwrap(), ..archive.clone() };
        assert!(matches!(check_archive(&file, "kv", &other, &trusting(&issuer)), Err(ArchiveCheckError::Mismatch { what: "capability", .. })));

        // A bare library, though this device allows bare libraries of its own.
        std::fs::write(&file, b"\x7fELF\x02\x01\x01").unwrap();
        let err = check_archive(&file, "kv", &archive, &trusting(&issuer)).unwrap_err();
        assert!(matches!(err, ArchiveCheckError::Unsigned { .. }), "{err}");
    }

    #[test]
    fn a_module_and_an_archive_of_one_deployment_are_staged_together_and_a_tampered_chunk_of_the_archive_is_asked_for_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (bytes, archive, _) = signed_archive();
        let module = vec![3u8; 1500];
        let wanted = actor(&module, 1024);
        let deployment = Deployment { actors: vec![wanted.clone()], ..carrying(&archive) };
        let mut staging = Staging::start(&store, &deployment, Duration::from_secs(1)).unwrap();
        assert_eq!(staging.awaited().len(), 2);
        staging.chunk(&wanted.sha256, 1024, 0, &module[..1024]).unwrap();
        assert_eq!(staging.chunk(&wanted.sha256, 1024, 1, &module[1024..]).unwrap(), Progress::Completed);
        let mut chunks: Vec<Vec<u8>> = bytes.chunks(4096).map(<[u8]>::to_vec).collect();
        chunks[1][7] ^= 1;
        let last = chunks.len() - 1;
        for (index, chunk) in chunks.iter().enumerate() {
            let progress = staging.chunk(&archive.sha256, 4096, index as u32, chunk).unwrap();
            assert_eq!(progress, if index == last { Progress::Retry } else { Progress::Stored });
        }
        assert!(!archive_file(&store.modules(), &archive.sha256).exists(), "bytes that hash wrong are not kept");
        assert!(module_file(&store.modules(), &wanted.sha256).exists());
    }
}
