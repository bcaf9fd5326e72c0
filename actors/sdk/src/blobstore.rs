//! `wascc:blobstore`: containers of objects, uploaded in chunks and
//! downloaded as chunks delivered back to the actor.
//!
//! ```no_run
//! use host_edge_actor::prelude::*;
//!
//! actor_handlers! { blobstore::RECEIVE_CHUNK => on_chunk }
//!
//! fn save(photo: &[u8]) -> HandlerResult<()> {
//!     let store = blobstore::default();
//!     store.create_container("photos")?;
//!     store.upload("photos", "door.jpg", photo, 64 * 1024)?;
//!     // Chunks arrive as `on_chunk` calls before this returns.
//!     store.start_download("photos", "door.jpg", 64 * 1024, None)?;
//!     Ok(())
//! }
//!
//! fn on_chunk(chunk: blobstore::FileChunk) -> HandlerResult<()> {
//!     info!("chunk {} of {}: {} bytes", chunk.sequence_no, chunk.id, chunk.chunk_bytes.len());
//!     Ok(())
//! }
//! ```

use codec::blobstore::{
    StreamRequest, OP_CREATE_CONTAINER, OP_GET_OBJECT_INFO, OP_LIST_OBJECTS, OP_REMOVE_CONTAINER, OP_REMOVE_OBJECT,
    OP_START_DOWNLOAD, OP_START_UPLOAD, OP_UPLOAD_CHUNK,
};

use crate::guest::{call, call_raw};
use crate::Error;

pub use codec::blobstore::{Blob, Container, FileChunk};

/// The capability id.
pub const CAPABILITY: &str = "wascc:blobstore";
/// Provider -> actor: one chunk of a download; carries a [`FileChunk`],
/// replies `()`.
pub const RECEIVE_CHUNK: &str = codec::blobstore::OP_RECEIVE_CHUNK;

/// The store linked as `default`.
pub fn default() -> Blobstore {
    host("default")
}

/// The store linked under `binding`.
pub fn host(binding: &str) -> Blobstore {
    Blobstore { binding: binding.to_owned() }
}

/// A client for one blobstore link.
#[derive(Debug, Clone)]
pub struct Blobstore {
    binding: String,
}

impl Blobstore {
    /// Creates the container `id` (creating one that exists is no error).
    pub fn create_container(&self, id: &str) -> Result<Container, Error> {
        call(&self.binding, CAPABILITY, OP_CREATE_CONTAINER, &Container { id: id.to_owned() })
    }

    /// Removes the container `id` and everything in it.
    pub fn remove_container(&self, id: &str) -> Result<(), Error> {
        call_raw(&self.binding, CAPABILITY, OP_REMOVE_CONTAINER, &Container { id: id.to_owned() }).map(drop)
    }

    /// The objects in `container`.
    pub fn list_objects(&self, container: &str) -> Result<Vec<Blob>, Error> {
        let list: codec::blobstore::BlobList = call(&self.binding, CAPABILITY, OP_LIST_OBJECTS, &Container { id: container.to_owned() })?;
        Ok(list.blobs)
    }

    /// The object `id` in `container`, with its size.
    pub fn object_info(&self, container: &str, id: &str) -> Result<Blob, Error> {
        call(&self.binding, CAPABILITY, OP_GET_OBJECT_INFO, &blob(container, id))
    }

    /// Removes the object `id` from `container`.
    pub fn remove_object(&self, container: &str, id: &str) -> Result<(), Error> {
        call_raw(&self.binding, CAPABILITY, OP_REMOVE_OBJECT, &blob(container, id)).map(drop)
    }

    /// Stores `bytes` as the object `id` in `container`, sent in chunks of
    /// `chunk_size` bytes. The object is replaced whole when the last
    /// chunk is in; until then readers see the old one.
    pub fn upload(&self, container: &str, id: &str, bytes: &[u8], chunk_size: u64) -> Result<(), Error> {
        let size = usize::try_from(chunk_size).ok().filter(|size| *size > 0).ok_or_else(|| {
            Error::Invalid(format!("cannot upload {container}/{id} in chunks of {chunk_size} bytes"))
        })?;
        let chunk = |sequence_no: u64, chunk_bytes: Vec<u8>| FileChunk {
            sequence_no,
            container: container.to_owned(),
            id: id.to_owned(),
            total_bytes: bytes.len() as u64,
            chunk_size,
            context: None,
            chunk_bytes,
        };
        call_raw(&self.binding, CAPABILITY, OP_START_UPLOAD, &chunk(0, Vec::new()))?;
        for (sequence_no, part) in (0..).zip(bytes.chunks(size)) {
            call_raw(&self.binding, CAPABILITY, OP_UPLOAD_CHUNK, &chunk(sequence_no, part.to_vec()))?;
        }
        Ok(())
    }

    /// Downloads the object `id` in chunks of `chunk_size` bytes: each
    /// arrives as a [`RECEIVE_CHUNK`] call to this actor, in order and
    /// carrying `context`, before this returns.
    pub fn start_download(&self, container: &str, id: &str, chunk_size: u64, context: Option<&str>) -> Result<(), Error> {
        let request = StreamRequest {
            id: id.to_owned(),
            container: container.to_owned(),
            chunk_size,
            context: context.map(str::to_owned),
        };
        call_raw(&self.binding, CAPABILITY, OP_START_DOWNLOAD, &request).map(drop)
    }
}

fn blob(container: &str, id: &str) -> Blob {
    Blob { id: id.to_owned(), container: container.to_owned(), byte_size: 0 }
}
