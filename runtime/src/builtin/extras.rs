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

/// The most sequences one actor may have (one per binding it names). The
/// binding is the actor's own choice, so without a bound a loop over fresh
/// names would grow the reservation file, and each of its fsynced writes,
/// without end.
pub const MAX_SEQUENCES_PER_ACTOR: usize = 32;

/// The longest binding name a sequence may have, in bytes.
pub const MAX_BINDING: usize = 128;

/// The file, in the extras state folder, that holds the reservations.
const FILE: &str = "sequences.json";

/// Why no sequence number was handed out.
#[derive(Debug, thiserror::Error)]
pub enum SequenceError {
    /// The binding names a sequence longer than [`MAX_BINDING`].
    #[error("the binding name is {0} bytes long; sequences take at most {MAX_BINDING}")]
    BindingTooLong(usize),
    /// A new sequence would pass [`MAX_SEQUENCES_PER_ACTOR`].
    #[error("the actor already has {0} sequences, the most one may have; reuse a binding name")]
    TooMany(usize),
    /// The reservation file does not parse.
    #[error(
        "the sequence file {path} is damaged ({error}); sequences are not handed out until it is repaired or \
         removed (removing it restarts every sequence at 0)"
    )]
    Damaged {
        /// The file.
        path: String,
        /// What the parser said.
        error: serde_json::Error,
    },
    /// Reading or writing the reservation file failed.
    #[error("{doing} {path}: {error}")]
    Io {
        /// What was being done.
        doing: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
}

impl SequenceError {
    /// The typed outcome the actor sees: its own request, or the host's disk.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SequenceError::BindingTooLong(_) => ErrorKind::BadRequest,
            SequenceError::TooMany(_) => ErrorKind::Denied,
            SequenceError::Damaged { .. } | SequenceError::Io { .. } => ErrorKind::Unavailable,
        }
    }
}

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

    /// The next number of the sequence of `actor` under `binding`; fails,
    /// handing out nothing, when its reservation cannot be written, or when
    /// it would be a new sequence past the actor's
    /// [`MAX_SEQUENCES_PER_ACTOR`] or its binding is over [`MAX_BINDING`].
    pub fn next(&self, actor: &str, binding: &str) -> Result<u64, SequenceError> {
        if binding.len() > MAX_BINDING {
            return Err(SequenceError::BindingTooLong(binding.len()));
        }
        let name = &format!("{actor}/{binding}");
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.is_none() {
            *state = Some(self.load()?);
        }
        let sequences = state.as_mut().expect("loaded above");
        if !sequences.reserved.contains_key(name) {
            let prefix = format!("{actor}/");
            let owned = sequences.reserved.range(prefix.clone()..).take_while(|(n, _)| n.starts_with(&prefix)).count();
            if owned >= MAX_SEQUENCES_PER_ACTOR {
                return Err(SequenceError::TooMany(owned));
            }
        }
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
    fn load(&self) -> Result<Sequences, SequenceError> {
        let path = self.path();
        let reserved = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|error| SequenceError::Damaged { path: path.display().to_string(), error })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => return Err(SequenceError::Io { doing: "reading", path: path.display().to_string(), error }),
        };
        Ok(Sequences { next: HashMap::new(), reserved })
    }

    /// Replaces the file atomically: the old reservations or the new ones,
    /// never a torn file.
    fn save(&self, reserved: &BTreeMap<String, u64>) -> Result<(), SequenceError> {
        let path = self.path();
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let mut file = atomic_write_file::AtomicWriteFile::open(&path)?;
            file.write_all(&serde_json::to_vec_pretty(reserved).map_err(std::io::Error::other)?)?;
            file.commit()
        };
        write().map_err(|error| SequenceError::Io {
            doing: "reserving sequence numbers in",
            path: path.display().to_string(),
            error,
        })
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
                result.sequence_number = self.sequences.next(caller.key, caller.binding).map_err(|e| {
                    // The host's disk is the operator's problem; a refused
                    // request is only the actor's, and logged quietly.
                    match e.kind() {
                        ErrorKind::Unavailable => tracing::error!(actor = %caller.key, name = caller.name, "wascc:extras: {e}"),
                        _ => tracing::debug!(actor = %caller.key, name = caller.name, "wascc:extras: {e}"),
                    }
                    Failure::new(e.kind(), format!("wascc:extras RequestSequence: {e}"))
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
    fn an_actor_cannot_grow_the_sequence_file_without_bound_by_naming_fresh_bindings() {
        let dir = tempfile::tempdir().unwrap();
        let extras = Extras::new(SequenceStore::new(dir.path().to_owned()));
        let bindings: Vec<String> = (0..MAX_SEQUENCES_PER_ACTOR).map(|i| format!("b{i}")).collect();
        for binding in &bindings {
            assert_eq!(sequence(&extras, binding), 0);
        }
        let payload = codec::serialize(&GeneratorRequest { sequence: true, ..Default::default() }).unwrap();
        let err = extras.handle(caller("one-too-many"), OP_REQUEST_SEQUENCE, &payload).unwrap_err();
        assert!(err.message.contains("the most one may have"), "{}", err.message);
        let long = "x".repeat(MAX_BINDING + 1);
        let err = extras.handle(caller(&long), OP_REQUEST_SEQUENCE, &payload).unwrap_err();
        assert!(err.message.contains("sequences take at most"), "{}", err.message);
        // The sequences it has go on counting.
        assert_eq!(sequence(&extras, &bindings[0]), 1);
        let file = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!file.contains("one-too-many") && !file.contains(&long), "nothing refused was written");
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
