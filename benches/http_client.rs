//! `wascc:http_client` costs, beside a native hyper client in the same run,
//! against a keep-alive hyper server on loopback:
//! - one request at a time: an actor's `PerformRequest` (the echo actor's
//!   `HostCall`) and the native client's GET, for a 64-byte and a 256 KiB
//!   body;
//! - requests per second with 4 callers at once (4 actor instances, and 4
//!   threads of the native client).
//!
//! Run with `cargo bench -p host-edge-benches --bench http_client`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codec::http::Request;
use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::Policy;
use host_edge_runtime::Limits;
use host_edge_runtime::{Host, LinkSpec};
use host_edge_benches::measure;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use testkit::{actor_module, free_port, provider_archive, Signer};

const CLIENT: &str = "wascc:http_client";
const CALLERS: usize = 4;
const PER_CALLER: usize = 2000;
const MAX_TIME: Duration = Duration::from_secs(10);

/// A keep-alive server answering `/small` with 64 bytes and `/large` with
/// 256 KiB.
fn server(port: u16) -> tokio::runtime::Runtime {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).unwrap();
    let small = Bytes::from(vec![b's'; 64]);
    let large = Bytes::from(vec![b'l'; 256 << 10]);
    runtime.spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (small, large) = (small.clone(), large.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let body = if request.uri().path() == "/large" { large.clone() } else { small.clone() };
                    async move { Ok::<_, Infallible>(hyper::Response::new(Full::new(body))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    runtime
}

/// The echo actor's HostCall payload for a GET of `url`.
fn perform_call(url: &str) -> Vec<u8> {
    let request = Request { method: "GET".into(), path: url.into(), ..Request::default() };
    let mut payload = format!("default\n{CLIENT}\nPerformRequest\n").into_bytes();
    payload.extend_from_slice(&codec::serialize(&request).unwrap());
    payload
}

/// Runs `call` from CALLERS threads, each up to PER_CALLER times within
/// MAX_TIME; prints and returns requests per second.
fn throughput(label: &str, call: impl Fn() + Send + Sync + 'static) -> f64 {
    let call = Arc::new(call);
    let started = Instant::now();
    let threads: Vec<_> = (0..CALLERS)
        .map(|_| {
            let call = Arc::clone(&call);
            std::thread::spawn(move || {
                let mut done = 0;
                while done < PER_CALLER && started.elapsed() < MAX_TIME {
                    call();
                    done += 1;
                }
                done
            })
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("{label:<44} {total} requests in {:.2?}: {rate:.0}/s", started.elapsed());
    rate
}

fn main() {
    let port = free_port();
    let _server = server(port);
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");

    let host = Host::new(Policy::default());
    host.add_provider("client", &provider_archive("http_client")).unwrap();
    let signed = Signer::new().sign(&actor_module("echo"), "echo", &[CLIENT]);
    let key = host.start_actor(host.load(&signed).unwrap(), CALLERS, Limits::default()).unwrap();
    host.link(LinkSpec {
        actor: key.clone(),
        capability: CapabilityId::parse(CLIENT).unwrap(),
        binding: "default".into(),
        provider: "client".into(),
        // The upstream listens on loopback, which the client refuses
        // unless the link allows it.
        values: [("ALLOW_LOOPBACK".to_owned(), "true".to_owned())].into(),
        grant: vec![format!("host:127.0.0.1:{port}")],
    })
    .unwrap();

    let native_runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let native: hyper_util::client::legacy::Client<_, Empty<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let native = Arc::new((native, native_runtime));
    let native_get = {
        let native = Arc::clone(&native);
        move |url: &str| -> usize {
            let (client, runtime) = &*native;
            let uri: hyper::Uri = url.parse().unwrap();
            runtime.block_on(async {
                let response = client.get(uri).await.unwrap();
                response.into_body().collect().await.unwrap().to_bytes().len()
            })
        }
    };

    println!("HTTP client, one keep-alive hyper server on loopback; actor = echo's HostCall PerformRequest");
    for (label, path, size) in [("64 B", "/small", 64), ("256 KiB", "/large", 256 << 10)] {
        let call = perform_call(&url(path));
        let reply = host.call(&key, "HostCall", &call).unwrap();
        let response: codec::http::Response = codec::deserialize(&reply).unwrap();
        assert_eq!((response.status_code, response.body.len()), (200, size));
        assert_eq!(native_get(&url(path)), size);
        let actor = measure(&format!("actor PerformRequest, {label}"), 50, 5000, MAX_TIME, || {
            host.call(&key, "HostCall", &call).unwrap();
        });
        let baseline = measure(&format!("native hyper GET, {label}"), 50, 5000, MAX_TIME, || {
            native_get(&url(path));
        });
        println!("{:<44} {:.2}x native's latency", format!("actor / native, {label}"), actor.as_secs_f64() / baseline.as_secs_f64());
    }

    let call = perform_call(&url("/small"));
    let actor_rate = {
        let host = host.clone();
        let key = key.clone();
        throughput(&format!("actor PerformRequest, {CALLERS} callers"), move || {
            host.call(&key, "HostCall", &call).unwrap();
        })
    };
    let small = url("/small");
    let native_rate = throughput(&format!("native hyper GET, {CALLERS} callers"), move || {
        native_get(&small);
    });
    println!("{:<44} {:.2}x native's requests per second", "actor / native, 4 callers", actor_rate / native_rate);
    host.shutdown();
}
