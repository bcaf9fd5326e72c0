//! `telemetry`: the messaging example. It publishes readings, answers
//! requests for the latest one, and keeps a list of what it received.
//!
//! Over HTTP (`wascc:http_server`):
//! - `POST /reading[?topic=T]` with a value: remembers it as the latest
//!   reading and publishes it to T (default `sensors/reading`);
//! - `POST /publish?topic=T` publishes the body to T;
//! - `POST /request?topic=T[&timeout=MS]` sends the body as a request and
//!   answers with the reply (timeout default 2000 ms);
//! - `GET /received` lists the messages received, oldest first, one
//!   `topic<TAB>body` line each (bodies cut at 64 bytes; the last 20,000
//!   kept), with the count of all in the `x-received-total` header;
//! - `GET /received/total` answers only that count.
//!
//! Over `wascc:messaging`, each delivered message is recorded, and a
//! message with a `replyTo` is answered with the latest reading. A message
//! whose body is `fail` makes the handler fail, to show how the provider
//! retries or drops it.
//!
//! Errors from the provider (a topic outside the grant, a full outbox) are
//! returned, not swallowed: the HTTP server answers with their kind (403,
//! 503, 504) and message.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use codec::http::{Request, Response, OP_HANDLE_REQUEST};
use codec::messaging::{BrokerMessage, RequestMessage, OP_DELIVER_MESSAGE, OP_PERFORM_REQUEST, OP_PUBLISH_MESSAGE};
use wapc_guest::prelude::*;

const MESSAGING: &str = "wascc:messaging";
const DEFAULT_TOPIC: &str = "sensors/reading";
const KEPT: usize = 20_000;
const SHOWN_BODY: usize = 64;

#[derive(Default)]
struct State {
    latest: Option<Vec<u8>>,
    received: VecDeque<String>,
    total: u64,
}

thread_local! {
    // wasm32 runs one thread: this is the instance's state.
    static STATE: RefCell<State> = RefCell::new(State::default());
}

#[no_mangle]
pub fn wapc_init() {
    register_function(OP_HANDLE_REQUEST, handle_request);
    register_function(OP_DELIVER_MESSAGE, deliver_message);
    register_function("HealthRequest", |_| Ok(codec::UNIT_REPLY.to_vec()));
}

fn publish(subject: &str, body: &[u8]) -> Result<(), Box<dyn std::error::Error + Sync + Send>> {
    let message = BrokerMessage { subject: subject.to_owned(), reply_to: String::new(), body: body.to_vec() };
    host_call("default", MESSAGING, OP_PUBLISH_MESSAGE, &codec::serialize(&message)?)?;
    Ok(())
}

fn deliver_message(payload: &[u8]) -> CallResult {
    let message: BrokerMessage = codec::deserialize(payload)?;
    if message.body == b"fail" {
        return Err("refused to handle a message whose body is fail".into());
    }
    let shown = String::from_utf8_lossy(&message.body[..message.body.len().min(SHOWN_BODY)]).into_owned();
    let latest = STATE.with(|state| {
        let mut state = state.borrow_mut();
        if state.received.len() == KEPT {
            state.received.pop_front();
        }
        state.received.push_back(format!("{}\t{shown}", message.subject));
        state.total += 1;
        state.latest.clone()
    });
    if !message.reply_to.is_empty() {
        publish(&message.reply_to, latest.as_deref().unwrap_or(b"no reading yet"))?;
    }
    Ok(codec::UNIT_REPLY.to_vec())
}

/// The value of `name` in a query string (no percent-decoding: topics in
/// these examples need none).
fn query<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(key, _)| *key == name).map(|(_, value)| value)
}

fn text(status_code: u32, status: &str, body: impl Into<Vec<u8>>) -> Response {
    Response {
        status_code,
        status: status.to_owned(),
        header: BTreeMap::from([("content-type".to_owned(), "text/plain".to_owned())]),
        body: body.into(),
    }
}

fn handle_request(payload: &[u8]) -> CallResult {
    let request: Request = codec::deserialize(payload)?;
    let topic = query(&request.query_string, "topic");
    let response = match (request.method.as_str(), request.path.as_str(), topic) {
        ("POST", "/reading", topic) => {
            STATE.with(|state| state.borrow_mut().latest = Some(request.body.clone()));
            publish(topic.unwrap_or(DEFAULT_TOPIC), &request.body)?;
            text(200, "OK", "published")
        }
        ("POST", "/publish", Some(topic)) => {
            publish(topic, &request.body)?;
            text(200, "OK", "published")
        }
        ("POST", "/request", Some(topic)) => {
            let timeout_ms = query(&request.query_string, "timeout").and_then(|t| t.parse().ok()).unwrap_or(2000);
            let message = RequestMessage { subject: topic.to_owned(), body: request.body, timeout_ms };
            let reply = host_call("default", MESSAGING, OP_PERFORM_REQUEST, &codec::serialize(&message)?)?;
            text(200, "OK", reply)
        }
        ("GET", "/received/total", _) => STATE.with(|state| text(200, "OK", state.borrow().total.to_string())),
        ("GET", "/received", _) => STATE.with(|state| {
            let state = state.borrow();
            let mut body = String::new();
            for line in &state.received {
                body.push_str(line);
                body.push('\n');
            }
            let mut response = text(200, "OK", body);
            response.header.insert("x-received-total".to_owned(), state.total.to_string());
            response
        }),
        _ => text(404, "Not Found", "try POST /reading, POST /publish?topic=T, POST /request?topic=T or GET /received"),
    };
    Ok(codec::serialize(&response)?)
}
