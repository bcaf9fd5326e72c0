//! One actor's client: its connection pool, its settings and its grant,
//! and the request it performs.

use std::collections::BTreeMap;
use std::sync::Arc;

use provider_sdk::codec::http::{Request, Response};
use provider_sdk::grant::Grant;
use provider_sdk::{ErrorKind, ProviderError};
use reqwest::redirect;

use crate::config::ClientConfig;
use crate::destination::{self, GuardedResolver, LocalRefused};
use crate::target::{self, shown};

/// A redirect not followed (outside the grant: `denied`; one too many:
/// `failed`): what the redirect policy returns, found again in reqwest's
/// error chain to answer the actor with its kind.
#[derive(Debug)]
struct RedirectRefused(ErrorKind, String);

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for RedirectRefused {}

/// An actor's client.
pub struct ActorClient {
    http: reqwest::Client,
    config: ClientConfig,
    grant: Arc<Grant>,
}

impl ActorClient {
    /// A client for one actor's link: its pool, its redirect policy (the
    /// grant checked on every hop) and its settings.
    pub fn new(config: ClientConfig, grant: Grant) -> Result<ActorClient, ProviderError> {
        let grant = Arc::new(grant);
        let policy_grant = Arc::clone(&grant);
        let max_redirects = config.max_redirects;
        let allow_loopback = config.allow_loopback;
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                let to = shown(attempt.url().as_str());
                return attempt
                    .error(RedirectRefused(ErrorKind::Failed, format!("more than {max_redirects} redirects (MAX_REDIRECTS); the last to {to}")));
            }
            let refused = target::check(&policy_grant, attempt.url()).map_err(|refusal| refusal.to_string()).and_then(|()| {
                if allow_loopback {
                    return Ok(());
                }
                destination::check_url(attempt.url()).map_err(|local| local.to_string())
            });
            match refused {
                Ok(()) => attempt.follow(),
                Err(refusal) => {
                    let from = attempt.previous().last().map(|u| shown(u.as_str())).unwrap_or_default();
                    attempt.error(RedirectRefused(ErrorKind::Denied, format!("the redirect from {from} was not followed: {refusal}")))
                }
            }
        });
        let mut builder = reqwest::Client::builder()
            .redirect(if config.max_redirects == 0 { redirect::Policy::none() } else { policy })
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .no_proxy();
        if !config.allow_loopback {
            // Names are resolved here, and local addresses taken out; the
            // proxy the operator named is resolved as it is.
            let proxy_host = config.proxy.as_deref().and_then(|p| reqwest::Url::parse(p).ok()).and_then(|u| u.host_str().map(str::to_owned));
            builder = builder.dns_resolver(GuardedResolver::shared(proxy_host));
        }
        if let Some(proxy) = &config.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|e| ProviderError::bad_request(format!("PROXY `{}`: {e}", shown(proxy))))?;
            builder = builder.proxy(proxy);
        }
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| ProviderError::bad_request(format!("CA_FILE {}: {e}", path.display())))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ProviderError::bad_request(format!("CA_FILE {}: not PEM certificates: {e}", path.display()))
            })?;
            if certificates.is_empty() {
                return Err(ProviderError::bad_request(format!("CA_FILE {} holds no certificate", path.display())));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|e| ProviderError::new(format!("cannot build the HTTP client: {e}")))?;
        Ok(ActorClient { http, config, grant })
    }

    /// What the actor may reach, for the log.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// Performs `request`: checks the grant, sends it, follows redirects the
    /// grant allows, and reads at most `MAX_RESPONSE_BYTES` of the body.
    pub async fn perform(&self, request: Request) -> Result<Response, ProviderError> {
        let url = target::url_of(&request.path, &request.query_string)?;
        target::check(&self.grant, &url).map_err(|refusal| ProviderError::denied(refusal.to_string()))?;
        if !self.config.allow_loopback {
            destination::check_url(&url).map_err(|e| ProviderError::denied(format!("{}: {e}", shown(url.as_str()))))?;
        }
        let method = if request.method.trim().is_empty() { "GET" } else { request.method.trim() };
        let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| ProviderError::bad_request(format!("`{}` is not an HTTP method", request.method)))?;
        let mut builder = self.http.request(method, url.clone());
        for (name, value) in &request.header {
            // The client writes these itself, from the URL and the body.
            if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("content-length") {
                continue;
            }
            builder = builder.header(name.as_str(), value.as_str());
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        let request = builder
            .build()
            .map_err(|e| ProviderError::bad_request(format!("the request to {} cannot be sent: {}", shown(url.as_str()), chain(&e))))?;
        let mut response = self.http.execute(request).await.map_err(|e| self.failure(&url, &e))?;
        let limit = self.config.max_response_bytes;
        let from = shown(response.url().as_str());
        let too_large = |size: String| {
            ProviderError::new(format!("the response from {from} is larger than MAX_RESPONSE_BYTES ({limit} bytes): {size}"))
        };
        if let Some(length) = response.content_length().filter(|length| *length > limit) {
            return Err(too_large(format!("{length} bytes announced")));
        }
        let status = response.status();
        let mut header: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            header
                .entry(name.as_str().to_owned())
                .and_modify(|joined| {
                    joined.push_str(", ");
                    joined.push_str(&value);
                })
                .or_insert(value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.failure(&url, &e))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large(format!("more than {limit} bytes received")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status_code: u32::from(status.as_u16()),
            status: status.canonical_reason().unwrap_or_default().to_owned(),
            header,
            body,
        })
    }

    /// A reqwest error as the typed failure the actor sees.
    fn failure(&self, url: &reqwest::Url, error: &reqwest::Error) -> ProviderError {
        let at = shown(error.url().unwrap_or(url).as_str());
        if let Some(refused) = find::<RedirectRefused>(error) {
            return ProviderError::of(refused.0, refused.1.clone());
        }
        if let Some(refused) = find::<LocalRefused>(error) {
            return ProviderError::denied(format!("{at}: {refused}"));
        }
        if error.is_connect() {
            if error.is_timeout() || find::<tokio::time::error::Elapsed>(error).is_some() {
                return ProviderError::of(
                    ErrorKind::TimedOut,
                    format!("no connection to {at} within CONNECT_TIMEOUT_MS ({} ms)", self.config.connect_timeout.as_millis()),
                );
            }
            return ProviderError::unavailable(format!("cannot connect to {at}: {}", chain(error)));
        }
        if error.is_timeout() {
            return ProviderError::of(
                ErrorKind::TimedOut,
                format!("no complete answer from {at} within TIMEOUT_MS ({} ms)", self.config.timeout.as_millis()),
            );
        }
        ProviderError::new(format!("the request to {at} failed: {}", chain(error)))
    }
}

/// The first error of type `E` in `error`'s source chain.
fn find<'a, E: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// `error` and its sources, `: `-joined, with credentials hidden.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    shown(&parts.join(": "))
}
