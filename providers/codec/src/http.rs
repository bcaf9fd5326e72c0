//! `wascc:http_server` and `wascc:http_client`: HTTP requests and responses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Provider -> actor: an inbound request; carries [`Request`], replies [`Response`].
pub const OP_HANDLE_REQUEST: &str = "HandleRequest";
/// Actor -> provider: an outbound request; carries [`Request`], replies [`Response`].
pub const OP_PERFORM_REQUEST: &str = "PerformRequest";

/// An HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query, without the `?`.
    pub query_string: String,
    /// Header names (lowercase) and values.
    #[serde(default)]
    pub header: BTreeMap<String, String>,
    /// The body.
    #[serde(default, with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The status code.
    pub status_code: u32,
    /// The reason phrase.
    pub status: String,
    /// Header names and values.
    #[serde(default)]
    pub header: BTreeMap<String, String>,
    /// The body.
    #[serde(default, with = "serde_bytes")]
    pub body: Vec<u8>,
}

impl Request {
    /// A request for the HTTP client: `method` to `url` (waSCC puts the
    /// whole URL in `path`), no headers, no body.
    pub fn new(method: &str, url: &str) -> Request {
        Request { method: method.to_owned(), path: url.to_owned(), ..Request::default() }
    }

    /// The first value of `name` in the query string, percent-decoded
    /// (`+` is a space), as HTML forms encode it.
    pub fn query(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query_string.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
    }

    /// The body as text, with invalid UTF-8 replaced.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

impl Response {
    /// A response with `status_code`, `status` and a JSON body.
    pub fn json(status_code: u32, status: &str, body: Vec<u8>) -> Response {
        Response {
            status_code,
            status: status.to_owned(),
            header: BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]),
            body,
        }
    }

    /// An empty response with `status_code` and its standard reason phrase.
    pub fn new(status_code: u32) -> Response {
        Response { status_code, status: reason(status_code).to_owned(), ..Response::default() }
    }

    /// 200 OK, empty, as waSCC's `Response::ok`.
    pub fn ok() -> Response {
        Response::new(200)
    }

    /// 400 Bad Request, empty, as waSCC's `Response::bad_request`.
    pub fn bad_request() -> Response {
        Response::new(400)
    }

    /// 404 Not Found, empty, as waSCC's `Response::not_found`.
    pub fn not_found() -> Response {
        Response::new(404)
    }

    /// 500 Internal Server Error with `message` as its text body, as
    /// waSCC's `Response::internal_server_error`.
    pub fn internal_server_error(message: &str) -> Response {
        Response::new(500).with_text(message)
    }

    /// This response with `body` and no change of content type.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// This response with a `text/plain` body.
    pub fn with_text(self, text: impl Into<String>) -> Response {
        self.with_header("content-type", "text/plain; charset=utf-8").with_body(text.into())
    }

    /// This response with an `application/json` body (already encoded).
    pub fn with_json(self, json: impl Into<String>) -> Response {
        self.with_header("content-type", "application/json").with_body(json.into())
    }

    /// This response with header `name` (lowercased) set to `value`.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.header.insert(name.to_ascii_lowercase(), value.into());
        self
    }
}

/// The standard reason phrase of `status_code` (RFC 9110), or `""`.
fn reason(status_code: u32) -> &'static str {
    match status_code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_value_is_found_by_name_and_percent_decoded() {
        let request = Request { query_string: "topic=sensors%2Fkitchen&note=hello+there&topic=second".into(), ..Request::default() };
        assert_eq!(request.query("topic").as_deref(), Some("sensors/kitchen"));
        assert_eq!(request.query("note").as_deref(), Some("hello there"));
        assert_eq!(request.query("missing"), None);
    }

    #[test]
    fn a_response_built_from_a_status_carries_its_reason_phrase_and_body_type() {
        let response = Response::new(404).with_text("no such pin");
        assert_eq!((response.status_code, response.status.as_str()), (404, "Not Found"));
        assert_eq!(response.header["content-type"], "text/plain; charset=utf-8");
        assert_eq!(response.body, b"no such pin");
        let response = Response::ok().with_json("{}").with_header("X-Count", "3");
        assert_eq!(response.header["content-type"], "application/json");
        assert_eq!(response.header["x-count"], "3");
        assert_eq!(Response::new(599).status, "");
    }

    #[test]
    fn a_client_request_carries_the_whole_url_in_its_path_as_wascc_does() {
        let request = Request::new("GET", "http://127.0.0.1:8080/a?b=c");
        assert_eq!((request.method.as_str(), request.path.as_str(), request.query_string.as_str()), ("GET", "http://127.0.0.1:8080/a?b=c", ""));
    }
}
