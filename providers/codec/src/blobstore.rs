//! `wascc:blobstore`: containers of binary objects, moved in chunks.

use serde::{Deserialize, Serialize};

/// Actor -> provider: create a container; [`Container`] -> [`Container`].
pub const OP_CREATE_CONTAINER: &str = "CreateContainer";
/// Actor -> provider: remove a container; [`Container`] -> nil.
pub const OP_REMOVE_CONTAINER: &str = "RemoveContainer";
/// Actor -> provider: remove an object; [`Blob`] -> nil.
pub const OP_REMOVE_OBJECT: &str = "RemoveObject";
/// Actor -> provider: list a container; [`Container`] -> [`BlobList`].
pub const OP_LIST_OBJECTS: &str = "ListObjects";
/// Actor -> provider: one chunk of an upload; [`FileChunk`] -> nil.
pub const OP_UPLOAD_CHUNK: &str = "UploadChunk";
/// Actor -> provider: start a download; [`StreamRequest`] -> nil.
pub const OP_START_DOWNLOAD: &str = "StartDownload";
/// Actor -> provider: start an upload; [`FileChunk`] -> nil.
pub const OP_START_UPLOAD: &str = "StartUpload";
/// Provider -> actor: one chunk of a download; [`FileChunk`] -> nil.
pub const OP_RECEIVE_CHUNK: &str = "ReceiveChunk";
/// Actor -> provider: an object's details; [`Blob`] -> [`Blob`] (empty id = missing).
pub const OP_GET_OBJECT_INFO: &str = "GetObjectInfo";

/// A container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Its id.
    pub id: String,
}

/// An object in a container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    /// Its id.
    pub id: String,
    /// The container holding it.
    pub container: String,
    /// Its size.
    pub byte_size: u64,
}

/// The objects of a container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobList {
    /// The objects.
    #[serde(default)]
    pub blobs: Vec<Blob>,
}

/// One chunk of an upload or download.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileChunk {
    /// The chunk's position, from 0.
    pub sequence_no: u64,
    /// The container.
    pub container: String,
    /// The object id.
    pub id: String,
    /// The object's total size.
    pub total_bytes: u64,
    /// The size of every chunk but the last.
    pub chunk_size: u64,
    /// Opaque data the actor passed when starting the transfer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The bytes.
    #[serde(default, with = "serde_bytes")]
    pub chunk_bytes: Vec<u8>,
}

/// A download request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamRequest {
    /// The object id.
    pub id: String,
    /// The container.
    pub container: String,
    /// The chunk size wanted.
    pub chunk_size: u64,
    /// Opaque data returned with each chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}
