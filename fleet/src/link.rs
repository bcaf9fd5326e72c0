//! The device's connection to the fleet's broker.
//!
//! One rumqttc client (MQTT 5), driven on a thread of its own, that keeps
//! reconnecting with a growing pause for as long as the host runs. Every
//! connection starts clean and subscribes afresh to what the agent wants
//! (the command topics, the chunks of a module being staged): what the
//! device missed while away is on the broker as retained messages, which
//! arrive with their retain flag set. The last will marks the device
//! `offline`; each connection says `online` again. Messages go to the agent
//! over a channel; nothing here decides anything.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Event};

use super::config::FleetConfig;

/// Largest message accepted from the broker: a module chunk and more.
pub const MAX_PACKET: u32 = 1024 * 1024;

/// What the connection hands the agent.
#[derive(Debug, Clone)]
pub enum Inbound {
    /// A message on a subscribed topic.
    Message {
        /// Its topic.
        topic: String,
        /// Its payload.
        payload: Vec<u8>,
        /// Delivered from the broker's store of retained messages.
        retained: bool,
    },
    /// A connection was made (the first, or again after a drop).
    Connected,
}

/// A running connection.
pub struct Link {
    client: Client,
    filters: Arc<Mutex<BTreeSet<String>>>,
    stopping: Arc<AtomicBool>,
    /// Whether a connection is up: nothing is queued while it is not, so
    /// that the request queue is empty for the subscriptions when it comes
    /// back.
    connected: Arc<AtomicBool>,
    online: String,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("online", &self.online).finish_non_exhaustive()
    }
}

/// Why talking to the fleet's broker failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker settings do not make a connection.
    #[error("{0}")]
    Settings(String),
    /// The connection's thread could not start.
    #[error("starting the broker connection: {0}")]
    Thread(std::io::Error),
    /// The broker refused the connection, or cannot be reached.
    #[error("cannot reach the broker {url}: {problem}")]
    Unreachable {
        /// The broker.
        url: String,
        /// What the client said.
        problem: String,
    },
    /// No answer to the connection within 10 s.
    #[error("the broker {0} did not answer within 10 s")]
    Silent(String),
    /// The client would not take a request.
    #[error("{what}: {problem}")]
    Request {
        /// `publishing`, `subscribing`.
        what: &'static str,
        /// What the client said.
        problem: String,
    },
    /// The broker refused a publish (a PUBACK with a reason).
    #[error("the broker refused a publish: {0} (is this user allowed to publish under the prefix?)")]
    Refused(String),
    /// Not every publish was acknowledged in time.
    #[error("the broker acknowledged {acked} of {count} messages within {timeout:?}")]
    Unacknowledged {
        /// Acknowledged.
        acked: usize,
        /// Sent.
        count: usize,
        /// How long it was given.
        timeout: Duration,
    },
    /// The connection dropped.
    #[error("the connection to the broker dropped: {0}")]
    Lost(String),
    /// The connection closed.
    #[error("the connection to the broker closed")]
    Closed,
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << failures.saturating_sub(1).min(5))).min(Duration::from_secs(5))
}

impl Link {
    /// Connects to `config`'s broker as the device, subscribing to
    /// `filters`, and hands what arrives to `inbound`.
    pub fn start(config: &FleetConfig, filters: BTreeSet<String>, inbound: Sender<Inbound>) -> Result<Link, BrokerError> {
        let client_id = format!("host-edge-fleet-{}", config.device);
        let online = config.topics.online(&config.device);
        let mut options = config.broker.options(&client_id).map_err(|e| BrokerError::Settings(e.0))?;
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_start(true)
            .set_max_packet_size(Some(MAX_PACKET))
            .set_connection_timeout(10)
            .set_last_will(LastWill::new(online.clone(), "offline", QoS::AtLeastOnce, true, None));
        let (client, mut connection) = Client::new(options, 512);
        let filters = Arc::new(Mutex::new(filters));
        let stopping = Arc::new(AtomicBool::new(false));
        let connected = Arc::new(AtomicBool::new(false));
        let thread = {
            let (client, filters, stopping, online) = (client.clone(), Arc::clone(&filters), Arc::clone(&stopping), online.clone());
            let connected = Arc::clone(&connected);
            // Subscriptions not yet queued (the request queue was full).
            let mut unsent: Vec<String> = Vec::new();
            let url = config.broker.url.clone();
            std::thread::Builder::new()
                .name("fleet-link".into())
                .spawn(move || {
                    let mut failures = 0u32;
                    loop {
                        unsent.retain(|filter| client.try_subscribe(filter.clone(), QoS::AtLeastOnce).is_err());
                        match connection.recv() {
                            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                                if failures > 0 {
                                    tracing::info!(broker = %url, "fleet: connected again");
                                }
                                failures = 0;
                                connected.store(true, Ordering::SeqCst);
                                unsent = filters.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
                                unsent.retain(|filter| client.try_subscribe(filter.clone(), QoS::AtLeastOnce).is_err());
                                let _ = client.try_publish(online.clone(), QoS::AtLeastOnce, true, "online");
                                if inbound.send(Inbound::Connected).is_err() {
                                    return;
                                }
                            }
                            Ok(Ok(Event::Incoming(Packet::Publish(publish)))) => {
                                let message = Inbound::Message {
                                    topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                                    payload: publish.payload.to_vec(),
                                    retained: publish.retain,
                                };
                                match inbound.try_send(message) {
                                    Ok(()) => {}
                                    Err(crossbeam_channel::TrySendError::Full(_)) => {
                                        tracing::warn!("fleet: the agent is busy and messages pile up; dropping one (a retained command comes back at the next connection)");
                                    }
                                    Err(crossbeam_channel::TrySendError::Disconnected(_)) => return,
                                }
                            }
                            Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) => return,
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => {
                                connected.store(false, Ordering::SeqCst);
                                if stopping.load(Ordering::SeqCst) {
                                    return;
                                }
                                failures += 1;
                                if failures == 1 {
                                    tracing::warn!(broker = %url, "fleet: the broker is not reachable ({e}); the host serves on and keeps trying");
                                }
                                std::thread::sleep(backoff(failures));
                            }
                            Err(_) => return,
                        }
                    }
                })
                .map_err(BrokerError::Thread)?
        };
        Ok(Link { client, filters, stopping, connected, online, thread: Some(thread) })
    }

    /// Subscribes to `filter`, now and on every later connection.
    pub fn subscribe(&self, filter: &str) {
        self.filters.lock().unwrap_or_else(|e| e.into_inner()).insert(filter.to_owned());
        if !self.connected.load(Ordering::SeqCst) {
            return; // the next connection subscribes to every filter
        }
        if let Err(e) = self.client.try_subscribe(filter.to_owned(), QoS::AtLeastOnce) {
            tracing::warn!(filter, "fleet: cannot subscribe now ({e}); the next connection will");
        }
    }

    /// Stops receiving `filter`.
    pub fn unsubscribe(&self, filter: &str) {
        self.filters.lock().unwrap_or_else(|e| e.into_inner()).remove(filter);
        let _ = self.client.try_unsubscribe(filter.to_owned());
    }

    /// Publishes `payload` at `topic` (QoS 1). While no connection is up,
    /// or when it cannot be queued, the message is dropped with a log line:
    /// the status is published again at the next heartbeat anyway.
    pub fn publish(&self, topic: &str, payload: Vec<u8>, retain: bool) {
        if !self.connected.load(Ordering::SeqCst) {
            tracing::debug!(topic, "fleet: not connected; a message is dropped");
            return;
        }
        if let Err(e) = self.client.try_publish(topic.to_owned(), QoS::AtLeastOnce, retain, payload) {
            tracing::debug!(topic, "fleet: a message was not queued: {e}");
        }
    }

    /// Says `offline`, disconnects, and waits for the connection's thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.client.try_publish(self.online.clone(), QoS::AtLeastOnce, true, "offline");
        let _ = self.client.try_disconnect();
        // The disconnect ends the connection's loop; a broker that is away
        // must not hold up the host's stop for long.
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while !thread.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.shutdown();
    }
}
