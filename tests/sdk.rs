//! The actor SDK (`actors/sdk`), end to end: `actors/sdk-tour` drives every
//! client through its real provider (SQLite and Redis key-value, the file
//! blobstore, the HTTP client against servers on loopback, the built-in
//! logging and extras), run by the `host-edge` binary.

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::{Policy, SignOptions};
use host_edge_runtime::Limits;
use host_edge_runtime::grant::Rule;
use host_edge_runtime::Host;
use testkit::host::{http_entries, HostProcess};
use testkit::upstream::Upstream;
use testkit::{actor_module, free_port, http_get, http_post, http_put, options, provider_archive, redis_url, Signer};

const CAPS: [&str; 6] =
    ["wascc:http_server", "wascc:keyvalue", "wascc:blobstore", "wascc:http_client", "wascc:logging", "wascc:extras"];

/// The tour actor, allowed to fetch from `granted`, with `keyvalue` (a
/// provider library and its link values) as its store.
fn deploy(dir: &std::path::Path, granted: &Upstream, (kv, kv_values): (&str, String)) -> HostProcess {
    let rules: Vec<Rule> = vec![format!("host:127.0.0.1:{}", granted.port()).parse().unwrap()];
    let grants = [(CapabilityId::parse("wascc:http_client").unwrap(), rules)].into();
    let options = SignOptions { grants, ..options("sdk-tour", &CAPS) };
    std::fs::write(dir.join("actor.wasm"), Signer::new().sign_with(&actor_module("sdk_tour"), &options)).unwrap();
    let port = free_port();
    let manifest = format!(
        r#"
[[actor]]
path = "actor.wasm"

[[provider]]
name = "kv"
path = "{kv}"

[[provider]]
name = "blobs"
path = "{blobs}"

[[provider]]
name = "client"
path = "{client}"

[[link]]
actor = "sdk-tour"
capability = "wascc:keyvalue"
provider = "kv"
values = {{ {kv_values} }}

[[link]]
actor = "sdk-tour"
capability = "wascc:blobstore"
provider = "blobs"

[[link]]
actor = "sdk-tour"
capability = "wascc:http_client"
provider = "client"
# The granted upstream listens on loopback, which the client refuses
# unless the link allows it.
values = {{ ALLOW_LOOPBACK = "true" }}
{http}"#,
        kv = provider_archive(kv).display(),
        blobs = provider_archive("blobstore_fs").display(),
        client = provider_archive("http_client").display(),
        http = http_entries("sdk-tour", port),
    );
    let mut host = HostProcess::new(dir, &manifest, port);
    host.start();
    host
}

fn on_sqlite(dir: &std::path::Path, granted: &Upstream) -> HostProcess {
    deploy(dir, granted, ("keyvalue_sqlite", format!("PATH = \"{}\"", dir.join("kv.db").display())))
}

fn ok(host: &HostProcess, (status, body): (u16, String)) -> String {
    assert_eq!(status, 200, "{body}\n{}", host.log());
    body
}

/// What `POST /keyvalue` answers on a store where its keys are new.
const KEYVALUE_TOUR: &str = r#"get None
set ()
get Some("v")
exists true
atomic_add 5
atomic_add 3
list_add 1
list_add 2
list_add 3
list_del_item 1
list_range ["x", "z"]
list_clear ()
list_range []
set_add 1
set_add 1
set_add 0
set_add 1
set_add 1
set_members ["1", "2"]
set_union ["1", "2", "3"]
set_intersect ["2"]
set_remove 1
del_key ()
exists false"#;

#[test]
fn every_keyvalue_call_of_the_sdk_answers_alike_on_sqlite_and_redis() {
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let host = on_sqlite(dir.path(), &upstream);
    assert_eq!(ok(&host, http_post(&host.url("/keyvalue?prefix=tour:"), "")), KEYVALUE_TOUR);

    let dir = tempfile::tempdir().unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!("sdk-tour:{}:{nanos}:", std::process::id());
    let host = deploy(dir.path(), &upstream, ("keyvalue_redis", format!("URL = \"{}\"", redis_url())));
    assert_eq!(ok(&host, http_post(&host.url(&format!("/keyvalue?prefix={prefix}")), "")), KEYVALUE_TOUR);
}

#[test]
fn extras_and_log_lines_from_the_sdk_need_no_provider_and_carry_the_actor_identity() {
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let host = on_sqlite(dir.path(), &upstream);
    let body = ok(&host, http_get(&host.url("/extras")));
    let field = |key: &str| -> Vec<String> {
        body.lines().filter_map(|l| l.strip_prefix(&format!("{key}="))).map(str::to_owned).collect()
    };
    assert_eq!(field("sequence"), ["0", "1"], "{body}");
    assert_eq!(field("guid")[0].len(), 36, "{body}");
    assert!((1..=6).contains(&field("random")[0].parse::<u32>().unwrap()), "{body}");

    assert_eq!(ok(&host, http_post(&host.url("/log?level=warn"), "the door is open")), "logged");
    let log = host.log();
    let line = log.lines().find(|l| l.contains("the door is open")).unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("WARN") && line.contains(r#"name="sdk-tour""#), "{line}");
    let (status, body) = http_post(&host.url("/log?level=loud"), "x");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("level: error, warn, info, debug or trace"), "{body}");
}

#[test]
fn the_http_client_fetches_a_granted_server_and_a_refusal_carries_the_hosts_message_and_kind() {
    let (granted, other) = (Upstream::start(), Upstream::start());
    let dir = tempfile::tempdir().unwrap();
    let host = on_sqlite(dir.path(), &granted);
    let body = ok(&host, http_get(&host.url(&format!("/fetch?url={}", granted.url("/hello")))));
    assert_eq!(body, "200\nhello from upstream");

    let (status, body) = http_get(&host.url(&format!("/fetch?url={}", other.url("/hello"))));
    assert_eq!(status, 403, "a refused grant is answered as one: {body}");
    assert!(body.contains(&format!("host `127.0.0.1:{}`", other.port())), "{body}");
    assert!(body.contains("is outside the grant for wascc:http_client"), "{body}");
    assert!(!body.contains("Host error"), "the host's message is not wrapped: {body}");
    assert!(other.seen().is_empty());
}

#[test]
fn a_blob_uploaded_in_chunks_comes_back_whole_through_receive_chunk() {
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let host = on_sqlite(dir.path(), &upstream);
    let content: String = (0..10_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    assert_eq!(ok(&host, http_put(&host.url("/blob/photos/door.txt?chunk=1000"), &content)), "stored 10000 bytes");
    assert_eq!(ok(&host, http_get(&host.url("/blob/photos/door.txt?chunk=777"))), content);
    assert_eq!(ok(&host, http_get(&host.url("/blob/photos"))), "door.txt 10000\n");
    assert!(ok(&host, http_get(&host.url("/info/photos/door.txt"))).contains("byte_size: 10000"));

    let (status, body) = http_put(&host.url("/blob/photos/empty.txt?chunk=0"), "abc");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("cannot upload photos/empty.txt in chunks of 0 bytes"), "{body}");

    assert_eq!(ok(&host, http_delete(&host.url("/blob/photos/door.txt"))), "removed");
    assert_eq!(ok(&host, http_get(&host.url("/blob/photos"))), "");
    assert_eq!(ok(&host, http_delete(&host.url("/blob/photos"))), "removed");
}

#[test]
fn an_sdk_actor_answers_the_health_probe_without_a_handler_of_its_own() {
    let host = Host::new(Policy::default());
    let signed = Signer::new().sign(&actor_module("counter"), "counter", &["wascc:http_server"]);
    let key = host.start_actor(host.load(&signed).unwrap(), 1, Limits::default()).unwrap();
    let probe = codec::serialize(&codec::core::HealthRequest { placeholder: false }).unwrap();
    assert_eq!(host.call(&key, "HealthRequest", &probe).unwrap(), [0xc0], "msgpack nil");
    let err = host.call(&key, "NoSuchOperation", b"").unwrap_err();
    assert!(err.to_string().contains("No handler registered for function NoSuchOperation"), "{err}");
}

fn http_delete(url: &str) -> (u16, String) {
    let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(60)).build();
    match agent.delete(url).call() {
        Ok(response) => (response.status(), response.into_string().expect("a text body")),
        Err(ureq::Error::Status(status, response)) => (status, response.into_string().expect("a text body")),
        Err(e) => panic!("DELETE {url}: {e}"),
    }
}
