//! The delivery thread of a connection: hands each inbound message to
//! every actor whose subscription matches, one message at a time (so the
//! order per topic is the broker's), and acknowledges a QoS 1 message to
//! the broker only after every such actor has handled it.
//!
//! A failed handler is retried with a growing pause or dropped, as the
//! actor's link says (`ON_FAILURE`, `RETRY_LIMIT`); either way the log says
//! so. A message still being retried when the connection stops is not
//! acknowledged, so the broker delivers it again next time.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use rumqttc::v5::mqttbytes::QoS;

use provider_sdk::codec::messaging::{BrokerMessage, OP_DELIVER_MESSAGE};
use provider_sdk::{ErrorKind, Level};

use crate::config::OnFailure;
use crate::connection::{Route, Shared, GRACE};
use crate::eventloop::Inbound;
use crate::requests::ReplyRoute;

/// How long a message waits for the host to finish linking its actor.
const LINK_WAIT: Duration = Duration::from_secs(30);

/// How a message fared with one actor.
enum Outcome {
    /// Handled, or dropped with a log line.
    Done,
    /// The connection is stopping while the message waits for a retry.
    Interrupted,
}

/// Runs deliveries until the connection stops.
pub fn run(shared: Arc<Shared>, inbox: Receiver<Inbound>) {
    // Messages no bound actor subscribes to yet, held during GRACE.
    let mut parked: Vec<Inbound> = Vec::new();
    let mut parked_version = 0;
    while !shared.stopping.load(Ordering::SeqCst) {
        match inbox.recv_timeout(Duration::from_millis(200)) {
            Ok(message) => {
                let size = message.1.payload.len();
                if let Some(unrouted) = deliver(&shared, message) {
                    parked.push(unrouted);
                    parked_version = shared.routes_version();
                }
                finished(&shared, size);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if shared.started.elapsed() >= GRACE
            && shared.session().is_connected()
            && shared.cleanup_due.swap(false, Ordering::SeqCst)
        {
            shared.unsubscribe_stale();
        }
        if parked.is_empty() {
            continue;
        }
        let version = shared.routes_version();
        if version != parked_version || shared.started.elapsed() >= GRACE {
            parked_version = version;
            let retry = std::mem::take(&mut parked);
            parked = retry.into_iter().filter_map(|message| deliver(&shared, message)).collect();
        }
    }
}

/// Delivers `message` to its actors and acknowledges it; hands it back
/// when no actor subscribes to it and the connection is young enough that
/// its actor may still be being bound.
fn deliver(shared: &Shared, (generation, publish): Inbound) -> Option<Inbound> {
    let topic = String::from_utf8_lossy(&publish.topic).into_owned();
    let routes = shared.routes_for(&topic);
    if routes.is_empty() {
        if shared.started.elapsed() < GRACE {
            return Some((generation, publish));
        }
        shared.log(
            Level::Warn,
            &format!("a message on `{topic}` matches no linked actor's SUBSCRIPTION; it was acknowledged and dropped"),
        );
    }
    for route in &routes {
        if let Outcome::Interrupted = deliver_to(shared, route, &topic, &publish) {
            return None;
        }
    }
    if publish.qos != QoS::AtMostOnce {
        acknowledge(shared, generation, &publish);
    }
    None
}

/// A message from the channel is finished (delivered, parked or given
/// up): a pause can end once none is left.
fn finished(shared: &Shared, size: usize) {
    shared.delivering_bytes.fetch_sub(size, Ordering::SeqCst);
    shared.delivering.fetch_sub(1, Ordering::SeqCst);
    shared.resume_when_idle();
}

fn deliver_to(shared: &Shared, route: &Route, topic: &str, publish: &rumqttc::v5::mqttbytes::v5::Publish) -> Outcome {
    let who = format!("actor `{}` ({})", route.name, route.actor);
    let Some(subject) = route.subjects.to_subject(topic) else {
        shared.log(
            Level::Warn,
            &format!(
                "a message on `{topic}` was dropped for {who}: with SUBJECTS = nats a topic holding `.`, or a level \
                 `*` or `>`, has no subject"
            ),
        );
        return Outcome::Done;
    };
    let properties = publish.properties.as_ref();
    let reply_to = match properties.and_then(|p| p.response_topic.clone()) {
        None => String::new(),
        Some(response_topic) => {
            let shown = route.subjects.to_subject(&response_topic).unwrap_or_else(|| response_topic.clone());
            let correlation = properties.and_then(|p| p.correlation_data.as_ref()).map(|d| d.to_vec());
            shared.replies.issue(&route.actor, &shown, ReplyRoute { topic: response_topic, correlation })
        }
    };
    let message = BrokerMessage { subject, reply_to, body: publish.payload.to_vec() };
    let payload = match provider_sdk::codec::serialize(&message) {
        Ok(payload) => payload,
        Err(e) => {
            shared.log(Level::Error, &format!("cannot encode a message on `{topic}` for {who}: {e}; dropped"));
            return Outcome::Done;
        }
    };
    let mut attempt: u32 = 0;
    let mut unlinked_since = None;
    loop {
        let error = match shared.host.dispatch(&route.actor, OP_DELIVER_MESSAGE, &payload) {
            Ok(_) => return Outcome::Done,
            Err(e) => e,
        };
        if shared.route(&route.actor).is_none() {
            shared.log(Level::Debug, &format!("{who} is no longer linked; a message on `{topic}` is not delivered to it"));
            return Outcome::Done;
        }
        // Bound here but not linked at the host yet: the host commits a
        // link after the provider's bind returns, and the broker may send
        // a resumed session's messages in between. Wait for the link.
        if error.kind() == ErrorKind::NotLinked && unlinked_since.get_or_insert_with(Instant::now).elapsed() < LINK_WAIT {
            if !pause_unless_stopping(shared, Duration::from_millis(20)) {
                return Outcome::Interrupted;
            }
            continue;
        }
        attempt += 1;
        match route.on_failure {
            OnFailure::Drop => {
                shared.log(
                    Level::Warn,
                    &format!("a message on `{topic}` was dropped: the handler of {who} failed ({error}), and ON_FAILURE is drop"),
                );
                return Outcome::Done;
            }
            OnFailure::Retry { limit } if limit != 0 && attempt > limit => {
                shared.log(
                    Level::Error,
                    &format!("a message on `{topic}` was dropped after {attempt} attempts: the handler of {who} failed ({error}); RETRY_LIMIT is {limit}"),
                );
                return Outcome::Done;
            }
            OnFailure::Retry { .. } => {
                let pause = Duration::from_millis(100u64 << (attempt - 1).min(6)).min(Duration::from_secs(5));
                shared.log(
                    Level::Warn,
                    &format!("the handler of {who} failed on a message on `{topic}` (attempt {attempt}): {error}; retrying in {} ms", pause.as_millis()),
                );
                if !pause_unless_stopping(shared, pause) {
                    return Outcome::Interrupted;
                }
            }
        }
    }
}

/// Sleeps `pause` in short steps; false when the connection stops.
fn pause_unless_stopping(shared: &Shared, pause: Duration) -> bool {
    let deadline = Instant::now() + pause;
    while Instant::now() < deadline {
        if shared.stopping.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(deadline.saturating_duration_since(Instant::now())));
    }
    !shared.stopping.load(Ordering::SeqCst)
}

/// Acknowledges a QoS 1 message, in the connection it arrived on only:
/// after a reconnect its packet id may name another message, and the
/// broker sends it again anyway.
fn acknowledge(shared: &Shared, generation: u64, publish: &rumqttc::v5::mqttbytes::v5::Publish) {
    loop {
        if shared.generation.load(Ordering::SeqCst) != generation || !shared.session().is_connected() {
            return;
        }
        match shared.client.try_ack(publish) {
            Ok(()) => return,
            Err(_) if !shared.stopping.load(Ordering::SeqCst) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return,
        }
    }
}
