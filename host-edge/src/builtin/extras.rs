//! `wascc:extras`: GUIDs, random numbers and sequence numbers, things a
//! sandboxed module cannot make for itself.
//!
//! As waSCC served them: a GUID is a random (version 4) UUID, a random
//! number is drawn from `min..=max` by a generator seeded from the OS, and
//! a sequence counts up from 0 for each actor and binding. Sequences
//! survive restarts: numbers are reserved on disk in blocks of
//! [`BLOCK`] (one atomic, fsynced write per block), so a number is never
//! handed out twice, even after a power cut; a restart skips what was left
//! of the block. Sequences are monotonic, not dense.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use codec::extras::{GeneratorRequest, GeneratorResult, OP_REQUEST_GUID, OP_REQUEST_RANDOM, OP_REQUEST_SEQUENCE};
use provider_abi::{ErrorKind, Failure};
use rand::Rng as _;

use super::{bad_payload, unknown_operation, Caller};
use crate::capability::WellKnown;

/// How many sequence numbers are reserved on disk at a time.
pub const BLOCK: u64 = 1000;

/// The file, in the extras state folder, that holds the reservations.
const FILE: &str = "sequences.json";

/// Sequence reservations on disk: for each `actor/binding`, the first
/// number not yet reserved.
#[derive(Debug)]
pub struct SequenceStore {
    dir: PathBuf,
    state: Mutex<Option<Sequences>>,
}

#[derive(Debug, Default)]
struct Sequences {
    /// Next number to hand out, per sequence.
    next: HashMap<String, u64>,
    /// First number not reserved on disk, per sequence.
    reserved: BTreeMap<String, u64>,
}

impl SequenceStore {
    /// A store in `dir`, read at its first use.
    pub fn new(dir: PathBuf) -> SequenceStore {
        SequenceStore { dir, state: Mutex::new(None) }
    }

    /// The next number of the sequence `name`; fails, handing out nothing,
    /// when its reservation cannot be written.
    pub fn next(&self, name: &str) -> Result<u64, String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.is_none() {
            *state = Some(self.load()?);
        }
        let sequences = state.as_mut().expect("loaded above");
        let reserved = sequences.reserved.get(name).copied().unwrap_or(0);
        let next = sequences.next.get(name).copied().unwrap_or(reserved);
        if next >= reserved {
            let mut updated = sequences.reserved.clone();
            updated.insert(name.to_owned(), next + BLOCK);
            self.save(&updated)?;
            sequences.reserved = updated;
        }
        sequences.next.insert(name.to_owned(), next + 1);
        Ok(next)
    }

    fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Reads the reservations; everything reserved before is skipped.
    fn load(&self) -> Result<Sequences, String> {
        let path = self.path();
        let reserved = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                format!(
                    "the sequence file {} is damaged ({e}); sequences are not handed out until it is repaired or \
                     removed (removing it restarts every sequence at 0)",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        Ok(Sequences { next: HashMap::new(), reserved })
    }

    /// Replaces the file atomically: the old reservations or the new ones,
    /// never a torn file.
    fn save(&self, reserved: &BTreeMap<String, u64>) -> Result<(), String> {
        let path = self.path();
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let mut file = atomic_write_file::AtomicWriteFile::open(&path)?;
            file.write_all(&serde_json::to_vec_pretty(reserved).map_err(std::io::Error::other)?)?;
            file.commit()
        };
        write().map_err(|e| format!("reserving sequence numbers in {}: {e}", path.display()))
    }
}

/// The built-in extras handler.
#[derive(Debug)]
pub struct Extras {
    sequences: SequenceStore,
}

impl Extras {
    /// A handler keeping its sequences in `sequences`.
    pub fn new(sequences: SequenceStore) -> Extras {
        Extras { sequences }
    }

    /// Handles `RequestGuid`, `RequestRandom` or `RequestSequence`.
    pub fn handle(&self, caller: Caller<'_>, operation: &str, payload: &[u8]) -> Result<Vec<u8>, Failure> {
        let request: GeneratorRequest =
            codec::deserialize(payload).map_err(|e| bad_payload(WellKnown::Extras, operation, e))?;
        let mut result = GeneratorResult::default();
        match operation {
            OP_REQUEST_GUID => result.guid = Some(uuid::Uuid::new_v4().to_string()),
            OP_REQUEST_RANDOM => {
                if request.min > request.max {
                    return Err(Failure::new(
                        ErrorKind::BadRequest,
                        format!("wascc:extras RequestRandom: min {} is above max {}", request.min, request.max),
                    ));
                }
                result.random_number = rand::rng().random_range(request.min..=request.max);
            }
            OP_REQUEST_SEQUENCE => {
                let name = format!("{}/{}", caller.key, caller.binding);
                result.sequence_number = self.sequences.next(&name).map_err(|e| {
                    tracing::error!(actor = %caller.key, name = caller.name, "wascc:extras: {e}");
                    Failure::new(ErrorKind::Unavailable, format!("wascc:extras RequestSequence: {e}"))
                })?;
            }
            other => {
                return Err(unknown_operation(
                    WellKnown::Extras,
                    other,
                    &[OP_REQUEST_GUID, OP_REQUEST_RANDOM, OP_REQUEST_SEQUENCE],
                ))
            }
        }
        codec::serialize(&result).map_err(|e| Failure::new(ErrorKind::Failed, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(binding: &str) -> Caller<'_> {
        Caller { key: "MACTOR", name: "extras-test", binding }
    }

    fn request(extras: &Extras, binding: &str, operation: &str, request: GeneratorRequest) -> GeneratorResult {
        let payload = codec::serialize(&request).unwrap();
        codec::deserialize(&extras.handle(caller(binding), operation, &payload).unwrap()).unwrap()
    }

    fn sequence(extras: &Extras, binding: &str) -> u64 {
        let asked = GeneratorRequest { sequence: true, ..Default::default() };
        request(extras, binding, OP_REQUEST_SEQUENCE, asked).sequence_number
    }

    #[test]
    fn sequences_count_from_zero_per_binding() {
        let dir = tempfile::tempdir().unwrap();
        let extras = Extras::new(SequenceStore::new(dir.path().to_owned()));
        assert_eq!([sequence(&extras, "default"), sequence(&extras, "default"), sequence(&extras, "default")], [0, 1, 2]);
        assert_eq!(sequence(&extras, "orders"), 0);
    }

    #[test]
    fn a_restart_continues_past_every_number_handed_out() {
        let dir = tempfile::tempdir().unwrap();
        let first = Extras::new(SequenceStore::new(dir.path().to_owned()));
        let before: Vec<u64> = (0..BLOCK + 5).map(|_| sequence(&first, "default")).collect();
        drop(first);
        let second = Extras::new(SequenceStore::new(dir.path().to_owned()));
        let after = sequence(&second, "default");
        assert!(after > *before.last().unwrap(), "{after} after {:?}", before.last());
        assert_eq!(after, 2 * BLOCK, "a restart skips the rest of the reserved block");
    }

    #[test]
    fn a_damaged_sequence_file_refuses_rather_than_restarting_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{ not json").unwrap();
        let extras = Extras::new(SequenceStore::new(dir.path().to_owned()));
        let payload = codec::serialize(&GeneratorRequest { sequence: true, ..Default::default() }).unwrap();
        let err = extras.handle(caller("default"), OP_REQUEST_SEQUENCE, &payload).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unavailable);
        assert!(err.message.contains("is damaged"), "{}", err.message);
    }

    #[test]
    fn random_numbers_stay_within_min_and_max_inclusive() {
        let dir = tempfile::tempdir().unwrap();
        let extras = Extras::new(SequenceStore::new(dir.path().to_owned()));
        let asked = GeneratorRequest { random: true, min: 3, max: 5, ..Default::default() };
        let drawn: std::collections::BTreeSet<u32> =
            (0..200).map(|_| request(&extras, "default", OP_REQUEST_RANDOM, asked.clone()).random_number).collect();
        assert_eq!(drawn, [3, 4, 5].into_iter().collect());
        let inverted = codec::serialize(&GeneratorRequest { random: true, min: 9, max: 1, ..Default::default() }).unwrap();
        let err = extras.handle(caller("default"), OP_REQUEST_RANDOM, &inverted).unwrap_err();
        assert!(err.message.contains("min 9 is above max 1"), "{}", err.message);
    }

    #[test]
    fn guids_are_version_4_uuids_and_differ() {
        let dir = tempfile::tempdir().unwrap();
        let extras = Extras::new(SequenceStore::new(dir.path().to_owned()));
        let asked = GeneratorRequest { guid: true, ..Default::default() };
        let a = request(&extras, "default", OP_REQUEST_GUID, asked.clone()).guid.unwrap();
        let b = request(&extras, "default", OP_REQUEST_GUID, asked).guid.unwrap();
        assert_ne!(a, b);
        assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 4);
    }
}
