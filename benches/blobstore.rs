//! `wascc:blobstore` throughput, beside plain file I/O in the same run: an
//! actor (waSCC's SDK, `actors/wascc-blobs`) uploading an object it makes
//! in chunks and downloading it in chunks delivered back into it, against
//! writing the same bytes to a file (fsync, rename) and reading them back.
//!
//! Run with `cargo bench -p host-edge-benches --bench blobstore`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use codec::http::{Request, Response};
use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::Policy;
use host_edge_runtime::Limits;
use host_edge_runtime::{Host, LinkSpec};
use testkit::{actor_module, provider_archive, Signer};

const SIZE: u64 = 64 << 20;
const ROUNDS: usize = 3;

fn request(method: &str, path: &str, query: &str) -> Vec<u8> {
    let request = Request { method: method.into(), path: path.into(), query_string: query.into(), ..Request::default() };
    codec::serialize(&request).unwrap()
}

fn call(host: &Host, actor: &str, method: &str, path: &str, query: &str) -> String {
    let reply = host.call(actor, "HandleRequest", &request(method, path, query)).unwrap();
    let response: Response = codec::deserialize(&reply).unwrap();
    let body = String::from_utf8_lossy(&response.body).into_owned();
    assert_eq!(response.status_code, 200, "{method} {path}: {body}");
    body
}

/// The best of ROUNDS runs of `f`, as MB/s for SIZE bytes.
fn rate(label: &str, mut f: impl FnMut()) -> f64 {
    let best = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .min()
        .unwrap_or(Duration::MAX);
    let mb_s = SIZE as f64 / 1e6 / best.as_secs_f64();
    println!("{label:<48} {best:>10.2?} for {} MiB: {mb_s:.0} MB/s", SIZE >> 20);
    mb_s
}

fn main() {
    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap().join("..").join("target")).unwrap();
    let host = Host::with_state_dir(Policy::default(), dir.path().join("state"));
    host.add_provider("blobs", &provider_archive("blobstore_fs")).unwrap();
    let signed = Signer::new().sign(&actor_module("wascc_blobs"), "wascc-blobs", &["wascc:blobstore"]);
    let limits = Limits { fuel_per_call: 0, ..Limits::default() };
    let key = host.start_actor(host.load(&signed).unwrap(), 1, limits).unwrap();
    host.link(LinkSpec {
        actor: key.clone(),
        capability: CapabilityId::parse("wascc:blobstore").unwrap(),
        binding: "default".into(),
        provider: "blobs".into(),
        values: BTreeMap::new(),
        grant: Vec::new(),
    })
    .unwrap();
    call(&host, &key, "POST", "/container/bench", "");
    println!("blobstore on {} (ext4 here), {} MiB objects, best of {ROUNDS}", dir.path().display(), SIZE >> 20);
    for chunk in [64u64 << 10, 1 << 20] {
        let label = format!("{} KiB chunks", chunk >> 10);
        let up = rate(&format!("actor upload, {label}"), || {
            call(&host, &key, "POST", "/fill/bench/object", &format!("size={SIZE}&chunk={chunk}&byte=5"));
        });
        let down = rate(&format!("actor download, {label}"), || {
            let counted = call(&host, &key, "GET", "/count/bench/object", &chunk.to_string());
            assert!(counted.starts_with(&format!("bytes={SIZE} ")), "{counted}");
        });
        let file = dir.path().join("plain");
        let native_up = rate(&format!("plain file write + fsync + rename, {label}"), || {
            let temporary = dir.path().join(".plain.tmp");
            let mut out = std::fs::File::create(&temporary).unwrap();
            let buffer = vec![5u8; chunk as usize];
            let mut written = 0;
            while written < SIZE {
                let n = chunk.min(SIZE - written) as usize;
                out.write_all(&buffer[..n]).unwrap();
                written += n as u64;
            }
            out.sync_all().unwrap();
            std::fs::rename(&temporary, &file).unwrap();
            std::fs::File::open(dir.path()).unwrap().sync_all().unwrap();
        });
        let native_down = rate(&format!("plain file read, {label}"), || {
            let mut input = std::fs::File::open(&file).unwrap();
            let mut buffer = vec![0u8; chunk as usize];
            let mut total = 0;
            loop {
                let n = input.read(&mut buffer).unwrap();
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
            assert_eq!(total, SIZE);
        });
        println!(
            "{:<48} upload {:.2}x, download {:.2}x plain file I/O",
            format!("actor / plain, {label}"),
            up / native_up,
            down / native_down
        );
    }
    host.shutdown();
}
