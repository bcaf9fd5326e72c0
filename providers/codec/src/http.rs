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
}
