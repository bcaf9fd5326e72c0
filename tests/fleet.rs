//! Fleet control end to end: host-edge processes on loopback as devices of
//! one fleet, a real Mosquitto between them and the operator, and the
//! operator's side driven through `host-edge fleet` as a user drives it.
//!
//! Every device starts on its own manifest (the counter, rev 1, counting in
//! SQLite, over HTTP) and is in group `kitchen`. The deployment under test
//! is the counter's next version (`counter-tweaked`, rev 2, the same module
//! key), which answers with `"version":2`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use host_edge_runtime::claims::SignOptions;
use serde_json::Value;
use testkit::host::{counter_entries, HostProcess};
use testkit::mqtt::{mosquitto_client, PrivateMosquitto, Subscriber};
use testkit::{
    actor_module, eventually, free_port, host_edge_bin, http_get, options, provider_archive, provider_issuer, provider_library, sign_provider_revision,
    Signer,
};

/// A fleet: a broker, an operator key, and the counter signed as rev 1 and
/// rev 2 under one module key.
struct Fleet {
    dir: tempfile::TempDir,
    broker: PrivateMosquitto,
    prefix: String,
    operator: PathBuf,
    operator_key: String,
    issuer: String,
    signer: Signer,
    v1: PathBuf,
    v2: PathBuf,
}

/// One device's folder and HTTP port.
struct Device {
    host: HostProcess,
    port: u16,
}

impl Device {
    fn hits(&self) -> (u16, String) {
        http_get(&self.host.url("/hits"))
    }
}

/// `host-edge ARGS`, with no saved fleet profile (a developer's own must
/// not reach the tests).
fn cli(args: &[&str]) -> Output {
    std::process::Command::new(host_edge_bin())
        .args(args)
        .env("HOST_EDGE_FLEET_PROFILE", "/nonexistent/host-edge-tests/fleet.toml")
        .output()
        .expect("host-edge runs")
}

fn text_of(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

impl Fleet {
    fn new() -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let broker = PrivateMosquitto::start(dir.path());
        let operator = dir.path().join("operator.nk");
        let made = cli(&["keys", "generate", "operator", "-o", operator.to_str().unwrap()]);
        assert!(made.status.success(), "{}", text_of(&made));
        let operator_key = String::from_utf8_lossy(&made.stdout).trim().to_owned();
        let signer = Signer::new();
        let sign = |actor: &str, rev: i32, file: &str| {
            let signed = signer.sign_with(
                &actor_module(actor),
                &SignOptions { rev: Some(rev), ..options("counter", &["wascc:keyvalue", "wascc:http_server"]) },
            );
            let path = dir.path().join(file);
            std::fs::write(&path, signed).unwrap();
            path
        };
        let v1 = sign("counter", 1, "counter_v1.wasm");
        let v2 = sign("counter_tweaked", 2, "counter_v2.wasm");
        Fleet {
            issuer: signer.issuer.public_key(),
            prefix: format!("test/{}", free_port()),
            dir,
            broker,
            operator,
            operator_key,
            signer,
            v1,
            v2,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A device `id` in group `kitchen` (not started), with `extra`
    /// manifest entries after its own.
    fn device_with(&self, id: &str, extra: &str) -> Device {
        self.device_at(id, extra, "off")
    }

    /// A device `id` whose health and metrics endpoint listens on loopback
    /// `port`.
    fn device_with_endpoint(&self, id: &str, port: u16) -> Device {
        self.device_at(id, "", &format!("127.0.0.1:{port}"))
    }

    /// A device `id` with `extra` manifest entries and `metrics_address`.
    fn device_at(&self, id: &str, extra: &str, metrics_address: &str) -> Device {
        let dir = self.path(id);
        // The signed provider archives a deployment may name, as a bundle
        // installs them.
        let providers = dir.join("providers");
        std::fs::create_dir_all(&providers).unwrap();
        for name in DEPLOYABLE {
            let library = provider_archive(name);
            let installed = providers.join(library_file(name));
            if std::fs::hard_link(&library, &installed).is_err() {
                std::fs::copy(&library, &installed).unwrap();
            }
        }
        let port = free_port();
        let manifest = format!(
            r#"
[host]
metrics_address = "{metrics_address}"

[policy]
trusted_issuers = ["{issuer}", "{provider_issuer}"]

[fleet]
device = "{id}"
groups = ["kitchen"]
operators = ["{operator}"]
url = "mqtt://127.0.0.1:{broker}"
prefix = "{prefix}"
heartbeat = "1s"
vars = {{ HTTP_PORT = "{port}", BROKER_PASSWORD = "{secret}" }}

[[actor]]
path = "{v1}"
{entries}
{extra}"#,
            issuer = self.issuer,
            provider_issuer = provider_issuer().public_key(),
            secret = BROKER_PASSWORD,
            operator = self.operator_key,
            broker = self.broker.port(),
            prefix = self.prefix,
            v1 = self.v1.display(),
            entries = counter_entries(Path::new(&self.provider("keyvalue_sqlite")), Path::new(&self.provider("http_server")), &port.to_string()),
        );
        Device { host: HostProcess::new(&dir, &manifest, port), port }
    }

    fn device(&self, id: &str) -> Device {
        self.device_with(id, "")
    }

    /// Writes a deployment file of the counter's next version, with `extra`
    /// lines (checks, a probe timeout).
    fn deployment(&self, file: &str, extra: &str) -> PathBuf {
        let path = self.path(file);
        std::fs::write(&path, self.deployment_text(&self.v2.display().to_string(), extra)).unwrap();
        path
    }

    /// A deployment of the counter in `module`, 2 instances, with its
    /// providers and links, and `extra` lines before the entries.
    fn deployment_text(&self, module: &str, extra: &str) -> String {
        format!(
            r#"label = "counter 2"
{extra}

[[actor]]
path = "{module}"
instances = 2
{entries}"#,
            entries = counter_entries(Path::new(&self.provider("keyvalue_sqlite")), Path::new(&self.provider("http_server")), "${HTTP_PORT}"),
        )
    }

    /// A deployment of the counter as every device runs it at first (rev 1,
    /// one instance) with the key-value provider given by `kv` (`archive =
    /// ...`, `path = ...`) instead of its path on the device.
    fn kv_deployment_text(&self, kv: &str) -> String {
        let kv_path = format!("path = \"{}\"", self.provider("keyvalue_sqlite"));
        let entries = counter_entries(Path::new(&self.provider("keyvalue_sqlite")), Path::new(&self.provider("http_server")), "${HTTP_PORT}");
        assert!(entries.contains(&kv_path), "{entries}");
        format!("label = \"kv 2\"\n\n[[actor]]\npath = \"{}\"\n{}", self.v1.display(), entries.replace(&kv_path, kv))
    }

    /// The path a deployment names the provider library `name` by: in the
    /// device's provider folder, relative to its manifest.
    fn provider(&self, name: &str) -> String {
        format!("providers/{}", library_file(name))
    }

    /// `host-edge fleet ARGS` against this fleet's broker and prefix.
    fn fleet(&self, args: &[&str]) -> Output {
        let broker = format!("mqtt://127.0.0.1:{}", self.broker.port());
        let mut all = vec!["fleet", "--broker", &broker, "--prefix", &self.prefix];
        all.extend_from_slice(args);
        cli(&all)
    }

    /// `fleet status --json`.
    fn status(&self) -> Value {
        let out = self.fleet(&["status", "--json", "--quiet", "500ms"]);
        assert!(out.status.success(), "{}", text_of(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits until `device` reports a status for which `holds` is true;
    /// fails with the device's log and its last status when it does not.
    fn wait_for_status(&self, device: &Device, what: &str, holds: impl Fn(&Value) -> bool) -> Value {
        let id = device.host.dir().file_name().unwrap().to_string_lossy().into_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.status();
            match status.get(&id) {
                Some(reported) if holds(reported) => return reported.clone(),
                last if Instant::now() > deadline => panic!("timed out waiting until {what}: {last:#?}\n{}", device.host.log()),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// A subscriber to every device's events.
    fn events(&self) -> Subscriber {
        Subscriber::start(self.broker.port(), &format!("events-{}", free_port()), &format!("{}/devices/+/events", self.prefix))
    }
}

/// The provider libraries every device has in its provider folder.
const DEPLOYABLE: [&str; 4] = ["keyvalue_sqlite", "http_server", "messaging_mqtt", "blobstore_fs"];

/// The file name of the provider archive `name`.
fn library_file(name: &str) -> String {
    provider_archive(name).file_name().unwrap().to_string_lossy().into_owned()
}

/// A device's secret, in its `[fleet] vars`.
const BROKER_PASSWORD: &str = "hunter2-s3cret";

fn online(device: &Value) -> bool {
    device["online"] == Value::Bool(true) && device["status"].is_object()
}

fn deployment_seq(device: &Value) -> Option<u64> {
    device["status"]["deployment"]["seq"].as_u64()
}

#[test]
fn two_devices_run_a_signed_deployment_and_one_offline_at_the_time_gets_it_when_it_comes_back() {
    let fleet = Fleet::new();
    let (mut a, mut b, mut c) = (fleet.device("a"), fleet.device("b"), fleet.device("c"));
    a.host.start();
    b.host.start();
    for device in [&a, &b] {
        fleet.wait_for_status(device, "it is online", online);
    }
    assert!(a.hits().1.contains(r#"{"counter":1}"#), "rev 1 serves first");

    let deployment = fleet.deployment("v2.toml", "[[check]]\nurl = \"http://127.0.0.1:${HTTP_PORT}/health\"");
    let sent = Instant::now();
    // --wait on the group: the devices whose retained status says they are
    // in it, so a and b, and not c, which has never reported.
    let out = fleet.fleet(&["deploy", deployment.to_str().unwrap(), "--to", "group:kitchen", "--operator", fleet.operator.to_str().unwrap(), "--wait", "group:kitchen", "--timeout", "60s"]);
    let said = text_of(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("a: committed") && said.contains("b: committed") && !said.contains("c: "), "{said}");
    eprintln!("both devices committed {:.2} s after the deploy command started", sent.elapsed().as_secs_f64());
    for device in [&a, &b] {
        let (status, body) = device.hits();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(r#""version":2"#), "the new version serves: {body}");
    }

    let status = fleet.status();
    let seq = deployment_seq(&status["a"]).expect("a reports its deployment");
    assert_eq!(deployment_seq(&status["b"]), Some(seq));
    for id in ["a", "b"] {
        let actors = status[id]["status"]["actors"].as_array().unwrap();
        assert_eq!(actors.len(), 1, "{actors:?}");
        assert_eq!((actors[0]["rev"].as_i64(), actors[0]["instances"].as_u64()), (Some(2), Some(2)), "{actors:?}");
        assert_eq!(status[id]["status"]["last_outcome"]["result"], "committed");
    }
    let table = fleet.fleet(&["status"]);
    let table = text_of(&table);
    assert!(table.contains("DEVICE") && table.contains(&format!("{seq} (counter 2)")) && table.contains("counter rev 2 x2"), "{table}");

    // c was offline when the deployment went out: it gets it on connecting.
    c.host.start();
    eventually(Duration::from_secs(60), "c serves the new version", || c.hits().1.contains(r#""version":2"#).then_some(()));
    let c_status = fleet.wait_for_status(&c, "c reports the deployment", |d| deployment_seq(d) == Some(seq));
    let received = c_status["status"]["received_bytes"].as_u64().unwrap();
    let module = std::fs::metadata(&fleet.v2).unwrap().len();
    assert_eq!(received, module, "c received the module once, in chunks");

    // The deployment is the last good state: a restart comes back on it.
    a.host.stop("TERM");
    a.host.start();
    assert!(a.hits().1.contains(r#""version":2"#));
    let _ = (a.port, b.port);
}

#[test]
fn a_deployment_whose_health_probe_fails_is_rolled_back_by_the_device_and_reported() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    assert!(a.hits().1.contains(r#"{"counter":1}"#));
    // The counter answers 200; this check wants 204, so the probe never passes.
    let deployment = fleet.deployment(
        "bad.toml",
        "probe_timeout = \"8s\"\n\n[[check]]\nurl = \"http://127.0.0.1:${HTTP_PORT}/health\"\nstatus = 204",
    );
    let out = fleet.fleet(&["deploy", deployment.to_str().unwrap(), "--to", "device:a", "--operator", fleet.operator.to_str().unwrap(), "--wait", "a"]);
    let said = text_of(&out);
    assert!(!out.status.success(), "a rolled-back deployment fails the command: {said}");
    assert!(said.contains("a: rolled-back") && said.contains("answered 200, not 204"), "{said}");
    let (status, body) = a.hits();
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("version"), "rev 1 serves again: {body}");
    let reported = fleet.wait_for_status(&a, "a reports the rollback", |d| d["status"]["last_outcome"]["result"] == "rolled-back");
    assert!(reported["status"]["deployment"].is_null(), "still on its own manifest: {reported}");
    assert_eq!(reported["status"]["actors"][0]["rev"], 1);
}

#[test]
fn a_deployment_checked_on_the_devices_own_readyz_commits_as_readiness_during_the_probe_is_the_new_states() {
    let fleet = Fleet::new();
    let endpoint = free_port();
    let mut a = fleet.device_with_endpoint("a", endpoint);
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    let readyz = format!("http://127.0.0.1:{endpoint}/readyz");
    assert_eq!(http_get(&readyz).0, 200, "ready before the deployment");
    // /readyz is 503 while a deployment stages and applies; during the
    // probe it answers for the new state, so it can be the check.
    let deployment = fleet.deployment("v2.toml", &format!("probe_timeout = \"30s\"\n\n[[check]]\nurl = \"{readyz}\""));
    let out = fleet.fleet(&["deploy", deployment.to_str().unwrap(), "--to", "device:a", "--operator", fleet.operator.to_str().unwrap(), "--wait", "a"]);
    let said = text_of(&out);
    assert!(out.status.success() && said.contains("a: committed"), "{said}\n{}", a.host.log());
    assert!(a.hits().1.contains(r#""version":2"#));
    assert_eq!(http_get(&readyz).0, 200, "ready after it");
}

#[test]
fn a_device_killed_while_staging_comes_back_on_the_previous_deployment_and_serves() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    let deployment = fleet.deployment("v2.toml", "");
    let tokens = fleet.path("v2.jwt");
    let signed = fleet.fleet(&["sign", deployment.to_str().unwrap(), "--to", "device:a", "--operator", fleet.operator.to_str().unwrap(), "-o", tokens.to_str().unwrap()]);
    assert!(signed.status.success(), "{}", text_of(&signed));
    // The command without its modules: the device stages, waiting for chunks.
    let sent = fleet.fleet(&["send", tokens.to_str().unwrap()]);
    assert!(sent.status.success(), "{}", text_of(&sent));
    fleet.wait_for_status(&a, "a is staging", |d| d["status"]["pending"].as_str().is_some_and(|p| p.contains("staging")));
    a.host.stop("KILL");
    fleet.wait_for_status(&a, "the broker marks a offline (its last will)", |d| d["online"] == false);

    a.host.start();
    let (status, body) = a.hits();
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("version"), "the previous state serves: {body}");
    let reported = fleet.wait_for_status(&a, "a reports the interruption", |d| d["status"]["last_outcome"]["result"] == "interrupted");
    assert!(reported["status"]["pending"].is_null(), "{reported}");
    assert!(reported["status"]["last_outcome"]["detail"].as_str().unwrap().contains("while staging"), "{reported}");
    assert!(a.host.log().contains("was interrupted"), "{}", a.host.log());
}

/// `python3 -m http.server` serving `dir` on a free loopback port; stopped
/// when dropped.
struct FileServer {
    child: std::process::Child,
    port: u16,
}

impl FileServer {
    fn start(dir: &std::path::Path) -> FileServer {
        let port = free_port();
        let child = std::process::Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string(), "--directory"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs");
        testkit::wait_for_port(port, Duration::from_secs(10));
        FileServer { child, port }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_module_with_a_url_is_fetched_from_there_and_bytes_that_are_not_the_signed_ones_are_refused() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    let files = fleet.path("files");
    std::fs::create_dir_all(&files).unwrap();
    let server = FileServer::start(&files);
    let url = format!("http://127.0.0.1:{}/counter.wasm", server.port);
    let deployment = fleet.deployment("by-url.toml", "");
    let text = std::fs::read_to_string(&deployment).unwrap().replace("instances = 2", &format!("instances = 2\nurl = \"{url}\""));
    std::fs::write(&deployment, text).unwrap();
    let deploy = || fleet.fleet(&["deploy", deployment.to_str().unwrap(), "--to", "device:a", "--operator", fleet.operator.to_str().unwrap(), "--wait", "a"]);

    // The server holds the module with one byte changed.
    let mut tampered = std::fs::read(&fleet.v2).unwrap();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x55;
    std::fs::write(files.join("counter.wasm"), tampered).unwrap();
    let out = deploy();
    let said = text_of(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("a: failed") && said.contains("the signed deployment names"), "{said}");
    assert!(!a.hits().1.contains("version"), "nothing changed");

    std::fs::copy(&fleet.v2, files.join("counter.wasm")).unwrap();
    let out = deploy();
    let said = text_of(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("0 module bytes in 0 chunks"), "nothing went over MQTT: {said}");
    assert!(a.hits().1.contains(r#""version":2"#));
    let reported = fleet.wait_for_status(&a, "a reports the bytes it fetched", |d| d["status"]["last_outcome"]["result"] == "committed");
    let module = std::fs::metadata(&fleet.v2).unwrap().len();
    assert_eq!(reported["status"]["received_bytes"].as_u64(), Some(module), "the refused download is not kept, nor counted");
}

/// The claims of a signed token, as JSON.
fn claims_of(token: &str) -> Value {
    let body = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&data_encoding::BASE64URL_NOPAD.decode(body.as_bytes()).unwrap()).unwrap()
}

#[test]
fn unsigned_wrongly_signed_replayed_and_older_commands_are_refused_and_reported() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    let events = fleet.events();
    let deployment = fleet.deployment("v2.toml", "");
    let operator = fleet.operator.to_str().unwrap();
    let sign = |seq: &str, seed: &str, file: &str| -> String {
        let path = fleet.path(file);
        let out = fleet.fleet(&["sign", deployment.to_str().unwrap(), "--to", "device:a", "--operator", seed, "--seq", seq, "-o", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text_of(&out));
        std::fs::read_to_string(path).unwrap().trim().to_owned()
    };
    let good = sign("100", operator, "good.jwt");
    let sent = fleet.fleet(&["send", fleet.path("good.jwt").to_str().unwrap(), "--deployment", deployment.to_str().unwrap()]);
    assert!(sent.status.success(), "{}", text_of(&sent));
    fleet.wait_for_status(&a, "a runs deployment 100", |d| deployment_seq(d) == Some(100));

    let topic = format!("{}/devices/a/deploy", fleet.prefix);
    let publish = |payload: &str| {
        let out = mosquitto_client("mosquitto_pub", fleet.broker.port(), &["-q", "1", "-t", &topic, "-m", payload]);
        assert!(out.status.success(), "{}", text_of(&out));
    };
    // Unsigned: the claims alone.
    publish(&claims_of(&good).to_string());
    // Wrongly signed: the good claims with another token's signature.
    let other = sign("101", operator, "other.jwt");
    let parts: Vec<&str> = good.split('.').collect();
    publish(&format!("{}.{}.{}", parts[0], parts[1], other.split('.').nth(2).unwrap()));
    // Signed by an operator the device does not obey.
    let stranger = fleet.path("stranger.nk");
    assert!(cli(&["keys", "generate", "operator", "-o", stranger.to_str().unwrap()]).status.success());
    publish(&sign("102", stranger.to_str().unwrap(), "stranger.jwt"));
    // Replayed: the command already applied, sent again.
    publish(&good);
    // Older: newly signed, with a lower sequence.
    publish(&sign("99", operator, "older.jwt"));

    let wanted = ["unsigned", "bad-signature", "untrusted-operator", "replayed", "older"];
    let refusals = eventually(Duration::from_secs(30), "every refusal is reported", || {
        let refusals: Vec<Value> =
            events.received().iter().map(|m| serde_json::from_str::<Value>(&m.body).unwrap()).filter(|e| e["kind"] == "refused").collect();
        (refusals.len() >= wanted.len()).then_some(refusals)
    });
    let outcomes: Vec<&str> = refusals.iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, wanted, "{refusals:#?}");
    assert!(refusals[3]["detail"].as_str().unwrap().contains("was applied already"), "{refusals:#?}");
    assert!(refusals[4]["detail"].as_str().unwrap().contains("sequence 99 is not above 100"), "{refusals:#?}");
    // Nothing changed, and the device kept serving.
    assert!(a.hits().1.contains(r#""version":2"#));
    assert_eq!(deployment_seq(&fleet.status()["a"]), Some(100));
    assert!(a.host.log().contains("command refused"), "{}", a.host.log());
}

#[test]
fn with_the_clock_set_to_1970_a_revoked_subject_stays_revoked_and_a_valid_actor_still_starts() {
    let fleet = Fleet::new();
    // A second actor on the device, under a module key of its own.
    let spare = Signer { issuer: nkeys::KeyPair::from_seed(&fleet.signer.issuer.seed().unwrap()).unwrap(), subject: nkeys::KeyPair::new_module() };
    let spare_path = fleet.path("spare.wasm");
    std::fs::write(&spare_path, spare.sign(&actor_module("echo"), "spare", &[])).unwrap();
    let spare_key = spare.subject.public_key();
    let mut a = fleet.device_with("a", &format!("\n[[actor]]\npath = \"{}\"\n", spare_path.display()));
    a.host.start();
    fleet.wait_for_status(&a, "a runs both actors", |d| d["status"]["actors"].as_array().is_some_and(|a| a.len() == 2));

    let out = fleet.fleet(&["revoke", &spare_key, "--to", "group:all", "--operator", fleet.operator.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text_of(&out));
    fleet.wait_for_status(&a, "a stopped the revoked actor", |d| d["status"]["actors"].as_array().is_some_and(|a| a.len() == 1));

    a.host.stop("TERM");
    a.host.wrapper(&["faketime", "-f", "@1970-01-02 00:00:00"]);
    a.host.start();
    let (status, body) = a.hits();
    assert_eq!(status, 200, "the counter starts with the clock at 1970: {body}");
    let reported = fleet.wait_for_status(&a, "a reports with its clock behind", |d| d["status"]["clock"]["behind"] == true);
    let actors = reported["status"]["actors"].as_array().unwrap();
    assert_eq!(actors.len(), 1, "{actors:?}");
    assert_eq!(actors[0]["name"], "counter");
    assert!(reported["status"]["clock"]["system"].as_u64().unwrap() < 200_000, "{reported}");
    let log = a.host.log();
    assert!(log.contains(&format!("not starting {}", spare_path.display())) && log.contains("is revoked for tokens issued before"), "{log}");
    assert!(log.contains("before the latest signed time seen"), "{log}");
}

#[test]
fn a_failed_deployment_does_not_publish_its_link_secrets_in_the_event_or_the_retained_status() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    // The counter's next version, granted messaging too, linked to the MQTT
    // provider with a password from the device's vars. The
    // link is refused when applied (a password and a password file both),
    // and the device reports the command it was applying.
    let signed = fleet.signer.sign_with(
        &actor_module("counter_tweaked"),
        &SignOptions { rev: Some(2), ..options("counter", &["wascc:keyvalue", "wascc:http_server", "wascc:messaging"]) },
    );
    std::fs::write(fleet.path("counter_mq.wasm"), signed).unwrap();
    let deployment = fleet.path("leaky.toml");
    let text = fleet.deployment_text("counter_mq.wasm", "")
        + &format!(
            r#"
[[provider]]
name = "mq"
path = "{mq}"

[[link]]
actor = "counter"
capability = "wascc:messaging"
provider = "mq"
values = {{ URL = "mqtt://127.0.0.1:{port}", PASSWORD = "${{BROKER_PASSWORD}}", PASSWORD_FILE = "password" }}
"#,
            mq = fleet.provider("messaging_mqtt"),
            port = fleet.broker.port(),
        );
    std::fs::write(&deployment, text).unwrap();
    let events = fleet.events();
    let out = fleet.fleet(&["deploy", deployment.to_str().unwrap(), "--to", "device:a", "--operator", fleet.operator.to_str().unwrap(), "--wait", "a"]);
    let said = text_of(&out);
    assert!(!out.status.success() && said.contains("a: rolled-back") && said.contains("not both"), "{said}");
    let reported = fleet.wait_for_status(&a, "a reports the rollback", |d| d["status"]["last_outcome"]["result"] == "rolled-back");
    let event = eventually(Duration::from_secs(30), "the outcome's event", || {
        events.received().into_iter().map(|m| m.body).find(|body| body.contains("rolled-back"))
    });
    for (what, text) in [("--wait", said), ("the retained status", reported.to_string()), ("the event", event)] {
        assert!(!text.contains(BROKER_PASSWORD), "{what} carries the device's secret: {text}");
        assert!(text.contains("PASSWORD") && text.contains("***"), "{what} still says which command failed: {text}");
    }
}

/// Whether the host process `pid` has a library whose file name holds
/// `name` mapped.
fn has_loaded(pid: u32, name: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap().lines().any(|line| line.contains(name))
}

/// The uppercase SHA-256 of this machine's library in the provider archive
/// `bytes`: the name the host would load it under, in `state/.libraries`.
fn library_hash(bytes: &[u8]) -> String {
    let contents = host_edge_runtime::claims::archive::read(bytes, None).unwrap();
    contents.library(host_edge_runtime::claims::provider::HOST_TARGET).expect("a library for this machine").hash.clone()
}

/// Whether the host process `pid` has the library of the test provider
/// archive `name` mapped: the host loads it from `state/.libraries` by its
/// hash, not by its name.
fn has_loaded_provider(pid: u32, name: &str) -> bool {
    has_loaded(pid, &library_hash(&std::fs::read(provider_archive(name)).unwrap()))
}

#[test]
fn staging_a_deployment_loads_none_of_its_provider_libraries_so_a_refused_one_runs_no_native_code() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    let pid = a.host.pid().unwrap();
    // A provider the device does not run yet, and a link whose grant is not
    // a rule: the deployment fails while staging, before anything changes.
    let deployment = fleet.path("refused.toml");
    let text = fleet.deployment_text(&fleet.v2.display().to_string(), "")
        + &format!(
            r#"
[[provider]]
name = "blob"
path = "{blob}"

[[link]]
actor = "counter"
capability = "wascc:keyvalue"
binding = "other"
provider = "kv"
grant = ["no rule"]
"#,
            blob = fleet.provider("blobstore_fs"),
        );
    std::fs::write(&deployment, text).unwrap();
    let out = fleet.fleet(&["deploy", deployment.to_str().unwrap(), "--to", "device:a", "--operator", fleet.operator.to_str().unwrap(), "--wait", "a"]);
    let said = text_of(&out);
    assert!(!out.status.success() && said.contains("a: failed") && said.contains("not a grant rule"), "{said}");
    assert!(!has_loaded_provider(pid, "blobstore_fs"), "staging opened the deployment's library, running its initialisers");
    assert!(has_loaded_provider(pid, "keyvalue_sqlite"), "the maps are read right");
}

#[test]
fn a_deployment_naming_a_provider_library_by_an_absolute_path_is_refused_and_not_loaded() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    let pid = a.host.pid().unwrap();
    // A library outside the device's provider folder, by its absolute path.
    let outside = provider_archive("blobstore_fs");
    let deployment = fleet.path("absolute.toml");
    let text = fleet.deployment_text(&fleet.v2.display().to_string(), "")
        + &format!("\n[[provider]]\nname = \"blob\"\npath = \"{}\"\n", outside.display());
    std::fs::write(&deployment, text).unwrap();
    let out = fleet.fleet(&["sign", deployment.to_str().unwrap(), "--to", "device:a", "--operator", fleet.operator.to_str().unwrap(), "-o", fleet.path("absolute.jwt").to_str().unwrap()]);
    assert!(!out.status.success() && text_of(&out).contains("not a path relative"), "the operator's side refuses to sign it: {}", text_of(&out));

    // Signed anyway (by a tool that does not check): the device refuses it.
    let claims = serde_json::json!({
        "label": "absolute", "providers": [{ "name": "blob", "path": outside }],
    });
    let deployment: host_edge_fleet::deployment::Deployment = serde_json::from_value(claims).unwrap();
    let operator = host_edge_runtime::claims::keys::read_seed(&fleet.operator, host_edge_runtime::claims::keys::KeyRole::Operator).unwrap();
    let topics = host_edge_fleet::Topics::new(&fleet.prefix).unwrap();
    let events = fleet.events();
    let token = signed_anyway(&operator, &topics, deployment);
    let topic = format!("{}/devices/a/deploy", fleet.prefix);
    let sent = mosquitto_client("mosquitto_pub", fleet.broker.port(), &["-q", "1", "-t", &topic, "-m", &token]);
    assert!(sent.status.success(), "{}", text_of(&sent));
    let refusal = eventually(Duration::from_secs(30), "the refusal is reported", || {
        events.received().into_iter().map(|m| m.body).find(|body| body.contains("refused"))
    });
    assert!(refusal.contains("not-for-this-device") && refusal.contains("not a path relative"), "{refusal}");
    assert!(!has_loaded_provider(pid, "blobstore_fs"));
}

/// A deployment command for device `a`, signed without the checks
/// `fleet sign` makes, as a careless or hostile tool would sign it; its
/// sequence is the time in milliseconds, as `fleet sign` picks it.
fn signed_anyway(operator: &nkeys::KeyPair, topics: &host_edge_fleet::Topics, deployment: host_edge_fleet::deployment::Deployment) -> String {
    use host_edge_fleet::command::{CommandClaims, Order};
    let now = host_edge_runtime::claims::policy::now_secs();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let claims = CommandClaims {
        jti: format!("anyway-{}", free_port()),
        iat: now,
        exp: now + 3600,
        iss: operator.public_key(),
        aud: topics.prefix().to_owned(),
        sub: "device:a".to_owned(),
        seq: now_ms,
        host_edge_fleet: Order::Deploy(deployment),
    };
    host_edge_runtime::claims::jwt::encode(&claims, operator).unwrap()
}

#[test]
fn an_old_signed_command_replayed_after_the_device_lost_its_state_is_refused_as_expired() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    let deployment = fleet.deployment("v2.toml", "");
    let token = fleet.path("v2.jwt");
    let signed = fleet.fleet(&["sign", deployment.to_str().unwrap(), "--to", "device:a", "--operator", fleet.operator.to_str().unwrap(), "--valid-for", "60s", "-o", token.to_str().unwrap()]);
    assert!(signed.status.success(), "{}", text_of(&signed));
    let sent = fleet.fleet(&["send", token.to_str().unwrap(), "--deployment", deployment.to_str().unwrap()]);
    assert!(sent.status.success(), "{}", text_of(&sent));
    fleet.wait_for_status(&a, "a runs the deployment", |d| deployment_seq(d).is_some());
    // The operator rolls the device back to its own manifest by hand; the
    // old command stays retained on the broker (or in an attacker's hands).
    a.host.stop("TERM");
    let expires = claims_of(std::fs::read_to_string(&token).unwrap().trim())["exp"].as_u64().expect("the command carries an expiry");
    // The state folder is lost: every sequence mark, and the clock's mark.
    std::fs::remove_dir_all(a.host.dir().join("state")).unwrap();
    // The device comes back two hours later, long past the command's
    // expiry, by its clock (faketime): no waiting on the real one.
    assert!(expires < host_edge_runtime::claims::policy::now_secs() + 2 * 3600);
    let events = fleet.events();
    a.host.wrapper(&["faketime", "-f", "+2h"]).start();
    let refusal = eventually(Duration::from_secs(30), "the replay is refused", || {
        events.received().into_iter().map(|m| serde_json::from_str::<Value>(&m.body).unwrap()).find(|e| e["kind"] == "refused")
    });
    assert_eq!(refusal["outcome"], "expired", "{refusal}");
    assert!(refusal["detail"].as_str().unwrap().contains("it expired at"), "{refusal}");
    let (status, body) = a.hits();
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("version"), "the device runs its own manifest, not the replayed deployment: {body}");
    assert!(fleet.status()["a"]["status"]["deployment"].is_null());
}

#[test]
fn deploy_wait_says_plainly_that_device_reports_are_unauthenticated_as_anyone_on_the_broker_can_forge_a_commit() {
    let fleet = Fleet::new();
    // No device `ghost` runs: a forger who may publish under the prefix
    // answers for it, as soon as its command is retained.
    let commands = Subscriber::start(fleet.broker.port(), &format!("forger-{}", free_port()), &format!("{}/devices/ghost/deploy", fleet.prefix));
    let forger = {
        let (port, prefix) = (fleet.broker.port(), fleet.prefix.clone());
        std::thread::spawn(move || {
            let command = commands.wait_for(1, Duration::from_secs(60)).remove(0);
            let seq = claims_of(&command.body)["seq"].as_u64().unwrap();
            let forged = serde_json::json!({
                "device": "ghost", "at": 0, "kind": "deployment", "seq": seq, "outcome": "committed", "detail": "forged",
            });
            let topic = format!("{prefix}/devices/ghost/events");
            // `--wait` subscribed before it published the command, so the
            // broker hands this to it.
            let out = mosquitto_client("mosquitto_pub", port, &["-q", "1", "-t", &topic, "-m", &forged.to_string()]);
            assert!(out.status.success(), "{}", text_of(&out));
        })
    };
    let deployment = fleet.deployment("v2.toml", "");
    let out = fleet.fleet(&["deploy", deployment.to_str().unwrap(), "--to", "device:ghost", "--operator", fleet.operator.to_str().unwrap(), "--wait", "ghost", "--timeout", "30s"]);
    let said = text_of(&out);
    assert!(said.contains("ghost: committed") && said.contains("forged"), "the forged report is read: {said}");
    assert!(said.contains("device reports are unauthenticated"), "--wait does not say that a report proves nothing: {said}");
    forger.join().unwrap();
}

/// What `device` (a fleet status) reports of its provider `name`.
fn provider_of<'a>(device: &'a Value, name: &str) -> Option<&'a Value> {
    device["status"]["providers"].as_array()?.iter().find(|p| p["name"] == name)
}

/// The revision of `device`'s key-value provider, once it reports it.
fn kv_rev(device: &Value) -> Option<i64> {
    provider_of(device, "kv")?["rev"].as_i64()
}

#[test]
fn one_signed_provider_archive_carried_by_a_deployment_upgrades_the_provider_on_two_devices() {
    let fleet = Fleet::new();
    let (mut a, mut b) = (fleet.device("a"), fleet.device("b"));
    a.host.start();
    b.host.start();
    for device in [&a, &b] {
        fleet.wait_for_status(device, "it is online", online);
        assert!(device.hits().1.contains(r#"{"counter":1}"#), "the device's own key-value provider serves first");
    }
    // The key-value provider's next release, rev 2, signed once, beside the
    // deployment file; the devices have only the first in their provider
    // folder.
    let archive = sign_provider_revision(&provider_library("keyvalue_sqlite"), "wascc:keyvalue", Some(2), &fleet.path("kv-v2.par.gz"));
    let bytes = std::fs::read(&archive).unwrap();
    let sha = host_edge_fleet::deployment::sha256_hex(&bytes);
    let deployment = fleet.path("kv-v2.toml");
    std::fs::write(&deployment, fleet.kv_deployment_text("archive = \"kv-v2.par.gz\"")).unwrap();

    let out = fleet.fleet(&[
        "deploy", deployment.to_str().unwrap(), "--to", "group:kitchen", "--operator", fleet.operator.to_str().unwrap(),
        "--wait", "a", "--wait", "b", "--timeout", "120s",
    ]);
    let said = text_of(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("a: committed") && said.contains("b: committed"), "{said}");
    // Sent once for both devices: the module's chunks and the archive's.
    let module = std::fs::metadata(&fleet.v1).unwrap().len();
    let chunks = module.div_ceil(65536) + (bytes.len() as u64).div_ceil(65536);
    assert!(said.contains(&format!("in {chunks} chunks (modules and provider archives)")), "{said}");

    for device in [&a, &b] {
        let (status, body) = device.hits();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(r#"{"counter":2}"#), "the upgraded provider serves the count the first one kept: {body}");
        let reported = fleet.wait_for_status(device, "it reports the upgraded provider", |d| kv_rev(d) == Some(2));
        assert_eq!(provider_of(&reported, "kv").unwrap()["healthy"], true, "{reported}");
        assert_eq!(reported["status"]["received_bytes"].as_u64(), Some(module + bytes.len() as u64), "the module and the archive, once each");
        let kept = device.host.dir().join("state/fleet/modules").join(format!("{sha}.par"));
        assert_eq!(std::fs::read(&kept).unwrap(), bytes, "kept by its hash");
        assert!(device.host.log().contains("fleet: provider archive verified"), "{}", device.host.log());
    }

    // The deployment is the last good state: a restart loads the carried
    // archive again, verified again.
    a.host.stop("TERM");
    a.host.start();
    let (status, body) = a.hits();
    assert_eq!((status, body.contains(r#"{"counter":3}"#)), (200, true), "{body}");
    fleet.wait_for_status(&a, "a comes back on the upgraded provider", |d| online(d) && kv_rev(d) == Some(2));
}

#[test]
fn a_tampered_chunk_or_archive_of_a_carried_provider_is_refused_while_staging_never_loaded_and_the_device_keeps_serving() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    let pid = a.host.pid().unwrap();
    assert!(a.hits().1.contains(r#"{"counter":1}"#));
    let operator = fleet.operator.to_str().unwrap();
    let modules = a.host.dir().join("state/fleet/modules");

    // 1. One chunk of a good archive changed on the broker (the chunk topics
    // are not signed): the bytes hash to something else than the signed
    // deployment names, are asked for again, and refused.
    let archive = sign_provider_revision(&provider_library("keyvalue_sqlite"), "wascc:keyvalue", Some(2), &fleet.path("kv-v2.par.gz"));
    let bytes = std::fs::read(&archive).unwrap();
    let sha = host_edge_fleet::deployment::sha256_hex(&bytes);
    let deployment = fleet.path("kv-v2.toml");
    std::fs::write(&deployment, fleet.kv_deployment_text("archive = \"kv-v2.par.gz\"")).unwrap();
    let tokens = fleet.path("kv-v2.jwt");
    let signed = fleet.fleet(&["sign", deployment.to_str().unwrap(), "--to", "device:a", "--operator", operator, "-o", tokens.to_str().unwrap()]);
    assert!(signed.status.success(), "{}", text_of(&signed));
    let no_command = fleet.path("none.jwt");
    std::fs::write(&no_command, "").unwrap();
    let sent = fleet.fleet(&["send", no_command.to_str().unwrap(), "--deployment", deployment.to_str().unwrap()]);
    assert!(sent.status.success(), "the chunks, without the command: {}", text_of(&sent));
    let mut chunk = bytes[65536..131072].to_vec();
    chunk[1000] ^= 0x01;
    let chunk_file = fleet.path("chunk-1");
    std::fs::write(&chunk_file, chunk).unwrap();
    let topic = format!("{}/modules/{sha}/65536/1", fleet.prefix);
    let replaced = mosquitto_client("mosquitto_pub", fleet.broker.port(), &["-q", "1", "-r", "-t", &topic, "-f", chunk_file.to_str().unwrap()]);
    assert!(replaced.status.success(), "{}", text_of(&replaced));
    let sent = fleet.fleet(&["send", tokens.to_str().unwrap()]);
    assert!(sent.status.success(), "{}", text_of(&sent));
    let seq = claims_of(std::fs::read_to_string(&tokens).unwrap().trim())["seq"].as_u64().unwrap();
    let reported = fleet.wait_for_status(&a, "a refuses the tampered chunk", |d| d["status"]["last_outcome"]["seq"].as_u64() == Some(seq));
    let outcome = &reported["status"]["last_outcome"];
    assert_eq!(outcome["result"], "failed", "{reported}");
    let detail = outcome["detail"].as_str().unwrap();
    assert!(detail.contains("provider archive kv: the bytes received hash to") && detail.contains("refused (3 times)"), "{detail}");
    assert!(!modules.join(format!("{sha}.par")).exists(), "bytes that hash wrong are not kept");
    assert!(a.hits().1.contains(r#"{"counter":2}"#), "the device's own provider still serves");

    // 2. An archive with one byte of its library changed, so its claims no
    // longer sign it. The operator's side refuses to carry it ...
    let good = sign_provider_revision(&provider_library("keyvalue_sqlite"), "wascc:keyvalue", Some(3), &fleet.path("kv-v3.par"));
    let mut tampered = std::fs::read(&good).unwrap();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    let files = fleet.path("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("kv.par"), &tampered).unwrap();
    let refused = fleet.path("kv-tampered.toml");
    std::fs::write(&refused, fleet.kv_deployment_text("archive = \"files/kv.par\"")).unwrap();
    let out = fleet.fleet(&["sign", refused.to_str().unwrap(), "--to", "device:a", "--operator", operator, "-o", fleet.path("kv-tampered.jwt").to_str().unwrap()]);
    assert!(!out.status.success() && text_of(&out).contains("was changed after signing"), "the operator's side refuses it: {}", text_of(&out));

    // ... and, signed by its own hash anyway (by a tool that checks
    // nothing), fetched whole from a URL, the device refuses it by its
    // claims while staging, without loading it.
    let server = FileServer::start(&files);
    let good_deployment = fleet.path("kv-v3.toml");
    std::fs::write(&good_deployment, fleet.kv_deployment_text("archive = \"kv-v3.par\"")).unwrap();
    let mut signed_deployment = host_edge_fleet::deployment::DeploymentFile::load(&good_deployment, 65536).unwrap().deployment;
    let kv = signed_deployment.providers.iter_mut().find(|p| p.name == "kv").unwrap().archive.as_mut().unwrap();
    kv.sha256 = host_edge_fleet::deployment::sha256_hex(&tampered);
    kv.url = Some(format!("http://127.0.0.1:{}/kv.par", server.port));
    let operator_key = host_edge_runtime::claims::keys::read_seed(&fleet.operator, host_edge_runtime::claims::keys::KeyRole::Operator).unwrap();
    let topics = host_edge_fleet::Topics::new(&fleet.prefix).unwrap();
    let token = signed_anyway(&operator_key, &topics, signed_deployment);
    let seq = claims_of(&token)["seq"].as_u64().unwrap();
    let topic = format!("{}/devices/a/deploy", fleet.prefix);
    let sent = mosquitto_client("mosquitto_pub", fleet.broker.port(), &["-q", "1", "-t", &topic, "-m", &token]);
    assert!(sent.status.success(), "{}", text_of(&sent));
    let reported = fleet.wait_for_status(&a, "a refuses the tampered archive", |d| d["status"]["last_outcome"]["seq"].as_u64() == Some(seq));
    let outcome = &reported["status"]["last_outcome"];
    assert_eq!(outcome["result"], "failed", "{reported}");
    let detail = outcome["detail"].as_str().unwrap();
    assert!(detail.contains("provider archive kv") && detail.contains("was changed after signing"), "{detail}");

    let libraries = a.host.dir().join("state/.libraries");
    let bad = library_hash(&tampered);
    assert!(!libraries.join(format!("{bad}.so")).exists(), "the tampered library was written to be loaded");
    assert!(!has_loaded(pid, &bad), "the tampered library was loaded");
    let running = library_hash(&std::fs::read(provider_archive("keyvalue_sqlite")).unwrap());
    assert!(libraries.join(format!("{running}.so")).exists() && has_loaded_provider(pid, "keyvalue_sqlite"), "the checks look in the right place");
    assert!(a.hits().1.contains(r#"{"counter":3}"#), "the device's own provider still serves");
    let reported = fleet.status();
    assert!(reported["a"]["status"]["deployment"].is_null(), "still on its own manifest: {reported}");
    assert_eq!(kv_rev(&reported["a"]), None, "the first provider runs: {reported}");
}

#[test]
fn a_carried_provider_is_rolled_back_with_the_rest_when_the_health_probe_fails() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    assert!(a.hits().1.contains(r#"{"counter":1}"#));
    sign_provider_revision(&provider_library("keyvalue_sqlite"), "wascc:keyvalue", Some(2), &fleet.path("kv-v2.par.gz"));
    // The counter answers 200; this check wants 204, so the probe never passes.
    let deployment = fleet.path("kv-v2.toml");
    let text = fleet.kv_deployment_text("archive = \"kv-v2.par.gz\"")
        + "\n[[check]]\nurl = \"http://127.0.0.1:${HTTP_PORT}/health\"\nstatus = 204\n";
    std::fs::write(&deployment, text.replace("label = \"kv 2\"", "label = \"kv 2\"\nprobe_timeout = \"8s\"")).unwrap();
    let out = fleet.fleet(&["deploy", deployment.to_str().unwrap(), "--to", "device:a", "--operator", fleet.operator.to_str().unwrap(), "--wait", "a"]);
    let said = text_of(&out);
    assert!(!out.status.success() && said.contains("a: rolled-back") && said.contains("answered 200, not 204"), "{said}");
    let log = a.host.log();
    assert!(log.contains("fleet: provider archive verified") && log.contains("fleet: removed provider kv"), "the carried archive was applied: {log}");
    let reported = fleet.wait_for_status(&a, "a reports the rollback", |d| d["status"]["last_outcome"]["result"] == "rolled-back");
    assert_eq!(kv_rev(&reported), None, "the device's own provider runs again: {reported}");
    assert_eq!(provider_of(&reported, "kv").unwrap()["healthy"], true, "{reported}");
    assert!(reported["status"]["deployment"].is_null(), "{reported}");
    let (status, body) = a.hits();
    assert_eq!((status, body.contains(r#"{"counter":2}"#)), (200, true), "{body}");
}

#[test]
fn a_saved_fleet_profile_spares_the_broker_and_prefix_options_and_a_prefix_no_device_uses_is_warned_about() {
    let fleet = Fleet::new();
    let mut a = fleet.device("a");
    a.host.start();
    fleet.wait_for_status(&a, "a is online", online);
    let profile = fleet.path("operator-profile.toml");
    let operator_cli = |args: &[&str]| {
        std::process::Command::new(host_edge_bin()).args(args).env("HOST_EDGE_FLEET_PROFILE", &profile).output().expect("host-edge runs")
    };
    let broker = format!("mqtt://127.0.0.1:{}", fleet.broker.port());
    let saved = operator_cli(&["fleet", "--broker", &broker, "--prefix", &fleet.prefix, "profile", "--save"]);
    assert!(saved.status.success(), "{}", text_of(&saved));
    let shown = text_of(&saved);
    assert!(shown.contains(&format!("prefix   {} (option)", fleet.prefix)), "{shown}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&profile).unwrap().permissions().mode() & 0o777, 0o600);

    // No broker or prefix option: the profile's.
    let status = operator_cli(&["fleet", "status", "--json", "--quiet", "500ms"]);
    let listed: Value = serde_json::from_slice(&status.stdout).unwrap_or_else(|e| panic!("{e}: {}", text_of(&status)));
    assert!(listed.get("a").is_some(), "{listed}");
    assert!(text_of(&operator_cli(&["fleet", "profile"])).contains(&format!("prefix   {} (profile)", fleet.prefix)));

    // A prefix no device reports under: the revocation is sent, and the
    // operator is told nobody there has heard of the target.
    let module = nkeys::KeyPair::new_module().public_key();
    let wrong = operator_cli(&["fleet", "--prefix", "typo/fleet", "revoke", &module, "--to", "group:kitchen", "--operator", fleet.operator.to_str().unwrap()]);
    let said = text_of(&wrong);
    assert!(said.contains("no device of group:kitchen has reported under the prefix `typo/fleet`"), "{said}");
    let waited = operator_cli(&["fleet", "--prefix", "typo/fleet", "deploy", fleet.deployment("v2.toml", "").to_str().unwrap(), "--to", "group:kitchen", "--operator", fleet.operator.to_str().unwrap(), "--wait", "group:kitchen"]);
    assert!(!waited.status.success() && text_of(&waited).contains("none to wait for"), "{}", text_of(&waited));
}
