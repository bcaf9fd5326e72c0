//! `wascc:http_client` on reqwest (hyper 1.x, rustls): an actor's
//! `PerformRequest` goes out to the hosts its grant allows, and no further.
//!
//! The actor names the URL in the request's `path` (waSCC's convention);
//! the reply is waSCC's HTTP `Response`, whatever the status. The hosts an
//! actor may reach come from its signed grant for `wascc:http_client`,
//! narrowed by the link's `grant` (see [`target`] for the rules); a request
//! to any other host is refused (`denied`) naming it, and so is a redirect
//! to one. An actor with no grant at all may reach any host, as on waSCC;
//! the binding says so in the log.
//!
//! Whatever the grant, loopback, link-local and unspecified addresses (the
//! host's own services: its metrics port, a local Redis) are refused,
//! written in the URL or resolved from a name, unless the link sets
//! `ALLOW_LOOPBACK = "true"` (see [`destination`]).
//!
//! Link values (defaults in brackets): `CONNECT_TIMEOUT_MS` [5000],
//! `TIMEOUT_MS` [30000] for the whole request, `MAX_RESPONSE_BYTES`
//! [4194304], `MAX_REDIRECTS` [5; 0 hands a 3xx to the actor], `PROXY`,
//! `CA_FILE` (extra PEM roots beside the built-in Mozilla roots),
//! `USER_AGENT`, `ALLOW_LOOPBACK` [false]. Provider setting: `WORKER_THREADS` [1].
//!
//! Failures reach the actor typed: `denied` (outside the grant),
//! `timed-out` (connect or whole request), `unavailable` (no connection),
//! `bad-request` (not an http(s) URL, a bad method or header), `failed`
//! (a response over the size limit, a broken transfer).

mod client;
mod config;
pub mod destination;
pub mod target;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use provider_sdk::bindings::read_grant;
use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::codec::http::{Request, OP_PERFORM_REQUEST};
use provider_sdk::{export_provider, Host, Level, Provider, ProviderError, Setting, Settings};

use client::ActorClient;
use config::ClientConfig;

/// The provider: one runtime driving every actor's connections, and a
/// client per bound actor.
pub struct HttpClient {
    runtime: Option<tokio::runtime::Runtime>,
    host: Host,
    clients: Mutex<HashMap<String, Arc<ActorClient>>>,
}

impl HttpClient {
    fn client(&self, actor: &str) -> Result<Arc<ActorClient>, ProviderError> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.get(actor).cloned().ok_or_else(|| {
            ProviderError::of(provider_sdk::ErrorKind::NotLinked, format!("actor {actor} is not bound to this HTTP client"))
        })
    }
}

impl Provider for HttpClient {
    const CAPABILITY_ID: &'static str = target::CAPABILITY;
    const NAME: &'static str = "HTTP client (reqwest, rustls)";

    fn settings() -> Vec<Setting> {
        // Enforces grants: see `Setting::enforced_grant`.
        config::declared().into_iter().chain([Setting::enforced_grant()]).collect()
    }

    fn start(host: Host, settings: Settings) -> Result<HttpClient, ProviderError> {
        let threads: usize = settings
            .get("WORKER_THREADS")
            .map_or(Ok(1), |t| t.trim().parse())
            .map_err(|_| ProviderError::bad_request("WORKER_THREADS must be a whole number"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("http-client")
            .enable_all()
            .build()
            .map_err(|e| ProviderError::new(format!("cannot start the HTTP client runtime: {e}")))?;
        Ok(HttpClient { runtime: Some(runtime), host, clients: Mutex::new(HashMap::new()) })
    }

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let settings = ClientConfig::from_values(&config.values)?;
        let grant = read_grant(&config.values)?;
        // Building the client needs the runtime's context (its resolver and
        // timers register there).
        let runtime = self.runtime.as_ref().ok_or_else(|| ProviderError::unavailable("the provider is stopping"))?;
        let client = {
            let _context = runtime.enter();
            ActorClient::new(settings, grant)?
        };
        let reach = if client.grant().is_unrestricted() {
            "any host: its token and link grant no hosts for wascc:http_client".to_owned()
        } else {
            client.grant().describe().join("; ")
        };
        self.host.log(Level::Info, &format!("actor {} may reach {reach}", config.module));
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).insert(config.module, Arc::new(client));
        Ok(())
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).remove(&config.module);
        Ok(())
    }

    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        if operation != OP_PERFORM_REQUEST {
            return Err(ProviderError::bad_request(format!(
                "wascc:http_client has no operation `{operation}`; it serves {OP_PERFORM_REQUEST}"
            )));
        }
        let request: Request = provider_sdk::codec::deserialize(payload)?;
        let client = self.client(actor)?;
        let runtime = self.runtime.as_ref().ok_or_else(|| ProviderError::unavailable("the provider is stopping"))?;
        let response = runtime.block_on(client.perform(request))?;
        Ok(provider_sdk::codec::serialize(&response)?)
    }

    fn stop(&self) {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Drop for HttpClient {
    /// Requests still in flight when the provider is freed get a second.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        }
    }
}

export_provider!(HttpClient);
