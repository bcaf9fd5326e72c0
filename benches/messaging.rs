//! MQTT messaging costs, each beside a native rumqttc client in the same
//! run, against a private Mosquitto on loopback:
//! - an actor's publish, QoS 1 through the durable outbox (on disk, and on
//!   tmpfs to isolate the fsync), and QoS 0; per call, and as a stream
//!   until a subscriber has every message;
//! - a native client's publish (QoS 1 waiting for each PUBACK, and QoS 0);
//! - inbound messages per second handled by an actor (the telemetry
//!   example).
//!
//! Run with `cargo bench -p host-edge-benches --bench messaging`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use codec::messaging::BrokerMessage;
use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::Policy;
use host_edge_runtime::Limits;
use host_edge_runtime::{Host, LinkSpec};
use host_edge_benches::measure;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Connection, Event, MqttOptions};
use testkit::mqtt::{PrivateMosquitto, Subscriber};
use testkit::{actor_module, provider_archive, Signer};

const MESSAGING: &str = "wascc:messaging";
const STREAM: usize = 2000;

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Starts `module` (one instance) and links it to the MQTT provider with
/// `link` values; returns its key.
fn start(host: &Host, module: &str, link: &[(&str, &str)]) -> String {
    let signed = Signer::new().sign(&actor_module(module), module, &[MESSAGING]);
    let key = host.start_actor(host.load(&signed).unwrap(), 1, Limits::default()).unwrap();
    host.link(LinkSpec {
        actor: key.clone(),
        capability: CapabilityId::parse(MESSAGING).unwrap(),
        binding: "default".into(),
        provider: "mqtt".into(),
        values: values(link),
        grant: Vec::new(),
    })
    .unwrap();
    key
}

/// The echo actor's HostCall payload for a Publish of `body` to `topic`.
fn publish_call(topic: &str, body: &[u8]) -> Vec<u8> {
    let message = BrokerMessage { subject: topic.to_owned(), reply_to: String::new(), body: body.to_vec() };
    let mut payload = format!("default\n{MESSAGING}\nPublish\n").into_bytes();
    payload.extend_from_slice(&codec::serialize(&message).unwrap());
    payload
}

/// An actor's publishes: per call, then a stream of STREAM until the
/// subscriber has them all.
fn actor_publishes(host: &Host, actor: &str, broker: &PrivateMosquitto, label: &str, topic: &str) {
    let subscriber = Subscriber::start(broker.port(), &format!("bench-{label}"), topic);
    let body = [b'x'; 64];
    let call = publish_call(topic, &body);
    measure(&format!("actor publish, {label}"), 50, 2000, Duration::from_secs(10), || {
        host.call(actor, "HostCall", &call).unwrap();
    });
    let already = subscriber.wait_for(usize::MAX, Duration::from_secs(2)).len();
    let started = Instant::now();
    for _ in 0..STREAM {
        host.call(actor, "HostCall", &call).unwrap();
    }
    let accepted = started.elapsed();
    let received = subscriber.wait_for(already + STREAM, Duration::from_secs(60)).len() - already;
    let all = started.elapsed();
    println!(
        "{:<44} {STREAM} accepted in {accepted:.2?} ({:.0}/s); {received} received in {all:.2?} ({:.0}/s)",
        format!("actor stream, {label}"),
        STREAM as f64 / accepted.as_secs_f64(),
        received as f64 / all.as_secs_f64()
    );
}

fn native_client(broker: &PrivateMosquitto, id: &str) -> (Client, Connection) {
    let mut options = MqttOptions::new(id, "127.0.0.1", broker.port());
    options.set_keep_alive(Duration::from_secs(30));
    Client::new(options, 1024)
}

/// A native rumqttc client: QoS 1 waiting for each PUBACK, a pipelined
/// QoS 1 stream, and QoS 0.
fn native_publishes(broker: &PrivateMosquitto, topic: &str) {
    let (client, mut connection) = native_client(broker, "bench-native");
    let next_ack = |connection: &mut Connection| loop {
        match connection.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => return,
            Ok(Ok(_)) => {}
            other => panic!("waiting for a PUBACK: {other:?}"),
        }
    };
    let body = vec![b'x'; 64];
    measure("native rumqttc publish, QoS 1 (PUBACK)", 50, 2000, Duration::from_secs(10), || {
        client.publish(topic, QoS::AtLeastOnce, false, body.clone()).unwrap();
        next_ack(&mut connection);
    });
    let started = Instant::now();
    let sender = {
        let client = client.clone();
        let topic = topic.to_owned();
        let body = body.clone();
        std::thread::spawn(move || {
            for _ in 0..STREAM {
                client.publish(topic.clone(), QoS::AtLeastOnce, false, body.clone()).unwrap();
            }
        })
    };
    for _ in 0..STREAM {
        next_ack(&mut connection);
    }
    sender.join().unwrap();
    let elapsed = started.elapsed();
    println!(
        "{:<44} {STREAM} acknowledged in {elapsed:.2?} ({:.0}/s)",
        "native stream, QoS 1",
        STREAM as f64 / elapsed.as_secs_f64()
    );
    measure("native rumqttc publish, QoS 0", 50, 2000, Duration::from_secs(10), || {
        client.publish(topic, QoS::AtMostOnce, false, body.clone()).unwrap();
        // QoS 0 is written when the event loop takes it.
        while !matches!(connection.recv_timeout(Duration::from_secs(10)), Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Publish(_))))) {}
    });
    let _ = client.disconnect();
}

/// Inbound: a native client publishes STREAM messages as fast as it can;
/// how long until the telemetry actor has handled them all.
fn inbound(host: &Host, actor: &str, broker: &PrivateMosquitto, topic: &str) {
    let total = || -> usize {
        let request = codec::http::Request { method: "GET".into(), path: "/received/total".into(), ..Default::default() };
        let reply = host.call(actor, "HandleRequest", &codec::serialize(&request).unwrap()).unwrap();
        let response: codec::http::Response = codec::deserialize(&reply).unwrap();
        String::from_utf8(response.body).unwrap().parse().unwrap()
    };
    let before = total();
    let (client, mut connection) = native_client(broker, "bench-inbound");
    let started = Instant::now();
    let sender = {
        let client = client.clone();
        let topic = topic.to_owned();
        std::thread::spawn(move || {
            for n in 0..STREAM {
                client.publish(topic.clone(), QoS::AtLeastOnce, false, format!("{n:08}")).unwrap();
            }
        })
    };
    let mut acked = 0;
    while acked < STREAM && started.elapsed() < Duration::from_secs(60) {
        if let Ok(Ok(Event::Incoming(Packet::PubAck(_)))) = connection.recv_timeout(Duration::from_millis(100)) {
            acked += 1;
        }
    }
    sender.join().unwrap();
    let published = started.elapsed();
    while total() < before + STREAM && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let handled = started.elapsed();
    println!(
        "{:<44} {STREAM} published in {published:.2?} ({:.0}/s); handled by the actor in {handled:.2?} ({:.0}/s)",
        "inbound to an actor, QoS 1",
        STREAM as f64 / published.as_secs_f64(),
        (total() - before) as f64 / handled.as_secs_f64()
    );
    let _ = client.disconnect();
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let broker = PrivateMosquitto::start(dir.path());
    let host = Host::with_state_dir(Policy::default(), dir.path().join("state"));
    host.add_provider("mqtt", &provider_archive("messaging_mqtt")).unwrap();
    let url = broker.url();
    let shm = Path::new("/dev/shm");
    let tmpfs_outbox = tempfile::tempdir_in(if shm.is_dir() { shm } else { dir.path() }).unwrap();
    let tmpfs_path = tmpfs_outbox.path().join("outbox.db");

    let disk = start(&host, "echo", &[("URL", &url), ("CLIENT_ID", "bench-disk")]);
    let tmpfs = start(&host, "echo", &[("URL", &url), ("CLIENT_ID", "bench-tmpfs"), ("OUTBOX", tmpfs_path.to_str().unwrap())]);
    let qos0 = start(&host, "echo", &[("URL", &url), ("CLIENT_ID", "bench-qos0"), ("QOS", "0")]);
    let telemetry = start(&host, "telemetry", &[("URL", &url), ("CLIENT_ID", "bench-inbound-actor"), ("SUBSCRIPTION", "bench/in")]);
    std::thread::sleep(Duration::from_millis(500));

    actor_publishes(&host, &disk, &broker, "QoS 1, outbox on disk", "bench/disk");
    actor_publishes(&host, &tmpfs, &broker, "QoS 1, outbox on tmpfs", "bench/tmpfs");
    actor_publishes(&host, &qos0, &broker, "QoS 0", "bench/qos0");
    native_publishes(&broker, "bench/native");
    inbound(&host, &telemetry, &broker, "bench/in");
    host.shutdown();
}
