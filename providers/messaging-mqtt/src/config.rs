//! The link values, read and checked once at bind time.
//!
//! The values that describe the broker connection (URL, credentials, TLS
//! files, last will, outbox) form the connection's identity: actors linked
//! with the same ones share one connection. The others (SUBSCRIPTION, QOS,
//! SUBJECTS, ON_FAILURE, RETRY_LIMIT) are the actor's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mqtt_broker::{Broker, BrokerSettings, Spelling};
use provider_sdk::{ProviderError, Setting, SettingKind, SettingScope};

use crate::topic::{self, Subjects};

/// The broker used when a link names none.
pub use mqtt_broker::DEFAULT_URL;

/// The link values that make up a connection's identity.
pub const CONNECTION_VALUES: [&str; 20] = [
    "URL",
    "CLIENT_ID",
    "USERNAME",
    "PASSWORD",
    "PASSWORD_FILE",
    "KEEPALIVE",
    "CA_FILE",
    "CLIENT_CERT",
    "CLIENT_KEY",
    "WILL_TOPIC",
    "WILL_PAYLOAD",
    "WILL_QOS",
    "WILL_RETAIN",
    "SESSION_EXPIRY",
    "OUTBOX",
    "OUTBOX_MAX_ENTRIES",
    "OUTBOX_MAX_BYTES",
    "INBOUND_WINDOW",
    "MAX_PACKET_SIZE",
    "INBOUND_BUFFER",
];

/// Quality of service the provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qos {
    /// At most once: sent at once, never queued.
    AtMostOnce,
    /// At least once: through the outbox, acknowledged by the broker.
    AtLeastOnce,
}

impl Qos {
    fn parse(name: &str, text: &str) -> Result<Qos, ProviderError> {
        match text.trim() {
            "0" => Ok(Qos::AtMostOnce),
            "1" => Ok(Qos::AtLeastOnce),
            _ => Err(ProviderError::bad_request(format!("{name} must be 0 or 1, not `{text}` (QoS 2 is not offered)"))),
        }
    }

    /// rumqttc's value.
    pub fn mqtt(self) -> rumqttc::v5::mqttbytes::QoS {
        match self {
            Qos::AtMostOnce => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
            Qos::AtLeastOnce => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        }
    }
}

/// What happens to a message whose handler failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Deliver it again, with a growing pause, up to a limit (0: no
    /// limit); past the limit it is dropped with an error in the log.
    Retry {
        /// Attempts after the first; 0 for no limit.
        limit: u32,
    },
    /// Drop it with a warning in the log.
    Drop,
}

/// The last will the broker publishes if the connection drops.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Will {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: String,
    /// Its QoS.
    pub qos: Qos,
    /// Whether the broker retains it.
    pub retain: bool,
}

/// A broker connection, as the link values describe it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionConfig {
    /// The broker: URL, TLS and credentials.
    pub broker: Broker,
    /// The client id: stable, so the broker keeps the session.
    pub client_id: String,
    /// Keep-alive interval.
    pub keepalive: Duration,
    /// Last will.
    pub will: Option<Will>,
    /// How long the broker keeps the session while the host is away, s.
    pub session_expiry: u32,
    /// The outbox database.
    pub outbox: PathBuf,
    /// Most entries the outbox holds.
    pub outbox_max_entries: u64,
    /// Most bytes (topics and payloads) the outbox holds.
    pub outbox_max_bytes: u64,
    /// Most unacknowledged QoS 1 messages the broker may send at once
    /// (MQTT 5 receive maximum); bounds the host's inbound memory.
    pub inbound_window: u16,
    /// Largest MQTT packet accepted from the broker, bytes.
    pub max_packet_size: u32,
    /// Most bytes of inbound messages waiting for the actors; beyond, the
    /// connection pauses until they catch up.
    pub inbound_buffer: usize,
}

/// One actor's link, read from its values.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Its broker connection.
    pub connection: ConnectionConfig,
    /// The MQTT filters it subscribes to.
    pub filters: Vec<String>,
    /// QoS of its publishes and subscriptions.
    pub qos: Qos,
    /// How its subjects map to topics.
    pub subjects: Subjects,
    /// What happens when its handler fails.
    pub on_failure: OnFailure,
}

/// The settings this provider declares.
pub fn declared() -> Vec<Setting> {
    let text = |name: &str, default: Option<&str>, doc: &str| Setting {
        name: name.to_owned(),
        scope: SettingScope::Link,
        kind: SettingKind::Text,
        default: default.map(str::to_owned),
        required: false,
        doc: doc.to_owned(),
    };
    let int = |name: &str, min: i64, max: i64, default: &str, doc: &str| Setting {
        name: name.to_owned(),
        scope: SettingScope::Link,
        kind: SettingKind::Integer { min: Some(min), max: Some(max) },
        default: Some(default.to_owned()),
        required: false,
        doc: doc.to_owned(),
    };
    let choice = |name: &str, words: &[&str], default: &str, doc: &str| Setting {
        name: name.to_owned(),
        scope: SettingScope::Link,
        kind: SettingKind::Choice(words.iter().map(|w| w.to_string()).collect()),
        default: Some(default.to_owned()),
        required: false,
        doc: doc.to_owned(),
    };
    vec![
        text("URL", Some(DEFAULT_URL), "the broker, mqtt://host:port or mqtts://host:port; actors linked with the same connection values share one connection"),
        text("CLIENT_ID", None, "the MQTT client id; default: stable, derived from the host's state directory and the connection values"),
        text("USERNAME", None, "user name for the broker"),
        text("PASSWORD", None, "password for the broker"),
        text("PASSWORD_FILE", None, "a file holding the password (relative to the provider's state directory)"),
        int("KEEPALIVE", 5, 65535, "30", "keep-alive interval, seconds"),
        text("CA_FILE", None, "PEM certificates to trust for mqtts:// (default: the system's roots)"),
        text("CLIENT_CERT", None, "PEM client certificate for mqtts://, with CLIENT_KEY"),
        text("CLIENT_KEY", None, "PEM private key of CLIENT_CERT"),
        text("WILL_TOPIC", None, "topic of the last will, published by the broker when the host drops off"),
        text("WILL_PAYLOAD", Some(""), "payload of the last will"),
        choice("WILL_QOS", &["0", "1"], "1", "QoS of the last will"),
        Setting {
            name: "WILL_RETAIN".to_owned(),
            scope: SettingScope::Link,
            kind: SettingKind::Boolean,
            default: Some("false".to_owned()),
            required: false,
            doc: "whether the broker retains the last will".to_owned(),
        },
        int("SESSION_EXPIRY", 0, u32::MAX as i64, "604800", "seconds the broker keeps the session (subscriptions, queued QoS 1 messages) while the host is away"),
        text("OUTBOX", None, "the outbox database (relative to the provider's state directory); default: outbox-CLIENT_ID.db"),
        int("OUTBOX_MAX_ENTRIES", 1, 100_000_000, "100000", "most messages the outbox holds; a publish beyond is refused"),
        int("OUTBOX_MAX_BYTES", 1024, i64::MAX, "67108864", "most bytes (topics and payloads) the outbox holds; a publish beyond is refused"),
        int("INBOUND_WINDOW", 1, 1024, "32", "most unacknowledged QoS 1 messages the broker sends at once"),
        int("INBOUND_BUFFER", 65536, i64::MAX, "4194304", "most bytes of inbound messages waiting for the actors; beyond, the connection pauses (the broker keeps the rest) until they catch up"),
        int("MAX_PACKET_SIZE", 1024, 268_435_455, "262144", "largest message accepted from the broker, bytes; with INBOUND_WINDOW it bounds the memory inbound messages take"),
        text("SUBSCRIPTION", Some(""), "comma-separated topic filters (in the SUBJECTS syntax) delivered to the actor"),
        choice("QOS", &["0", "1"], "1", "QoS of the actor's publishes and subscriptions; QoS 1 publishes go through the durable outbox"),
        choice("SUBJECTS", &["mqtt", "nats"], "mqtt", "how subjects map to topics: mqtt (unchanged) or nats (a.b.* is a/b/+, > is #)"),
        choice("ON_FAILURE", &["retry", "drop"], "retry", "what happens to a message whose handler failed"),
        int("RETRY_LIMIT", 0, 1_000_000, "5", "deliveries after the first for ON_FAILURE = retry; 0 for no limit"),
    ]
}

fn bad(message: impl Into<String>) -> ProviderError {
    ProviderError::bad_request(message)
}

fn number<T: std::str::FromStr>(values: &BTreeMap<String, String>, name: &str, default: T) -> Result<T, ProviderError> {
    match values.get(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| bad(format!("{name} must be a whole number, not `{text}`"))),
    }
}

fn path_in(state_dir: &Path, value: &str) -> PathBuf {
    let path = Path::new(value);
    if path.is_absolute() {
        path.to_owned()
    } else {
        state_dir.join(path)
    }
}

impl LinkConfig {
    /// Reads the link values. `state_dir` resolves relative file names and
    /// makes the default client id stable for this host.
    pub fn parse(values: &BTreeMap<String, String>, state_dir: &Path) -> Result<LinkConfig, ProviderError> {
        let get = |name: &str| values.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let broker = BrokerSettings::from_values(|name| values.get(name).cloned())
            .resolve(state_dir, Spelling::Values)
            .map_err(|e| bad(e.0))?;
        let client_id = match get("CLIENT_ID") {
            Some(id) => id.to_owned(),
            None => default_client_id(values, state_dir),
        };
        if client_id.len() > 65535 || client_id.contains('\0') {
            return Err(bad("CLIENT_ID must be under 64 KiB and hold no NUL"));
        }
        let will = match get("WILL_TOPIC") {
            None => None,
            Some(topic) => {
                topic::check_name(topic).map_err(|e| bad(format!("WILL_TOPIC: {e}")))?;
                Some(Will {
                    topic: topic.to_owned(),
                    payload: values.get("WILL_PAYLOAD").cloned().unwrap_or_default(),
                    qos: Qos::parse("WILL_QOS", get("WILL_QOS").unwrap_or("1"))?,
                    retain: get("WILL_RETAIN").is_some_and(|v| v.eq_ignore_ascii_case("true")),
                })
            }
        };
        let outbox = match get("OUTBOX") {
            Some(file) => path_in(state_dir, file),
            None => state_dir.join(format!("outbox-{}.db", sanitize(&client_id))),
        };
        let connection = ConnectionConfig {
            broker,
            client_id,
            keepalive: Duration::from_secs(number(values, "KEEPALIVE", 30u64)?.max(5)),
            will,
            session_expiry: number(values, "SESSION_EXPIRY", 604_800u32)?,
            outbox,
            outbox_max_entries: number(values, "OUTBOX_MAX_ENTRIES", 100_000u64)?.max(1),
            outbox_max_bytes: number(values, "OUTBOX_MAX_BYTES", 64 * 1024 * 1024u64)?.max(1024),
            inbound_window: number(values, "INBOUND_WINDOW", 32u16)?.clamp(1, 1024),
            max_packet_size: number(values, "MAX_PACKET_SIZE", 256 * 1024u32)?.max(1024),
            inbound_buffer: number(values, "INBOUND_BUFFER", 4 * 1024 * 1024usize)?.max(64 * 1024),
        };

        let subjects = Subjects::parse(get("SUBJECTS").unwrap_or("mqtt")).map_err(|e| bad(e.to_string()))?;
        let mut filters = Vec::new();
        for subject in get("SUBSCRIPTION").unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let filter = subjects.to_mqtt(subject).map_err(|e| bad(format!("SUBSCRIPTION: {e}")))?;
            topic::check_filter(&filter).map_err(|e| bad(format!("SUBSCRIPTION: {e}")))?;
            filters.push(filter);
        }
        let on_failure = match get("ON_FAILURE").unwrap_or("retry").to_ascii_lowercase().as_str() {
            "retry" => OnFailure::Retry { limit: number(values, "RETRY_LIMIT", 5u32)? },
            "drop" => OnFailure::Drop,
            other => return Err(bad(format!("ON_FAILURE must be retry or drop, not `{other}`"))),
        };
        Ok(LinkConfig {
            connection,
            filters,
            qos: Qos::parse("QOS", get("QOS").unwrap_or("1"))?,
            subjects,
            on_failure,
        })
    }
}

/// The connection values left out of the default client id: secrets. The
/// client id is sent in the clear to the broker, which logs it and shows
/// it to anyone who may read `$SYS` or its admin API, and FNV-1a is no
/// barrier to guessing a password from its hash.
const SECRET_VALUES: [&str; 1] = ["PASSWORD"];

/// `host-edge-` and a hash of the state directory and the connection
/// values (secrets excepted): the same on every start of this host,
/// different for another host or another connection, so the broker keeps
/// each one's session.
fn default_client_id(values: &BTreeMap<String, String>, state_dir: &Path) -> String {
    client_id_hash(values, state_dir, false)
}

/// The default client id over the connection values, secrets fed as
/// absent unless `with_secrets` (only to find what an earlier release
/// named an outbox; never sent).
fn client_id_hash(values: &BTreeMap<String, String>, state_dir: &Path, with_secrets: bool) -> String {
    // A fixed function (FNV-1a), not std's hasher, whose algorithm may
    // change between Rust releases: the id must survive upgrades.
    let mut fnv: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            fnv = (fnv ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(state_dir.as_os_str().as_encoded_bytes());
    for name in CONNECTION_VALUES {
        feed(name.as_bytes());
        // A secret is fed as absent, so a link without one keeps the id
        // (and the outbox file) it had before secrets were left out.
        let value = values.get(name).filter(|_| with_secrets || !SECRET_VALUES.contains(&name));
        feed(value.map_or(&[0xff][..], |v| v.as_bytes()));
    }
    format!("host-edge-{fnv:016x}")
}

/// Moves the outbox an earlier release kept for these link `values` to
/// `outbox`, where this one keeps it, so the publishes it queued are still
/// sent: before the password was left out of the default client id, a link
/// with a `PASSWORD` and neither `CLIENT_ID` nor `OUTBOX` kept its outbox
/// under an id that took the password in. SQLite's `-wal` and `-shm` files
/// move first and the database last, so an interrupted move is finished by
/// the next bind. `Ok(Some(old path))` when an outbox was moved.
pub fn adopt_legacy_outbox(
    values: &BTreeMap<String, String>,
    state_dir: &Path,
    outbox: &Path,
) -> std::io::Result<Option<PathBuf>> {
    let set = |name: &str| values.get(name).is_some_and(|v| !v.is_empty());
    if set("CLIENT_ID") || set("OUTBOX") || !set("PASSWORD") {
        return Ok(None);
    }
    let legacy = state_dir.join(format!("outbox-{}.db", sanitize(&client_id_hash(values, state_dir, true))));
    if legacy == outbox || !legacy.exists() || outbox.exists() {
        return Ok(None);
    }
    for sidecar in ["-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{sidecar}", legacy.display()));
        if from.exists() {
            std::fs::rename(&from, format!("{}{sidecar}", outbox.display()))?;
        }
    }
    std::fs::rename(&legacy, outbox)?;
    Ok(Some(legacy))
}

fn sanitize(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_defaults_name_the_local_broker_a_stable_client_id_and_an_outbox_in_the_state_directory() {
        let dir = Path::new("/var/lib/host-edge/providers/mqtt");
        let a = LinkConfig::parse(&values(&[]), dir).unwrap();
        let b = LinkConfig::parse(&values(&[("SUBSCRIPTION", "x/#")]), dir).unwrap();
        assert_eq!((a.connection.broker.host.as_str(), a.connection.broker.port), ("127.0.0.1", 1883));
        assert_eq!(a.connection, b.connection, "subscriptions do not change the connection");
        assert!(a.connection.client_id.starts_with("host-edge-"));
        assert!(a.connection.outbox.starts_with(dir));
        let other = LinkConfig::parse(&values(&[]), Path::new("/elsewhere")).unwrap();
        assert_ne!(a.connection.client_id, other.connection.client_id);
        assert_eq!(a.qos, Qos::AtLeastOnce);
    }

    #[test]
    fn the_default_client_id_is_not_derived_from_the_password() {
        // The id is sent in the clear and shown by the broker; a hash that
        // took in the password let anyone who saw the id test guesses.
        let dir = Path::new("/var/lib/host-edge/providers/mqtt");
        let id = |pairs: &[(&str, &str)]| LinkConfig::parse(&values(pairs), dir).unwrap().connection.client_id;
        let none = id(&[("USERNAME", "edge")]);
        let one = id(&[("USERNAME", "edge"), ("PASSWORD", "hunter2")]);
        let other = id(&[("USERNAME", "edge"), ("PASSWORD", "correct horse")]);
        assert_eq!(one, other, "a password does not change the id");
        assert_eq!(one, none, "an id without a password is the one it always was");
        assert_ne!(one, id(&[("USERNAME", "other")]), "other values still tell connections apart");
        assert_eq!(none, "host-edge-c65293458c6fbe29", "the id of a link without a password is unchanged");
    }

    #[test]
    fn an_outbox_kept_under_the_old_password_derived_id_moves_to_the_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let link = values(&[("USERNAME", "edge"), ("PASSWORD", "hunter2")]);
        let outbox = LinkConfig::parse(&link, dir.path()).unwrap().connection.outbox;
        let legacy = dir.path().join(format!("outbox-{}.db", client_id_hash(&link, dir.path(), true)));
        assert_ne!(legacy, outbox);
        std::fs::write(&legacy, "db").unwrap();
        std::fs::write(format!("{}-wal", legacy.display()), "wal").unwrap();
        assert_eq!(adopt_legacy_outbox(&link, dir.path(), &outbox).unwrap(), Some(legacy.clone()));
        assert_eq!(std::fs::read_to_string(&outbox).unwrap(), "db");
        assert_eq!(std::fs::read_to_string(format!("{}-wal", outbox.display())).unwrap(), "wal");
        assert!(!legacy.exists());
        assert_eq!(adopt_legacy_outbox(&link, dir.path(), &outbox).unwrap(), None, "once");
        let named = values(&[("PASSWORD", "hunter2"), ("CLIENT_ID", "mine")]);
        assert_eq!(adopt_legacy_outbox(&named, dir.path(), &outbox).unwrap(), None, "a chosen id never changed");
    }

    #[test]
    fn nats_subscriptions_become_mqtt_filters() {
        let link = LinkConfig::parse(&values(&[("SUBJECTS", "nats"), ("SUBSCRIPTION", "sensors.*.temp, cmd.>")]), Path::new("/s")).unwrap();
        assert_eq!(link.filters, vec!["sensors/+/temp".to_owned(), "cmd/#".to_owned()]);
        let err = LinkConfig::parse(&values(&[("SUBSCRIPTION", "a/#/b")]), Path::new("/s")).unwrap_err();
        assert!(err.message().contains("SUBSCRIPTION") && err.message().contains("last level"), "{err}");
    }
}
