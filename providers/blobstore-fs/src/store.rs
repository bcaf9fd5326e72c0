//! One actor's objects: its root folder, its grant and quota, and its
//! uploads in progress.
//!
//! An upload is written to a temporary file beside its object
//! (`.ID.XXXXXX`, by atomic-write-file), chunk by chunk at the chunk's
//! offset; when the last byte has arrived the file is fsynced, renamed over
//! the object and the folder fsynced. A crash at any moment leaves the old
//! object whole or the new one whole, and at most a temporary file, which
//! the next bind removes. A download reads the object in chunks and hands
//! each to the actor as it is read.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use atomic_write_file::AtomicWriteFile;
use provider_sdk::codec::blobstore::{Blob, BlobList, FileChunk, StreamRequest};
use provider_sdk::grant::Grant;
use provider_sdk::ProviderError;

use crate::names;
use crate::quota::{Limits, Usage};

/// The capability, for messages.
pub const CAPABILITY: &str = "wascc:blobstore";

/// An actor's store.
pub struct ActorStore {
    root: PathBuf,
    grant: Grant,
    limits: Limits,
    max_chunk: u64,
    max_uploads: usize,
    state: Mutex<State>,
}

struct State {
    usage: Usage,
    uploads: HashMap<(String, String), Upload>,
}

/// An upload in progress.
struct Upload {
    file: AtomicWriteFile,
    total: u64,
    chunk_size: u64,
    received: BTreeSet<u64>,
    written: u64,
    /// The size of the object it replaces; `None` for a new object.
    replaced: Option<u64>,
}

/// What [`ActorStore::open`] found on disk.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// Temporary files of interrupted uploads, removed.
    pub cleaned: usize,
    /// What the actor stores.
    pub usage: Usage,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ProviderError {
    let message = format!("{what} {}: {e}", path.display());
    match e.kind() {
        std::io::ErrorKind::NotFound => ProviderError::bad_request(message),
        _ => ProviderError::unavailable(message),
    }
}

impl ActorStore {
    /// Opens (creating it) the actor's `root`: removes temporary files left
    /// by interrupted uploads and counts what is stored.
    pub fn open(
        root: PathBuf,
        grant: Grant,
        limits: Limits,
        max_chunk: u64,
        max_uploads: usize,
    ) -> Result<(ActorStore, Opened), ProviderError> {
        std::fs::create_dir_all(&root).map_err(|e| io("creating", &root, e))?;
        let mut opened = Opened::default();
        for container in std::fs::read_dir(&root).map_err(|e| io("reading", &root, e))?.map_while(Result::ok) {
            let is_dir = container.file_type().is_ok_and(|t| t.is_dir());
            if !is_dir {
                continue;
            }
            for entry in std::fs::read_dir(container.path()).map_err(|e| io("reading", &container.path(), e))?.map_while(Result::ok) {
                let Ok(meta) = entry.metadata() else { continue };
                if entry.file_name().to_string_lossy().starts_with('.') && meta.is_file() {
                    std::fs::remove_file(entry.path()).map_err(|e| io("removing", &entry.path(), e))?;
                    opened.cleaned += 1;
                } else if meta.is_file() && !entry.file_type().is_ok_and(|t| t.is_symlink()) {
                    opened.usage.bytes += meta.len();
                    opened.usage.objects += 1;
                }
            }
        }
        let store = ActorStore {
            root,
            grant,
            limits,
            max_chunk,
            max_uploads,
            state: Mutex::new(State { usage: opened.usage, uploads: HashMap::new() }),
        };
        Ok((store, opened))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the actor stores now.
    #[cfg(test)]
    pub fn usage(&self) -> Usage {
        self.state().usage
    }

    /// `Ok` when the grant lets the actor use `container`.
    fn granted(&self, container: &str) -> Result<(), ProviderError> {
        names::check(names::Kind::Container, container)?;
        self.grant
            .check_by(
                CAPABILITY,
                &format!("container `{container}`"),
                |kind| matches!(kind, "container" | "prefix" | "exact"),
                |rule| match rule.kind() {
                    "container" => rule.value() == container,
                    _ => rule.permits(container),
                },
            )
            .map_err(|refusal| ProviderError::denied(refusal.to_string()))
    }

    /// The container's folder, which must exist.
    fn existing_container(&self, container: &str) -> Result<PathBuf, ProviderError> {
        self.granted(container)?;
        let dir = names::container_dir(&self.root, container)?;
        if !dir.is_dir() {
            return Err(ProviderError::bad_request(format!("there is no container `{container}`; create it first")));
        }
        Ok(dir)
    }

    /// `CreateContainer`: makes the folder (no error when it exists).
    pub fn create_container(&self, container: &str) -> Result<(), ProviderError> {
        self.granted(container)?;
        let dir = names::container_dir(&self.root, container)?;
        std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?;
        sync_dir(&self.root)
    }

    /// `RemoveContainer`: removes it and every object in it.
    pub fn remove_container(&self, container: &str) -> Result<(), ProviderError> {
        let dir = self.existing_container(container)?;
        let mut state = self.state();
        let pending: Vec<_> = state.uploads.keys().filter(|(c, _)| c == container).cloned().collect();
        for key in pending {
            if let Some(upload) = state.uploads.remove(&key) {
                state.usage.release(upload.total, upload.replaced.is_none());
            }
        }
        for blob in list(&dir, container)?.blobs {
            state.usage.remove(blob.byte_size);
        }
        std::fs::remove_dir_all(&dir).map_err(|e| io("removing", &dir, e))?;
        sync_dir(&self.root)
    }

    /// `ListObjects`: the objects of a container, by id.
    pub fn list(&self, container: &str) -> Result<BlobList, ProviderError> {
        list(&self.existing_container(container)?, container)
    }

    /// `GetObjectInfo`: the object, or a blob with an empty id when there is
    /// none (waSCC's convention).
    pub fn info(&self, container: &str, id: &str) -> Result<Blob, ProviderError> {
        self.granted(container)?;
        let path = names::object_path(&self.root, container, id)?;
        Ok(match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Blob { id: id.to_owned(), container: container.to_owned(), byte_size: meta.len() },
            _ => Blob { id: String::new(), container: container.to_owned(), byte_size: 0 },
        })
    }

    /// `RemoveObject`.
    pub fn remove_object(&self, container: &str, id: &str) -> Result<(), ProviderError> {
        let dir = self.existing_container(container)?;
        let path = names::object_path(&self.root, container, id)?;
        // Under the lock, so an upload of the same object cannot commit
        // between the size read here and the count taken below.
        let mut state = self.state();
        let size = std::fs::metadata(&path)
            .map_err(|_| ProviderError::bad_request(format!("there is no object `{id}` in container `{container}`")))?
            .len();
        std::fs::remove_file(&path).map_err(|e| io("removing", &path, e))?;
        state.usage.remove(size);
        // An upload in progress that was to replace it now makes a new
        // object: when it commits it frees nothing and adds one.
        let key = (container.to_owned(), id.to_owned());
        if state.uploads.get_mut(&key).and_then(|upload| upload.replaced.take()).is_some() {
            state.usage.replaced_object_removed();
        }
        drop(state);
        sync_dir(&dir)
    }

    /// `StartUpload`: reserves the quota and opens the temporary file; an
    /// empty object is written at once.
    pub fn start_upload(&self, chunk: FileChunk) -> Result<(), ProviderError> {
        self.existing_container(&chunk.container)?;
        let path = names::object_path(&self.root, &chunk.container, &chunk.id)?;
        if chunk.total_bytes > 0 && (chunk.chunk_size == 0 || chunk.chunk_size > self.max_chunk) {
            return Err(ProviderError::bad_request(format!(
                "chunk size {} is refused: it must be between 1 and MAX_CHUNK_BYTES ({})",
                chunk.chunk_size, self.max_chunk
            )));
        }
        if chunk.total_bytes == 0 && !chunk.chunk_bytes.is_empty() {
            return Err(ProviderError::bad_request(format!(
                "the first chunk of `{}` holds {} bytes, past its total_bytes of 0",
                chunk.id,
                chunk.chunk_bytes.len()
            )));
        }
        let key = (chunk.container.clone(), chunk.id.clone());
        let mut state = self.state();
        // Read under the lock, so a removal of the object is seen either
        // here or by `remove_object` fixing up this upload.
        let replaced = std::fs::metadata(&path).ok().filter(|m| m.is_file()).map(|m| m.len());
        // A new start of the same object replaces the upload in progress.
        if let Some(old) = state.uploads.remove(&key) {
            state.usage.release(old.total, old.replaced.is_none());
        }
        if state.uploads.len() >= self.max_uploads {
            return Err(ProviderError::unavailable(format!(
                "{} uploads are in progress, MAX_UPLOADS; finish one first",
                state.uploads.len()
            )));
        }
        state.usage.reserve(self.limits, chunk.total_bytes, replaced)?;
        let file = match AtomicWriteFile::open(&path) {
            Ok(file) => file,
            Err(e) => {
                state.usage.release(chunk.total_bytes, replaced.is_none());
                return Err(io("opening a temporary file for", &path, e));
            }
        };
        let upload = Upload {
            file,
            total: chunk.total_bytes,
            chunk_size: chunk.chunk_size,
            received: BTreeSet::new(),
            written: 0,
            replaced,
        };
        state.uploads.insert(key.clone(), upload);
        if chunk.total_bytes == 0 || !chunk.chunk_bytes.is_empty() {
            drop(state);
            return self.upload_chunk(chunk);
        }
        Ok(())
    }

    /// `UploadChunk`: writes the chunk at its offset (`sequenceNo` times the
    /// chunk size); after the last byte, commits the object.
    pub fn upload_chunk(&self, chunk: FileChunk) -> Result<(), ProviderError> {
        let key = (chunk.container.clone(), chunk.id.clone());
        let mut state = self.state();
        let upload = state.uploads.get_mut(&key).ok_or_else(|| {
            ProviderError::bad_request(format!(
                "no upload of `{}` in container `{}` is in progress; StartUpload first",
                chunk.id, chunk.container
            ))
        })?;
        if upload.total > 0 {
            let offset = chunk.sequence_no.checked_mul(upload.chunk_size).filter(|o| *o < upload.total);
            let Some(offset) = offset else {
                return Err(ProviderError::bad_request(format!(
                    "chunk {} is past the end of `{}` ({} bytes in chunks of {})",
                    chunk.sequence_no, chunk.id, upload.total, upload.chunk_size
                )));
            };
            let expected = upload.chunk_size.min(upload.total - offset);
            if chunk.chunk_bytes.len() as u64 != expected {
                return Err(ProviderError::bad_request(format!(
                    "chunk {} of `{}` holds {} bytes; it must hold {expected}",
                    chunk.sequence_no,
                    chunk.id,
                    chunk.chunk_bytes.len()
                )));
            }
            let path = self.root.join(&chunk.container).join(&chunk.id);
            upload.file.as_file().write_all_at(&chunk.chunk_bytes, offset).map_err(|e| io("writing", &path, e))?;
            if upload.received.insert(chunk.sequence_no) {
                upload.written += expected;
            }
            if upload.written < upload.total {
                return Ok(());
            }
        }
        let upload = state.uploads.remove(&key).expect("found above");
        let (total, replaced) = (upload.total, upload.replaced);
        let path = self.root.join(&chunk.container).join(&chunk.id);
        if let Err(e) = upload.file.commit() {
            state.usage.release(total, replaced.is_none());
            return Err(io("committing", &path, e));
        }
        state.usage.commit(total, replaced);
        Ok(())
    }

    /// `StartDownload`: reads the object in chunks of the size asked for
    /// and hands each to `deliver`, in order; an empty object is one empty
    /// chunk. Stops at the first chunk the actor refuses.
    pub fn download(
        &self,
        request: &StreamRequest,
        mut deliver: impl FnMut(FileChunk) -> Result<(), ProviderError>,
    ) -> Result<u64, ProviderError> {
        self.existing_container(&request.container)?;
        if request.chunk_size == 0 || request.chunk_size > self.max_chunk {
            return Err(ProviderError::bad_request(format!(
                "chunk size {} is refused: it must be between 1 and MAX_CHUNK_BYTES ({})",
                request.chunk_size, self.max_chunk
            )));
        }
        let path = names::object_path(&self.root, &request.container, &request.id)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| io("opening", &path, e))?;
        let total = file.metadata().map_err(|e| io("reading", &path, e))?.len();
        let mut buffer = vec![0; request.chunk_size.min(total.max(1)) as usize];
        let mut sequence_no = 0;
        let mut sent = 0;
        loop {
            let n = read_full(&mut file, &mut buffer).map_err(|e| io("reading", &path, e))?;
            if n == 0 && sequence_no > 0 {
                break;
            }
            deliver(FileChunk {
                sequence_no,
                container: request.container.clone(),
                id: request.id.clone(),
                total_bytes: total,
                chunk_size: request.chunk_size,
                context: request.context.clone(),
                chunk_bytes: buffer[..n].to_vec(),
            })
            .map_err(|e| {
                ProviderError::of(e.kind(), format!("the actor refused chunk {sequence_no} of `{}`: {}", request.id, e.message()))
            })?;
            sent += n as u64;
            sequence_no += 1;
            if sent >= total {
                break;
            }
        }
        Ok(sequence_no)
    }
}

fn read_full(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn list(dir: &Path, container: &str) -> Result<BlobList, ProviderError> {
    let mut blobs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io("reading", dir, e))?.map_while(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = entry.metadata() else { continue };
        if name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        blobs.push(Blob { id: name, container: container.to_owned(), byte_size: meta.len() });
    }
    blobs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(BlobList { blobs })
}

/// Makes a folder's entries (a new or removed name) durable.
fn sync_dir(dir: &Path) -> Result<(), ProviderError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("syncing", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_bytes: 1 << 20, max_objects: 10 };

    fn open(root: &Path) -> (ActorStore, Opened) {
        ActorStore::open(root.to_owned(), Grant::unrestricted(), LIMITS, 4, 8).unwrap()
    }

    fn chunk(id: &str, sequence_no: u64, total: u64, bytes: &[u8]) -> FileChunk {
        FileChunk {
            sequence_no,
            container: "c".into(),
            id: id.into(),
            total_bytes: total,
            chunk_size: 4,
            context: None,
            chunk_bytes: bytes.to_vec(),
        }
    }

    fn read(store: &ActorStore, id: &str, chunk_size: u64) -> (Vec<u8>, Vec<u64>) {
        let (mut bytes, mut sequence) = (Vec::new(), Vec::new());
        let request = StreamRequest { id: id.into(), container: "c".into(), chunk_size, context: Some("ctx".into()) };
        store
            .download(&request, |chunk| {
                assert_eq!(chunk.context.as_deref(), Some("ctx"));
                sequence.push(chunk.sequence_no);
                bytes.extend_from_slice(&chunk.chunk_bytes);
                Ok(())
            })
            .unwrap();
        (bytes, sequence)
    }

    #[test]
    fn chunks_arriving_in_any_order_make_the_object_once_the_last_byte_is_in() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = open(dir.path());
        store.create_container("c").unwrap();
        store.start_upload(chunk("o", 0, 10, b"")).unwrap();
        store.upload_chunk(chunk("o", 2, 10, b"89")).unwrap();
        store.upload_chunk(chunk("o", 0, 10, b"0123")).unwrap();
        assert_eq!(store.info("c", "o").unwrap().id, "", "not visible before the last byte");
        store.upload_chunk(chunk("o", 1, 10, b"4567")).unwrap();
        assert_eq!(store.info("c", "o").unwrap().byte_size, 10);
        assert_eq!(read(&store, "o", 4), (b"0123456789".to_vec(), vec![0, 1, 2]));
        assert_eq!((store.usage().bytes, store.usage().objects), (10, 1));
    }

    #[test]
    fn an_interrupted_upload_leaves_the_old_object_whole_and_its_temporary_file_is_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, _) = open(dir.path());
            store.create_container("c").unwrap();
            store.start_upload(chunk("o", 0, 4, b"old!")).unwrap();
            store.start_upload(chunk("o", 0, 8, b"")).unwrap();
            store.upload_chunk(chunk("o", 0, 8, b"new!")).unwrap();
            // A crash: the upload's temporary file is left on disk.
            let temp = std::fs::read_dir(dir.path().join("c")).unwrap().count();
            assert_eq!(temp, 2, "the object and a temporary file");
            std::mem::forget(store);
        }
        let (store, opened) = open(dir.path());
        assert_eq!(opened.cleaned, 1);
        assert_eq!(read(&store, "o", 4).0, b"old!");
        assert_eq!(std::fs::read_dir(dir.path().join("c")).unwrap().count(), 1);
    }

    #[test]
    fn an_empty_object_is_written_at_once_and_read_as_one_empty_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = open(dir.path());
        store.create_container("c").unwrap();
        store.start_upload(chunk("empty", 0, 0, b"")).unwrap();
        assert_eq!(read(&store, "empty", 4), (Vec::new(), vec![0]));
    }

    #[test]
    fn a_chunk_of_the_wrong_size_or_past_the_end_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = open(dir.path());
        store.create_container("c").unwrap();
        store.start_upload(chunk("o", 0, 6, b"")).unwrap();
        let err = store.upload_chunk(chunk("o", 0, 6, b"012")).unwrap_err();
        assert!(err.message().contains("holds 3 bytes; it must hold 4"), "{err}");
        let err = store.upload_chunk(chunk("o", 2, 6, b"01")).unwrap_err();
        assert!(err.message().contains("chunk 2 is past the end"), "{err}");
    }

    #[test]
    fn the_quota_refuses_by_name_and_counts_what_is_on_disk_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits { max_bytes: 8, max_objects: 10 };
        let (store, _) = ActorStore::open(dir.path().to_owned(), Grant::unrestricted(), limits, 4, 8).unwrap();
        store.create_container("c").unwrap();
        store.start_upload(chunk("a", 0, 4, b"aaaa")).unwrap();
        let err = store.start_upload(chunk("b", 0, 5, b"")).unwrap_err();
        assert_eq!(err.kind(), provider_sdk::ErrorKind::Denied);
        assert!(err.message().contains("over MAX_BYTES (8)"), "{err}");
        drop(store);
        let (_, opened) = ActorStore::open(dir.path().to_owned(), Grant::unrestricted(), limits, 4, 8).unwrap();
        assert_eq!((opened.usage.bytes, opened.usage.objects), (4, 1));
    }

    /// What is on disk, counted as a fresh bind counts it.
    fn counted_on_disk(root: &Path, limits: Limits) -> (u64, u64) {
        let (_, opened) = ActorStore::open(root.to_owned(), Grant::unrestricted(), limits, 4, 8).unwrap();
        (opened.usage.bytes, opened.usage.objects)
    }

    #[test]
    fn a_total_bytes_near_u64_max_is_refused_not_wrapped() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = open(dir.path());
        store.create_container("c").unwrap();
        store.start_upload(chunk("small", 0, 4, b"1234")).unwrap();
        // 4 stored + (u64::MAX - 1) wraps to 2 in a release build: under
        // MAX_BYTES, and every chunk up to 2^64 bytes would then be taken.
        let err = store.start_upload(chunk("huge", 0, u64::MAX - 1, b"")).unwrap_err();
        assert_eq!(err.kind(), provider_sdk::ErrorKind::Denied, "{err}");
        assert!(err.message().contains("over MAX_BYTES"), "{err}");
        let err = store.upload_chunk(chunk("huge", 1_000_000, u64::MAX - 1, b"fill")).unwrap_err();
        assert!(err.message().contains("no upload of `huge`"), "{err}");
        assert_eq!((store.usage().bytes, store.usage().reserved_bytes), (4, 0));
    }

    #[test]
    fn removing_an_object_while_an_upload_replaces_it_does_not_undercount_the_quota() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits { max_bytes: 16, max_objects: 10 };
        let (store, _) = ActorStore::open(dir.path().to_owned(), Grant::unrestricted(), limits, 4, 8).unwrap();
        store.create_container("c").unwrap();
        store.start_upload(chunk("keep", 0, 4, b"keep")).unwrap();
        store.start_upload(chunk("o", 0, 4, b"old!")).unwrap();
        // Replace `o` with 8 bytes; remove it while the upload is open.
        store.start_upload(chunk("o", 0, 8, b"")).unwrap();
        store.upload_chunk(chunk("o", 0, 8, b"new!")).unwrap();
        store.remove_object("c", "o").unwrap();
        store.upload_chunk(chunk("o", 1, 8, b"new?")).unwrap();
        // Before: the commit freed the removed object's 4 bytes a second
        // time and added no object, so the count fell below what the disk
        // holds and the quota let more in than MAX_BYTES.
        assert_eq!((store.usage().bytes, store.usage().objects), (12, 2));
        assert_eq!((store.usage().bytes, store.usage().objects), counted_on_disk(dir.path(), limits));
        let err = store.start_upload(chunk("more", 0, 8, b"")).unwrap_err();
        assert!(err.message().contains("over MAX_BYTES (16)"), "12 + 8 is over 16: {err}");
    }

    #[test]
    fn chunks_beyond_the_declared_total_bytes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = open(dir.path());
        store.create_container("c").unwrap();
        // An upload that declares nothing cannot carry bytes.
        let err = store.start_upload(chunk("empty", 0, 0, b"data")).unwrap_err();
        assert!(err.message().contains("past its total_bytes of 0"), "{err}");
        store.start_upload(chunk("o", 0, 6, b"")).unwrap();
        // The last chunk holds what is left (2 bytes), not a whole chunk.
        let err = store.upload_chunk(chunk("o", 1, 6, b"4567")).unwrap_err();
        assert!(err.message().contains("holds 4 bytes; it must hold 2"), "{err}");
        for sequence_no in [2, 3, u64::MAX / 4 + 1, u64::MAX] {
            let err = store.upload_chunk(chunk("o", sequence_no, 6, b"89")).unwrap_err();
            assert!(err.message().contains(&format!("chunk {sequence_no} is past the end")), "{err}");
        }
        store.upload_chunk(chunk("o", 0, 6, b"0123")).unwrap();
        store.upload_chunk(chunk("o", 1, 6, b"45")).unwrap();
        assert_eq!(std::fs::metadata(dir.path().join("c/o")).unwrap().len(), 6);
    }

    #[test]
    fn containers_outside_the_grant_are_refused_by_name() {
        use provider_sdk::grant::{Layer, Source};
        let dir = tempfile::tempdir().unwrap();
        let grant = Grant::new(vec![Layer::new(Source::Signed, vec!["container:photos".parse().unwrap()])]);
        let (store, _) = ActorStore::open(dir.path().to_owned(), grant, LIMITS, 4, 8).unwrap();
        store.create_container("photos").unwrap();
        let err = store.create_container("secrets").unwrap_err();
        assert!(err.message().starts_with("container `secrets` is outside the grant for wascc:blobstore"), "{err}");
    }
}
