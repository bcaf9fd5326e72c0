//! `wascc:http_server` on hyper: every linked actor gets its own listener,
//! and each request reaches the actor as waSCC's `HandleRequest`.
//!
//! Link values (defaults in brackets):
//! - `ADDRESS` [`0.0.0.0`] and `PORT` [`8080`]: where to listen;
//! - `MAX_BODY_BYTES` [1048576]: a larger request body is answered 413;
//! - `HEADER_READ_TIMEOUT_MS` [10000]: a client that has not sent its
//!   request head by then is answered 408 and disconnected;
//! - `MAX_CONNECTIONS` [128]: connections beyond it are answered 503;
//! - `REQUEST_TIMEOUT_MS` [30000]: an actor that has not answered by then
//!   gives a 504.
//!
//! An actor that fails gives a 500 with a short JSON body naming the error.

mod config;
mod server;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::{export_provider, HostDispatcher, Provider, ProviderError};

use config::ServerConfig;
use server::Server;

/// The provider: a tokio runtime shared by every actor's listener.
pub struct HttpServer {
    runtime: OnceLock<tokio::runtime::Runtime>,
    dispatcher: OnceLock<HostDispatcher>,
    servers: Mutex<HashMap<String, Server>>,
}

impl HttpServer {
    fn new() -> HttpServer {
        HttpServer { runtime: OnceLock::new(), dispatcher: OnceLock::new(), servers: Mutex::new(HashMap::new()) }
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, ProviderError> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(256)
            .thread_name("http-server")
            .enable_all()
            .build()
            .map_err(|e| ProviderError::new(format!("cannot start the HTTP runtime: {e}")))?;
        Ok(self.runtime.get_or_init(|| runtime))
    }
}

impl Provider for HttpServer {
    const CAPABILITY_ID: &'static str = "wascc:http_server";
    const NAME: &'static str = "HTTP server (hyper)";

    fn set_dispatcher(&self, dispatcher: HostDispatcher) {
        let _ = self.dispatcher.set(dispatcher);
    }

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let settings = ServerConfig::from_values(&config.values)?;
        let dispatcher = *self.dispatcher.get().ok_or_else(|| ProviderError::new("no dispatcher was set"))?;
        let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        if servers.contains_key(&config.module) {
            return Err(ProviderError::new(format!("actor {} is already bound", config.module)));
        }
        let server = Server::start(self.runtime()?, settings, config.module.clone(), dispatcher)?;
        servers.insert(config.module, server);
        Ok(())
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        if let Some(server) = self.servers.lock().unwrap_or_else(|e| e.into_inner()).remove(&config.module) {
            server.stop();
        }
        Ok(())
    }

    fn handle_call(&self, _actor: &str, operation: &str, _payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        Err(ProviderError::new(format!(
            "wascc:http_server takes no calls from actors (asked for `{operation}`); it delivers HandleRequest to them"
        )))
    }

    fn stop(&self) {
        for (_, server) in self.servers.lock().unwrap_or_else(|e| e.into_inner()).drain() {
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

export_provider!(HttpServer, HttpServer::new);
