//! The operator's side: publishing signed commands and modules, reading
//! what the devices report.
//!
//! `host-edge fleet` connects to the broker as a short-lived client: it
//! publishes the modules of a deployment in retained chunks, then the
//! signed command, retained under its target's topic, and waits until the
//! broker has acknowledged every message (QoS 1), so a device that is
//! offline now finds everything when it comes back. Statuses are read the
//! same way: every device's retained status arrives on subscribing.

use std::collections::BTreeMap;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError};
use mqtt_broker::Broker;
use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Event};

use super::link::{BrokerError, MAX_PACKET};
use super::status::{DeviceStatus, Event as DeviceEvent};
use super::topics::{Kind, Topics};

/// What the operator's connection hears.
#[derive(Debug)]
enum Heard {
    Connected,
    /// A PUBACK, with the broker's refusal when it refused the publish.
    Acked(Option<String>),
    Message { topic: String, payload: Vec<u8>, retained: bool },
    Lost(String),
}

/// A message a device published, as the operator reads it.
#[derive(Debug, Clone)]
pub enum Report {
    /// A device's status.
    Status(Box<DeviceStatus>),
    /// A device came online or went offline.
    Presence {
        /// The device.
        device: String,
        /// `true` for online.
        online: bool,
    },
    /// Something happened on a device.
    Event(DeviceEvent),
}

/// A connection to the broker as the operator.
pub struct Operator {
    client: Client,
    heard: Receiver<Heard>,
    /// Messages heard while waiting for acknowledgements, for
    /// [`Operator::next_report`].
    kept: std::cell::RefCell<std::collections::VecDeque<Heard>>,
    topics: Topics,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator").field("topics", &self.topics).finish_non_exhaustive()
    }
}

impl Operator {
    /// Connects to `broker`, waiting up to 10 s for it to answer.
    pub fn connect(broker: &Broker, topics: Topics) -> Result<Operator, BrokerError> {
        let id = format!("host-edge-operator-{}", nuid::next());
        let mut options = broker.options(&id).map_err(|e| BrokerError::Settings(e.0))?;
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_start(true)
            .set_max_packet_size(Some(MAX_PACKET))
            .set_connection_timeout(10);
        let (client, mut connection) = Client::new(options, 1024);
        let (tx, heard) = unbounded();
        let thread = std::thread::Builder::new()
            .name("fleet-operator".into())
            .spawn(move || loop {
                let next = match connection.recv() {
                    Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => Heard::Connected,
                    Ok(Ok(Event::Incoming(Packet::PubAck(ack)))) => Heard::Acked(match ack.reason {
                        PubAckReason::Success | PubAckReason::NoMatchingSubscribers => None,
                        refused => Some(format!("{refused:?}")),
                    }),
                    Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                        Heard::Message { topic: String::from_utf8_lossy(&p.topic).into_owned(), payload: p.payload.to_vec(), retained: p.retain }
                    }
                    Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) => return,
                    Ok(Ok(_)) => continue,
                    Ok(Err(e)) => Heard::Lost(e.to_string()),
                    Err(_) => return,
                };
                let lost = matches!(next, Heard::Lost(_));
                if tx.send(next).is_err() || lost {
                    return;
                }
            })
            .map_err(BrokerError::Thread)?;
        let operator = Operator { client, heard, kept: Default::default(), topics, thread: Some(thread) };
        match operator.heard.recv_timeout(Duration::from_secs(10)) {
            Ok(Heard::Connected) => Ok(operator),
            Ok(Heard::Lost(problem)) => Err(BrokerError::Unreachable { url: broker.url.clone(), problem }),
            _ => Err(BrokerError::Silent(broker.url.clone())),
        }
    }

    /// The fleet's topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Publishes every `(topic, payload)` retained at QoS 1 and waits until
    /// the broker has acknowledged them all. Returns the bytes sent
    /// (topics and payloads).
    pub fn publish_retained(&self, messages: Vec<(String, Vec<u8>)>, timeout: Duration) -> Result<u64, BrokerError> {
        let count = messages.len();
        let mut bytes = 0u64;
        let deadline = Instant::now() + timeout;
        let mut acked = 0usize;
        for (topic, payload) in messages {
            bytes += (topic.len() + payload.len()) as u64;
            // The request channel is bounded: take acknowledgements as they
            // come so the connection never stalls behind this loop.
            while let Ok(heard) = self.heard.try_recv() {
                acked += self.account(heard)?;
            }
            self.client
                .publish(topic, QoS::AtLeastOnce, true, payload)
                .map_err(|e| BrokerError::Request { what: "publishing", problem: e.to_string() })?;
        }
        while acked < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.heard.recv_timeout(left) {
                Ok(heard) => acked += self.account(heard)?,
                Err(RecvTimeoutError::Timeout) => return Err(BrokerError::Unacknowledged { acked, count, timeout }),
                Err(RecvTimeoutError::Disconnected) => return Err(BrokerError::Closed),
            }
        }
        Ok(bytes)
    }

    fn account(&self, heard: Heard) -> Result<usize, BrokerError> {
        match heard {
            Heard::Acked(None) => Ok(1),
            Heard::Acked(Some(refused)) => Err(BrokerError::Refused(refused)),
            Heard::Lost(e) => Err(BrokerError::Lost(e)),
            message @ Heard::Message { .. } => {
                self.kept.borrow_mut().push_back(message);
                Ok(0)
            }
            Heard::Connected => Ok(0),
        }
    }

    /// Removes the retained messages at `topics` (an empty retained message
    /// clears one).
    pub fn clear_retained(&self, topics: Vec<String>, timeout: Duration) -> Result<(), BrokerError> {
        self.publish_retained(topics.into_iter().map(|t| (t, Vec::new())).collect(), timeout).map(|_| ())
    }

    /// Subscribes to what every device reports.
    pub fn follow_devices(&self) -> Result<(), BrokerError> {
        for filter in self.topics.every_device() {
            self.client
                .subscribe(filter, QoS::AtLeastOnce)
                .map_err(|e| BrokerError::Request { what: "subscribing", problem: e.to_string() })?;
        }
        Ok(())
    }

    /// The next report from a device, waiting up to `timeout`.
    pub fn next_report(&self, timeout: Duration) -> Result<Option<Report>, BrokerError> {
        Ok(self.next_report_retained(timeout)?.map(|(report, _)| report))
    }

    /// The next report from a device and whether the broker had retained
    /// it, waiting up to `timeout`.
    fn next_report_retained(&self, timeout: Duration) -> Result<Option<(Report, bool)>, BrokerError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = match self.kept.borrow_mut().pop_front() {
                Some(kept) => Ok(kept),
                None => self.heard.recv_timeout(left),
            };
            let (topic, payload, retained) = match next {
                Ok(Heard::Message { topic, payload, retained }) => (topic, payload, retained),
                Ok(Heard::Lost(e)) => return Err(BrokerError::Lost(e)),
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => return Err(BrokerError::Closed),
            };
            if payload.is_empty() {
                continue; // a cleared retained message
            }
            match self.topics.parse(&topic) {
                Some(Kind::Status(_)) => match serde_json::from_slice::<DeviceStatus>(&payload) {
                    Ok(status) => return Ok(Some((Report::Status(Box::new(status)), retained))),
                    Err(e) => tracing::warn!(topic, "a status that cannot be read: {e}"),
                },
                Some(Kind::Online(device)) => {
                    return Ok(Some((Report::Presence { device, online: payload.as_slice() == b"online" }, retained)))
                }
                Some(Kind::Events(_)) => match serde_json::from_slice::<DeviceEvent>(&payload) {
                    Ok(event) => return Ok(Some((Report::Event(event), retained))),
                    Err(e) => tracing::warn!(topic, "an event that cannot be read: {e}"),
                },
                _ => {}
            }
        }
    }

    /// Every device's retained status and presence: what arrives until no
    /// retained message has come for `quiet` (heartbeats arriving
    /// meanwhile update what was read, and do not make it wait longer).
    pub fn statuses(&self, quiet: Duration) -> Result<BTreeMap<String, DeviceView>, BrokerError> {
        self.follow_devices()?;
        let mut devices: BTreeMap<String, DeviceView> = BTreeMap::new();
        let mut until = Instant::now() + quiet;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let Some((report, retained)) = self.next_report_retained(left)? else { break };
            if retained {
                until = Instant::now() + quiet;
            }
            match report {
                Report::Status(status) => {
                    let device = status.device.clone();
                    devices.entry(device).or_default().status = Some(*status);
                }
                Report::Presence { device, online } => devices.entry(device).or_default().online = Some(online),
                Report::Event(_) => {}
            }
        }
        Ok(devices)
    }

    /// Disconnects.
    pub fn disconnect(mut self) {
        let _ = self.client.disconnect();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the operator knows of one device.
#[derive(Debug, Clone, Default)]
pub struct DeviceView {
    /// Its last status.
    pub status: Option<DeviceStatus>,
    /// Its presence.
    pub online: Option<bool>,
}

/// Why the next sequence number could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SequenceError {
    /// The sequence file holds something other than a number.
    #[error("{path}: not a sequence number; it holds `{text}`")]
    Corrupt {
        /// The file.
        path: String,
        /// What it holds, shortened (a number is never secret).
        text: String,
    },
    /// Reading or writing the sequence file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        error: std::io::Error,
    },
}

/// The next sequence number for commands signed with the seed at `seed`:
/// above the last one used with it (kept beside it, in `SEED.seq`) and at
/// least the time in milliseconds, so that two machines signing for the
/// same fleet keep rising too.
///
/// The file is replaced whole (written beside, fsynced, renamed), so a
/// crash or a power cut leaves the last number or the new one, never an
/// empty or torn file, and the number is on disk before the command that
/// carries it is signed.
pub fn next_sequence(seed: &Path, now_ms: u64) -> Result<u64, SequenceError> {
    use std::io::Write;
    let file = seed.with_extension(match seed.extension() {
        Some(ext) => format!("{}.seq", ext.to_string_lossy()),
        None => "seq".to_owned(),
    });
    let io = |error| SequenceError::Io { path: file.display().to_string(), error };
    let last = match std::fs::read_to_string(&file) {
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .map_err(|_| SequenceError::Corrupt { path: file.display().to_string(), text: text.trim().chars().take(40).collect() })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io(e)),
    };
    let next = now_ms.max(last + 1);
    let mut out = atomic_write_file::AtomicWriteFile::open(&file).map_err(io)?;
    writeln!(out, "{next}").map_err(io)?;
    out.commit().map_err(io)?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_rise_with_every_command_even_when_the_clock_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("operator.nk");
        assert_eq!(next_sequence(&seed, 1_000).unwrap(), 1_000);
        assert_eq!(next_sequence(&seed, 1_000).unwrap(), 1_001);
        assert_eq!(next_sequence(&seed, 5).unwrap(), 1_002, "a clock set back does not lower it");
        assert_eq!(std::fs::read_to_string(dir.path().join("operator.nk.seq")).unwrap().trim(), "1002");
    }

    /// A sequence file rewritten in place is empty for a moment, then holds
    /// the new digits; a crash or power cut in between (no fsync either)
    /// leaves an empty or torn file, and the operator cannot sign again, or
    /// signs a number already used. Replaced whole, a reader that has the
    /// old file open (here a hard link to it) keeps seeing the old number
    /// whole while the new one lands.
    #[test]
    fn a_sequence_file_is_replaced_whole_so_a_crash_mid_write_cannot_tear_it() {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("operator.nk");
        assert_eq!(next_sequence(&seed, 1_000).unwrap(), 1_000);
        let before = dir.path().join("before.seq");
        std::fs::hard_link(dir.path().join("operator.nk.seq"), &before).unwrap();
        assert_eq!(next_sequence(&seed, 1_000).unwrap(), 1_001);
        assert_eq!(std::fs::read_to_string(&before).unwrap().trim(), "1000", "the old file was written over in place");
        assert_eq!(std::fs::read_to_string(dir.path().join("operator.nk.seq")).unwrap().trim(), "1001");
        std::fs::write(dir.path().join("operator.nk.seq"), "12ab").unwrap();
        let err = next_sequence(&seed, 1_000).unwrap_err();
        assert!(matches!(err, SequenceError::Corrupt { .. }) && err.to_string().contains("12ab"), "{err}");
    }
}
