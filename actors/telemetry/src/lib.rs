//! `telemetry`: the messaging example. Over HTTP, `POST /reading[?topic=T]`
//! keeps the body as the latest reading and publishes it (default topic
//! `sensors/reading`), `POST /publish?topic=T` publishes the body, `POST
//! /request?topic=T[&timeout=MS]` answers with the reply to a request, and
//! `GET /received` lists what was delivered (`topic<TAB>body` lines, bodies
//! cut at 64 bytes, the last 20,000; all counted in `x-received-total` and
//! at `GET /received/total`). A delivered message with a `replyTo` is
//! answered with the latest reading; one whose body is `fail` fails, to
//! show the provider's retries. Refusals from the provider are returned,
//! so the HTTP server answers them by kind (403, 503, 504).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use host_edge_actor::prelude::*;

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

actor_handlers! { http::HANDLE_REQUEST => serve, messaging::DELIVER_MESSAGE => deliver }

fn deliver(message: messaging::BrokerMessage) -> HandlerResult<()> {
    if message.body == b"fail" {
        return Err("refused to handle a message whose body is fail".into());
    }
    let latest = STATE.with_borrow_mut(|state| {
        if state.received.len() == 20_000 {
            state.received.pop_front();
        }
        let shown = String::from_utf8_lossy(&message.body[..message.body.len().min(64)]);
        state.received.push_back(format!("{}\t{shown}", message.subject));
        state.total += 1;
        state.latest.clone()
    });
    if !message.reply_to.is_empty() {
        messaging::default().reply(&message, latest.as_deref().unwrap_or(b"no reading yet"))?;
    }
    Ok(())
}

fn serve(request: http::Request) -> HandlerResult<http::Response> {
    let (bus, topic) = (messaging::default(), request.query("topic"));
    let body = match (request.method.as_str(), request.path.as_str(), topic) {
        ("POST", "/reading", topic) => {
            STATE.with_borrow_mut(|state| state.latest = Some(request.body.clone()));
            bus.publish(topic.as_deref().unwrap_or("sensors/reading"), &request.body)?;
            b"published".to_vec()
        }
        ("POST", "/publish", Some(topic)) => bus.publish(&topic, &request.body).map(|()| b"published".to_vec())?,
        ("POST", "/request", Some(topic)) => {
            let timeout = request.query("timeout").and_then(|t| t.parse().ok()).unwrap_or(2000);
            bus.request(&topic, &request.body, Duration::from_millis(timeout))?
        }
        ("GET", "/received/total", _) => STATE.with_borrow(|state| state.total.to_string().into_bytes()),
        ("GET", "/received", _) => {
            let (lines, total) = STATE.with_borrow(|state| (state.received.iter().map(|line| format!("{line}\n")).collect::<String>(), state.total));
            return Ok(http::Response::ok().with_text(lines).with_header("x-received-total", total.to_string()));
        }
        _ => return Ok(http::Response::not_found().with_text("try POST /reading, POST /publish?topic=T, POST /request?topic=T or GET /received")),
    };
    Ok(http::Response::ok().with_header("content-type", "text/plain").with_body(body))
}
