//! The network thread of a connection: drives rumqttc's event loop on a
//! single-threaded tokio runtime, reconnects with a growing pause, and
//! turns its events into the connection's state changes.
//!
//! rumqttc retransmits unacknowledged publishes on its own after a
//! reconnect; this provider clears that queue and sends again from the
//! outbox instead, so every outbox entry goes out by one path, with a
//! packet id the [`Session`](crate::session::Session) knows.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use rumqttc::v5::mqttbytes::v5::{Filter, LastWill, Packet, PubAck, PubAckReason, Publish, SubscribeReasonCode};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Event, EventLoop, MqttOptions};
use rumqttc::Outgoing;

use provider_sdk::{Level, ProviderError};

use crate::config::ConnectionConfig;
use crate::connection::Shared;
use crate::requests::ConnectionDropped;
use crate::session::Acked;

/// A message for the delivery thread, with the connection generation it
/// arrived in.
pub type Inbound = (u64, Publish);

/// rumqttc's options for `config`: a persistent session (clean start off,
/// a session expiry, a stable client id), manual acknowledgements, and a
/// receive maximum that bounds what the broker sends ahead.
pub fn options(config: &ConnectionConfig) -> Result<MqttOptions, ProviderError> {
    let mut options = config.broker.options(&config.client_id).map_err(|e| ProviderError::bad_request(e.0))?;
    options
        .set_keep_alive(config.keepalive)
        .set_clean_start(false)
        .set_session_expiry_interval(Some(config.session_expiry))
        .set_receive_maximum(Some(config.inbound_window))
        .set_max_packet_size(Some(config.max_packet_size))
        .set_manual_acks(true)
        .set_connection_timeout(10);
    if let Some(will) = &config.will {
        options.set_last_will(LastWill::new(will.topic.clone(), will.payload.clone(), will.qos.mqtt(), will.retain, None));
    }
    Ok(options)
}

/// The pause before reconnect attempt `failures` (1, 2, ...): 100 ms
/// doubling to 5 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.saturating_sub(1).min(6))).min(Duration::from_secs(5))
}

/// Runs the network side until the connection stops.
pub fn run(shared: Arc<Shared>, mut eventloop: EventLoop, deliveries: Sender<Inbound>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            shared.log(Level::Error, &format!("cannot start the network runtime: {e}"));
            return;
        }
    };
    runtime.block_on(async {
        let mut failures = 0u32;
        while !shared.stopping.load(Ordering::SeqCst) {
            let event = tokio::select! {
                event = eventloop.poll() => event,
                () = shared.stop.notified() => break,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    connected(&shared, ack.session_present, failures);
                    failures = 0;
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => incoming(&shared, &deliveries, publish),
                Ok(Event::Incoming(Packet::PubAck(ack))) => puback(&shared, &ack),
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    for code in ack.return_codes.iter().filter(|c| !matches!(c, SubscribeReasonCode::Success(_))) {
                        shared.log(Level::Error, &format!("the broker refused a subscription: {code:?}"));
                    }
                }
                Ok(Event::Incoming(Packet::Disconnect(disconnect))) => {
                    shared.log(Level::Warn, &format!("the broker closed the connection: {:?}", disconnect.reason_code));
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => shared.session().outgoing_publish(pkid),
                Ok(Event::Outgoing(Outgoing::AwaitAck(pkid))) => shared.session().await_ack(pkid),
                Ok(_) => {}
                // The broker closed the connection after the pause's clean
                // DISCONNECT (closing it here could lose the acknowledgements
                // written just before): reconnect at once.
                Err(_) if shared.paused.load(Ordering::SeqCst) => {
                    forget(&shared, &mut eventloop, "paused while the actors caught up");
                    shared.paused.store(false, Ordering::SeqCst);
                }
                Err(e) => {
                    failures += 1;
                    disconnected(&shared, &mut eventloop, &e.to_string(), failures);
                    tokio::select! {
                        () = tokio::time::sleep(backoff(failures)) => {}
                        () = shared.stop.notified() => break,
                    }
                }
            }
        }
        if shared.session().is_connected() && shared.client.try_disconnect().is_ok() {
            // Let the DISCONNECT go out, so the broker does not publish the
            // last will for an orderly stop.
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await;
        }
    });
}

fn connected(shared: &Shared, session_present: bool, failures: u32) {
    shared.generation.fetch_add(1, Ordering::SeqCst);
    shared.session().connected();
    *shared.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let (entries, _) = shared.outbox.len();
    let level = if failures > 0 { Level::Info } else { Level::Debug };
    shared.log(
        level,
        &format!("connected (session {}; {entries} messages in the outbox)", if session_present { "resumed" } else { "new" }),
    );

    let subscribed = shared.subscribed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut filters: Vec<Filter> = subscribed.iter().map(|(f, q)| Filter::new(f.clone(), q.mqtt())).collect();
    filters.push(Filter::new(shared.reply_topic.clone(), QoS::AtMostOnce));
    if let Err(e) = shared.client.try_subscribe_many(filters) {
        shared.log(Level::Error, &format!("cannot subscribe: {e}"));
    }
    shared.cleanup_due.store(true, Ordering::SeqCst);
    shared.pump();
}

/// Forgets the connection's in-flight state: the outbox is sent again
/// after the next CONNACK; rumqttc's own copies would go out a second time
/// under packet ids the session cannot map. Returns whether the broker was
/// connected.
fn forget(shared: &Shared, eventloop: &mut EventLoop, why: &str) -> bool {
    let was_connected = {
        let mut session = shared.session();
        let was = session.is_connected();
        session.disconnected();
        was
    };
    eventloop.pending.clear();
    shared.requests.fail_all(&ConnectionDropped { broker: shared.config.broker.url.clone(), why: why.to_owned() });
    *shared.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.to_owned());
    was_connected
}

fn disconnected(shared: &Shared, eventloop: &mut EventLoop, error: &str, failures: u32) {
    let was_connected = forget(shared, eventloop, error);
    let (entries, _) = shared.outbox.len();
    if was_connected {
        shared.log(Level::Warn, &format!("connection lost: {error}; {entries} messages wait in the outbox; reconnecting"));
    } else if failures == 1 {
        shared.log(Level::Warn, &format!("cannot reach the broker: {error}; {entries} messages wait in the outbox; retrying every few seconds"));
    } else {
        shared.log(Level::Debug, &format!("still cannot reach the broker: {error}"));
    }
}

fn incoming(shared: &Shared, deliveries: &Sender<Inbound>, publish: Publish) {
    shared.log(
        Level::Trace,
        &format!("received on `{}` (QoS {:?}, packet {})", String::from_utf8_lossy(&publish.topic), publish.qos, publish.pkid),
    );
    if publish.topic.as_ref() == shared.reply_topic.as_bytes() {
        let correlation = publish.properties.as_ref().and_then(|p| p.correlation_data.clone()).unwrap_or_default();
        if !shared.requests.answer(&correlation, publish.payload.to_vec()) {
            shared.log(Level::Debug, "a reply arrived for a request that no longer waits");
        }
        return;
    }
    let generation = shared.generation.load(Ordering::SeqCst);
    if publish.qos == QoS::AtMostOnce {
        if deliveries.try_send((generation, publish)).is_err() {
            shared.log(Level::Warn, "a QoS 0 message was dropped: the actors are behind and QoS 0 is not queued");
        }
        return;
    }
    // QoS 1. The receive maximum should keep the broker from sending more
    // than the channel (INBOUND_QUEUE messages, INBOUND_BUFFER bytes) holds, but brokers do not all honour it (Mosquitto
    // 2.0 sends ahead regardless), and leaving rumqttc's event loop
    // unpolled while the channel drains stalled its socket. So a message
    // that does not fit starts a pause: it and every message after it are
    // left unacknowledged, the delivery thread finishes what it holds, and
    // the connection is closed cleanly and opened again, whereupon the
    // broker sends the unacknowledged messages again, in order. The host
    // never holds more than the channel; a few messages may reach an actor
    // twice, as at-least-once allows.
    if shared.paused.load(Ordering::SeqCst) {
        return;
    }
    let size = publish.payload.len();
    let queued = shared.delivering_bytes.load(Ordering::SeqCst);
    let fits = queued == 0 || queued + size <= shared.config.inbound_buffer;
    shared.delivering.fetch_add(1, Ordering::SeqCst);
    shared.delivering_bytes.fetch_add(size, Ordering::SeqCst);
    if !fits || deliveries.try_send((generation, publish)).is_err() {
        shared.delivering.fetch_sub(1, Ordering::SeqCst);
        shared.delivering_bytes.fetch_sub(size, Ordering::SeqCst);
        shared.paused.store(true, Ordering::SeqCst);
        shared.log(
            Level::Info,
            &format!("the actors are {} messages behind: pausing the connection until they catch up; the broker keeps the rest", deliveries.len()),
        );
        shared.resume_when_idle();
    }
}

fn puback(shared: &Shared, ack: &PubAck) {
    let success = matches!(ack.reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers);
    let outcome = shared.session().puback(ack.pkid, success);
    let removed = match outcome {
        Acked::Entry(id) => Some(id),
        Acked::Refused(id) => {
            shared.log(
                Level::Error,
                &format!("the broker refused outbox message {id}: {:?}; it is removed from the outbox, not sent again", ack.reason),
            );
            Some(id)
        }
        Acked::Other => None,
    };
    if let Some(id) = removed {
        if let Err(e) = shared.outbox.remove(id) {
            shared.log(Level::Error, &format!("cannot remove acknowledged message {id} from the outbox: {e}"));
        }
        shared.pump();
    }
}
