//! `wascc:http_client`: outbound HTTP, to the hosts the actor's signed
//! grants (narrowed by its link) allow.
//!
//! ```no_run
//! use host_edge_actor::http_client;
//!
//! # fn f() -> Result<(), host_edge_actor::Error> {
//! let weather = http_client::default().get("https://api.example.com/now")?;
//! if weather.status_code == 200 {
//!     let _text = String::from_utf8_lossy(&weather.body);
//! }
//! # Ok(()) }
//! ```
//!
//! A request to a host outside the grant, or a redirect to one, fails with
//! the host's message naming it; so do timeouts and over-large responses.

use codec::http::OP_PERFORM_REQUEST;

use crate::guest::call;
use crate::http::{Request, Response};
use crate::Error;

/// The capability id.
pub const CAPABILITY: &str = "wascc:http_client";

/// The client linked as `default`.
pub fn default() -> HttpClient {
    host("default")
}

/// The client linked under `binding`.
pub fn host(binding: &str) -> HttpClient {
    HttpClient { binding: binding.to_owned() }
}

/// A client for one HTTP client link.
#[derive(Debug, Clone)]
pub struct HttpClient {
    binding: String,
}

impl HttpClient {
    /// `GET url`.
    pub fn get(&self, url: &str) -> Result<Response, Error> {
        self.request(Request::new("GET", url))
    }

    /// `POST url` with `body`, sent as `content_type`.
    pub fn post(&self, url: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Result<Response, Error> {
        let mut request = Request::new("POST", url);
        request.header.insert("content-type".to_owned(), content_type.to_owned());
        request.body = body.into();
        self.request(request)
    }

    /// Sends `request` (its `path` is the whole URL) and returns the
    /// response, whatever its status.
    pub fn request(&self, request: Request) -> Result<Response, Error> {
        call(&self.binding, CAPABILITY, OP_PERFORM_REQUEST, &request)
    }
}
