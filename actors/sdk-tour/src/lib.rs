//! `sdk-tour`: every client of the actor SDK, one HTTP route each, so the
//! tests can drive each through its real provider (and a reader can see
//! each in use):
//! - `POST /keyvalue?prefix=P`: runs every key-value operation on keys
//!   starting with `P` and answers one `operation result` line each;
//! - `GET /extras`: a GUID, a roll of a die and two sequence numbers;
//! - `POST /log?level=L`: logs the body at `L` (`error` ... `trace`);
//! - `GET /fetch?url=U`: fetches `U` with the HTTP client, answering its
//!   status on the first line and its body after;
//! - `PUT /blob/C/ID?chunk=N`: uploads the body in chunks of `N` bytes;
//!   `GET /blob/C/ID?chunk=N` downloads it as chunks delivered back here;
//!   `GET /blob/C` lists the container, `GET /info/C/ID` describes an
//!   object, `DELETE` on either removes it.
//!
//! Failures are returned with `?`: the host's message and kind reach the
//! HTTP client (403 for a host outside the grant).

use std::cell::RefCell;

use host_edge_actor::prelude::*;

thread_local! {
    /// The chunks of the download in progress.
    static DOWNLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

const CONTEXT: &str = "sdk-tour";

actor_handlers! { http::HANDLE_REQUEST => serve, blobstore::RECEIVE_CHUNK => receive }

fn serve(request: http::Request) -> HandlerResult<http::Response> {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let chunk = request.query("chunk").and_then(|n| n.parse().ok()).unwrap_or(4096);
    let store = blobstore::default();
    let body = match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["keyvalue"]) => keyvalue_tour(&request.query("prefix").unwrap_or_default())?,
        ("GET", ["extras"]) => {
            let extras = extras::default();
            let (guid, roll) = (extras.guid()?, extras.random(1, 6)?);
            format!("guid={guid}\nrandom={roll}\nsequence={}\nsequence={}\n", extras.sequence()?, extras.sequence()?)
        }
        ("POST", ["log"]) => {
            let level = request.query("level").unwrap_or_default().parse().map_err(|_| "level: error, warn, info, debug or trace")?;
            logging::write(level, &request.text())?;
            "logged".to_owned()
        }
        ("GET", ["fetch"]) => {
            let url = request.query("url").ok_or("GET /fetch?url=URL")?;
            let response = http_client::default().get(&url)?;
            format!("{}\n{}", response.status_code, String::from_utf8_lossy(&response.body))
        }
        ("PUT", ["blob", container, id]) => {
            store.create_container(container)?;
            store.upload(container, id, &request.body, chunk)?;
            format!("stored {} bytes", request.body.len())
        }
        ("GET", ["blob", container, id]) => {
            DOWNLOAD.with_borrow_mut(Vec::clear);
            store.start_download(container, id, chunk, Some(CONTEXT))?;
            return Ok(http::Response::ok().with_body(DOWNLOAD.take()));
        }
        ("GET", ["blob", container]) => store.list_objects(container)?.iter().map(|b| format!("{} {}\n", b.id, b.byte_size)).collect(),
        ("GET", ["info", container, id]) => format!("{:?}", store.object_info(container, id)?),
        ("DELETE", ["blob", container, id]) => store.remove_object(container, id).map(|()| "removed".to_owned())?,
        ("DELETE", ["blob", container]) => store.remove_container(container).map(|()| "removed".to_owned())?,
        _ => return Ok(http::Response::not_found().with_text("see the routes in actors/sdk-tour")),
    };
    Ok(http::Response::ok().with_text(body))
}

fn receive(chunk: blobstore::FileChunk) -> HandlerResult<()> {
    if chunk.context.as_deref() != Some(CONTEXT) {
        return Err(format!("chunk {} arrived with context {:?}", chunk.sequence_no, chunk.context).into());
    }
    DOWNLOAD.with_borrow_mut(|download| download.extend_from_slice(&chunk.chunk_bytes));
    Ok(())
}

/// Every key-value operation once, on keys under `prefix`: one line each.
fn keyvalue_tour(prefix: &str) -> Result<String, Error> {
    let kv = keyvalue::default();
    let key = |name: &str| format!("{prefix}{name}");
    let (list, a, b) = (key("list"), key("set-a"), key("set-b"));
    let mut lines = vec![
        format!("get {:?}", kv.get(&key("string"))?),
        format!("set {:?}", kv.set(&key("string"), "v", None)?),
        format!("get {:?}", kv.get(&key("string"))?),
        format!("exists {}", kv.exists(&key("string"))?),
        format!("atomic_add {}", kv.atomic_add(&key("count"), 5)?),
        format!("atomic_add {}", kv.atomic_add(&key("count"), -2)?),
    ];
    for item in ["x", "y", "z"] {
        lines.push(format!("list_add {}", kv.list_add(&list, item)?));
    }
    lines.push(format!("list_del_item {}", kv.list_del_item(&list, "y")?));
    lines.push(format!("list_range {:?}", kv.list_range(&list, 0, -1)?));
    lines.push(format!("list_clear {:?}", kv.list_clear(&list)?));
    lines.push(format!("list_range {:?}", kv.list_range(&list, 0, -1)?));
    for (set, member) in [(&a, "1"), (&a, "2"), (&a, "2"), (&b, "2"), (&b, "3")] {
        lines.push(format!("set_add {}", kv.set_add(set, member)?));
    }
    let sorted = |mut members: Vec<String>| {
        members.sort();
        members
    };
    lines.push(format!("set_members {:?}", sorted(kv.set_members(&a)?)));
    lines.push(format!("set_union {:?}", sorted(kv.set_union(&[&a, &b])?)));
    lines.push(format!("set_intersect {:?}", sorted(kv.set_intersect(&[&a, &b])?)));
    lines.push(format!("set_remove {}", kv.set_remove(&a, "1")?));
    lines.push(format!("del_key {:?}", kv.del_key(&key("string"))?));
    lines.push(format!("exists {}", kv.exists(&key("string"))?));
    Ok(lines.join("\n"))
}
