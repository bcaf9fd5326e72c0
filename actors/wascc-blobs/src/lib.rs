//! `wascc-blobs`: an actor written as a waSCC user wrote one in 2020,
//! against waSCC's own SDK (`wascc-actor` 0.7) and nothing from host-edge,
//! using `wascc:blobstore`.
//!
//! Over HTTP (`C` a container, `ID` an object, `CHUNK` a chunk size):
//! - `POST /container/C`, `DELETE /container/C`, `GET /list/C` (one
//!   `id size` line per object);
//! - `PUT /blob/C/ID?CHUNK`: uploads the request body in chunks;
//! - `POST /fill/C/ID?size=N&chunk=CHUNK&byte=B`: uploads `N` bytes of value
//!   `B` made here, chunk by chunk (for objects larger than a request);
//! - `GET /blob/C/ID?CHUNK`: downloads the object; its chunks arrive as
//!   `ReceiveChunk` calls while the download waits, and the body is them
//!   put together;
//! - `GET /digest/C/ID?CHUNK`: downloads without keeping the bytes and
//!   answers `bytes=N chunks=K fnv=HEX` (FNV-1a, 64 bits);
//! - `GET /count/C/ID?CHUNK`: downloads and only counts (`bytes=N
//!   chunks=K`), to measure the transfer itself;
//! - `GET /info/C/ID` (`id size`, 404 when missing), `DELETE /blob/C/ID`.
//!
//! A refused or failed call answers 500 with the host's message.

extern crate wascc_actor as actor;

use std::sync::Mutex;

use actor::prelude::*;
use codec::blobstore::{Blob, FileChunk};
use codec::core::HealthRequest;
use codec::http::{Request, Response};

actor_handlers! {
    codec::http::OP_HANDLE_REQUEST => handle,
    codec::blobstore::OP_RECEIVE_CHUNK => receive_chunk,
    codec::core::OP_HEALTH_REQUEST => health
}

/// What the download in progress has received.
struct Received {
    keep: bool,
    hash: bool,
    bytes: Vec<u8>,
    count: u64,
    chunks: u64,
    fnv: u64,
    out_of_order: Option<String>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

static RECEIVED: Mutex<Received> =
    Mutex::new(Received { keep: false, hash: false, bytes: Vec::new(), count: 0, chunks: 0, fnv: FNV_OFFSET, out_of_order: None });

fn receive_chunk(chunk: FileChunk) -> HandlerResult<()> {
    let mut received = RECEIVED.lock().unwrap();
    if chunk.sequence_no != received.chunks && received.out_of_order.is_none() {
        received.out_of_order = Some(format!("chunk {} arrived as number {}", chunk.sequence_no, received.chunks));
    }
    if chunk.context.as_deref() != Some("wascc-blobs") {
        received.out_of_order = Some(format!("chunk {} lost its context", chunk.sequence_no));
    }
    received.chunks += 1;
    received.count += chunk.chunk_bytes.len() as u64;
    if received.hash {
        for byte in &chunk.chunk_bytes {
            received.fnv = (received.fnv ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
    }
    if received.keep {
        received.bytes.extend_from_slice(&chunk.chunk_bytes);
    }
    Ok(())
}

fn handle(request: Request) -> HandlerResult<Response> {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let store = actor::objectstore::default();
    let chunk_size = request.query_string.parse::<u64>().unwrap_or(4096);
    let answer: HandlerResult<Option<Vec<u8>>> = match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["container", c]) => store.create_container(c).map(|_| Some(b"created".to_vec())),
        ("DELETE", ["container", c]) => store.remove_container(c).map(|_| Some(b"removed".to_vec())),
        ("GET", ["list", c]) => store.list_objects(c).map(|list| {
            Some(list.blobs.iter().map(|b| format!("{} {}\n", b.id, b.byte_size)).collect::<String>().into_bytes())
        }),
        ("GET", ["info", c, id]) => store.get_blob_info(c, id).map(|blob| blob.map(|b| format!("{} {}", b.id, b.byte_size).into_bytes())),
        ("DELETE", ["blob", c, id]) => store.remove_object(id, c).map(|_| Some(b"removed".to_vec())),
        ("PUT", ["blob", c, id]) => upload(c, id, chunk_size, &request.body).map(|_| Some(b"stored".to_vec())),
        ("POST", ["fill", c, id]) => fill(c, id, &request.query_string).map(|_| Some(b"stored".to_vec())),
        ("GET", ["blob", c, id]) => download(c, id, chunk_size, true, false).map(|r| Some(r.bytes)),
        ("GET", ["digest", c, id]) => download(c, id, chunk_size, false, true)
            .map(|r| Some(format!("bytes={} chunks={} fnv={:016x}", r.count, r.chunks, r.fnv).into_bytes())),
        ("GET", ["count", c, id]) => download(c, id, chunk_size, false, false)
            .map(|r| Some(format!("bytes={} chunks={}", r.count, r.chunks).into_bytes())),
        _ => return Ok(Response::not_found()),
    };
    Ok(match answer {
        Ok(Some(body)) => Response { body, ..Response::ok() },
        Ok(None) => Response::not_found(),
        Err(e) => Response::internal_server_error(&e.to_string()),
    })
}

fn blob(container: &str, id: &str, size: u64) -> Blob {
    Blob { id: id.to_string(), container: container.to_string(), byte_size: size }
}

fn upload(container: &str, id: &str, chunk_size: u64, body: &[u8]) -> HandlerResult<()> {
    let store = actor::objectstore::default();
    let transfer = store.start_upload(&blob(container, id, body.len() as u64), chunk_size, body.len() as u64)?;
    for (i, chunk) in body.chunks(chunk_size as usize).enumerate() {
        store.upload_chunk(&transfer, i as u64, chunk)?;
    }
    Ok(())
}

fn fill(container: &str, id: &str, query: &str) -> HandlerResult<()> {
    let param = |name: &str| -> u64 {
        query.split('&').find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('='))).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let (size, chunk_size, byte) = (param("size"), param("chunk").max(1), param("byte") as u8);
    let store = actor::objectstore::default();
    let transfer = store.start_upload(&blob(container, id, size), chunk_size, size)?;
    let chunk = vec![byte; chunk_size as usize];
    let mut offset = 0;
    let mut index = 0;
    while offset < size {
        let n = chunk_size.min(size - offset) as usize;
        store.upload_chunk(&transfer, index, &chunk[..n])?;
        offset += n as u64;
        index += 1;
    }
    Ok(())
}

fn download(container: &str, id: &str, chunk_size: u64, keep: bool, hash: bool) -> HandlerResult<Received> {
    *RECEIVED.lock().unwrap() =
        Received { keep, hash, bytes: Vec::new(), count: 0, chunks: 0, fnv: FNV_OFFSET, out_of_order: None };
    let store = actor::objectstore::default();
    let info = store.get_blob_info(container, id)?.ok_or_else(|| format!("no object {} in {}", id, container))?;
    store.start_download(&info, chunk_size, Some("wascc-blobs".to_string()))?;
    let mut received = RECEIVED.lock().unwrap();
    let done = std::mem::replace(
        &mut *received,
        Received { keep: false, hash: false, bytes: Vec::new(), count: 0, chunks: 0, fnv: FNV_OFFSET, out_of_order: None },
    );
    if let Some(problem) = done.out_of_order {
        return Err(problem.into());
    }
    Ok(done)
}

fn health(_req: HealthRequest) -> HandlerResult<()> {
    Ok(())
}
