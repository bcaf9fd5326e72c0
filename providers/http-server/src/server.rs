//! One actor's listener: accepting connections within the limits, turning
//! each request into `HandleRequest` and the actor's reply into a response.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use provider_sdk::codec::{self, http as messages};
use provider_sdk::{ErrorKind, Host, ProviderError};
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

/// Answers a connection with a fixed response and closes it.
async fn refuse(mut stream: TcpStream, status: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
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

fn json_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn handle(request: Request<Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    let Some(target) = shared.target() else {
        let mut response = json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no actor serves this address now: it was stopped or unlinked",
        );
        response.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    };
    let limit = target.config.max_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return json_error(StatusCode::PAYLOAD_TOO_LARGE, &format!("the request body exceeds {limit} bytes"));
    }
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return json_error(StatusCode::PAYLOAD_TOO_LARGE, &format!("the request body exceeds {limit} bytes"));
        }
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("reading the request body failed: {e}")),
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
    let message = messages::Request {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query_string: parts.uri.query().unwrap_or("").to_owned(),
        header,
        body: body.to_vec(),
    };
    let payload = match codec::serialize(&message) {
        Ok(payload) => payload,
        Err(e) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let host = shared.host.clone();
    let actor = target.actor.clone();
    let call = tokio::task::spawn_blocking(move || host.dispatch(&actor, messages::OP_HANDLE_REQUEST, &payload));
    let reply = match tokio::time::timeout(target.config.request_timeout, call).await {
        Err(_) => return json_error(StatusCode::GATEWAY_TIMEOUT, "the actor did not answer in time"),
        Ok(Err(e)) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the call failed: {e}")),
        Ok(Ok(Err(e))) => return failed(&e),
        Ok(Ok(Ok(reply))) => reply,
    };
    match codec::deserialize::<messages::Response>(&reply) {
        Ok(reply) => into_response(reply),
        Err(e) => json_error(StatusCode::BAD_GATEWAY, &format!("the actor's reply is not an HTTP response: {e}")),
    }
}

/// The answer to a call that failed: the status its kind stands for, and a
/// JSON body with the kind and the message.
fn failed(error: &ProviderError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(error.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({ "error": error.message(), "kind": error.kind().tag() }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if error.kind() == ErrorKind::Unavailable {
        response.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

fn into_response(reply: messages::Response) -> Response<Full<Bytes>> {
    let Some(status) = u16::try_from(reply.status_code).ok().and_then(|c| StatusCode::from_u16(c).ok()) else {
        return json_error(
            StatusCode::BAD_GATEWAY,
            &format!("the actor answered with status code {}, which is not valid", reply.status_code),
        );
    };
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = status;
    for (name, value) in reply.header {
        match (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => {
                return json_error(
                    StatusCode::BAD_GATEWAY,
                    &format!("the actor answered with an invalid header `{name}`"),
                )
            }
        }
    }
    response
}
