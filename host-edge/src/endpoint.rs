//! The host's own HTTP endpoint: liveness, readiness and Prometheus metrics.
//!
//! A supervisor (systemd's watchdog script, a Kubernetes-style probe, the
//! fleet's own checks) and a Prometheus server need to ask a running host
//! how it is without a control socket: `GET /livez` answers 200 while the
//! host's threads serve, `GET /readyz` 200 when everything it runs is
//! healthy and 503 naming what is not, and `GET /metrics` the text
//! exposition of [`metrics`](host_edge_runtime::metrics). It listens on loopback unless
//! the manifest opens it wider, on one thread of its own, and never
//! changes anything.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

/// What the endpoint asks the host. Both are called on a blocking thread,
/// so they may take a moment (a provider's health check).
pub trait Observed: Send + Sync + 'static {
    /// `Ok` when ready to serve, else every reason it is not.
    fn readiness(&self) -> Result<(), Vec<String>>;
    /// The metrics in Prometheus's text format.
    fn metrics(&self) -> String;
}

/// The most connections served at once; the endpoint is for probes and
/// scrapers, not for load.
const MAX_CONNECTIONS: usize = 16;

/// How long a connection may take to send a request head, and how long
/// it may sit idle between requests: past it, it is closed and its slot
/// freed. Without it [`MAX_CONNECTIONS`] silent connections would shut
/// every probe and scraper out for as long as they stay open.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A running endpoint; [`stop`](Endpoint::stop) or dropping it stops it.
pub struct Endpoint {
    address: SocketAddr,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Binds `address` now (so a taken port is an error here) and serves
    /// `observed` on a thread of its own.
    pub fn start(address: SocketAddr, observed: Arc<dyn Observed>) -> std::io::Result<Endpoint> {
        let listener = std::net::TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().max_blocking_threads(2).build()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new().name("endpoint".into()).spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => serve(listener, observed, stopped).await,
                    Err(e) => tracing::error!(%address, "the health and metrics endpoint cannot listen: {e}"),
                }
            });
        })?;
        tracing::info!(%address, "health and metrics endpoint: /livez, /readyz, /metrics");
        Ok(Endpoint { address, stop: Some(stop), thread: Some(thread) })
    }

    /// The address it listens on (with the port chosen, for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops listening and waits for the endpoint's thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    observed: Arc<dyn Observed>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue; // over the limit: the connection is dropped
        };
        let observed = Arc::clone(&observed);
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |request| answer(Arc::clone(&observed), request));
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopped.changed() => connection.as_mut().graceful_shutdown(),
            }
        });
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}

async fn answer(observed: Arc<dyn Observed>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, PLAIN, "only GET\n".to_owned()));
    }
    let response = match request.uri().path() {
        "/livez" => text(StatusCode::OK, PLAIN, "live\n".to_owned()),
        "/readyz" => match tokio::task::spawn_blocking(move || observed.readiness()).await {
            Ok(Ok(())) => text(StatusCode::OK, PLAIN, "ready\n".to_owned()),
            Ok(Err(reasons)) => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, format!("not ready:\n{}\n", reasons.join("\n"))),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, PLAIN, format!("the readiness check failed: {e}\n")),
        },
        "/metrics" => match tokio::task::spawn_blocking(move || observed.metrics()).await {
            Ok(body) => text(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", body),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, PLAIN, format!("the metrics could not be read: {e}\n")),
        },
        _ => text(StatusCode::NOT_FOUND, PLAIN, "try /livez, /readyz or /metrics\n".to_owned()),
    };
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpStream;
    use std::time::Duration;

    use super::*;

    struct Healthy;

    impl Observed for Healthy {
        fn readiness(&self) -> Result<(), Vec<String>> {
            Ok(())
        }
        fn metrics(&self) -> String {
            String::new()
        }
    }

    #[test]
    fn silent_connections_are_closed_so_they_cannot_hold_every_slot() {
        let endpoint = Endpoint::start("127.0.0.1:0".parse().unwrap(), Arc::new(Healthy)).unwrap();
        let silent: Vec<TcpStream> = (0..MAX_CONNECTIONS).map(|_| TcpStream::connect(endpoint.address()).unwrap()).collect();
        for mut stream in silent {
            // Far past the timeout, so a slow machine cannot fail it.
            stream.set_read_timeout(Some(HEADER_READ_TIMEOUT * 12)).unwrap();
            let mut byte = [0u8; 1];
            let read = stream.read(&mut byte);
            assert!(matches!(read, Ok(0)), "the endpoint closes a connection that sends nothing: {read:?}");
        }
        let mut probe = TcpStream::connect(endpoint.address()).unwrap();
        probe.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        std::io::Write::write_all(&mut probe, b"GET /livez HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        let _ = probe.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}
