//! One actor's listener: accepting connections within the limits, turning
//! each request into `HandleRequest` and the actor's reply into a response.
//!
//! Every request gets an id ([`request_id`]): the client's own
//! `x-request-id` when it is a sane token, else a new one. The response
//! carries it in `x-request-id`, the actor sees it among the request
//! headers, and when the actor call fails the client gets only a short
//! public phrase, the kind and the id, while the host's log gets the whole
//! (redacted) story under the same id.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use provider_sdk::abi::redact::redact_text;
use provider_sdk::codec::{self, http as messages};
use provider_sdk::{ErrorKind, Host, Level, ProviderError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::config::ServerConfig;

/// A running listener. It serves one actor at a time, or none ("parked":
/// every request is answered 503 until an actor is bound there again).
pub struct Server {
    stop: watch::Sender<bool>,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `config.address` now (so a taken port is reported at link time)
    /// and serves `actor` on `runtime` until stopped.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        config: ServerConfig,
        actor: String,
        host: Host,
    ) -> Result<Server, ProviderError> {
        let listener = std::net::TcpListener::bind(config.address)
            .map_err(|e| ProviderError::unavailable(format!("cannot listen on {}: {e}", config.address)))?;
        listener.set_nonblocking(true).map_err(|e| ProviderError::new(e.to_string()))?;
        let _guard = runtime.enter();
        let listener = TcpListener::from_std(listener).map_err(|e| ProviderError::new(e.to_string()))?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            slots: Arc::new(Semaphore::new(config.max_connections)),
            capacity: Mutex::new(config.max_connections),
            target: RwLock::new(Some(Target { actor, config })),
            host,
        });
        runtime.spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(Server { stop, shared })
    }

    /// The actor served, if any.
    pub fn actor(&self) -> Option<String> {
        self.shared.target().map(|t| t.actor)
    }

    /// Serves `actor` with `config` from now on (the address stays); the
    /// requests already running finish with what they started with.
    pub fn serve(&self, actor: &str, config: ServerConfig) {
        let mut capacity = self.shared.capacity.lock().unwrap_or_else(|e| e.into_inner());
        if config.max_connections > *capacity {
            self.shared.slots.add_permits(config.max_connections - *capacity);
        } else {
            self.shared.slots.forget_permits(*capacity - config.max_connections);
        }
        *capacity = config.max_connections;
        *self.shared.target.write().unwrap_or_else(|e| e.into_inner()) =
            Some(Target { actor: actor.to_owned(), config });
    }

    /// Serves no actor: requests are answered 503 until [`Server::serve`].
    pub fn park(&self) {
        *self.shared.target.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Stops accepting; connections already open finish their requests.
    pub fn stop(self) {
        let _ = self.stop.send(true);
    }
}

#[derive(Clone)]
struct Target {
    actor: String,
    config: ServerConfig,
}

struct Shared {
    target: RwLock<Option<Target>>,
    slots: Arc<Semaphore>,
    capacity: Mutex<usize>,
    host: Host,
}

impl Shared {
    fn target(&self) -> Option<Target> {
        self.target.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: back off, keep serving.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        match Arc::clone(&shared.slots).try_acquire_owned() {
            Ok(slot) => {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    serve_connection(stream, shared).await;
                    drop(slot);
                });
            }
            Err(_) => {
                tokio::spawn(refuse(stream, "503 Service Unavailable", r#"{"error":"too many connections"}"#));
            }
        }
    }
}

/// Answers a connection with a fixed response (under a new request id) and
/// closes it.
async fn refuse(mut stream: TcpStream, status: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{REQUEST_ID}: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len(),
        new_request_id()
    );
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    // hyper closes a connection whose head is late without a word; a second
    // handle on the socket lets us answer 408 first.
    let spare = stream.into_std().and_then(|std| Ok((std.try_clone()?, std)));
    let (spare, stream) = match spare.and_then(|(spare, std)| Ok((spare, TcpStream::from_std(std)?))) {
        Ok(pair) => pair,
        Err(_) => return,
    };
    let service_shared = Arc::clone(&shared);
    let service = service_fn(move |request| {
        let shared = Arc::clone(&service_shared);
        async move { Ok::<_, Infallible>(handle(request, shared).await) }
    });
    let header_read_timeout =
        shared.target().map_or(Duration::from_secs(10), |t| t.config.header_read_timeout);
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = served {
        if e.is_timeout() {
            if let Ok(spare) = TcpStream::from_std(spare) {
                refuse(spare, "408 Request Timeout", r#"{"error":"the request head was not received in time"}"#).await;
            }
        }
    }
}

/// The header carrying a request's id, in both directions.
pub const REQUEST_ID: &str = "x-request-id";

/// The longest `x-request-id` from a client that is taken as the id.
const MAX_CLIENT_ID_LEN: usize = 64;

/// This process's prefix for request ids: 8 hex digits mixed from the clock
/// and the process id when the first id is made, so ids of two runs (or of
/// two hosts started together) differ.
fn id_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        format!("{:08x}", mix(nanos ^ (u64::from(std::process::id()) << 32)) >> 32)
    })
}

/// splitmix64's finaliser: each input bit flips about half the output bits.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A new request id, unique within the process: the process prefix, `-`,
/// and a counter in hex (`5f3a9c1e-1b`).
fn new_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}-{:x}", id_prefix(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The id the client sent in `x-request-id`, when it is a sane token: 1 to
/// 64 characters of `A-Z a-z 0-9 . _ -`. Anything else (too long, spaces,
/// characters that could forge a log line) is not taken.
fn client_request_id(headers: &HeaderMap) -> Option<&str> {
    let id = headers.get(REQUEST_ID)?.to_str().ok()?;
    let sane = !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    sane.then_some(id)
}

/// The id of a request with `headers`: the client's, if sane, else a new one.
fn request_id(headers: &HeaderMap) -> String {
    client_request_id(headers).map_or_else(new_request_id, str::to_owned)
}

fn json_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Serves one request under its id; the response carries the id.
async fn handle(request: Request<Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    let id = request_id(request.headers());
    let mut response = match shared.target() {
        None => {
            let mut response = json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no actor serves this address now: it was stopped or unlinked",
            );
            response.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
        Some(target) => {
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            match respond(request, &target, &shared.host, &id).await {
                Ok(response) => response,
                Err(failed) => {
                    shared.host.log(Level::Warn, &failed.log_line(&id, method.as_str(), &path));
                    failed.response(&id, target.config.error_detail)
                }
            }
        }
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Delivers the request to the actor and turns its reply into the response;
/// `Err` when the actor call failed in any way.
async fn respond(
    request: Request<Incoming>,
    target: &Target,
    host: &Host,
    id: &str,
) -> Result<Response<Full<Bytes>>, Failed> {
    let limit = target.config.max_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Ok(json_error(StatusCode::PAYLOAD_TOO_LARGE, &format!("the request body exceeds {limit} bytes")));
    }
    let (parts, body) = request.into_parts();
    // Bounded in time as in size: a client trickling its body (or sending
    // less than it declared) would otherwise hold a connection slot for ever.
    let timeout = target.config.body_read_timeout;
    let Ok(collected) = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await else {
        return Ok(json_error(
            StatusCode::REQUEST_TIMEOUT,
            &format!("the request body was not received within {} ms", timeout.as_millis()),
        ));
    };
    let body = match collected {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Ok(json_error(StatusCode::PAYLOAD_TOO_LARGE, &format!("the request body exceeds {limit} bytes")));
        }
        Err(e) => return Ok(json_error(StatusCode::BAD_REQUEST, &format!("reading the request body failed: {e}"))),
    };
    let mut header = std::collections::BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        header
            .entry(name.as_str().to_owned())
            .and_modify(|joined: &mut String| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    // The actor sees the id its failures will be logged under.
    header.insert(REQUEST_ID.to_owned(), id.to_owned());
    let message = messages::Request {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query_string: parts.uri.query().unwrap_or("").to_owned(),
        header,
        body: body.to_vec(),
    };
    let payload = codec::serialize(&message)
        .map_err(|e| Failed::of_kind(ErrorKind::Failed, format!("encoding the request for the actor failed: {e}")))?;
    // Queued for the actor's pool, whose worker wakes this task when done:
    // no thread of ours waits meanwhile.
    let call = host.dispatch_async(&target.actor, messages::OP_HANDLE_REQUEST, &payload);
    let timeout = target.config.request_timeout;
    let reply = match tokio::time::timeout(timeout, call).await {
        Err(_) => {
            return Err(Failed::of_kind(
                ErrorKind::TimedOut,
                format!("actor {} did not answer within {} ms", target.actor, timeout.as_millis()),
            ))
        }
        Ok(Err(e)) => return Err(Failed::of(&e)),
        Ok(Ok(reply)) => reply,
    };
    match codec::deserialize::<messages::Response>(&reply) {
        Ok(reply) => into_response(reply),
        Err(e) => Err(Failed::bad_reply(format!("the actor's reply is not an HTTP response: {e}"))),
    }
}

/// The kind shown for an actor reply that is not a valid HTTP response (a
/// 502); every other failure shows its [`ErrorKind`]'s tag.
const BAD_REPLY: &str = "bad-reply";

/// What a client is told when an actor call failed this way: a short phrase
/// that gives away nothing of the host's or the actor's workings.
fn public_phrase(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Failed => "the actor failed to handle the request",
        ErrorKind::Denied => "the actor is not allowed to do what the request needs",
        ErrorKind::NotLinked => "a service the actor needs is not linked",
        ErrorKind::Trapped => "the actor crashed while handling the request",
        ErrorKind::OutOfFuel => "the actor ran out of its compute budget",
        ErrorKind::TimedOut => "the actor did not answer in time",
        ErrorKind::Unavailable => "a service the actor needs is unavailable; try again later",
        ErrorKind::BadRequest => "the actor made a request its host could not read",
    }
}

/// A request whose actor call failed, as the client and the log see it.
#[derive(Debug)]
struct Failed {
    status: StatusCode,
    /// The kind's tag (`unavailable`), or [`BAD_REPLY`].
    kind: &'static str,
    /// What the client is told.
    public: &'static str,
    /// What went wrong, in full, for the log (and the body when the link
    /// asks for detail); redacted whenever it is shown.
    detail: String,
}

impl Failed {
    /// A failure of `kind` with the status that kind stands for.
    fn of_kind(kind: ErrorKind, detail: String) -> Failed {
        Failed {
            status: StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            kind: kind.tag(),
            public: public_phrase(kind),
            detail,
        }
    }

    /// The actor call failed with `error`.
    fn of(error: &ProviderError) -> Failed {
        Failed::of_kind(error.kind(), error.message().to_owned())
    }

    /// The actor answered something that is not a valid HTTP response.
    fn bad_reply(detail: String) -> Failed {
        Failed {
            status: StatusCode::BAD_GATEWAY,
            kind: BAD_REPLY,
            public: "the actor's reply is not a valid HTTP response",
            detail,
        }
    }

    /// The line the host's log gets: id, method, path, status, kind and the
    /// whole message, every credential in it hidden.
    fn log_line(&self, id: &str, method: &str, path: &str) -> String {
        redact_text(&format!(
            "request {id} failed: {method} {path} answered {} ({}): {}",
            self.status.as_u16(),
            self.kind,
            self.detail
        ))
        .into_owned()
    }

    /// The answer: the status, and a JSON body with the public phrase, the
    /// kind and the request id, plus the redacted message under `detail`
    /// when `with_detail`.
    fn response(&self, id: &str, with_detail: bool) -> Response<Full<Bytes>> {
        let mut body = serde_json::json!({ "error": self.public, "kind": self.kind, "request_id": id });
        if with_detail {
            body["detail"] = redact_text(&self.detail).into_owned().into();
        }
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        *response.status_mut() = self.status;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.kind == ErrorKind::Unavailable.tag() {
            response.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

fn into_response(reply: messages::Response) -> Result<Response<Full<Bytes>>, Failed> {
    let Some(status) = u16::try_from(reply.status_code).ok().and_then(|c| StatusCode::from_u16(c).ok()) else {
        return Err(Failed::bad_reply(format!(
            "the actor answered with status code {}, which is not valid",
            reply.status_code
        )));
    };
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = status;
    for (name, value) in reply.header {
        match (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => return Err(Failed::bad_reply(format!("the actor answered with an invalid header `{name}`"))),
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_str(id).unwrap());
        headers
    }

    /// Splits a generated id into its prefix and counter.
    fn parts(id: &str) -> (&str, u64) {
        let (prefix, counter) = id.split_once('-').expect("prefix-counter");
        (prefix, u64::from_str_radix(counter, 16).expect("a hex counter"))
    }

    #[test]
    fn a_new_request_id_is_the_process_prefix_and_a_counter() {
        let first = new_request_id();
        let (prefix, n) = parts(&first);
        assert_eq!(prefix.len(), 8, "{first}");
        assert!(prefix.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{first}");
        let next = new_request_id();
        let (next_prefix, next_n) = parts(&next);
        assert_eq!(next_prefix, prefix);
        assert!(next_n > n);
        // Generated ids pass the same check as the clients' own.
        assert_eq!(request_id(&headers(&first)), first);
    }

    #[test]
    fn request_ids_are_unique_across_threads() {
        let ids: Vec<String> = std::thread::scope(|s| {
            let workers: Vec<_> =
                (0..8).map(|_| s.spawn(|| (0..1000).map(|_| new_request_id()).collect::<Vec<_>>())).collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), 8000);
    }

    #[test]
    fn a_sane_client_id_is_kept() {
        let longest = "a".repeat(64);
        for id in ["abc", "req-42_x.y", "0123456789", &longest] {
            assert_eq!(request_id(&headers(id)), id);
        }
    }

    #[test]
    fn an_insane_or_missing_client_id_is_replaced_by_a_new_one() {
        let too_long = "a".repeat(65);
        for id in [too_long.as_str(), "has space", "a;b", "tab\there", "x\"y", "ü"] {
            let Ok(value) = HeaderValue::from_bytes(id.as_bytes()) else { continue };
            let mut map = HeaderMap::new();
            map.insert(REQUEST_ID, value);
            let got = request_id(&map);
            assert_ne!(got, id);
            assert_eq!(parts(&got).0, id_prefix(), "{got}");
        }
        assert_eq!(parts(&request_id(&HeaderMap::new())).0, id_prefix());
        let mut empty = HeaderMap::new();
        empty.insert(REQUEST_ID, HeaderValue::from_static(""));
        assert_eq!(parts(&request_id(&empty)).0, id_prefix());
    }

    #[test]
    fn a_failure_tells_the_client_only_the_phrase_the_kind_and_the_id() {
        let error = ProviderError::unavailable("Redis at redis://:s3cretpass@127.0.0.1:6390/ is unreachable");
        let failed = Failed::of(&error);
        assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
        let response = failed.response("abc-1", false);
        assert_eq!(response.headers()[hyper::header::RETRY_AFTER], "5");
        let body = body_json(response);
        assert_eq!(
            body,
            serde_json::json!({
                "error": "a service the actor needs is unavailable; try again later",
                "kind": "unavailable",
                "request_id": "abc-1",
            })
        );
    }

    #[test]
    fn with_detail_the_body_carries_the_message_redacted() {
        let error = ProviderError::unavailable("Redis at redis://:s3cretpass@127.0.0.1:6390/ is unreachable");
        let body = body_json(Failed::of(&error).response("abc-1", true));
        assert_eq!(body["detail"], "Redis at redis://:***@127.0.0.1:6390/ is unreachable");
        assert_eq!(body["kind"], "unavailable");
    }

    #[test]
    fn the_log_line_has_the_id_method_path_status_kind_and_the_redacted_message() {
        let error = ProviderError::denied("key `:admin` is outside the grant; see redis://u:pw@h");
        let line = Failed::of(&error).log_line("abc-1", "GET", "/admin");
        assert_eq!(
            line,
            "request abc-1 failed: GET /admin answered 403 (denied): key `:admin` is outside the grant; see redis://u:***@h"
        );
    }

    #[test]
    fn every_kind_has_its_own_public_phrase_and_none_is_empty() {
        let phrases: std::collections::HashSet<&str> = ErrorKind::ALL.into_iter().map(public_phrase).collect();
        assert_eq!(phrases.len(), ErrorKind::ALL.len());
        assert!(phrases.iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn a_reply_that_is_not_a_valid_response_is_a_502_bad_reply() {
        let reply = messages::Response { status_code: 1000, ..messages::Response::default() };
        let failed = into_response(reply).unwrap_err();
        assert_eq!((failed.status, failed.kind), (StatusCode::BAD_GATEWAY, BAD_REPLY));
    }

    fn body_json(response: Response<Full<Bytes>>) -> serde_json::Value {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(response.into_body().collect())
            .unwrap()
            .to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }
}
