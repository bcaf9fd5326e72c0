//! What a fleet device keeps on disk: whom it has obeyed, what it runs,
//! and what it was doing when the power went.
//!
//! One JSON file, `state.json`, replaced whole on every change (written
//! beside, fsynced, renamed), so a power cut leaves the old state or the new
//! one. Modules and the provider archives deployments carry live beside it
//! by SHA-256 (`modules/SHA.wasm`, `modules/SHA.par`), staged in `staging/`
//! first. The committed deployment in it is the last good state:
//! a device that restarts, for whatever reason, boots on it, offline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::command::Mark;
use super::deployment::{module_file, Deployment};

/// Why the fleet state could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        error: std::io::Error,
    },
    /// `state.json` is not the device's state.
    #[error("{path}: not a fleet state ({reason}); move it away to start the device afresh")]
    Corrupt {
        /// The file.
        path: String,
        /// What the parser said.
        reason: String,
    },
}

/// The mode of the fleet folder: the owner's alone.
const OWNER_ONLY_DIR: u32 = 0o700;

/// The mode of `state.json`: the owner's alone.
const OWNER_ONLY_FILE: u32 = 0o600;

/// Sets `path`'s mode to `mode` unless it has it already.
fn owner_only(path: &Path, mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |error| StoreError::Io { path: path.display().to_string(), error };
    let current = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o7777;
    if current != mode {
        tracing::info!(path = %path.display(), "fleet: making it owner-only ({current:o} to {mode:o})");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    }
    Ok(())
}

/// The steps of a deployment, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Fetching and verifying modules; nothing that runs has changed.
    Staging,
    /// Changing what runs.
    Applying,
    /// Waiting for the health probe.
    Probing,
    /// Going back to the last good state.
    RollingBack,
}

/// A deployment accepted and not yet finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Its sequence.
    pub seq: u64,
    /// Its command id.
    pub jti: String,
    /// What it is.
    pub label: String,
    /// How far it got.
    pub phase: Phase,
}

/// The deployment the device runs, once its probe passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// Its sequence.
    pub seq: u64,
    /// Its command id.
    pub jti: String,
    /// When it was committed, by the device's trusted clock.
    pub at: u64,
    /// The desired state.
    pub deployment: Deployment,
}

/// How a deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// Applied, probed healthy, committed.
    Committed,
    /// Applied, unhealthy, and rolled back to the last good state.
    RolledBack,
    /// Applied, unhealthy, and the last good state could not be brought
    /// back whole: the device says what is missing and is not ready.
    RollbackFailed,
    /// Refused before anything that runs changed (a module that would not
    /// verify, a manifest that would not check).
    Failed,
    /// The device stopped during it (killed, power cut); it came back on the
    /// last good state.
    Interrupted,
    /// A newer deployment arrived while it was staging.
    Superseded,
}

/// The outcome of the last deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Its sequence.
    pub seq: u64,
    /// What it was.
    pub label: String,
    /// How it ended.
    pub result: Ending,
    /// Why, in words.
    pub detail: String,
    /// When, by the device's trusted clock.
    pub at: u64,
}

/// Everything in `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetState {
    /// The last command accepted, per topic.
    #[serde(default)]
    pub marks: BTreeMap<String, Mark>,
    /// The highest sequence of a deployment accepted, on any topic: an
    /// older one is refused wherever it comes from.
    #[serde(default)]
    pub latest_deployment: u64,
    /// Revocations by issue time, per module key.
    #[serde(default)]
    pub revocations: BTreeMap<String, u64>,
    /// The last good deployment.
    #[serde(default)]
    pub committed: Option<Committed>,
    /// The deployment under way.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// How the last deployment ended.
    #[serde(default)]
    pub outcome: Option<Outcome>,
}

impl FleetState {
    /// The sequence of the committed deployment, 0 for none.
    pub fn deployment_seq(&self) -> u64 {
        self.committed.as_ref().map_or(0, |c| c.seq)
    }
}

/// The device's fleet folder.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    state: FleetState,
}

impl Store {
    /// Opens (or starts) the fleet folder `dir`, owner-only: the folder
    /// `0700` and `state.json` `0600`, made so when an older version left
    /// them readable by all (the state names the device's deployment, its
    /// link values and settings among them).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        for sub in ["modules", "staging"] {
            let folder = dir.join(sub);
            std::fs::create_dir_all(&folder).map_err(|error| StoreError::Io { path: folder.display().to_string(), error })?;
        }
        owner_only(dir, OWNER_ONLY_DIR)?;
        let path = dir.join("state.json");
        if path.exists() {
            owner_only(&path, OWNER_ONLY_FILE)?;
        }
        let state = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Corrupt { path: path.display().to_string(), reason: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FleetState::default(),
            Err(error) => return Err(StoreError::Io { path: path.display().to_string(), error }),
        };
        Ok(Store { dir: dir.to_owned(), state })
    }

    /// The state as it is on disk.
    pub fn state(&self) -> &FleetState {
        &self.state
    }

    /// Changes the state and writes it before returning.
    pub fn update(&mut self, change: impl FnOnce(&mut FleetState)) -> Result<(), StoreError> {
        let mut next = self.state.clone();
        change(&mut next);
        self.write(&next)?;
        self.state = next;
        Ok(())
    }

    fn write(&self, state: &FleetState) -> Result<(), StoreError> {
        use atomic_write_file::unix::OpenOptionsExt as _;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.dir.join("state.json");
        let io = |error| StoreError::Io { path: path.display().to_string(), error };
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| io(std::io::Error::other(e)))?;
        // Created owner-only, whatever the mode of the file it replaces.
        let mut file = atomic_write_file::AtomicWriteFile::options()
            .mode(OWNER_ONLY_FILE)
            .preserve_mode(false)
            .open(&path)
            .map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.commit().map_err(io)
    }

    /// Where committed and staged modules and provider archives are kept,
    /// by SHA-256.
    pub fn modules(&self) -> PathBuf {
        self.dir.join("modules")
    }

    /// Where modules and archives are put together before they are checked.
    pub fn staging(&self) -> PathBuf {
        self.dir.join("staging")
    }

    /// Whether the module `sha256` is kept.
    pub fn has_module(&self, sha256: &str) -> bool {
        module_file(&self.modules(), sha256).is_file()
    }

    /// Finishes what a stop interrupted: a deployment still pending when the
    /// device started is recorded as interrupted (the device booted on the
    /// last good state), and half-staged files are removed. Returns the
    /// outcome when there was one.
    pub fn recover(&mut self, now: u64) -> Result<Option<Outcome>, StoreError> {
        let _ = std::fs::remove_dir_all(self.staging());
        std::fs::create_dir_all(self.staging())
            .map_err(|error| StoreError::Io { path: self.staging().display().to_string(), error })?;
        let Some(pending) = self.state.pending.clone() else { return Ok(None) };
        let outcome = Outcome {
            seq: pending.seq,
            label: pending.label.clone(),
            result: Ending::Interrupted,
            detail: format!(
                "the device stopped while {} it; it came back on {}",
                match pending.phase {
                    Phase::Staging => "staging",
                    Phase::Applying => "applying",
                    Phase::Probing => "probing",
                    Phase::RollingBack => "rolling back",
                },
                self.state.committed.as_ref().map_or("its own manifest".to_owned(), |c| format!("deployment {}", c.seq))
            ),
            at: now,
        };
        self.update(|state| {
            state.pending = None;
            state.outcome = Some(outcome.clone());
        })?;
        Ok(Some(outcome))
    }

    /// Removes kept modules and provider archives that neither the
    /// committed deployment nor `keep` (SHA-256s) needs.
    pub fn collect_garbage(&self, keep: &BTreeSet<String>) {
        let committed = self.state.committed.iter().flat_map(|c| {
            let archives = c.deployment.providers.iter().filter_map(|p| p.archive.as_ref().map(|a| a.sha256.as_str()));
            c.deployment.actors.iter().map(|a| a.sha256.as_str()).chain(archives)
        });
        let needed: BTreeSet<&str> = committed.chain(keep.iter().map(String::as_str)).collect();
        let Ok(entries) = std::fs::read_dir(self.modules()) else { return };
        for entry in entries.map_while(Result::ok) {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let sha = name.strip_suffix(".wasm").or_else(|| name.strip_suffix(".par"));
            if let Some(sha) = sha {
                if !needed.contains(sha) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_pending_at_start_is_recorded_as_interrupted_and_the_last_good_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let deployment = Deployment { label: Some("v1".into()), actors: vec![], providers: vec![], links: vec![], checks: vec![], probe_timeout: None };
        store
            .update(|s| {
                s.committed = Some(Committed { seq: 1, jti: "a".into(), at: 10, deployment });
                s.pending = Some(Pending { seq: 2, jti: "b".into(), label: "v2".into(), phase: Phase::Staging });
            })
            .unwrap();
        std::fs::write(store.staging().join("half.part"), b"torn").unwrap();
        let mut again = Store::open(dir.path()).unwrap();
        let outcome = again.recover(20).unwrap().expect("an outcome");
        assert_eq!((outcome.seq, outcome.result), (2, Ending::Interrupted));
        assert!(outcome.detail.contains("while staging") && outcome.detail.contains("deployment 1"), "{}", outcome.detail);
        assert_eq!(again.state().deployment_seq(), 1);
        assert!(again.state().pending.is_none());
        assert!(!again.staging().join("half.part").exists());
        assert!(Store::open(dir.path()).unwrap().recover(30).unwrap().is_none(), "recorded once");
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Another local user could read the device's deployment (its link
    /// values and settings, secrets among them) from a world-readable
    /// `state/fleet`, as earlier versions left it.
    #[test]
    fn the_fleet_state_is_owner_only_so_other_local_users_cannot_read_its_link_secrets() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("fleet");
        let mut store = Store::open(&dir).unwrap();
        store.update(|s| s.latest_deployment = 1).unwrap();
        assert_eq!((mode(&dir), mode(&dir.join("state.json"))), (0o700, 0o600), "a fresh folder");

        // As an older version left them.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.join("state.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut again = Store::open(&dir).unwrap();
        assert_eq!((mode(&dir), mode(&dir.join("state.json"))), (0o700, 0o600), "fixed on start");
        again.update(|s| s.latest_deployment = 2).unwrap();
        assert_eq!(mode(&dir.join("state.json")), 0o600, "and kept so on every write");
    }

    #[test]
    fn a_corrupt_state_is_named_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("state.json"), b"{ not json").unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a fleet state"), "{err}");
        assert_eq!(std::fs::read(dir.path().join("state.json")).unwrap(), b"{ not json");
    }

    #[test]
    fn garbage_collection_keeps_the_committed_deployments_modules_and_archives_and_nothing_else() {
        use crate::deployment::{archive_file, module_file, DeployedArchive, DeployedProvider};
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let (kept, stale) = ("a".repeat(64), "b".repeat(64));
        let archive = DeployedArchive {
            key: "V".into(),
            capability: host_edge_runtime::capability::CapabilityId::parse("wascc:keyvalue").unwrap(),
            rev: None,
            sha256: kept.clone(),
            size: 1,
            url: None,
            chunk_size: 1024,
        };
        let provider = DeployedProvider { name: "kv".into(), path: None, archive: Some(archive), settings: BTreeMap::new() };
        let deployment = Deployment { label: None, actors: vec![], providers: vec![provider], links: vec![], checks: vec![], probe_timeout: None };
        store.update(|s| s.committed = Some(Committed { seq: 1, jti: "a".into(), at: 1, deployment })).unwrap();
        for file in [archive_file(&store.modules(), &kept), archive_file(&store.modules(), &stale), module_file(&store.modules(), &stale)] {
            std::fs::write(file, b"x").unwrap();
        }
        store.collect_garbage(&BTreeSet::new());
        assert!(archive_file(&store.modules(), &kept).exists(), "the committed archive stays");
        assert!(!archive_file(&store.modules(), &stale).exists() && !module_file(&store.modules(), &stale).exists());
    }
}
