//! `iot:gpio` on the simulated board, through the real host, the real GPIO
//! provider library and real signed actors: the button-led example end to
//! end over HTTP, per-pin grants (signed, narrowed by the link), reserved
//! pins, one holder per output, safe states when an actor goes, and a flood
//! of edges that must not grow memory or stop the host serving.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use codec::gpio::{
    InputRequest, Level, OutputRequest, PinRequest, PinState, PwmRequest, WriteRequest, OP_OPEN_INPUT, OP_OPEN_OUTPUT, OP_OPEN_PWM,
    OP_READ, OP_TOGGLE, OP_WRITE,
};
use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::{Policy, SignOptions};
use host_edge_runtime::Limits;
use host_edge_runtime::grant::Rule;
use host_edge_runtime::{Host, HostError, LinkSpec};
use serde_json::json;
use testkit::{
    actor_module, eventually, free_port, http_get, http_put, options, provider_archive, wait_for_port, SimBoard, Signer,
};

const GPIO: &str = "iot:gpio";
const HTTP: &str = "wascc:http_server";
const BUTTON_LED_OPEN: &str = "button in pull=up edge=falling; led out level=low";

fn cap(id: &str) -> CapabilityId {
    CapabilityId::parse(id).unwrap()
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn rules(text: &[&str]) -> Vec<Rule> {
    text.iter().map(|r| r.parse().unwrap()).collect()
}

/// `options(name, caps)` with a signed `iot:gpio` grant.
fn signed(name: &str, caps: &[&str], grant: &[&str]) -> SignOptions {
    SignOptions { grants: BTreeMap::from([(cap(GPIO), rules(grant))]), ..options(name, caps) }
}

/// A host with the GPIO provider on the simulated board (`led` = 17,
/// `button` = 27) and, when asked, the HTTP server on a loopback port.
struct Bench {
    host: Host,
    dir: PathBuf,
    port: u16,
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.host.shutdown();
    }
}

impl Bench {
    fn new(dir: &Path, settings: &[(&str, &str)]) -> Bench {
        let host = Host::with_state_dir(Policy::default(), dir.join("state"));
        let mut all = values(&[("BOARD", "sim"), ("LABELS", "led=17, button=27")]);
        all.extend(values(settings));
        host.add_provider_with("gpio", &provider_archive("gpio"), &all).unwrap();
        Bench { host, dir: dir.to_owned(), port: 0 }
    }

    fn board(&self) -> SimBoard {
        SimBoard::at(&self.dir.join("state/gpio/sim.sock"))
    }

    /// Starts a signed module with one instance; returns its key.
    fn start(&self, module: &[u8]) -> String {
        let actor = self.host.load(module).unwrap();
        let key = actor.subject().to_owned();
        self.host.start_actor(actor, 1, Limits::default()).unwrap();
        key
    }

    fn link_gpio(&self, actor: &str, open: &str, grant: &[&str]) -> Result<(), HostError> {
        self.host.link(LinkSpec {
            actor: actor.to_owned(),
            capability: cap(GPIO),
            binding: "default".into(),
            provider: "gpio".into(),
            values: values(&[("OPEN", open)]),
            grant: grant.iter().map(|g| g.to_string()).collect(),
        })
    }

    fn serve_http(&mut self, actor: &str) {
        self.port = free_port();
        let http = values(&[("ADDRESS", "127.0.0.1"), ("PORT", &self.port.to_string()), ("ERROR_DETAIL", "true")]);
        self.host.add_provider("http", &provider_archive("http_server")).unwrap();
        self.host.link_provider(actor, &cap(HTTP), "default", "http", &http).unwrap();
        wait_for_port(self.port, Duration::from_secs(10));
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The echo actor forwards one `iot:gpio` call and returns the reply.
    fn gpio_call(&self, actor: &str, operation: &str, body: &[u8]) -> Result<PinState, String> {
        let mut payload = format!("default\n{GPIO}\n{operation}\n").into_bytes();
        payload.extend_from_slice(body);
        match self.host.call(actor, "HostCall", &payload) {
            Ok(reply) => Ok(codec::deserialize(&reply).unwrap()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn open_output(&self, actor: &str, pin: &str) -> Result<PinState, String> {
        let request = OutputRequest { pin: pin.into(), ..OutputRequest::default() };
        self.gpio_call(actor, OP_OPEN_OUTPUT, &codec::serialize(&request).unwrap())
    }

    fn open_input(&self, actor: &str, pin: &str) -> Result<PinState, String> {
        let request = InputRequest { pin: pin.into(), ..InputRequest::default() };
        self.gpio_call(actor, OP_OPEN_INPUT, &codec::serialize(&request).unwrap())
    }
}

/// The button-led actor, signed for `out:17,in:27`, linked with its
/// pins and served over HTTP.
fn button_led(dir: &Path, settings: &[(&str, &str)]) -> (Bench, String, Signer) {
    let mut bench = Bench::new(dir, settings);
    let signer = Signer::new();
    let module = signer.sign_with(&actor_module("button_led"), &signed("button-led", &[GPIO, HTTP], &["out:17", "in:27"]));
    let key = bench.start(&module);
    bench.link_gpio(&key, BUTTON_LED_OPEN, &[]).unwrap();
    bench.serve_http(&key);
    (bench, key, signer)
}

fn led(bench: &Bench) -> String {
    let (status, body) = http_get(&bench.url("/led"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["led"].as_str().unwrap().to_owned()
}

fn wait_for_led(bench: &Bench, level: &str) {
    eventually(Duration::from_secs(10), &format!("the LED is {level}"), || (led(bench) == level).then_some(()));
}

#[test]
fn a_button_press_toggles_the_led_and_http_reads_and_sets_it_with_every_change_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let (bench, _, _) = button_led(dir.path(), &[]);
    let board = bench.board();
    assert_eq!(led(&bench), "low");

    board.set("button", "low"); // pressed: the pull-up line falls
    wait_for_led(&bench, "high");
    board.set("button", "high"); // released: a rising edge, not watched
    board.set("button", "low");
    wait_for_led(&bench, "low");

    assert_eq!(http_put(&bench.url("/led"), "on"), (200, r#"{"led":"high","pin":17}"#.to_owned()));
    assert_eq!(board.pin(17)["level"], "high");
    let (status, body) = http_put(&bench.url("/led"), "blink");
    assert_eq!(status, 400, "{body}");
    assert_eq!(http_get(&bench.url("/edges")), (200, r#"{"events":2,"dropped":0,"last_sequence":2}"#.to_owned()));

    let led_changes: Vec<(String, String)> = board
        .history()
        .iter()
        .filter(|c| c["pin"] == 17)
        .map(|c| (c["event"].as_str().unwrap().to_owned(), c["level"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [("output", "low"), ("write", "high"), ("write", "low"), ("write", "high")];
    assert_eq!(led_changes, expected.map(|(e, l)| (e.to_owned(), l.to_owned())));
    let button: Vec<_> = board.history().into_iter().filter(|c| c["label"] == "button").map(|c| c["event"].clone()).collect();
    assert_eq!(button, ["input", "drive", "drive", "drive"]);
}

#[test]
fn a_pin_or_a_mode_outside_the_signed_grant_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let module = Signer::new().sign_with(&actor_module("echo"), &signed("echo", &[GPIO], &["out:17", "in:27"]));
    let echo = bench.start(&module);
    bench.link_gpio(&echo, "", &[]).unwrap();

    assert_eq!(bench.open_output(&echo, "led").unwrap().pin, 17);
    assert_eq!(bench.open_input(&echo, "27").unwrap().label, "button", "a grant by number covers the pin's label");
    let err = bench.open_output(&echo, "22").unwrap_err();
    assert!(err.contains("pin 22 as output is outside the grant for iot:gpio (signed: out:17, in:27)"), "{err}");
    let err = bench.open_input(&echo, "led").unwrap_err();
    assert!(err.contains("pin 17 (led) as input is outside the grant"), "{err}");
    let pwm = PwmRequest { pin: "led".into(), frequency_hz: 100.0, duty_cycle: 0.5, hardware: false };
    let err = bench.gpio_call(&echo, OP_OPEN_PWM, &codec::serialize(&pwm).unwrap()).unwrap_err();
    assert!(err.contains("pin 17 (led) as PWM output is outside the grant"), "{err}");
    let err = bench.gpio_call(&echo, OP_READ, &codec::serialize(&PinRequest { pin: "lde".into() }).unwrap()).unwrap_err();
    assert!(err.contains("`lde` is neither a pin label nor a BCM number (did you mean `led`?)"), "{err}");
    assert_eq!(bench.board().pin(22)["mode"], "unused", "a refused pin is never touched");
}

#[test]
fn a_manifest_label_cannot_point_a_signed_label_grant_at_another_pin() {
    // The token signs `out:sda` (the board's pin 2) and `out:led` (no pin
    // of the board); the manifest's LABELS move `sda` to 22 and make `led`
    // 5. A signed rule read through LABELS reached whatever pin the
    // manifest chose.
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[("LABELS", "sda=22, led=5")]);
    let module = Signer::new().sign_with(&actor_module("echo"), &signed("echo", &[GPIO], &["out:sda", "out:led"]));
    let echo = bench.start(&module);
    bench.link_gpio(&echo, "", &[]).unwrap();

    let err = bench.open_output(&echo, "sda").unwrap_err();
    assert!(err.contains("pin 22 (sda) as output is outside the grant for iot:gpio (signed: out:sda, out:led)"), "{err}");
    let err = bench.open_output(&echo, "led").unwrap_err();
    assert!(err.contains("pin 5 (led) as output is outside the grant"), "{err}");
    assert!(err.contains("`out:led`: signed rules name a pin by BCM number"), "{err}");
    assert!(err.contains("LABELS cannot widen a signed grant"), "{err}");
    assert_eq!(bench.board().pin(22)["mode"], "unused");
    assert_eq!(bench.board().pin(5)["mode"], "unused");
    assert_eq!(bench.open_output(&echo, "gpio2").unwrap().pin, 2, "the signed `sda` is the board's pin 2");
}

#[test]
fn a_link_grant_by_manifest_label_still_narrows_a_signed_grant_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let module = Signer::new().sign_with(&actor_module("echo"), &signed("echo", &[GPIO], &["out:*"]));
    let echo = bench.start(&module);
    bench.link_gpio(&echo, "", &["out:led"]).unwrap();
    assert_eq!(bench.open_output(&echo, "17").unwrap().label, "led");
    assert!(bench.open_output(&echo, "22").unwrap_err().contains("link: out:led"));
}

#[test]
fn a_pwm_grant_does_not_let_the_actor_drive_the_pin_as_a_digital_output() {
    // `pwm:18` allowed Write on the PWM pin, which turned it into a plain
    // output the grant never gave.
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let module = Signer::new().sign_with(&actor_module("echo"), &signed("echo", &[GPIO], &["pwm:18"]));
    let echo = bench.start(&module);
    bench.link_gpio(&echo, "", &[]).unwrap();
    let pwm = PwmRequest { pin: "18".into(), frequency_hz: 100.0, duty_cycle: 0.25, hardware: false };
    bench.gpio_call(&echo, OP_OPEN_PWM, &codec::serialize(&pwm).unwrap()).unwrap();
    let write = WriteRequest { pin: "18".into(), level: Level::High };
    let err = bench.gpio_call(&echo, OP_WRITE, &codec::serialize(&write).unwrap()).unwrap_err();
    assert!(err.contains("pin 18 (pcm_clk) as output is outside the grant for iot:gpio (signed: pwm:18)"), "{err}");
    let err = bench.gpio_call(&echo, OP_TOGGLE, &codec::serialize(&PinRequest { pin: "18".into() }).unwrap()).unwrap_err();
    assert!(err.contains("pin 18 (pcm_clk)"), "Toggle is refused too: {err}");
    assert_eq!(bench.board().pin(18)["mode"], "pwm", "the pin is still PWM: {}", bench.board().pin(18));

    // With `out:19` beside `pwm:19`, Write stops the PWM, as documented.
    let module = Signer::new().sign_with(&actor_module("echo"), &signed("echo2", &[GPIO], &["pwm:19", "out:19"]));
    let both = bench.start(&module);
    bench.link_gpio(&both, "", &[]).unwrap();
    let pwm = PwmRequest { pin: "19".into(), ..pwm };
    bench.gpio_call(&both, OP_OPEN_PWM, &codec::serialize(&pwm).unwrap()).unwrap();
    let write = WriteRequest { pin: "19".into(), level: Level::High };
    assert_eq!(bench.gpio_call(&both, OP_WRITE, &codec::serialize(&write).unwrap()).unwrap().level, Level::High);
    assert_eq!(bench.board().pin(19)["mode"], "output");
}

#[test]
fn the_manifest_link_narrows_the_signed_grant_and_says_which_layer_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let module = Signer::new().sign_with(&actor_module("echo"), &signed("echo", &[GPIO], &["out:17", "in:27"]));
    let echo = bench.start(&module);
    bench.link_gpio(&echo, "", &["out:led"]).unwrap();

    assert!(bench.open_output(&echo, "led").is_ok());
    let err = bench.open_input(&echo, "button").unwrap_err();
    assert!(err.contains("pin 27 (button) as input is outside the grant for iot:gpio (signed: out:17, in:27; link: out:led)"), "{err}");
}

#[test]
fn a_link_whose_pins_fall_outside_the_grant_is_refused_at_bind_time() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let module = Signer::new().sign_with(&actor_module("button_led"), &signed("button-led", &[GPIO], &["out:17"]));
    let key = bench.start(&module);
    let err = bench.link_gpio(&key, BUTTON_LED_OPEN, &[]).unwrap_err().to_string();
    assert!(err.contains("OPEN: pin 27 (button) as input is outside the grant"), "{err}");
    assert_eq!(bench.board().pin(17)["mode"], "unused", "nothing stays open after a refused link");
}

#[test]
fn a_reserved_pin_is_refused_with_its_reason_unless_the_manifest_allows_it_by_name() {
    let module = Signer::new().sign_with(&actor_module("echo"), &signed("echo", &[GPIO], &["out:*"]));
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let echo = bench.start(&module);
    bench.link_gpio(&echo, "", &[]).unwrap();
    let err = bench.open_output(&echo, "txd").unwrap_err();
    assert!(err.contains("pin 14 (txd) is reserved on sim: serial console TX"), "{err}");
    assert!(err.contains("ALLOW_RESERVED"), "{err}");
    assert!(bench.open_output(&echo, "22").is_ok(), "out:* reaches any pin the board does not reserve");
    drop(bench);

    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[("ALLOW_RESERVED", "txd")]);
    let echo = bench.start(&module);
    bench.link_gpio(&echo, "", &[]).unwrap();
    assert_eq!(bench.open_output(&echo, "14").unwrap().pin, 14);
    assert!(bench.open_output(&echo, "15").unwrap_err().contains("pin 15 (rxd) is reserved"));
}

#[test]
fn a_pin_of_an_enabled_bus_is_refused_as_a_gpio_naming_the_bus_and_how_it_was_enabled() {
    let module = Signer::new().sign_with(&actor_module("echo"), &signed("echo", &[GPIO], &["out:*", "in:*"]));
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[("SIM_BUSES", "i2c1")]);
    let echo = bench.start(&module);
    bench.link_gpio(&echo, "", &[]).unwrap();
    let err = bench.open_output(&echo, "sda").unwrap_err();
    assert!(err.contains("pin 2 (sda) is I2C bus 1's SDA (set to ALT0, as `dtparam=i2c_arm=on` in config.txt"), "{err}");
    let err = bench.open_input(&echo, "3").unwrap_err();
    assert!(err.contains("pin 3 (scl) is I2C bus 1's SCL"), "an input would take the pin as surely: {err}");
    assert!(bench.open_output(&echo, "mosi").is_ok(), "SPI bus 0 is not enabled here: its pins are GPIOs");
}

#[test]
fn a_second_actor_cannot_hold_an_output_pin_but_may_share_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let grant = ["out:17", "in:27"];
    let first = bench.start(&Signer::new().sign_with(&actor_module("echo"), &signed("first", &[GPIO], &grant)));
    let second = bench.start(&Signer::new().sign_with(&actor_module("echo"), &signed("second", &[GPIO], &grant)));
    bench.link_gpio(&first, "", &[]).unwrap();
    bench.link_gpio(&second, "", &[]).unwrap();

    bench.open_output(&first, "led").unwrap();
    let err = bench.open_output(&second, "led").unwrap_err();
    assert!(err.contains(&format!("pin 17 (led) is held as an output by actor `first` ({first})")), "{err}");
    bench.open_input(&first, "button").unwrap();
    bench.open_input(&second, "button").unwrap();

    bench.host.stop_actor(&first).unwrap();
    assert!(bench.open_output(&second, "led").is_ok(), "the pin is free once its holder stops");
}

#[test]
fn stopping_or_replacing_the_actor_returns_its_outputs_to_their_safe_state() {
    let dir = tempfile::tempdir().unwrap();
    let (bench, key, signer) = button_led(dir.path(), &[("SAFE_STATE", "led=low")]);
    let board = bench.board();
    http_put(&bench.url("/led"), "on");
    assert_eq!(board.pin(17)["level"], "high");

    let options = SignOptions { rev: Some(2), ..signed("button-led", &[GPIO, HTTP], &["out:17", "in:27"]) };
    let replacement = bench.host.load(&signer.sign_with(&actor_module("button_led"), &options)).unwrap();
    bench.host.replace_actor(replacement, false).unwrap();
    let release = board.history().into_iter().rfind(|c| c["pin"] == 17 && c["event"] == "release").expect("a release");
    assert_eq!((release["level"].as_str(), release["detail"].as_str()), (Some("low"), Some("safe state: output low")));
    assert_eq!(led(&bench), "low", "the new version opened the LED afresh");
    board.set("button", "low");
    wait_for_led(&bench, "high");

    bench.host.stop_actor(&key).unwrap();
    assert_eq!(board.pin(17)["level"], "low");
    assert_eq!(board.pin(27)["mode"], "input");
    let answer = board.request(json!({"op": "pins"}));
    assert_eq!(answer["holders"], json!([]), "{answer}");
}

#[test]
fn ten_thousand_edges_in_a_second_keep_the_queue_bounded_the_host_serving_and_the_drops_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (bench, _, _) = button_led(dir.path(), &[("EDGE_QUEUE", "16")]);
    let board = bench.board();
    let flood = {
        let board = SimBoard::at(&dir.path().join("state/gpio/sim.sock"));
        std::thread::spawn(move || board.request(json!({"op": "pulse", "pin": "button", "count": 10_000, "interval_us": 100})))
    };
    let mut largest_queue = 0;
    let mut served = 0;
    while !flood.is_finished() {
        assert_eq!(http_get(&bench.url("/edges")).0, 200, "the host keeps serving HTTP");
        served += 1;
        let answer = board.request(json!({"op": "pins"}));
        largest_queue = largest_queue.max(answer["actors"][0]["edges"]["queued"].as_u64().unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    let pulse = flood.join().unwrap();
    assert_eq!(pulse["edges"], 10_000);
    assert!(served > 0);
    assert!(largest_queue <= 16, "the queue never holds more than EDGE_QUEUE: {largest_queue}");

    // Every falling edge (5,000 of the 10,000) is either delivered or counted
    // as dropped in the next event the actor receives.
    let (events, dropped) = eventually(Duration::from_secs(30), "every falling edge is accounted for", || {
        let (_, body) = http_get(&bench.url("/edges"));
        let edges: serde_json::Value = serde_json::from_str(&body).unwrap();
        let (events, dropped, last) =
            (edges["events"].as_u64()?, edges["dropped"].as_u64()?, edges["last_sequence"].as_u64()?);
        (last == 5_000 && events + dropped == 5_000).then_some((events, dropped))
    });
    let answer = board.request(json!({"op": "pins"}));
    assert_eq!(answer["actors"][0]["edges"]["dropped"], dropped, "{answer}");
    eprintln!("10,000 edges: {events} falling edges delivered, {dropped} dropped");
}

#[test]
fn the_example_gpio_manifests_parse() {
    for path in ["boards/examples/gpio-sim.toml", "boards/raspberry-pi/gpio.toml"] {
        let manifest = host_edge_runtime::Manifest::load(&testkit::repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(manifest.providers[0].settings["LABELS"], "led=17, button=27", "{path}");
    }
}

/// Writes a manifest serving the button-led actor on the simulated board
/// (no HTTP) with `open`, in `dir`, and starts `host-edge run` on it.
fn run_button_led(dir: &Path, open: &str) -> std::process::Child {
    let module = Signer::new().sign_with(&actor_module("button_led"), &signed("button-led", &[GPIO, HTTP], &["out:17", "in:27"]));
    std::fs::write(dir.join("button_led.wasm"), module).unwrap();
    let manifest = format!(
        r#"
[host]
control_socket = "control.sock"

[[actor]]
path = "button_led.wasm"

[[provider]]
name = "gpio"
path = "{gpio}"
settings = {{ BOARD = "sim", LABELS = "led=17, button=27" }}

[[link]]
actor = "button-led"
capability = "iot:gpio"
provider = "gpio"
values = {{ OPEN = "{open}" }}
"#,
        gpio = provider_archive("gpio").display()
    );
    std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
    std::process::Command::new(testkit::host_edge_bin())
        .current_dir(dir)
        .args(["run", "manifest.toml"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn host_edge(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(testkit::host_edge_bin()).current_dir(dir).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn host_edge_gpio_finds_the_board_through_the_manifest_drives_the_button_and_shows_pins_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = run_button_led(dir.path(), "button in pull=up edge=falling; led out level=low");
    let board = SimBoard::at(&dir.path().join("state/gpio/sim.sock"));
    eventually(Duration::from_secs(30), "the LED is open", || (board.pin(17)["mode"] == "output").then_some(()));

    let (ok, said) = host_edge(dir.path(), &["gpio", "set", "button", "low"]);
    assert!(ok, "{said}");
    assert_eq!(said.trim(), "GPIO27 driven low");
    eventually(Duration::from_secs(10), "the press toggles the LED", || (board.pin(17)["level"] == "high").then_some(()));
    let (ok, pins) = host_edge(dir.path(), &["gpio", "--manifest", "manifest.toml", "pins"]);
    assert!(ok, "{pins}");
    let led = pins.lines().find(|l| l.starts_with("GPIO17")).unwrap_or_else(|| panic!("{pins}"));
    assert_eq!(led.split_whitespace().collect::<Vec<_>>(), ["GPIO17", "led", "output", "high", "-", "button-led"]);
    assert!(pins.contains("actor button-led: edge events 1 delivered, 0 dropped, 0 queued"), "{pins}");
    let (ok, history) = host_edge(dir.path(), &["gpio", "history"]);
    assert!(ok, "{history}");
    assert!(history.lines().any(|l| l.contains("GPIO17 led") && l.contains("write") && l.ends_with("high")), "{history}");

    let (ok, said) = host_edge(dir.path(), &["gpio", "set", "led", "low"]);
    assert!(!ok && said.contains("pin 17 (led) is an output"), "{said}");
    let (ok, said) = host_edge(dir.path(), &["gpio", "set", "button", "pressed"]);
    assert!(!ok && said.contains("`pressed` is not a level: use high or low"), "{said}");
    assert!(std::process::Command::new("kill").args(["-TERM", &host.id().to_string()]).status().unwrap().success());
    assert!(host.wait().unwrap().success());
    let (ok, said) = host_edge(dir.path(), &["gpio", "pins"]);
    assert!(!ok && said.contains("is the host running with BOARD = \"sim\"?"), "{said}");
}

#[test]
fn host_edge_boards_lists_every_board_and_shows_each_header() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, list) = host_edge(dir.path(), &["boards"]);
    assert!(ok, "{list}");
    for name in ["pi-zero-w", "pi-zero-2-w", "pi-3b", "pi-3b-plus", "pi-4b", "pi-5", "sim"] {
        assert!(list.lines().any(|l| l.starts_with(name)), "{name}: {list}");
        let (ok, table) = host_edge(dir.path(), &["boards", "show", name]);
        assert!(ok, "{table}");
        assert!(table.contains(&format!("({name})")), "{table}");
        assert_eq!(table.lines().filter(|l| l.contains(" | ")).count(), 20, "20 rows of two pins: {table}");
        assert!(table.contains("GPIO17 (spi1)  11 | 12  GPIO18"), "{table}");
        assert!(table.contains("GPIO2 sda (i2c1)") && table.contains("/dev/i2c-1"), "the buses are marked and listed: {table}");
    }
    let (ok, said) = host_edge(dir.path(), &["boards", "show", "pi4b"]);
    assert!(!ok && said.contains("(did you mean `pi-4b`?)"), "{said}");
}

#[test]
fn sigterm_of_the_host_returns_every_output_to_its_safe_state_and_watchers_see_it() {
    use std::io::{BufRead, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut host = run_button_led(dir.path(), "led out level=high");
    let board = SimBoard::at(&dir.path().join("state/gpio/sim.sock"));
    eventually(Duration::from_secs(30), "the LED is driven high", || (board.pin(17)["level"] == "high").then_some(()));

    let mut watch = std::os::unix::net::UnixStream::connect(dir.path().join("state/gpio/sim.sock")).unwrap();
    writeln!(watch, "{}", json!({"op": "watch", "since": 0})).unwrap();
    let mut lines = std::io::BufReader::new(watch).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["change"]["event"], "output");

    assert!(std::process::Command::new("kill").args(["-TERM", &host.id().to_string()]).status().unwrap().success());
    let changes: Vec<serde_json::Value> = lines.map(|l| serde_json::from_str(&l.unwrap()).unwrap()).collect();
    assert!(host.wait().unwrap().success());
    let release = changes.iter().find(|c| c["change"]["event"] == "release").expect("the watcher saw the release");
    assert_eq!(release["change"]["pin"], 17);
    assert_eq!(release["change"]["detail"], "safe state: input");
}

#[test]
fn a_simulator_client_sending_an_endless_line_is_cut_off_not_buffered() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path(), &[]);
    let mut stream = std::os::unix::net::UnixStream::connect(dir.path().join("state/gpio/sim.sock")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // A megabyte with no newline: the server answers after its limit, so
    // the rest may find the socket closed.
    let _ = stream.write_all(&vec![b'x'; 1 << 20]);
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer).unwrap();
    assert!(answer.contains("a request line is at most 4096 bytes"), "{answer}");
    // The board still answers its other clients.
    assert_eq!(bench.board().request(json!({"op": "pins"}))["ok"], true);
}
