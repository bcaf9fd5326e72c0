//! `wascc:blobstore` on the file system, end to end: the `host-edge`
//! binary, the blobstore and HTTP server providers, an actor built with
//! waSCC's own SDK (`actors/wascc-blobs`, wascc-actor 0.7), and real files
//! in the host's state folder.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::SignOptions;
use host_edge_runtime::grant::Rule;
use testkit::host::HostProcess;
use testkit::{actor_module, eventually, free_port, http_get, http_post, http_put, options, provider_archive, Signer};

const BLOBSTORE: &str = "wascc:blobstore";
const HTTP: &str = "wascc:http_server";

/// The blobs actor, signed with `grants` for wascc:blobstore (none: no
/// grant), served with the blobstore linked with `values`.
fn deploy(dir: &Path, grants: &[&str], values: &str) -> HostProcess {
    let mut options = options("wascc-blobs", &[BLOBSTORE, HTTP]);
    if !grants.is_empty() {
        let rules: Vec<Rule> = grants.iter().map(|g| g.parse().unwrap()).collect();
        options = SignOptions { grants: [(CapabilityId::parse(BLOBSTORE).unwrap(), rules)].into(), ..options };
    }
    std::fs::write(dir.join("actor.wasm"), Signer::new().sign_with(&actor_module("wascc_blobs"), &options)).unwrap();
    let port = free_port();
    let manifest = format!(
        r#"
[[actor]]
path = "actor.wasm"
# 100 MiB pass through the interpreter in one call.
fuel_per_call = 100000000000

[[provider]]
name = "blobs"
path = "{blobs}"

[[provider]]
name = "http"
path = "{http}"

[[link]]
actor = "wascc-blobs"
capability = "wascc:blobstore"
provider = "blobs"
values = {{ {values} }}

[[link]]
actor = "wascc-blobs"
capability = "wascc:http_server"
provider = "http"
values = {{ ADDRESS = "127.0.0.1", PORT = "{port}", ERROR_DETAIL = "true", REQUEST_TIMEOUT_MS = "120000" }}
"#,
        blobs = provider_archive("blobstore_fs").display(),
        http = provider_archive("http_server").display(),
    );
    let mut host = HostProcess::new(dir, &manifest, port);
    host.start();
    host
}

fn ok(host: &HostProcess, (status, body): (u16, String)) -> String {
    assert_eq!(status, 200, "{body}\n{}", host.log());
    body
}

/// The actor's root: `state/blobs/ACTOR_KEY`.
fn actor_root(host: &HostProcess) -> PathBuf {
    let log = host.log();
    let line = log.lines().find(|l| l.contains("stores in ")).unwrap_or_else(|| panic!("{log}"));
    let path = line.split("stores in ").nth(1).unwrap().split(':').next().unwrap();
    PathBuf::from(path)
}

/// FNV-1a, 64 bits, as the actor computes it.
fn fnv(bytes: impl IntoIterator<Item = u8>) -> String {
    let hash = bytes.into_iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}")
}

/// Text of `n` bytes that differ from one position to the next.
fn text(n: usize) -> String {
    (0..n).map(|i| (b'a' + ((i * 7 + i / 26) % 26) as u8) as char).collect()
}

/// A request sent as written, so the path reaches the server unnormalised.
fn raw_request(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
}

fn port_of(host: &HostProcess) -> u16 {
    host.url("").rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn blobs_uploaded_in_chunks_come_back_byte_for_byte_at_every_size() {
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[], "");
    ok(&host, http_post(&host.url("/container/files"), ""));
    for (size, chunk) in [(0, 4096), (1, 4096), (4096, 4096), (10_000, 4096), (65_537, 1000)] {
        let body = text(size);
        ok(&host, http_put(&host.url(&format!("/blob/files/o{size}?{chunk}")), &body));
        assert_eq!(ok(&host, http_get(&host.url(&format!("/info/files/o{size}")))), format!("o{size} {size}"));
        for download_chunk in [1000, 4096] {
            let back = ok(&host, http_get(&host.url(&format!("/blob/files/o{size}?{download_chunk}"))));
            assert!(back == body, "{size} bytes in chunks of {download_chunk}: {} bytes came back", back.len());
        }
        let expected_chunks = size.div_ceil(4096).max(1);
        assert_eq!(
            ok(&host, http_get(&host.url(&format!("/digest/files/o{size}?4096")))),
            format!("bytes={size} chunks={expected_chunks} fnv={}", fnv(body.bytes()))
        );
    }
    let list = ok(&host, http_get(&host.url("/list/files")));
    assert_eq!(list.lines().count(), 5, "{list}");
    ok(&host, raw_request(port_of(&host), "DELETE", "/blob/files/o1"));
    assert_eq!(http_get(&host.url("/info/files/o1")).0, 404);
}

#[test]
fn a_100_mib_blob_goes_up_and_down_in_1_mib_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[], "");
    ok(&host, http_post(&host.url("/container/big"), ""));
    const SIZE: usize = 100 << 20;
    let started = Instant::now();
    ok(&host, http_post(&host.url(&format!("/fill/big/blob?size={SIZE}&chunk=1048576&byte=7")), ""));
    let uploaded = started.elapsed();
    let digest = ok(&host, http_get(&host.url("/digest/big/blob?1048576")));
    let downloaded = started.elapsed() - uploaded;
    assert_eq!(digest, format!("bytes={SIZE} chunks=100 fnv={}", fnv(std::iter::repeat_n(7u8, SIZE))));
    let file = actor_root(&host).join("big/blob");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), SIZE as u64);
    println!("100 MiB: up in {uploaded:?}, down in {downloaded:?} (debug host)");
}

#[test]
fn a_host_killed_during_an_upload_leaves_the_old_object_whole_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = deploy(dir.path(), &[], "");
    ok(&host, http_post(&host.url("/container/c"), ""));
    const OLD: usize = 8 << 20;
    ok(&host, http_post(&host.url(&format!("/fill/c/precious?size={OLD}&chunk=1048576&byte=1")), ""));
    let container = actor_root(&host).join("c");

    // Replace it with 100 MiB, and kill the host while the upload runs.
    let url = host.url("/fill/c/precious?size=104857600&chunk=65536&byte=2");
    let upload = std::thread::spawn(move || {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(120)).build();
        agent.post(&url).send_string("").is_ok()
    });
    let temporary = || {
        std::fs::read_dir(&container)
            .unwrap()
            .map_while(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .count()
    };
    eventually(Duration::from_secs(60), "the upload's temporary file appears", || (temporary() > 0).then_some(()));
    host.stop("KILL");
    assert!(!upload.join().unwrap(), "the upload cannot have finished");
    assert_eq!(temporary(), 1, "the interrupted upload left its temporary file");
    assert_eq!(std::fs::metadata(container.join("precious")).unwrap().len(), OLD as u64, "the old object is whole");

    host.start();
    assert_eq!(temporary(), 0, "cleaned when the actor is bound again");
    assert!(host.log().contains("removed 1 temporary file(s) of uploads a crash interrupted"), "{}", host.log());
    assert_eq!(
        ok(&host, http_get(&host.url("/digest/c/precious?1048576"))),
        format!("bytes={OLD} chunks=8 fnv={}", fnv(std::iter::repeat_n(1u8, OLD)))
    );
}

#[test]
fn names_that_would_leave_the_actors_root_and_symbolic_links_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[], "");
    let port = port_of(&host);
    ok(&host, http_post(&host.url("/container/c"), ""));
    let (status, body) = raw_request(port, "POST", "/container/..");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("container `..` is refused: it would leave the actor's root"), "{body}");
    let (status, body) = raw_request(port, "GET", "/info/c/..");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("object id `..` is refused"), "{body}");
    let (status, body) = raw_request(port, "PUT", "/blob/c/.hidden");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("starts with `.`"), "{body}");

    // A link planted in the actor's root is not followed.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "do not read").unwrap();
    std::os::unix::fs::symlink(outside.path(), actor_root(&host).join("planted")).unwrap();
    let (status, body) = http_get(&host.url("/list/planted"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("container `planted` is a symbolic link on disk and is refused"), "{body}");
    std::os::unix::fs::symlink(outside.path().join("secret"), actor_root(&host).join("c/secret")).unwrap();
    let (status, body) = http_get(&host.url("/blob/c/secret?4096"));
    assert_eq!(status, 500, "{body}");
    assert!(!body.contains("do not read"), "{body}");
}

#[test]
fn a_quota_overrun_is_refused_by_name_and_what_is_stored_stays() {
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[], "MAX_BYTES = \"1000\", MAX_OBJECTS = \"2\"");
    ok(&host, http_post(&host.url("/container/c"), ""));
    ok(&host, http_put(&host.url("/blob/c/a?4096"), &text(600)));
    let (status, body) = http_put(&host.url("/blob/c/b?4096"), &text(600));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("quota: 600 more bytes would make 1200, over MAX_BYTES (1000)"), "{body}");
    ok(&host, http_put(&host.url("/blob/c/a?4096"), &text(900)));
    ok(&host, http_put(&host.url("/blob/c/b?4096"), &text(50)));
    let (status, body) = http_put(&host.url("/blob/c/third?4096"), "x");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("over MAX_OBJECTS (2)"), "{body}");
    assert_eq!(ok(&host, http_get(&host.url("/list/c"))), "a 900\nb 50\n");
}

#[test]
fn containers_outside_the_signed_grant_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &["container:photos"], "");
    ok(&host, http_post(&host.url("/container/photos"), ""));
    let (status, body) = http_post(&host.url("/container/secrets"), "");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("container `secrets` is outside the grant for wascc:blobstore (signed: container:photos)"), "{body}");
}
