//! `wascc:http_server` on hyper: every linked actor gets its own listener,
//! and each request reaches the actor as waSCC's `HandleRequest`.
//!
//! Provider settings (defaults in brackets):
//! - `WORKER_THREADS` [2]: threads of the runtime every listener shares.
//!
//! Link values:
//! - `ADDRESS` [`0.0.0.0`] and `PORT` [`8080`]: where to listen;
//! - `MAX_BODY_BYTES` [1048576]: a larger request body is answered 413;
//! - `HEADER_READ_TIMEOUT_MS` [10000]: a client that has not sent its
//!   request head by then is answered 408 and disconnected;
//! - `BODY_READ_TIMEOUT_MS` [10000]: a client that has not sent the whole
//!   request body by then (a trickle, or a body shorter than it declared)
//!   is answered 408;
//! - `MAX_CONNECTIONS` [128]: connections beyond it are answered 503;
//! - `REQUEST_TIMEOUT_MS` [30000]: an actor that has not answered by then
//!   gives a 504;
//! - `ERROR_DETAIL` [false]: `true` adds the error message (credentials
//!   hidden) to the body of a failed request, under `detail`.
//!
//! Every request has an id: the client's `x-request-id` when it is 1 to 64
//! characters of `A-Z a-z 0-9 . _ -`, else a new one unique in the process
//! (`5f3a9c1e-1b`). Every response carries it in `x-request-id`, and the
//! actor sees it among the request headers.
//!
//! A failed call is answered by its kind: 403 when a grant or the claims
//! refused what the actor tried, 500 when it trapped, ran out of fuel or
//! failed, 503 when its store (or the actor itself) is unavailable, 504 when
//! it timed out, 502 when its reply is not an HTTP response. The body says
//! only `{"error": "<a short public phrase>", "kind": "<kind>", "request_id":
//! "<id>"}`: no internal text reaches the client unless the link sets
//! `ERROR_DETAIL`. The host's log gets a warning with the request id, the
//! method, the path, the status, the kind and the whole message, with
//! credentials in URLs hidden. When an actor
//! is unbound (stopped, unlinked) its listener stays open and answers 503
//! until an actor is bound there again, so clients see a service that is
//! down, not a refused connection, and a restart on the same port has no gap.

mod config;
mod server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::{export_provider, Host, Level, Provider, ProviderError, Setting, SettingKind, SettingScope, Settings};

use config::ServerConfig;
use server::Server;

/// The provider: a tokio runtime shared by every listener.
pub struct HttpServer {
    runtime: Option<tokio::runtime::Runtime>,
    host: Host,
    state: Mutex<Listeners>,
}

/// The listeners by address, and which address serves which actor.
#[derive(Default)]
struct Listeners {
    servers: HashMap<SocketAddr, Server>,
    actors: HashMap<String, SocketAddr>,
}

fn integer(name: &str, scope: SettingScope, min: i64, max: Option<i64>, default: &str, doc: &str) -> Setting {
    Setting {
        name: name.to_owned(),
        scope,
        kind: SettingKind::Integer { min: Some(min), max },
        default: Some(default.to_owned()),
        required: false,
        doc: doc.to_owned(),
    }
}

impl Provider for HttpServer {
    const CAPABILITY_ID: &'static str = "wascc:http_server";
    const NAME: &'static str = "HTTP server (hyper)";

    fn settings() -> Vec<Setting> {
        let link = SettingScope::Link;
        vec![
            integer("WORKER_THREADS", SettingScope::Provider, 1, Some(64), "2", "threads serving every listener"),
            Setting {
                name: "ADDRESS".to_owned(),
                scope: link,
                kind: SettingKind::Text,
                default: Some("0.0.0.0".to_owned()),
                required: false,
                doc: "the IP address to listen on".to_owned(),
            },
            integer("PORT", link, 1, Some(65535), "8080", "the port to listen on"),
            integer("MAX_BODY_BYTES", link, 0, None, "1048576", "larger request bodies are answered 413"),
            integer("HEADER_READ_TIMEOUT_MS", link, 1, None, "10000", "a late request head is answered 408"),
            integer("BODY_READ_TIMEOUT_MS", link, 1, None, "10000", "a late request body is answered 408"),
            integer("MAX_CONNECTIONS", link, 1, None, "128", "connections beyond it are answered 503"),
            integer("REQUEST_TIMEOUT_MS", link, 1, None, "30000", "an actor slower than this gives a 504"),
            Setting {
                name: "ERROR_DETAIL".to_owned(),
                scope: link,
                kind: SettingKind::Boolean,
                default: Some("false".to_owned()),
                required: false,
                doc: "true: the body of a failed request carries the error message too (credentials hidden), \
                      under `detail`; false: only a short phrase, the kind and the request id"
                    .to_owned(),
            },
        ]
    }

    fn start(host: Host, settings: Settings) -> Result<HttpServer, ProviderError> {
        let threads: usize = settings.get("WORKER_THREADS").map_or(Ok(2), |t| t.trim().parse()).map_err(|_| {
            ProviderError::bad_request("WORKER_THREADS must be a whole number")
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("http-server")
            .enable_all()
            .build()
            .map_err(|e| ProviderError::new(format!("cannot start the HTTP runtime: {e}")))?;
        Ok(HttpServer { runtime: Some(runtime), host, state: Mutex::new(Listeners::default()) })
    }

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let settings = ServerConfig::from_values(&config.values)?;
        let runtime = self.runtime.as_ref().ok_or_else(|| ProviderError::unavailable("the provider is stopping"))?;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let address = settings.address;
        let previous = state.actors.get(&config.module).copied();
        match state.servers.get(&address) {
            Some(server) => match server.actor() {
                Some(other) if other != config.module => {
                    return Err(ProviderError::bad_request(format!(
                        "{address} is already serving actor {other}"
                    )))
                }
                _ => server.serve(&config.module, settings),
            },
            None => {
                let server = Server::start(runtime, settings, config.module.clone(), self.host.clone())?;
                state.servers.insert(address, server);
            }
        }
        if let Some(old) = previous.filter(|old| *old != address) {
            // The actor moved: its old address serves no one any more.
            if let Some(server) = state.servers.remove(&old) {
                server.stop();
            }
        }
        state.actors.insert(config.module.clone(), address);
        self.host.log(Level::Info, &format!("serving actor {} on http://{address}", config.module));
        Ok(())
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(address) = state.actors.remove(&config.module) {
            if let Some(server) = state.servers.get(&address) {
                server.park();
                self.host.log(Level::Info, &format!("{address} answers 503 until an actor is bound there again"));
            }
        }
        Ok(())
    }

    fn handle_call(&self, _actor: &str, operation: &str, _payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        Err(ProviderError::bad_request(format!(
            "wascc:http_server takes no calls from actors (asked for `{operation}`); it delivers HandleRequest to them"
        )))
    }

    fn stop(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.actors.clear();
        for (_, server) in state.servers.drain() {
            server.stop();
        }
    }
}

impl Drop for HttpServer {
    /// Connections still open when the provider is freed get a second to
    /// finish, then are dropped.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        }
    }
}

export_provider!(HttpServer);
