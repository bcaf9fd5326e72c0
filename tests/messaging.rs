//! `wascc:messaging` over MQTT, end to end: the `host-edge` binary, the
//! MQTT provider library, real signed actors from `actors/` and a real
//! Mosquitto on loopback (the shared one, or a private one a test stops).
//! Each test works under a topic prefix of its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::SignOptions;
use host_edge_runtime::grant::Rule;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Event, MqttOptions};
use testkit::host::HostProcess;
use testkit::mqtt::{mosquitto_client, shared_port, PrivateMosquitto, Subscriber};
use testkit::{actor_module, eventually, free_port, http_get, http_post, options, provider_archive, wait_for_port, Signer};

const MESSAGING: &str = "wascc:messaging";
const HTTP: &str = "wascc:http_server";

/// A topic prefix no other test (or earlier run) uses.
fn prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("he-test/{test}-{}-{nanos}", std::process::id())
}

/// The telemetry actor, signed with `grants` for wascc:messaging.
fn telemetry(grants: &[String]) -> Vec<u8> {
    let rules: Vec<Rule> = grants.iter().map(|g| g.parse().unwrap()).collect();
    let options = SignOptions {
        grants: [(CapabilityId::parse(MESSAGING).unwrap(), rules)].into_iter().collect(),
        ..options("telemetry", &[MESSAGING, HTTP])
    };
    Signer::new().sign_with(&actor_module("telemetry"), &options)
}

/// A deployment of one actor with the MQTT and HTTP providers, run by the
/// `host-edge` binary from a manifest in its own folder.
struct Deployment {
    dir: PathBuf,
    process: HostProcess,
}

impl Deployment {
    /// Writes `module` (named `actor`) and a manifest linking it to the
    /// MQTT provider with `values` (TOML inline-table body), and HTTP.
    fn new(dir: &Path, actor: &str, module: &[u8], values: &str) -> Deployment {
        std::fs::write(dir.join("actor.wasm"), module).unwrap();
        let port = free_port();
        let manifest = format!(
            r#"
[[actor]]
path = "actor.wasm"
instances = 1

[[provider]]
name = "mqtt"
path = "{mqtt}"

[[provider]]
name = "http"
path = "{http}"

[[link]]
actor = "{actor}"
capability = "wascc:messaging"
provider = "mqtt"
values = {{ {values} }}

[[link]]
actor = "{actor}"
capability = "wascc:http_server"
provider = "http"
values = {{ ADDRESS = "127.0.0.1", PORT = "{port}", ERROR_DETAIL = "true" }}
"#,
            mqtt = provider_archive("messaging_mqtt").display(),
            http = provider_archive("http_server").display(),
        );
        Deployment { dir: dir.to_owned(), process: HostProcess::new(dir, &manifest, port) }
    }

    /// Starts the host; its log goes to `host.log`, appended across starts.
    fn start(&mut self) -> &mut Self {
        self.process.start();
        self
    }

    /// Stops the host with `signal` (`TERM`, `KILL`) and waits.
    fn stop(&mut self, signal: &str) {
        self.process.stop(signal);
    }

    fn pid(&self) -> u32 {
        self.process.pid().expect("the host runs")
    }

    fn url(&self, path: &str) -> String {
        self.process.url(path)
    }

    fn log(&self) -> String {
        self.process.log()
    }

    /// The actor's `GET /received`: each message's `topic\tbody`.
    fn received(&self) -> Vec<String> {
        let (status, body) = http_get(&self.url("/received"));
        assert_eq!(status, 200, "{body}");
        body.lines().map(str::to_owned).collect()
    }

    /// How many messages the actor received (`GET /received/total`).
    fn received_total(&self) -> usize {
        let (status, body) = http_get(&self.url("/received/total"));
        assert_eq!(status, 200, "{body}");
        body.parse().unwrap()
    }

    /// Waits until the actor received `count` messages; what it received.
    fn wait_received(&self, count: usize, within: Duration) -> Vec<String> {
        eventually(within, &format!("the actor received {count} messages"), || {
            let total = self.received_total();
            if total < count {
                std::thread::sleep(Duration::from_millis(100));
            }
            (total >= count).then_some(())
        });
        self.received()
    }

    fn publish(&self, topic: &str, body: &str) -> (u16, String) {
        http_post(&self.url(&format!("/publish?topic={topic}")), body)
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.stop("TERM");
    }
}

/// Publishes `body` to `topic` through the actor until `watcher` (a
/// `mosquitto_sub -C 1`, which gives no sign of having subscribed) has
/// seen one, for at most 20 tries; returns what it printed.
fn publish_until_seen(deployment: &Deployment, watcher: Child, topic: &str, body: &str) -> String {
    let pid = watcher.id().to_string();
    let mut published = 0;
    while Command::new("kill").args(["-0", &pid]).status().unwrap().success() && published < 20 {
        let (status, answer) = deployment.publish(topic, body);
        assert_eq!((status, answer.as_str()), (200, "published"));
        published += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    String::from_utf8_lossy(&watcher.wait_with_output().unwrap().stdout).trim().to_owned()
}

/// A private broker and the telemetry actor subscribed to `PREFIX/in`
/// (granted `sub:PREFIX/#`) with `extra` link values, its subscription in
/// place; returns the broker, the topic and the running deployment.
fn subscribed_telemetry(dir: &Path, test: &str, extra: &str) -> (PrivateMosquitto, String, Deployment) {
    let p = prefix(test);
    let broker = PrivateMosquitto::start(dir);
    let topic = format!("{p}/in");
    let module = telemetry(&[format!("sub:{p}/#")]);
    let values = format!(r#"URL = "{}", SUBSCRIPTION = "{topic}"{extra}"#, broker.url());
    let mut deployment = Deployment::new(dir, "telemetry", &module, &values);
    deployment.start();
    broker.wait_for_subscription(&topic);
    (broker, topic, deployment)
}

/// Publishes `count` QoS 1 messages `0..count` to `topic` with a native
/// client, waiting for every PUBACK.
fn publish_natively(port: u16, topic: &str, count: usize) {
    let mut options = MqttOptions::new(format!("he-test-pub-{}", std::process::id()), "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = Client::new(options, 64);
    let topic = topic.to_owned();
    let sender = std::thread::spawn(move || {
        for n in 0..count {
            client.publish(topic.clone(), QoS::AtLeastOnce, false, n.to_string()).unwrap();
        }
        client
    });
    let mut acked = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked < count && Instant::now() < deadline {
        if let Ok(Ok(Event::Incoming(Packet::PubAck(_)))) = connection.recv_timeout(Duration::from_secs(1)) {
            acked += 1;
        }
    }
    let client = sender.join().unwrap();
    let _ = client.disconnect();
    assert_eq!(acked, count, "the broker acknowledged every publish");
}

/// Waits, at most 60 s, until `subscriber` has seen each of the sequence
/// numbers `0..count` at least once, and returns the bodies of those
/// numbers as they arrived. Duplicates (QoS 1 redelivers after a
/// reconnect) do not count toward `count`: waiting for `count` messages
/// would stop early by the number of duplicates and report the last
/// messages as lost.
fn wait_for_sequence(subscriber: &Subscriber, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let bodies: Vec<String> = subscriber
            .received()
            .into_iter()
            .map(|r| r.body)
            .filter(|body| body.parse::<usize>().is_ok_and(|n| n < count))
            .collect();
        let distinct: std::collections::BTreeSet<&String> = bodies.iter().collect();
        if distinct.len() >= count || Instant::now() > deadline {
            return bodies;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks that `bodies` hold `0..count` each at least once, first seen in
/// order; returns how many were duplicates.
fn in_order_once(bodies: &[String], count: usize) -> usize {
    let mut seen = vec![false; count];
    let mut next = 0;
    let mut duplicates = 0;
    for body in bodies {
        let n: usize = body.parse().unwrap_or_else(|_| panic!("`{body}` is a sequence number"));
        if seen[n] {
            duplicates += 1;
            continue;
        }
        assert_eq!(n, next, "message {n} arrived before {next}");
        seen[n] = true;
        next += 1;
    }
    assert_eq!(next, count, "only {next} of {count} arrived");
    duplicates
}

#[test]
fn an_actor_receives_what_mosquitto_pub_sends_and_mosquitto_sub_sees_what_it_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("pubsub");
    let port = shared_port();
    let module = telemetry(&[format!("pub:{p}/#"), format!("sub:{p}/in/#")]);
    let values = format!(r#"URL = "mqtt://127.0.0.1:{port}", SUBSCRIPTION = "{p}/in/#""#);
    let mut deployment = Deployment::new(dir.path(), "telemetry", &module, &values);
    deployment.start();

    let out_topic = format!("{p}/out");
    let watcher = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-C", "1", "-W", "30", "-v", "-t", &out_topic])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub runs");
    assert_eq!(publish_until_seen(&deployment, watcher, &out_topic, "21.5"), format!("{out_topic} 21.5"));

    let out = mosquitto_client("mosquitto_pub", port, &["-q", "1", "-t", &format!("{p}/in/kitchen"), "-m", "hello"]);
    assert!(out.status.success(), "{out:?}");
    let received = deployment.wait_received(1, Duration::from_secs(20));
    assert_eq!(received, [format!("{p}/in/kitchen\thello")]);
}

/// Answers every request on `topic` with `answer:BODY`, on the request's
/// response topic with its correlation data (an MQTT 5 responder).
fn respond(port: u16, topic: &str) -> std::thread::JoinHandle<()> {
    let mut options = MqttOptions::new(format!("he-test-responder-{}", std::process::id()), "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = Client::new(options, 64);
    client.subscribe(topic, QoS::AtLeastOnce).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match connection.recv_timeout(Duration::from_millis(200)) {
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => ready_tx.send(()).unwrap(),
                Ok(Ok(Event::Incoming(Packet::Publish(request)))) => {
                    let properties = request.properties.unwrap_or_default();
                    let reply = PublishProperties { correlation_data: properties.correlation_data, ..Default::default() };
                    let body = format!("answer:{}", String::from_utf8_lossy(&request.payload));
                    client
                        .publish_with_properties(properties.response_topic.unwrap(), QoS::AtLeastOnce, false, body, reply)
                        .unwrap();
                }
                // The reply has gone out once the broker acknowledges it.
                Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => return,
                _ => {}
            }
        }
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    handle
}

#[test]
fn request_reply_works_both_ways_and_a_request_nobody_answers_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("rr");
    let broker = PrivateMosquitto::start(dir.path());
    let module = telemetry(&[format!("pub:{p}/#"), format!("sub:{p}/#")]);
    let values = format!(r#"URL = "{}", SUBSCRIPTION = "{p}/get""#, broker.url());
    let mut deployment = Deployment::new(dir.path(), "telemetry", &module, &values);
    deployment.start();

    // A requester outside asks the actor: mosquitto_rr (MQTT 5) sends a
    // response topic and waits on it, once the provider has subscribed
    // (it does so after the host serves).
    broker.wait_for_subscription(&format!("{p}/get"));
    assert_eq!(http_post(&deployment.url(&format!("/reading?topic={p}/readings")), "21.5").0, 200);
    let asked = mosquitto_client("mosquitto_rr", broker.port(), &["-t", &format!("{p}/get"), "-e", &format!("{p}/answers"), "-m", "now?", "-W", "20"]);
    assert!(asked.status.success(), "{asked:?}");
    assert_eq!(String::from_utf8_lossy(&asked.stdout).trim(), "21.5");

    // The actor asks a responder outside.
    let responder = respond(broker.port(), &format!("{p}/service"));
    let (status, body) = http_post(&deployment.url(&format!("/request?topic={p}/service&timeout=10000")), "ping");
    assert_eq!((status, body.as_str()), (200, "answer:ping"));
    responder.join().unwrap();

    let (status, body) = http_post(&deployment.url(&format!("/request?topic={p}/nobody&timeout=300")), "ping");
    assert_eq!(status, 504, "{body}");
    assert!(body.contains(&format!("no reply to the request on `{p}/nobody` within 300 ms")), "{body}");
}

/// Publishes a request `body` to `topic` with `response_topic` and some
/// correlation data, as an MQTT 5 requester would, and waits for the
/// broker's PUBACK.
fn ask(port: u16, topic: &str, response_topic: &str, body: &str) {
    let mut options = MqttOptions::new(format!("he-test-asker-{}-{}", std::process::id(), free_port()), "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = Client::new(options, 8);
    let properties = PublishProperties {
        response_topic: Some(response_topic.to_owned()),
        correlation_data: Some(b"asker".to_vec().into()),
        ..Default::default()
    };
    client.publish_with_properties(topic, QoS::AtLeastOnce, false, body.as_bytes().to_vec(), properties).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Ok(Event::Incoming(Packet::PubAck(_)))) = connection.recv_timeout(Duration::from_millis(200)) {
            return;
        }
    }
    panic!("the broker did not acknowledge the request on `{topic}`");
}

#[test]
fn a_request_naming_a_response_topic_outside_the_pub_grant_gets_no_reply_there() {
    // The response topic is the requester's to choose: anyone who may send
    // the actor a request could make it publish to any topic, its grant
    // notwithstanding.
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("replygrant");
    let broker = PrivateMosquitto::start(dir.path());
    let module = telemetry(&[format!("pub:{p}/#"), format!("sub:{p}/#")]);
    let values = format!(r#"URL = "{}", SUBSCRIPTION = "{p}/get", ON_FAILURE = "drop""#, broker.url());
    let mut deployment = Deployment::new(dir.path(), "telemetry", &module, &values);
    deployment.start();
    broker.wait_for_subscription(&format!("{p}/get"));
    let watcher = Subscriber::start(broker.port(), &format!("he-test-watch-{}", std::process::id()), "#");

    let victim = format!("victim/{p}/commands");
    ask(broker.port(), &format!("{p}/get"), &victim, "now?");
    let refused = format!("the reply to a request on its response topic: publishing to topic `{victim}` is outside the grant");
    eventually(Duration::from_secs(20), "the reply outside the grant is refused", || deployment.log().contains(&refused).then_some(()));

    // A request answered inside the grant: the provider's publishes leave
    // in order, so once its reply is seen, a reply to the victim topic
    // would have been seen before it.
    let answers = format!("{p}/answers");
    ask(broker.port(), &format!("{p}/get"), &answers, "now?");
    eventually(Duration::from_secs(20), "the reply inside the grant arrives", || {
        watcher.received().iter().any(|m| m.topic == answers).then_some(())
    });
    let on_victim: Vec<_> = watcher.received().into_iter().filter(|m| m.topic == victim).collect();
    assert!(on_victim.is_empty(), "the actor published outside its grant: {on_victim:?}\n{}", deployment.log());
}

#[test]
fn an_actor_built_with_wasccs_own_sdk_receives_messages_unmodified() {
    let dir = tempfile::tempdir().unwrap();
    let broker = PrivateMosquitto::start(dir.path());
    let module = Signer::new().sign(&actor_module("wascc_subscriber"), "wascc-subscriber", &[MESSAGING]);
    let echo = Subscriber::start(broker.port(), "he-test-echo", "wascc/echo");
    // waSCC's actors speak NATS subjects: `sensors.>` is `sensors/#`.
    let values = format!(r#"URL = "{}", SUBJECTS = "nats", SUBSCRIPTION = "sensors.>""#, broker.url());
    std::fs::write(dir.path().join("wascc_subscriber.wasm"), &module).unwrap();
    let manifest = format!(
        "[[actor]]\npath = \"wascc_subscriber.wasm\"\n\n[[provider]]\nname = \"mqtt\"\npath = \"{}\"\n\n\
         [[link]]\nactor = \"wascc-subscriber\"\ncapability = \"wascc:messaging\"\nprovider = \"mqtt\"\nvalues = {{ {values} }}\n",
        provider_archive("messaging_mqtt").display()
    );
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    let mut host = Command::new(testkit::host_edge_bin())
        .current_dir(dir.path())
        .args(["run", "manifest.toml"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    while echo.received().is_empty() && Instant::now() < deadline {
        mosquitto_client("mosquitto_pub", broker.port(), &["-q", "1", "-t", "sensors/hall/temp", "-m", "19.0"]);
        std::thread::sleep(Duration::from_millis(500));
    }
    let echoed = echo.received();
    Command::new("kill").args(["-TERM", &host.id().to_string()]).status().unwrap();
    host.wait().unwrap();
    assert!(!echoed.is_empty(), "the waSCC actor echoed nothing");
    assert_eq!(echoed[0].body, "sensors.hall.temp: 19.0", "the actor saw the NATS subject and the body");
}

#[test]
fn the_broker_restarting_in_the_middle_of_1000_publishes_loses_none_and_keeps_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("restart");
    let mut broker = PrivateMosquitto::start(dir.path());
    let topic = format!("{p}/seq");
    let subscriber = Subscriber::start(broker.port(), "he-test-restart", &topic);
    let module = telemetry(&[format!("pub:{p}/#")]);
    let mut deployment = Deployment::new(dir.path(), "telemetry", &module, &format!(r#"URL = "{}""#, broker.url()));
    deployment.start();

    for n in 0..1000 {
        if n == 300 {
            broker.stop();
        }
        if n == 600 {
            broker.restart();
        }
        let (status, body) = deployment.publish(&topic, &n.to_string());
        assert_eq!(status, 200, "publish {n}: {body}");
    }
    let bodies = wait_for_sequence(&subscriber, 1000);
    let duplicates = in_order_once(&bodies, 1000);
    eprintln!("broker restart: 1000 of 1000 arrived in order, {duplicates} duplicates");
    let log = deployment.log();
    assert!(log.contains("connection lost"), "the host noticed the broker going: {log}");
}

#[test]
fn a_host_killed_with_sigkill_mid_stream_still_sends_every_publish_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("kill9");
    let broker = PrivateMosquitto::start(dir.path());
    let topic = format!("{p}/seq");
    let subscriber = Subscriber::start(broker.port(), "he-test-kill9", &topic);
    let will = Subscriber::start(broker.port(), "he-test-kill9-will", &format!("{p}/status"));
    let module = telemetry(&[format!("pub:{p}/#")]);
    let values = format!(r#"URL = "{}", WILL_TOPIC = "{p}/status", WILL_PAYLOAD = "telemetry went away""#, broker.url());
    let mut deployment = Deployment::new(dir.path(), "telemetry", &module, &values);
    deployment.start();

    // Publish from another thread while the host is killed under it.
    let url = deployment.url(&format!("/publish?topic={topic}"));
    let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let publisher = {
        let acknowledged = std::sync::Arc::clone(&acknowledged);
        std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
            for n in 0..5000 {
                match agent.post(&url).send_string(&n.to_string()) {
                    Ok(response) if response.status() == 200 => acknowledged.store(n + 1, std::sync::atomic::Ordering::SeqCst),
                    _ => break,
                }
            }
        })
    };
    let acked = || acknowledged.load(std::sync::atomic::Ordering::SeqCst);
    eventually(Duration::from_secs(60), "some publishes went out", || (subscriber.received().len() >= 100).then_some(()));
    // A stalled broker lets the outbox fill with acknowledged publishes
    // that have not gone out: they are what a crash must not lose.
    broker.pause();
    let before = acked();
    eventually(Duration::from_secs(60), "the outbox holds 200 unsent publishes", || (acked() >= before + 200).then_some(()));
    deployment.stop("KILL");
    publisher.join().unwrap();
    broker.resume();
    let count = acked();
    assert!(count < 5000, "killed mid-stream");
    let wills = will.wait_for(1, Duration::from_secs(30));
    assert_eq!(wills.first().map(|w| w.body.as_str()), Some("telemetry went away"), "the broker published the last will");

    deployment.start();
    let bodies = wait_for_sequence(&subscriber, count);
    let duplicates = in_order_once(&bodies, count);
    eprintln!(
        "kill -9: {count} acknowledged publishes ({} of them acknowledged while the broker was stalled) all arrived in order, {duplicates} duplicates",
        count - before
    );
}

#[test]
fn a_thousand_messages_published_while_the_host_is_down_reach_the_actor_after_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    // The first start makes the persistent session and its subscription.
    let (broker, topic, mut deployment) = subscribed_telemetry(dir.path(), "offline", "");
    deployment.stop("TERM");

    publish_natively(broker.port(), &topic, 1000);
    deployment.start();
    let received = deployment.wait_received(1000, Duration::from_secs(90));
    let bodies: Vec<String> = received.iter().map(|line| line.split('\t').nth(1).unwrap().to_owned()).collect();
    let duplicates = in_order_once(&bodies, 1000);
    eprintln!("host down: 1000 of 1000 reached the actor in order, {duplicates} duplicates");
}

#[test]
fn a_host_that_boots_with_no_broker_queues_and_delivers_when_one_appears() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("boot");
    let mut broker = PrivateMosquitto::start(dir.path());
    let topic = format!("{p}/seq");
    // The subscriber's persistent session outlives the broker's restart.
    let subscriber = Subscriber::start(broker.port(), "he-test-boot", &topic);
    broker.stop();

    let module = telemetry(&[format!("pub:{p}/#")]);
    let mut deployment = Deployment::new(dir.path(), "telemetry", &module, &format!(r#"URL = "{}""#, broker.url()));
    deployment.start();
    for n in 0..50 {
        let (status, body) = deployment.publish(&topic, &n.to_string());
        assert_eq!(status, 200, "publish {n} while no broker runs: {body}");
    }
    assert!(deployment.log().contains("cannot reach the broker"), "{}", deployment.log());
    broker.restart();
    let bodies = wait_for_sequence(&subscriber, 50);
    in_order_once(&bodies, 50);
}

#[test]
fn a_full_outbox_and_a_topic_outside_the_grant_are_refused_with_errors_that_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("refuse");
    let broker = PrivateMosquitto::unstarted(dir.path());
    let module = telemetry(&[format!("pub:{p}/#"), format!("sub:{p}/#")]);
    let values = format!(r#"URL = "{}", OUTBOX_MAX_ENTRIES = "5""#, broker.url());
    let mut deployment = Deployment::new(dir.path(), "telemetry", &module, &values);
    deployment.start();
    for n in 0..5 {
        assert_eq!(deployment.publish(&format!("{p}/a"), &n.to_string()).0, 200);
    }
    let (status, body) = deployment.publish(&format!("{p}/a"), "5");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("the outbox is full (5 messages"), "{body}");

    let (status, body) = deployment.publish("elsewhere/a", "x");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("publishing to topic `elsewhere/a` is outside the grant for wascc:messaging"), "{body}");
}

#[test]
fn a_subscription_outside_the_grant_refuses_the_link_naming_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("subgrant");
    let module = telemetry(&[format!("sub:{p}/public/#")]);
    let values = format!(r#"SUBSCRIPTION = "{p}/public/#, {p}/private/#""#);
    let deployment = Deployment::new(dir.path(), "telemetry", &module, &values);
    let out = Command::new(testkit::host_edge_bin()).current_dir(&deployment.dir).args(["run", "manifest.toml"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains(&format!("subscribing to `{p}/private/#` is outside the grant for wascc:messaging")), "{said}");
}

#[test]
fn a_failed_handler_is_retried_then_dropped_with_a_log_line_and_later_messages_still_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, topic, deployment) = subscribed_telemetry(dir.path(), "failure", r#", RETRY_LIMIT = "2""#);
    for body in ["before", "fail", "after"] {
        assert!(mosquitto_client("mosquitto_pub", broker.port(), &["-q", "1", "-t", &topic, "-m", body]).status.success());
    }
    let received = deployment.wait_received(2, Duration::from_secs(30));
    assert_eq!(received, [format!("{topic}\tbefore"), format!("{topic}\tafter")]);
    let log = deployment.log();
    assert_eq!(log.matches("(attempt ").count(), 2, "two retries are logged: {log}");
    assert!(log.contains(&format!("a message on `{topic}` was dropped after 3 attempts")), "{log}");
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_publisher_far_faster_than_the_actor_leaves_the_hosts_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, topic, deployment) = subscribed_telemetry(dir.path(), "flood", "");
    let before = rss_kib(deployment.pid());
    // 5,000 messages of 4 KiB (20 MB) at the speed of a native client.
    let mut options = MqttOptions::new("he-test-flood", "127.0.0.1", broker.port());
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = Client::new(options, 256);
    let flood = std::thread::spawn(move || {
        for n in 0..5000 {
            let body = format!("{n:04}{}", "x".repeat(4092));
            client.publish(topic.clone(), QoS::AtLeastOnce, false, body).unwrap();
        }
        client
    });
    let mut peak = before;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut acked = 0;
    while acked < 5000 && Instant::now() < deadline {
        if let Ok(Ok(Event::Incoming(Packet::PubAck(_)))) = connection.recv_timeout(Duration::from_millis(100)) {
            acked += 1;
        }
        peak = peak.max(rss_kib(deployment.pid()));
    }
    let _ = flood.join().unwrap().disconnect();
    let received = eventually(Duration::from_secs(120), "every message reached the actor", || {
        peak = peak.max(rss_kib(deployment.pid()));
        let total = deployment.received_total();
        std::thread::sleep(Duration::from_millis(50));
        (total >= 5000).then_some(total)
    });
    eprintln!("flood: 5000 messages of 4 KiB, host RSS {before} KiB before, peak {peak} KiB; {received} received");
    // The flood (20 MB) waits in the broker, not in the host: the host
    // holds at most INBOUND_BUFFER (4 MiB) of it, pausing the connection
    // while the actor catches up.
    assert!(peak < before + 16 * 1024, "RSS grew from {before} KiB to {peak} KiB");
}

#[test]
fn mqtts_with_a_ca_file_and_a_client_certificate_reaches_a_broker_that_requires_them() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("tls");
    let (broker, tls) = PrivateMosquitto::start_tls(dir.path());
    let module = telemetry(&[format!("pub:{p}/#")]);
    let values = format!(
        r#"URL = "mqtts://127.0.0.1:{}", CA_FILE = "{}", CLIENT_CERT = "{}", CLIENT_KEY = "{}""#,
        broker.port(),
        tls.ca.display(),
        tls.client_cert.display(),
        tls.client_key.display()
    );
    let mut deployment = Deployment::new(dir.path(), "telemetry", &module, &values);
    deployment.start();
    let topic = format!("{p}/secure");
    let watcher = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string(), "-q", "1", "-C", "1", "-W", "30", "-t", &topic])
        .arg("--cafile")
        .arg(&tls.ca)
        .arg("--cert")
        .arg(&tls.client_cert)
        .arg("--key")
        .arg(&tls.client_key)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(publish_until_seen(&deployment, watcher, &topic, "over TLS"), "over TLS", "{}", deployment.log());
}

#[test]
fn actors_linked_to_one_broker_share_one_connection_and_each_gets_only_its_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("shared");
    let broker = PrivateMosquitto::start(dir.path());
    let port = free_port();
    let mut manifest = String::new();
    for (name, filter) in [("kitchen", "kitchen/#"), ("hall", "hall/#")] {
        let options = SignOptions {
            grants: [(CapabilityId::parse(MESSAGING).unwrap(), vec![format!("sub:{p}/#").parse().unwrap()])].into_iter().collect(),
            ..options(name, &[MESSAGING, HTTP])
        };
        std::fs::write(dir.path().join(format!("{name}.wasm")), Signer::new().sign_with(&actor_module("telemetry"), &options)).unwrap();
        let http_port = if name == "kitchen" { port } else { free_port() };
        manifest.push_str(&format!(
            "[[actor]]\npath = \"{name}.wasm\"\n\n[[link]]\nactor = \"{name}\"\ncapability = \"wascc:messaging\"\nprovider = \"mqtt\"\n\
             values = {{ URL = \"{url}\", SUBSCRIPTION = \"{p}/{filter}\" }}\n\n[[link]]\nactor = \"{name}\"\n\
             capability = \"wascc:http_server\"\nprovider = \"http\"\nvalues = {{ ADDRESS = \"127.0.0.1\", PORT = \"{http_port}\" }}\n\n",
            url = broker.url()
        ));
        if name == "hall" {
            manifest.push_str(&format!("# hall answers on {http_port}\n"));
        }
    }
    manifest.push_str(&format!(
        "[[provider]]\nname = \"mqtt\"\npath = \"{}\"\n\n[[provider]]\nname = \"http\"\npath = \"{}\"\n",
        provider_archive("messaging_mqtt").display(),
        provider_archive("http_server").display()
    ));
    std::fs::write(dir.path().join("manifest.toml"), &manifest).unwrap();
    let hall_port: u16 = manifest.lines().find_map(|l| l.strip_prefix("# hall answers on ")).unwrap().parse().unwrap();
    let mut host = Command::new(testkit::host_edge_bin())
        .current_dir(dir.path())
        .args(["run", "manifest.toml"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, Duration::from_secs(60));
    broker.wait_for_subscription(&format!("{p}/hall/#"));
    broker.wait_for_subscription(&format!("{p}/kitchen/#"));

    for topic in ["kitchen/temp", "hall/temp", "kitchen/door"] {
        let out = mosquitto_client("mosquitto_pub", broker.port(), &["-q", "1", "-t", &format!("{p}/{topic}"), "-m", topic]);
        assert!(out.status.success());
    }
    let received = |port: u16, count: usize| {
        eventually(Duration::from_secs(20), "the messages arrived", || {
            let (_, body) = http_get(&format!("http://127.0.0.1:{port}/received"));
            let lines: Vec<String> = body.lines().map(|l| l.split('\t').nth(1).unwrap().to_owned()).collect();
            (lines.len() >= count).then_some(lines)
        })
    };
    assert_eq!(received(port, 2), ["kitchen/temp", "kitchen/door"]);
    assert_eq!(received(hall_port, 1), ["hall/temp"]);
    Command::new("kill").args(["-TERM", &host.id().to_string()]).status().unwrap();
    host.wait().unwrap();

    let log = std::fs::read_to_string(dir.path().join("mosquitto/mosquitto.log")).unwrap();
    let connections = log.lines().filter(|l| l.contains("New client connected") && l.contains(" as host-edge-")).count();
    assert_eq!(connections, 1, "one connection for both actors: {log}");
}

#[test]
fn credentials_from_a_password_file_log_in_and_a_wrong_password_is_named_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("login");
    let broker = PrivateMosquitto::start_with_password(dir.path(), "sensor", "s3cret-pw");
    let topic = format!("{p}/in");
    std::fs::write(dir.path().join("password"), "s3cret-pw\n").unwrap();
    let module = telemetry(&[format!("pub:{p}/#")]);
    let values = format!(
        r#"URL = "{}", USERNAME = "sensor", PASSWORD_FILE = "{}""#,
        broker.url(),
        dir.path().join("password").display()
    );
    let mut deployment = Deployment::new(dir.path(), "telemetry", &module, &values);
    deployment.start();
    let watcher = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string(), "-u", "sensor", "-P", "s3cret-pw"])
        .args(["-q", "1", "-C", "1", "-W", "30", "-t", &topic])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(publish_until_seen(&deployment, watcher, &topic, "logged in"), "logged in");
    deployment.stop("TERM");

    // The wrong password: the host serves, queues, and says why it cannot connect.
    let wrong = format!(r#"URL = "{}", USERNAME = "sensor", PASSWORD = "not-the-pw""#, broker.url());
    let other = tempfile::tempdir().unwrap();
    let mut refused = Deployment::new(other.path(), "telemetry", &module, &wrong);
    refused.start();
    assert_eq!(refused.publish(&topic, "queued").0, 200, "a QoS 1 publish is queued while the broker refuses");
    eventually(Duration::from_secs(20), "the refusal is logged", || refused.log().contains("cannot reach the broker").then_some(()));
    let log = refused.log();
    assert!(log.contains("NotAuthorized") || log.contains("BadUserNamePassword"), "{log}");
    assert!(!log.contains("not-the-pw"), "the password must not appear in the log: {log}");
}
