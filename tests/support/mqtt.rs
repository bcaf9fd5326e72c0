//! Real MQTT for the tests: the shared Mosquitto on loopback, a private
//! Mosquitto a test may stop and restart, and a subscriber that records
//! what it receives.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Event, MqttOptions};

use crate::free_port;

/// The shared broker's port (`MQTT_PORT`, default 1883; `.ci/setup` starts
/// one where none runs).
pub fn shared_port() -> u16 {
    std::env::var("MQTT_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(1883)
}

/// A Mosquitto of a test's own on a free loopback port, with persistence
/// in a folder of its own, so a test can stop and restart it without
/// disturbing the others. Stopped when dropped.
pub struct PrivateMosquitto {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// Extra configuration lines (the TLS listener's files).
    extra: String,
}

/// PEM files for a broker that speaks TLS and asks for client
/// certificates, made with `openssl`: a CA, the broker's certificate for
/// 127.0.0.1, and a client certificate.
pub struct TlsFiles {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The client certificate, signed by the CA.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (bash .ci/setup installs it)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl TlsFiles {
    fn make(dir: &Path) -> TlsFiles {
        let days = ["-days", "2"];
        openssl(dir, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=host-edge test CA"]);
        // Extensions make them X.509 v3 certificates, which rustls requires.
        std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
        std::fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n").unwrap();
        for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
            openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &format!("{name}.key"), "-out", &format!("{name}.csr"), "-subj", &format!("/CN={name}")]);
            let mut sign = vec!["x509", "-req", "-in", &format!("{name}.csr")].into_iter().map(str::to_owned).collect::<Vec<_>>();
            sign.extend(["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", &format!("{name}.pem")].map(str::to_owned));
            sign.extend(days.map(str::to_owned));
            sign.extend(["-extfile".to_owned(), ext.to_owned()]);
            openssl(dir, &sign.iter().map(String::as_str).collect::<Vec<_>>());
        }
        TlsFiles { ca: dir.join("ca.pem"), client_cert: dir.join("client.pem"), client_key: dir.join("client.key") }
    }
}

impl PrivateMosquitto {
    /// A broker on a free port, not started yet: for a host that must boot
    /// with no broker reachable.
    pub fn unstarted(dir: &Path) -> PrivateMosquitto {
        let dir = dir.join("mosquitto");
        std::fs::create_dir_all(&dir).unwrap();
        PrivateMosquitto { port: free_port(), dir, child: None, extra: String::new() }
    }

    /// Starts a broker that lets in only `user` with `password`
    /// (`mosquitto_passwd`), no anonymous clients.
    pub fn start_with_password(dir: &Path, user: &str, password: &str) -> PrivateMosquitto {
        let mut broker = PrivateMosquitto::unstarted(dir);
        let file = broker.dir.join("passwords");
        let status = Command::new("mosquitto_passwd")
            .arg("-c")
            .arg("-b")
            .arg(&file)
            .args([user, password])
            .status()
            .expect("mosquitto_passwd runs (it comes with mosquitto)");
        assert!(status.success(), "mosquitto_passwd");
        broker.extra = format!("password_file {}\n", file.display());
        broker.restart();
        broker
    }

    /// Starts a broker that speaks only TLS and requires a client
    /// certificate; returns it with the files a client needs.
    pub fn start_tls(dir: &Path) -> (PrivateMosquitto, TlsFiles) {
        let mut broker = PrivateMosquitto::unstarted(dir);
        let files = TlsFiles::make(&broker.dir);
        broker.extra = format!(
            "cafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\nrequire_certificate true\n",
            broker.dir.display()
        );
        broker.restart();
        (broker, files)
    }

    /// Starts a broker on a free port and waits until it listens.
    pub fn start(dir: &Path) -> PrivateMosquitto {
        let mut broker = PrivateMosquitto::unstarted(dir);
        broker.restart();
        broker
    }

    /// Its port on loopback.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits until a client has subscribed to `filter` (the broker logs
    /// each subscription).
    pub fn wait_for_subscription(&self, filter: &str) {
        let needle = format!(" {filter}");
        crate::eventually(Duration::from_secs(30), &format!("a client subscribed to {filter}"), || {
            let log = std::fs::read_to_string(self.dir.join("mosquitto.log")).ok()?;
            log.lines().any(|l| l.ends_with(&needle)).then_some(())
        });
    }

    /// Its URL, as the provider's `URL` link value.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Stops the broker with SIGTERM and waits: it writes its persistence
    /// file, so the sessions and queued messages survive, as with a broker
    /// restarted by its service manager.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Freezes the broker (SIGSTOP): connections stay open but nothing is
    /// answered, as with a broker behind a stalled network.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Thaws a paused broker (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let child = self.child.as_ref().expect("the broker runs");
        let status = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status().unwrap();
        assert!(status.success(), "kill -{name} the broker");
    }

    /// Starts the broker (again) on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let config = self.dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous {anonymous}\npersistence true\npersistence_location {dir}/\n\
                 max_queued_messages 100000\nmax_inflight_messages 20\nlog_dest file {dir}/mosquitto.log\n\
                 log_type error\nlog_type warning\nlog_type notice\nlog_type information\nlog_type subscribe\n{user}{extra}",
                extra = self.extra,
                anonymous = !self.extra.contains("password_file"),
                port = self.port,
                dir = self.dir.display(),
                // Run as root (CI), mosquitto would switch to its own user,
                // which cannot write into the test's private folder.
                user = if running_as_root() { "user root\n" } else { "" }
            ),
        )
        .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto runs (bash .ci/setup installs it)");
        self.child = Some(child);
        crate::wait_for_port(self.port, Duration::from_secs(10));
    }
}

impl Drop for PrivateMosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// A message a [`Subscriber`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its topic.
    pub topic: String,
    /// Its payload, as text.
    pub body: String,
}

/// An MQTT 5 client (rumqttc) subscribed to one filter, recording every
/// message in arrival order. With a `client_id` it keeps a persistent
/// session, so it misses nothing while the broker restarts.
pub struct Subscriber {
    received: Arc<Mutex<Vec<Received>>>,
    client: Client,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Subscriber {
    /// Subscribes to `filter` at QoS 1 on the loopback broker at `port`
    /// and waits for the SUBACK.
    pub fn start(port: u16, client_id: &str, filter: &str) -> Subscriber {
        let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
        options
            .set_clean_start(false)
            .set_session_expiry_interval(Some(3600))
            .set_keep_alive(Duration::from_secs(5));
        let (client, mut connection) = Client::new(options, 64);
        client.subscribe(filter, QoS::AtLeastOnce).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (subscribed_tx, subscribed_rx) = std::sync::mpsc::channel();
        let thread = {
            let received = Arc::clone(&received);
            std::thread::spawn(move || {
                for event in connection.iter() {
                    match event {
                        Ok(Event::Incoming(Packet::Publish(p))) => received.lock().unwrap().push(Received {
                            topic: String::from_utf8_lossy(&p.topic).into_owned(),
                            body: String::from_utf8_lossy(&p.payload).into_owned(),
                        }),
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            let _ = subscribed_tx.send(());
                        }
                        Ok(Event::Incoming(Packet::Disconnect(_))) => {}
                        Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                        Ok(_) => {}
                        Err(rumqttc::v5::ConnectionError::RequestsDone) => break,
                        Err(_) => std::thread::sleep(Duration::from_millis(100)),
                    }
                }
            })
        };
        subscribed_rx.recv_timeout(Duration::from_secs(10)).expect("the subscription is acknowledged");
        Subscriber { received, client, thread: Some(thread) }
    }

    /// What arrived so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` messages arrived (or `within` passed) and
    /// returns what arrived.
    pub fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() > deadline {
                return received;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs a Mosquitto command-line client (`mosquitto_pub`, `mosquitto_sub`,
/// `mosquitto_rr`) against the loopback broker at `port`; its output.
pub fn mosquitto_client(program: &str, port: u16, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (bash .ci/setup installs mosquitto-clients): {e}"))
}
