//! `wascc:http_client`, end to end: the `host-edge` binary, the HTTP client
//! and server providers, an actor built with waSCC's own SDK
//! (`actors/wascc-fetch`, wascc-actor 0.7) and real HTTP servers on
//! loopback. The actor answers `GET /fetch?URL` with the upstream status on
//! the first line and the body after it, or 500 with the host's message.

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::SignOptions;
use host_edge_runtime::grant::Rule;
use testkit::host::{http_entries, HostProcess};
use testkit::upstream::Upstream;
use testkit::{actor_module, free_port, http_get, http_post, options, provider_archive, Signer};

const HTTP_CLIENT: &str = "wascc:http_client";
const HTTP: &str = "wascc:http_server";

/// The fetch actor, signed with `grants` for wascc:http_client (none: no
/// grant at all), served with the HTTP client linked with `values` (a TOML
/// inline-table body) and `ALLOW_LOOPBACK = "true"`: the upstream servers
/// of these tests listen on loopback, which the client refuses otherwise.
fn deploy(dir: &std::path::Path, grants: &[String], values: &str) -> HostProcess {
    let values = if values.is_empty() { r#"ALLOW_LOOPBACK = "true""#.to_owned() } else { format!(r#"ALLOW_LOOPBACK = "true", {values}"#) };
    deploy_guarded(dir, grants, &values)
}

/// [`deploy`] with the link `values` only: loopback refused unless they
/// allow it.
fn deploy_guarded(dir: &std::path::Path, grants: &[String], values: &str) -> HostProcess {
    let mut options = options("wascc-fetch", &[HTTP_CLIENT, HTTP]);
    if !grants.is_empty() {
        let rules: Vec<Rule> = grants.iter().map(|g| g.parse().unwrap()).collect();
        options = SignOptions { grants: [(CapabilityId::parse(HTTP_CLIENT).unwrap(), rules)].into(), ..options };
    }
    std::fs::write(dir.join("actor.wasm"), Signer::new().sign_with(&actor_module("wascc_fetch"), &options)).unwrap();
    let port = free_port();
    let manifest = format!(
        r#"
[[actor]]
path = "actor.wasm"
instances = 2

[[provider]]
name = "client"
path = "{client}"

[[link]]
actor = "wascc-fetch"
capability = "wascc:http_client"
provider = "client"
values = {{ {values} }}
{http}"#,
        client = provider_archive("http_client").display(),
        http = http_entries("wascc-fetch", port),
    );
    let mut host = HostProcess::new(dir, &manifest, port);
    host.start();
    host
}

fn fetch(host: &HostProcess, url: &str) -> (u16, String) {
    http_get(&host.url(&format!("/fetch?{url}")))
}

fn host_grant(upstream: &Upstream) -> String {
    format!("host:127.0.0.1:{}", upstream.port())
}

#[test]
fn an_actor_fetches_from_a_granted_loopback_server_and_posts_to_it() {
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[host_grant(&upstream)], "");
    assert_eq!(fetch(&host, &upstream.url("/hello")), (200, "200\nhello from upstream".to_owned()));
    assert_eq!(fetch(&host, &upstream.url("/missing")), (200, "404\nno such route".to_owned()));
    let (status, body) = http_post(&host.url(&format!("/fetch?{}", upstream.url("/echo"))), "reading=21.5");
    assert_eq!((status, body.as_str()), (200, "200\nPOST reading=21.5"));
    assert!(host.log().contains(&format!("may reach signed: host:127.0.0.1:{}", upstream.port())), "{}", host.log());
}

#[test]
fn another_port_or_host_is_refused_by_name_and_never_contacted() {
    let granted = Upstream::start();
    let other = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[host_grant(&granted)], "");
    let (status, body) = fetch(&host, &other.url("/hello"));
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains(&format!("host `127.0.0.1:{}` (in {}) is outside the grant for wascc:http_client", other.port(), other.url("/hello"))),
        "{body}"
    );
    let (status, body) = fetch(&host, &format!("http://localhost:{}/hello", granted.port()));
    assert_eq!(status, 500, "another name for the same address is another host: {body}");
    assert!(body.contains(&format!("host `localhost:{}`", granted.port())), "{body}");
    assert!(other.seen().is_empty(), "{:?}", other.seen());
}

#[test]
fn a_redirect_to_a_host_outside_the_grant_is_refused_and_never_followed() {
    // CVE-2024-32980: Spin's allowed_outbound_hosts was bypassed through a
    // redirect from an allowed host to another.
    let granted = Upstream::start();
    let outside = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[host_grant(&granted)], "");
    let redirect = granted.url(&format!("/redirect?{}", outside.url("/hello")));
    let (status, body) = fetch(&host, &redirect);
    assert_eq!(status, 500, "{body}");
    assert!(body.contains(&format!("the redirect from {redirect} was not followed")), "{body}");
    assert!(body.contains(&format!("host `127.0.0.1:{}`", outside.port())), "{body}");
    assert!(body.contains("is outside the grant for wascc:http_client"), "{body}");
    assert!(outside.seen().is_empty(), "the outside host was contacted: {:?}", outside.seen());
    assert_eq!(granted.seen(), [format!("GET /redirect?{}", outside.url("/hello"))]);

    // A redirect within the grant is followed.
    let inside = granted.url(&format!("/redirect?{}", granted.url("/hello")));
    assert_eq!(fetch(&host, &inside), (200, "200\nhello from upstream".to_owned()));
}

#[test]
fn a_link_grant_narrows_the_signed_one() {
    let first = Upstream::start();
    let second = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    // Signed for any loopback port; the manifest's link allows one.
    std::fs::create_dir_all(dir.path()).unwrap();
    let host = {
        let mut host = deploy(dir.path(), &["host:127.0.0.1:*".to_owned()], "");
        host.stop("TERM");
        let manifest = std::fs::read_to_string(dir.path().join("manifest.toml")).unwrap().replacen(
            "provider = \"client\"\n",
            &format!("provider = \"client\"\ngrant = [\"host:127.0.0.1:{}\"]\n", first.port()),
            1,
        );
        std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
        host.start();
        host
    };
    assert_eq!(fetch(&host, &first.url("/hello")).0, 200);
    let (status, body) = fetch(&host, &second.url("/hello"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("link: host:127.0.0.1:"), "the refusal shows the link's layer: {body}");
    assert!(second.seen().is_empty());
}

#[test]
fn a_server_that_never_answers_times_out_cleanly_and_the_host_keeps_serving() {
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[host_grant(&upstream)], "TIMEOUT_MS = \"1500\"");
    // The provider's own timeout answered: the body says which one.
    let (status, body) = fetch(&host, &upstream.url("/silent"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("no complete answer from") && body.contains("within TIMEOUT_MS (1500 ms)"), "{body}");
    assert_eq!(fetch(&host, &upstream.url("/hello")).0, 200, "the actor still fetches");
}

#[test]
fn a_port_nothing_listens_on_is_unavailable_not_a_hang() {
    let closed = free_port();
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[format!("host:127.0.0.1:{closed}")], "");
    let (status, body) = fetch(&host, &format!("http://127.0.0.1:{closed}/"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains(&format!("cannot connect to http://127.0.0.1:{closed}/")), "{body}");
}

#[test]
fn a_response_over_the_size_limit_fails_by_name() {
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[host_grant(&upstream)], "MAX_RESPONSE_BYTES = \"1000\"");
    let (status, body) = fetch(&host, &upstream.url("/bytes/1000"));
    assert_eq!((status, body.len()), (200, "200\n".len() + 1000), "{body}");
    let (status, body) = fetch(&host, &upstream.url("/bytes/1001"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("is larger than MAX_RESPONSE_BYTES (1000 bytes): 1001 bytes announced"), "{body}");
}

#[test]
fn urls_that_are_not_http_are_refused_as_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let host = deploy(dir.path(), &[], "");
    let (status, body) = fetch(&host, "file:///etc/passwd");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("only http:// and https:// URLs are served"), "{body}");
    assert!(host.log().contains("may reach any host"), "an ungranted actor is reported: {}", host.log());
}

#[test]
fn an_actor_without_allow_loopback_cannot_reach_loopback_services_by_address_or_by_name() {
    // An ungranted actor could fetch the host's own services on loopback
    // (the metrics port, a local Redis); a name resolving to 127.0.0.1
    // reached them as well.
    let upstream = Upstream::start();
    let port = upstream.port();
    let dir = tempfile::tempdir().unwrap();
    let host = deploy_guarded(dir.path(), &[], "");
    for (url, says) in [
        (upstream.url("/hello"), "127.0.0.1 is a loopback address".to_owned()),
        (format!("http://0.0.0.0:{port}/hello"), "0.0.0.0 is an unspecified address".to_owned()),
        (format!("http://[::ffff:127.0.0.1]:{port}/hello"), "is a loopback address".to_owned()),
        (format!("http://2130706433:{port}/hello"), "127.0.0.1 is a loopback address".to_owned()),
        (format!("http://localhost:{port}/hello"), "`localhost` resolves to".to_owned()),
    ] {
        let (status, body) = fetch(&host, &url);
        assert_eq!(status, 500, "{url}: {body}");
        assert!(body.contains(&says), "{url}: {body}");
        assert!(body.contains("unless the link sets ALLOW_LOOPBACK = \"true\""), "{url}: {body}");
    }
    assert!(upstream.seen().is_empty(), "the loopback server was contacted: {:?}", upstream.seen());
    drop(host);

    // A grant naming the address does not lift it: the link must.
    let dir = tempfile::tempdir().unwrap();
    let host = deploy_guarded(dir.path(), &[host_grant(&upstream)], "");
    let (status, body) = fetch(&host, &upstream.url("/hello"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("127.0.0.1 is a loopback address"), "{body}");
    assert!(upstream.seen().is_empty(), "{:?}", upstream.seen());
    drop(host);
    let dir = tempfile::tempdir().unwrap();
    let host = deploy_guarded(dir.path(), &[host_grant(&upstream)], r#"ALLOW_LOOPBACK = "true""#);
    assert_eq!(fetch(&host, &upstream.url("/hello")), (200, "200\nhello from upstream".to_owned()));
}
