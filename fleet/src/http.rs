//! The fleet agent's HTTP client: one GET over HTTP/1.1, plain or TLS, for
//! the modules a deployment names by URL and the probe's HTTP checks.
//!
//! It runs on what the host already links: hyper (the metrics endpoint's
//! HTTP), rustls with ring and tokio-rustls (the MQTT link's TLS, with the
//! same choice of roots: the system's), on a one-thread tokio runtime made
//! for the request. A second client stack (reqwest, with a connection pool,
//! a redirect engine and a URL crate of its own) cost the binary about a
//! megabyte for two GETs a deployment.
//!
//! Every step is bounded: the connection by [`CONNECT_TIMEOUT`], the whole
//! request by the caller's timeout, the body by the caller's limit, the
//! redirects a download follows by [`MAX_REDIRECTS`].

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// How long a TCP connection (and its TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many redirects a download follows.
pub const MAX_REDIRECTS: usize = 5;

/// Why a GET failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL cannot be fetched: not `http` or `https`, no host, unparsable.
    #[error("`{url}` is not a URL this client fetches: {why}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// No connection within [`CONNECT_TIMEOUT`], or it was refused.
    #[error("cannot connect to {authority}: {why}")]
    Connect {
        /// The host and port.
        authority: String,
        /// The reason.
        why: String,
    },
    /// The TLS handshake failed (an untrusted certificate, say).
    #[error("TLS with {authority}: {why}")]
    Tls {
        /// The host and port.
        authority: String,
        /// The reason.
        why: String,
    },
    /// The exchange failed after the connection was made.
    #[error("HTTP: {0}")]
    Protocol(String),
    /// The whole request took longer than allowed.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// The body was longer than the caller takes.
    #[error("the body is longer than {0} bytes")]
    TooLong(u64),
    /// More redirects than [`MAX_REDIRECTS`], or one without a usable
    /// `location`.
    #[error("{0}")]
    Redirect(String),
    /// The caller's sink refused the body.
    #[error("{0}")]
    Sink(std::io::Error),
}

/// What a GET is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A health check: the status is the answer. A redirect is reported,
    /// not followed, and no body is read.
    Status,
    /// A download: redirects are followed (up to [`MAX_REDIRECTS`]; the
    /// bytes are checked against the signed hash wherever they come from),
    /// and a success's body, up to `limit` bytes, goes to the sink.
    Download {
        /// The most bytes taken.
        limit: u64,
    },
}

/// The status `url` answers a GET with, within `timeout`.
pub fn status(url: &str, timeout: Duration) -> Result<StatusCode, HttpError> {
    get(url, timeout, Purpose::Status, &mut |_| Ok(()))
}

/// GETs `url` within `timeout`, following redirects, and passes a
/// success's body to `sink` as it arrives, at most `limit` bytes of it.
/// Returns the final status.
pub fn download(
    url: &str,
    timeout: Duration,
    limit: u64,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<StatusCode, HttpError> {
    get(url, timeout, Purpose::Download { limit }, sink)
}

fn get(
    url: &str,
    timeout: Duration,
    purpose: Purpose,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<StatusCode, HttpError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| HttpError::Protocol(format!("the client's runtime: {e}")))?;
    runtime.block_on(async {
        match tokio::time::timeout(timeout, follow(url, purpose, sink)).await {
            Ok(answer) => answer,
            Err(_) => Err(HttpError::Timeout(timeout)),
        }
    })
}

/// The GET of `url`, then, for a download, of each redirect's target.
async fn follow(url: &str, purpose: Purpose, sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> Result<StatusCode, HttpError> {
    let limit = match purpose {
        Purpose::Status => return Ok(Target::parse(url)?.send().await?.status()),
        Purpose::Download { limit } => limit,
    };
    let mut target = Target::parse(url)?;
    for _ in 0..=MAX_REDIRECTS {
        let response = target.send().await?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| HttpError::Redirect(format!("{} answered {status} without a location", target.url)))?;
            target = target.redirected(location)?;
            continue;
        }
        if status.is_success() {
            let mut body = response.into_body();
            let mut read = 0u64;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| HttpError::Protocol(e.to_string()))?;
                if let Some(data) = frame.data_ref() {
                    read += data.len() as u64;
                    if read > limit {
                        return Err(HttpError::TooLong(limit));
                    }
                    sink(data).map_err(HttpError::Sink)?;
                }
            }
        }
        return Ok(status);
    }
    Err(HttpError::Redirect(format!("more than {MAX_REDIRECTS} redirects from {url}")))
}

/// A parsed `http` or `https` URL.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    tls: bool,
    /// The host as DNS or a socket address wants it (no brackets).
    host: String,
    port: u16,
    /// `host[:port]` as the `host` header carries it.
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, HttpError> {
        let bad = |why: &str| HttpError::Url { url: url.to_owned(), why: why.to_owned() };
        if !url.contains("://") {
            return Err(bad("it has no scheme (http:// or https://)"));
        }
        let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => return Err(bad(&format!("the scheme `{other}` is neither http nor https"))),
            None => return Err(bad("it has no scheme")),
        };
        let authority = uri.authority().ok_or_else(|| bad("it names no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user information in a URL is not sent"));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        if host.is_empty() {
            return Err(bad("it names no host"));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        Ok(Target { url: url.to_owned(), tls, host, port, authority: authority.as_str().to_owned(), path })
    }

    /// The target a redirect's `location` names: an absolute URL, or an
    /// absolute path on the same server.
    fn redirected(&self, location: &str) -> Result<Target, HttpError> {
        if location.starts_with('/') && !location.starts_with("//") {
            let scheme = if self.tls { "https" } else { "http" };
            return Target::parse(&format!("{scheme}://{}{location}", self.authority));
        }
        let next = Target::parse(location).map_err(|e| HttpError::Redirect(format!("{} redirected to {e}", self.url)))?;
        if self.tls && !next.tls {
            return Err(HttpError::Redirect(format!("{} redirected from https to plain http ({location}); refused", self.url)));
        }
        Ok(next)
    }

    /// Connects, sends the GET and returns the response head (its body
    /// still to read).
    async fn send(&self) -> Result<hyper::Response<hyper::body::Incoming>, HttpError> {
        let authority = format!("{}:{}", self.host, self.port);
        let connect_failed = |why: String| HttpError::Connect { authority: authority.clone(), why };
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((self.host.as_str(), self.port)))
            .await
            .map_err(|_| connect_failed(format!("no connection within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| connect_failed(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = if self.tls {
            let tls_failed = |why: String| HttpError::Tls { authority: authority.clone(), why };
            let config = mqtt_broker::client_tls(&mqtt_broker::Tls { ca_file: None, client: None }).map_err(|e| tls_failed(e.to_string()))?;
            let name = rustls::pki_types::ServerName::try_from(self.host.clone()).map_err(|e| tls_failed(e.to_string()))?;
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let handshake = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
                .await
                .map_err(|_| tls_failed(format!("no handshake within {CONNECT_TIMEOUT:?}")))?;
            Box::new(handshake.map_err(|e| tls_failed(e.to_string()))?)
        } else {
            Box::new(tcp)
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        // Drives the connection while the response is read; ends with it.
        tokio::spawn(connection);
        let request = Request::get(self.path.as_str())
            .header(hyper::header::HOST, self.authority.as_str())
            .header(hyper::header::USER_AGENT, concat!("host-edge/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        sender.send_request(request).await.map_err(|e| HttpError::Protocol(e.to_string()))
    }
}

/// A connection, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Serves `answers` in order, one connection each, on loopback.
    fn serve(answers: Vec<String>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for answer in answers {
                let (mut stream, _) = listener.accept().unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                    head.push(byte[0]);
                }
                heads.push(String::from_utf8_lossy(&head).into_owned());
                stream.write_all(answer.as_bytes()).unwrap();
            }
            heads
        });
        (port, server)
    }

    fn collect(url: &str, limit: u64) -> (Result<StatusCode, HttpError>, Vec<u8>) {
        let mut body = Vec::new();
        let status = download(url, Duration::from_secs(10), limit, &mut |data| {
            body.extend_from_slice(data);
            Ok(())
        });
        (status, body)
    }

    #[test]
    fn a_download_gets_the_body_and_sends_host_and_path() {
        let (port, server) = serve(vec!["HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello".into()]);
        let (status, body) = collect(&format!("http://127.0.0.1:{port}/m/a.wasm?v=1"), 100);
        assert_eq!(status.unwrap(), StatusCode::OK);
        assert_eq!(body, b"hello");
        let heads = server.join().unwrap();
        assert!(heads[0].starts_with("GET /m/a.wasm?v=1 HTTP/1.1\r\n"), "{}", heads[0]);
        assert!(heads[0].to_ascii_lowercase().contains(&format!("host: 127.0.0.1:{port}\r\n")), "{}", heads[0]);
    }

    #[test]
    fn a_status_check_reads_no_body() {
        let (port, _server) = serve(vec!["HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789".into()]);
        assert_eq!(status(&format!("http://127.0.0.1:{port}/health"), Duration::from_secs(10)).unwrap(), StatusCode::OK);
    }

    #[test]
    fn a_body_longer_than_the_limit_is_refused() {
        let (port, _server) = serve(vec!["HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789".into()]);
        let (status, body) = collect(&format!("http://127.0.0.1:{port}/"), 4);
        assert!(matches!(status, Err(HttpError::TooLong(4))), "{status:?}");
        assert!(body.len() <= 4, "no more than the limit reaches the sink: {}", body.len());
    }

    #[test]
    fn a_download_follows_a_redirect_and_a_status_check_reports_it() {
        let (second, _s2) = serve(vec!["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".into()]);
        let moved = format!("HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{second}/there\r\ncontent-length: 0\r\n\r\n");
        let (first, _s1) = serve(vec![moved.clone(), moved]);
        let (answer, body) = collect(&format!("http://127.0.0.1:{first}/here"), 100);
        assert_eq!((answer.unwrap(), body.as_slice()), (StatusCode::OK, &b"ok"[..]));
        assert_eq!(status(&format!("http://127.0.0.1:{first}/here"), Duration::from_secs(10)).unwrap(), StatusCode::FOUND);
    }

    #[test]
    fn endless_redirects_stop_with_an_error() {
        let again = "HTTP/1.1 301 Moved Permanently\r\nlocation: /again\r\ncontent-length: 0\r\n\r\n".to_owned();
        let (port, _server) = serve(vec![again; MAX_REDIRECTS + 1]);
        let (status, _) = collect(&format!("http://127.0.0.1:{port}/"), 100);
        assert!(matches!(&status, Err(HttpError::Redirect(why)) if why.contains("more than 5 redirects")), "{status:?}");
    }

    #[test]
    fn urls_it_does_not_fetch_are_named() {
        for (url, says) in [
            ("ftp://example.invalid/x", "neither http nor https"),
            ("example.invalid/x", "no scheme"),
            ("http://user:pw@127.0.0.1/x", "user information"),
        ] {
            let (status, _) = collect(url, 10);
            assert!(matches!(&status, Err(e @ HttpError::Url { .. }) if e.to_string().contains(says)), "{url}: {status:?}");
        }
    }

    #[test]
    fn a_closed_port_is_a_connect_error_naming_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let (status, _) = collect(&format!("http://127.0.0.1:{port}/"), 10);
        assert!(matches!(&status, Err(e @ HttpError::Connect { .. }) if e.to_string().contains(&port.to_string())), "{status:?}");
    }

    #[test]
    fn a_redirect_from_https_to_http_is_refused() {
        let from = Target::parse("https://127.0.0.1/a").unwrap();
        assert!(matches!(from.redirected("http://127.0.0.1/b"), Err(HttpError::Redirect(_))));
        assert_eq!(from.redirected("/b").unwrap().url, "https://127.0.0.1/b");
        let v6 = Target::parse("http://[::1]:8080/x").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, v6.authority.as_str()), ("::1", 8080, "[::1]:8080"));
    }
}
