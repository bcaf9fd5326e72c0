//! `cargo xtask`: the project's own tasks, so that README commands stay short
//! and work the same on a laptop and in CI.
//!
//! - `actors`: build the example actors for wasm32;
//! - `demo [--check]`: build the host and providers, sign the counter actor
//!   and serve it over HTTP on the SQLite store at localhost:8080 (with
//!   `--check`: see `/hits` count 1 then 2, and stop);
//! - `demo gpio [--check]`: the button-led actor on the simulated board, its
//!   LED over HTTP at localhost:8080 and its button driven with `host-edge
//!   gpio` (with `--check`: press the button, see the LED turn on, stop);
//! - `demo mqtt [--check]`: the telemetry actor on the MQTT broker at
//!   localhost:1883 (with `--check`: a reading posted over HTTP reaches
//!   `mosquitto_sub`, and answers `mosquitto_rr`);
//! - `demo weather [--check]`: the weather actor reading the simulated
//!   BME280 on I2C with the bme280 driver from crates.io, publishing on the
//!   broker at localhost:1883 and serving the latest at localhost:8080
//!   (with `--check`: a reading reaches `mosquitto_sub` and `/weather`);
//! - `test`: build the actors, then run every test in the workspace, the
//!   demos' checks and the fuzz targets (`fuzz`, for the default time);
//! - `fuzz [--seconds N]`: build the fuzz targets (fuzz/, cargo-fuzz) and
//!   run each for its share of N seconds (75 by default), failing on a
//!   crash (fuzz.rs);
//! - `bundle <target> [--issuer SEED]`: cross-build the deployable Raspberry
//!   Pi tarball, its actors and provider archives signed by SEED's account
//!   (or a generated one, printed and trusted by its manifests);
//! - `arm-check [targets]`: build each bundle (aarch64, armv7, ARMv6) and
//!   serve the counter from it under qemu-user, checked over loopback HTTP;
//!   on aarch64 also run the rppal register test (tests/gpio_rppal.rs) on
//!   the bundle's host, and on armv7 the provider suites (`arm_suites`);
//! - `raspi-check <bundle-dir>`: the unpacked aarch64 bundle's GPIO provider
//!   on an emulated Raspberry Pi 3 B booting Debian's kernel (raspi.rs);
//! - `glibc-floor <dir> [version]`: fail when an ELF file under `dir` needs
//!   a glibc symbol newer than `version` (default: the bundles' floor, 2.31).

use std::path::{Path, PathBuf};
use std::process::{exit, Command, ExitStatus};
use std::time::Duration;

mod cache;
mod fuzz;
mod glibc;
mod phases;
mod pi;
mod raspi;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(command: &mut Command) {
    eprintln!("xtask: {command:?}");
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => {
            eprintln!("xtask: failed with {status}");
            exit(status.code().unwrap_or(1));
        }
        Err(e) => {
            eprintln!("xtask: cannot run: {e}");
            exit(1);
        }
    }
}

/// Builds the example actors called `packages` (their crate names) for
/// wasm32 and returns the folder they are in: a demo builds only its own.
fn build_some_actors(packages: &[&str]) -> PathBuf {
    let actors = root().join("actors");
    let mut build = cargo();
    build.current_dir(&actors).args(["build", "--release"]);
    for package in packages {
        build.args(["-p", package]);
    }
    run(&mut build);
    actors.join("target/wasm32-unknown-unknown/release")
}

fn build_actors() -> PathBuf {
    let actors = root().join("actors");
    // actors/.cargo/config.toml sets the wasm32 target; it is read from the
    // working directory.
    run(cargo().current_dir(&actors).args(["build", "--release"]));
    // The WASI examples build for wasm32-wasip1 (they are not default
    // members of the actors' workspace).
    run(cargo().current_dir(&actors).args(["build", "--release", "--target", "wasm32-wasip1", "-p", "wasi-hello", "-p", "wasi-files"]));
    actors.join("target/wasm32-unknown-unknown/release")
}

/// The provider crates the demo and bundles ship.
const PROVIDERS: [&str; 10] = [
    "host-edge-keyvalue-sqlite",
    "host-edge-keyvalue-redis",
    "host-edge-http-server",
    "host-edge-gpio",
    "host-edge-messaging-mqtt",
    "host-edge-http-client",
    "host-edge-blobstore-fs",
    "host-edge-i2c",
    "host-edge-spi",
    "host-edge-serial",
];

/// Their library names, as bundles carry them in `providers/`.
const LIBRARIES: [&str; 10] = [
    "keyvalue_sqlite",
    "keyvalue_redis",
    "http_server",
    "gpio",
    "messaging_mqtt",
    "http_client",
    "blobstore_fs",
    "i2c",
    "spi",
    "serial",
];

/// The capability each of [`LIBRARIES`] serves: what its archive signs.
fn capability_of(library: &str) -> &'static str {
    match library {
        "keyvalue_sqlite" | "keyvalue_redis" => "wascc:keyvalue",
        "http_server" => "wascc:http_server",
        "gpio" => "iot:gpio",
        "messaging_mqtt" => "wascc:messaging",
        "http_client" => "wascc:http_client",
        "blobstore_fs" => "wascc:blobstore",
        "i2c" => "iot:i2c",
        "spi" => "iot:spi",
        "serial" => "iot:serial",
        other => panic!("no shipped provider library {other}"),
    }
}

/// The file a bundle or demo ships the provider `library` in: its signed
/// provider archive.
fn archive_file(library: &str) -> String {
    format!("{library}.par.gz")
}

/// The providers only the tests load: one that panics, and one shaped
/// like waSCC's, which the host refuses.
const TEST_PROVIDERS: [&str; 2] = ["host-edge-fixture-panicking-provider", "host-edge-fixture-wascc-provider"];

/// The cargo profile the demo builds with (see the workspace Cargo.toml).
const DEMO_PROFILE: &str = "demo-build";

/// The port the demo serves on.
const DEMO_PORT: u16 = 8080;

/// The demo's manifest, with `${ISSUER}`, `${KV}`, `${HTTP}` and `${PORT}`
/// to fill.
const DEMO_MANIFEST: &str = include_str!("../../demo/counter.toml");

/// A demo's folder, with the host and providers built (in `profile`) and
/// an issuer key.
struct DemoSetup {
    release: PathBuf,
    bin: PathBuf,
    dir: PathBuf,
    wasm: PathBuf,
    /// The public key of the issuer that signs the demo's actors and
    /// providers, which its manifest trusts.
    issuer: String,
}

impl DemoSetup {
    /// Builds, in `profile`, the host, the provider crates `providers` and
    /// the actor crates `actors` (only what the demo serves: a first answer
    /// on a fresh clone waits for every crate built) and starts
    /// `target/<folder>` afresh.
    ///
    /// In the `dev` profile (`cargo xtask test`, after the test build) it
    /// builds every provider and actor, as the tests did: cargo unifies the
    /// features of shared dependencies over the packages a build selects, so
    /// selecting fewer would rebuild tokio and what sits on it for nothing.
    fn new(folder: &str, profile: &str, providers: &[&str], actors: &[&str]) -> DemoSetup {
        let (providers, wasm) =
            if profile == "dev" { (&PROVIDERS[..], build_actors()) } else { (providers, build_some_actors(actors)) };
        let mut build = cargo();
        build.current_dir(root()).args(["build", "--profile", profile, "-p", "host-edge"]);
        for provider in providers {
            build.args(["-p", provider]);
        }
        run(&mut build);
        // cargo's `dev` profile builds into target/debug.
        let release = root().join("target").join(if profile == "dev" { "debug" } else { profile });
        let dir = root().join("target").join(folder);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the demo folder");
        let mut setup = DemoSetup { bin: release.join("host-edge"), release, dir, wasm, issuer: String::new() };
        let output = setup.host_edge(&["keys", "generate", "account", "-o", "issuer.nk"]).output().expect("host-edge runs");
        if !output.status.success() {
            eprintln!("xtask: cannot make the demo's issuer key: {}", String::from_utf8_lossy(&output.stderr));
            exit(1);
        }
        setup.issuer = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        setup
    }

    fn host_edge(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command.current_dir(&self.dir).args(args);
        command
    }

    /// Signs actors/`actor` as `<actor>_s.wasm`, named `name`, with `claims`
    /// (`-k`, `--cap`, `--grant` ...), valid a year, and shows its claims.
    fn sign(&self, actor: &str, name: &str, claims: &[&str]) {
        let key = format!("{actor}.nk");
        run(&mut self.host_edge(&["keys", "generate", "module", "-o", &key]));
        let input = self.wasm.join(format!("{actor}.wasm"));
        let output = format!("{actor}_s.wasm");
        let mut sign = self.host_edge(&["sign", input.to_str().unwrap(), "-o", &output, "--issuer", "issuer.nk"]);
        sign.args(["--subject", &key, "--name", name, "--expires-in", "365d"]).args(claims);
        run(&mut sign);
        run(&mut self.host_edge(&["inspect", &output]));
    }

    /// Signs the provider library `name` of this build into a provider
    /// archive in the demo folder (with a fresh service key, by the demo's
    /// issuer), as a vendor ships it; returns the archive's file name.
    fn archive(&self, name: &str) -> String {
        let key = format!("{name}.nk");
        run(self.host_edge(&["keys", "generate", "service", "-o", &key]).stdout(std::process::Stdio::null()));
        let library = self.release.join(format!("lib{name}.so"));
        // Not gzipped: the demo's libraries are unstripped, and compressing
        // them would cost seconds of the first answer for nothing.
        let output = format!("{name}.par");
        let mut create = self.host_edge(&["par", "create", "--capability", capability_of(name), "--issuer", "issuer.nk"]);
        create.args(["--subject", &key, "--name", name, "--vendor", "host-edge", "--library"]).arg(&library).args(["-o", &output]);
        run(create.stdout(std::process::Stdio::null()));
        output
    }

    /// `manifest` trusting only the demo's issuer.
    fn trusting(&self, manifest: &str) -> String {
        manifest.replace("trusted_issuers = []", &format!("trusted_issuers = [\"{}\"]", self.issuer))
    }
}

/// Builds the host and providers (in `profile`), signs the counter and
/// writes a manifest serving it on SQLite in target/demo. With `check`, runs
/// the host just long enough to see `/hits` count 1 and 2; otherwise serves
/// until Ctrl-C.
fn demo(check: bool, profile: &str) {
    let setup = DemoSetup::new("demo", profile, &["host-edge-keyvalue-sqlite", "host-edge-http-server"], &["counter"]);
    setup.sign("counter", "counter", &["-s", "-k"]);
    let (bin, dir) = (&setup.bin, &setup.dir);
    // demo/counter.toml, the demo written once: the tests and benchmarks
    // that serve the counter start from the same file.
    let manifest = DEMO_MANIFEST
        .replace("${ISSUER}", &setup.issuer)
        .replace("${KV}", &setup.archive("keyvalue_sqlite"))
        .replace("${HTTP}", &setup.archive("http_server"))
        .replace("${PORT}", &DEMO_PORT.to_string());
    std::fs::write(dir.join("manifest.toml"), manifest).expect("writing the demo manifest");
    if check {
        check_demo(bin, dir);
        return;
    }
    eprintln!("xtask: serving the counter; in another terminal:  curl localhost:{DEMO_PORT}/hits");
    eprintln!("xtask: Ctrl-C stops it. Files are in {}", dir.display());
    run(&mut setup.host_edge(&["run", "manifest.toml"]));
}

/// The GPIO demo: button-led on the simulated board (boards/sim.toml), the
/// LED over HTTP, the button from `host-edge gpio`.
fn demo_gpio(check: bool, profile: &str) {
    let setup = DemoSetup::new("demo-gpio", profile, &["host-edge-gpio", "host-edge-http-server"], &["button-led"]);
    setup.sign("button_led", "button-led", &["-s", "--gpio", "--grant", "iot:gpio=out:17,in:27"]);
    let manifest = std::fs::read_to_string(root().join("boards/examples/gpio-sim.toml"))
        .expect("reading boards/examples/gpio-sim.toml")
        .replace("actors/button_led.wasm", "button_led_s.wasm")
        .replace(&format!("providers/{}", archive_file("gpio")), &setup.archive("gpio"))
        .replace(&format!("providers/{}", archive_file("http_server")), &setup.archive("http_server"))
        .replace(r#"ADDRESS = "0.0.0.0""#, r#"ADDRESS = "127.0.0.1""#);
    std::fs::write(setup.dir.join("manifest.toml"), setup.trusting(&manifest)).expect("writing the GPIO demo manifest");
    if check {
        check_demo_gpio(&setup);
        return;
    }
    let gpio = format!("{} gpio --manifest {}", setup.bin.display(), setup.dir.join("manifest.toml").display());
    eprintln!("xtask: the button-led actor on the simulated board. In another terminal:");
    eprintln!("xtask:   curl localhost:{DEMO_PORT}/led                    # the LED: low");
    eprintln!("xtask:   {gpio} set button low    # press the button: the LED toggles");
    eprintln!("xtask:   {gpio} set button high   # let go");
    eprintln!("xtask:   curl -X PUT -d on localhost:{DEMO_PORT}/led       # set the LED over HTTP");
    eprintln!("xtask:   {gpio} watch             # every pin change as it happens");
    eprintln!("xtask:   {gpio} pins              # who holds what");
    eprintln!("xtask: Ctrl-C stops it (the LED goes back to its safe state). Files are in {}", setup.dir.display());
    run(&mut setup.host_edge(&["run", "manifest.toml"]));
}

/// Runs the GPIO demo, presses the button with `host-edge gpio`, waits for
/// `/led` to say high, stops the host.
fn check_demo_gpio(setup: &DemoSetup) {
    if std::net::TcpStream::connect(("127.0.0.1", DEMO_PORT)).is_ok() {
        eprintln!("xtask: something already listens on port {DEMO_PORT}; stop it to check the GPIO demo");
        exit(1);
    }
    let mut host = setup.host_edge(&["run", "manifest.toml"]).spawn().expect("the host starts");
    let led = || http_get(DEMO_PORT, "/led", Duration::from_secs(10));
    let wait_for = |want: &str| -> Option<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let got = led();
            if got.as_deref().is_some_and(|body| body.contains(want)) || std::time::Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let before = wait_for(r#""led":"low""#);
    let pressed = setup.host_edge(&["gpio", "set", "button", "low"]).status().is_ok_and(|s| s.success());
    let after = wait_for(r#""led":"high""#);
    let _ = Command::new("kill").args(["-TERM", &host.id().to_string()]).status();
    let status = host.wait().expect("the host stops");
    if !pressed || !after.as_deref().unwrap_or("").contains(r#""led":"high""#) || !status.success() {
        eprintln!("xtask: GPIO demo check failed: LED {before:?}, button pressed: {pressed}, then {after:?}; host {status}");
        exit(1);
    }
    eprintln!("xtask: GPIO demo check passed: the button press turned the LED on");
}

/// The messaging demo: the telemetry actor on the local broker
/// (boards/examples/mqtt.toml).
fn demo_mqtt(check: bool, profile: &str) {
    let setup = DemoSetup::new("demo-mqtt", profile, &["host-edge-messaging-mqtt", "host-edge-http-server"], &["telemetry"]);
    setup.sign("telemetry", "telemetry", &["-s", "-g", "--grant", "wascc:messaging=pub:sensors/#,sub:sensors/#,pub:replies/#"]);
    let manifest = std::fs::read_to_string(root().join("boards/examples/mqtt.toml"))
        .expect("reading boards/examples/mqtt.toml")
        .replace("actors/telemetry.wasm", "telemetry_s.wasm")
        .replace(&format!("providers/{}", archive_file("messaging_mqtt")), &setup.archive("messaging_mqtt"))
        .replace(&format!("providers/{}", archive_file("http_server")), &setup.archive("http_server"))
        .replace(r#"ADDRESS = "0.0.0.0""#, r#"ADDRESS = "127.0.0.1""#);
    std::fs::write(setup.dir.join("manifest.toml"), setup.trusting(&manifest)).expect("writing the messaging demo manifest");
    if check {
        check_demo_mqtt(&setup);
        return;
    }
    eprintln!("xtask: the telemetry actor on the broker at 127.0.0.1:1883. In another terminal:");
    eprintln!("xtask:   mosquitto_sub -t 'sensors/#' -v &                    # what the actor publishes");
    eprintln!("xtask:   curl -X POST -d 21.5 localhost:{DEMO_PORT}/reading          # publishes sensors/reading 21.5");
    eprintln!("xtask:   mosquitto_rr -t sensors/kitchen/get -e replies/me -m now?  # the actor answers 21.5");
    eprintln!("xtask:   curl localhost:{DEMO_PORT}/received                         # what the actor received");
    eprintln!("xtask: Ctrl-C stops it. Files are in {}", setup.dir.display());
    run(&mut setup.host_edge(&["run", "manifest.toml"]));
}

/// Runs the messaging demo on the broker at 127.0.0.1:1883: a reading
/// posted over HTTP must reach `mosquitto_sub`, and `mosquitto_rr` must get
/// it back as the answer to a request.
fn check_demo_mqtt(setup: &DemoSetup) {
    if std::net::TcpStream::connect(("127.0.0.1", DEMO_PORT)).is_ok() {
        eprintln!("xtask: something already listens on port {DEMO_PORT}; stop it to check the messaging demo");
        exit(1);
    }
    let mut host = setup.host_edge(&["run", "manifest.toml"]).spawn().expect("the host starts");
    let mut watcher = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-q", "1", "-C", "1", "-W", "30", "-t", "sensors/reading"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!("xtask: mosquitto_sub does not run ({e}); bash .ci/setup installs it");
            exit(1)
        });
    // Post readings until the subscriber has seen one (it gives no sign of
    // having subscribed), for at most 30 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while watcher.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
        let _ = http_post(DEMO_PORT, "/reading", "21.5", Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(500));
    }
    let seen = watcher.wait_with_output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
    let answer = Command::new("mosquitto_rr")
        .args(["-h", "127.0.0.1", "-t", "sensors/kitchen/get", "-e", "replies/host-edge-demo", "-m", "now?", "-W", "20"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let _ = Command::new("kill").args(["-TERM", &host.id().to_string()]).status();
    let status = host.wait().expect("the host stops");
    if seen != "21.5" || answer != "21.5" || !status.success() {
        eprintln!("xtask: messaging demo check failed: mosquitto_sub saw {seen:?}, mosquitto_rr got {answer:?}; host {status}");
        exit(1);
    }
    eprintln!("xtask: messaging demo check passed: the reading reached mosquitto_sub and answered mosquitto_rr");
}

/// The I2C demo: the weather actor reads the simulated BME280 with the
/// bme280 driver from crates.io and publishes on the local broker
/// (boards/examples/weather-sim.toml).
fn demo_weather(check: bool, profile: &str) {
    let providers = ["host-edge-i2c", "host-edge-messaging-mqtt", "host-edge-http-server"];
    let setup = DemoSetup::new("demo-weather", profile, &providers, &["weather"]);
    setup.sign("weather", "weather", &["-s", "-g", "--i2c", "--grant", "iot:i2c=1:0x76", "--grant", "wascc:messaging=pub:weather/#"]);
    let mut manifest = std::fs::read_to_string(root().join("boards/examples/weather-sim.toml"))
        .expect("reading boards/examples/weather-sim.toml")
        .replace("actors/weather.wasm", "weather_s.wasm")
        .replace(r#"ADDRESS = "0.0.0.0""#, r#"ADDRESS = "127.0.0.1""#);
    for library in ["i2c", "messaging_mqtt", "http_server"] {
        manifest = manifest.replace(&format!("providers/{}", archive_file(library)), &setup.archive(library));
    }
    if check {
        // A reading a second, so the check does not wait five.
        manifest = manifest.replace(r#"SAMPLE_EVERY = "5s""#, r#"SAMPLE_EVERY = "1s""#);
    }
    std::fs::write(setup.dir.join("manifest.toml"), setup.trusting(&manifest)).expect("writing the weather demo manifest");
    if check {
        check_demo_weather(&setup);
        return;
    }
    eprintln!("xtask: the weather actor on the simulated BME280, publishing on the broker at 127.0.0.1:1883. In another terminal:");
    eprintln!("xtask:   mosquitto_sub -t 'weather/#' -v      # a reading every 5 s");
    eprintln!("xtask:   curl localhost:{DEMO_PORT}/weather          # the latest");
    eprintln!("xtask: Ctrl-C stops it. Files are in {}", setup.dir.display());
    run(&mut setup.host_edge(&["run", "manifest.toml"]));
}

/// Runs the weather demo on the broker at 127.0.0.1:1883: a reading of the
/// simulated part's 21.5 degrees must reach `mosquitto_sub`, and `/weather`
/// must serve one.
fn check_demo_weather(setup: &DemoSetup) {
    if std::net::TcpStream::connect(("127.0.0.1", DEMO_PORT)).is_ok() {
        eprintln!("xtask: something already listens on port {DEMO_PORT}; stop it to check the weather demo");
        exit(1);
    }
    let watcher = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-q", "1", "-C", "1", "-W", "60", "-t", "weather/reading"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!("xtask: mosquitto_sub does not run ({e}); bash .ci/setup installs it");
            exit(1)
        });
    let mut host = setup.host_edge(&["run", "manifest.toml"]).spawn().expect("the host starts");
    let seen = watcher.wait_with_output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
    let served = http_get(DEMO_PORT, "/weather", Duration::from_secs(10)).unwrap_or_default();
    let _ = Command::new("kill").args(["-TERM", &host.id().to_string()]).status();
    let status = host.wait().expect("the host stops");
    let reads_the_part = |json: &str| json.starts_with(r#"{"temperature":21.50,"pressure":1013.2"#);
    if !reads_the_part(&seen) || !reads_the_part(&served) || !status.success() {
        eprintln!("xtask: weather demo check failed: mosquitto_sub saw {seen:?}, /weather served {served:?}; host {status}");
        exit(1);
    }
    eprintln!("xtask: weather demo check passed: {seen}");
}

/// POSTs `body` to `path` on loopback `port`; the response body, or `None`.
fn http_post(port: u16, path: &str, body: &str, read: Duration) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(read)).ok()?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split("\r\n\r\n").nth(1).map(str::to_owned)
}

/// How long to wait for a host serving the counter.
struct Patience {
    /// For one answer.
    read: Duration,
    /// For the host to start serving.
    start: Duration,
    /// Between attempts while it starts.
    poll: Duration,
}

/// Starts `command` (a host serving the counter on loopback `port`), asks
/// `/hits` twice, stops the host with SIGTERM and returns both bodies and its
/// exit status. Exits with an error naming `what` if it never serves.
/// The body of `GET path` on loopback `port`, or `None` when nothing
/// answers within `read`.
fn http_get(port: u16, path: &str, read: Duration) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(read)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split("\r\n\r\n").nth(1).map(str::to_owned)
}

fn count_twice(mut command: Command, port: u16, patience: Patience, what: &str) -> (String, String, ExitStatus) {
    let mut host = command.spawn().expect("the host starts");
    let get = || http_get(port, "/hits", patience.read);
    let deadline = std::time::Instant::now() + patience.start;
    let first = loop {
        if let Some(body) = get() {
            break body;
        }
        if std::time::Instant::now() > deadline || host.try_wait().ok().flatten().is_some() {
            let _ = host.kill();
            eprintln!("xtask: {what} did not serve on port {port}");
            exit(1);
        }
        std::thread::sleep(patience.poll);
    };
    let second = get().unwrap_or_default();
    let _ = Command::new("kill").args(["-TERM", &host.id().to_string()]).status();
    let status = host.wait().expect("the host stops");
    (first, second, status)
}

/// Runs the demo host, checks that `/hits` answers 1 then 2, stops it.
fn check_demo(bin: &Path, dir: &Path) {
    if std::net::TcpStream::connect(("127.0.0.1", DEMO_PORT)).is_ok() {
        eprintln!("xtask: something already listens on port {DEMO_PORT}; stop it to check the demo");
        exit(1);
    }
    let mut command = Command::new(bin);
    command.current_dir(dir).args(["run", "manifest.toml"]);
    let patience = Patience { read: Duration::from_secs(10), start: Duration::from_secs(30), poll: Duration::from_millis(100) };
    let (first, second, _) = count_twice(command, DEMO_PORT, patience, "the demo host");
    if first != r#"{"counter":1}"# || second != r#"{"counter":2}"# {
        eprintln!("xtask: demo check failed: got {first:?} then {second:?}");
        exit(1);
    }
    eprintln!("xtask: demo check passed: {first} then {second}");
}

/// Lints the workspace (clippy, warnings are errors), runs the workspace
/// tests, echoing their output, and closes with one line that sums every
/// test binary's result: `tests: N passed, M failed`; then checks the
/// demos and fuzzes every parser for a while. Prints each phase's time.
fn test(extra: &[String]) {
    use std::io::{BufRead, BufReader};
    phases::timed("actors (wasm32)", build_actors);
    // Lints first: a warning fails the run before the long part starts.
    // The device builds' feature sets are linted too: code behind a feature
    // that the default build has on must still build, clean, without it.
    phases::timed("clippy -D warnings", || {
        run(cargo().current_dir(root()).args(["clippy", "--workspace", "--all-targets", "--quiet", "--", "-D", "warnings"]));
        for features in [&["--no-default-features"][..], &["--no-default-features", "--features", "metrics"]] {
            run(cargo().current_dir(root()).args(["clippy", "-p", "host-edge", "--quiet"]).args(features).args(["--", "-D", "warnings"]));
        }
    });
    // Compiled first, on their own, so that the phase times say how long the
    // build took apart from the tests' run.
    phases::timed("workspace tests: build", || {
        let options = extra.iter().take_while(|arg| *arg != "--");
        run(cargo().current_dir(root()).args(["test", "--workspace", "--no-run"]).args(options));
    });
    let started = std::time::Instant::now();
    let mut command = cargo();
    command
        .current_dir(root())
        .args(["test", "--workspace"])
        .args(extra)
        .stdout(std::process::Stdio::piped());
    eprintln!("xtask: {command:?}");
    let mut child = command.spawn().unwrap_or_else(|e| {
        eprintln!("xtask: cannot run cargo: {e}");
        exit(1)
    });
    let (mut passed, mut failed) = (0u64, 0u64);
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            passed += count(summary, " passed");
            failed += count(summary, " failed");
        }
    }
    let status = child.wait().expect("cargo test finishes");
    println!("tests: {passed} passed, {failed} failed");
    if !status.success() {
        exit(status.code().unwrap_or(1));
    }
    phases::record("workspace tests: run", started.elapsed());
    // The README's demo commands must keep working: run them, bounded, on
    // the debug build the tests just made rather than a build of their own
    // (the demo profile is the same code, optimised). That provider panics
    // are still caught in the release profile (LTO, stripped) is checked
    // on what boards run, the ARM bundles (`arm-check`).
    phases::timed("demo checks", || {
        demo(true, "dev");
        demo_gpio(true, "dev");
        demo_mqtt(true, "dev");
        demo_weather(true, "dev");
    });
    // Every parser of outside input, under libFuzzer for a minute or so:
    // the seeds and what a short run finds from them (docs/fuzzing.md).
    phases::timed("fuzz targets: build and run", || fuzz::fuzz(&root(), cargo, fuzz::DEFAULT_SECONDS));
    phases::report("test");
}

/// The number before `label` in a `test result:` line.
fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(';')
        .find(|part| part.ends_with(label))
        .and_then(|part| part.trim_end_matches(label).rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Debian bullseye's glibc 2.31 for `target`, unpacked by `bash .ci/setup`:
/// the C library of Raspberry Pi OS Bullseye, for qemu -L.
fn bullseye_sysroot(target: &str) -> String {
    let arch = if target.starts_with("aarch64") { "arm64" } else { "armhf" };
    let path = format!("/opt/host-edge/bullseye-{arch}");
    if !Path::new(&path).join(".complete").exists() {
        eprintln!("xtask: {path} is missing: `bash .ci/setup` unpacks Debian bullseye's glibc 2.31 there");
        exit(1);
    }
    path
}

fn pi_target(target: &str) -> &'static pi::PiTarget {
    pi::find(target).unwrap_or_else(|| {
        let known: Vec<_> = pi::PI_TARGETS.iter().map(|t| t.target).collect();
        eprintln!(
            "xtask: no bundle recipe for `{target}`; known: {} (the ARMv6 one, for Pi Zero W and Pi 1, \
             is arm-unknown-linux-gnueabi: see docs/raspberry-pi.md)",
            known.join(", ")
        );
        exit(2)
    })
}

/// Makes (once) and reuses the keys that sign bundled actors and provider
/// archives; seeds stay in target/bundle/keys and never enter a bundle. The
/// issuer is `issuer_seed` when one is given (an account seed file, copied
/// in), else one generated here. Returns the issuer's public key.
fn bundle_keys(host_edge: &Path, keys: &Path, issuer_seed: Option<&Path>) -> String {
    std::fs::create_dir_all(keys).expect("creating the key folder");
    if let Some(seed) = issuer_seed {
        let text = std::fs::read(seed).unwrap_or_else(|e| panic!("reading the issuer seed {}: {e}", seed.display()));
        let _ = std::fs::remove_file(keys.join("issuer.nk"));
        write_private(&keys.join("issuer.nk"), &text);
    }
    if !keys.join("issuer.nk").exists() {
        run(Command::new(host_edge).current_dir(keys).args(["keys", "generate", "account", "-o", "issuer.nk"]).stdout(std::process::Stdio::null()));
    }
    let output = Command::new(host_edge)
        .current_dir(keys)
        .args(["keys", "public", "issuer.nk"])
        .output()
        .expect("host-edge runs");
    if !output.status.success() {
        eprintln!("xtask: cannot read the issuer key: {}", String::from_utf8_lossy(&output.stderr));
        exit(1);
    }
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Builds the deployable bundle for `target`: `host-edge`, the provider
/// libraries, the signed example actors, `boards/`, the Pi manifest (trusting
/// the bundle's signing key) and the systemd unit, as
/// target/bundle/host-edge-<target>.tar.gz, after checking that none of its
/// files needs a glibc newer than [`GLIBC_FLOOR`]. Returns the bundle folder.
fn bundle(target: &str, issuer_seed: Option<&Path>) -> PathBuf {
    let pi = pi_target(target);
    let started = std::time::Instant::now();
    let wasm = build_actors();
    // The native host signs (a dev build: signing speed does not matter, and
    // after `cargo xtask test` it is already built); the cross-built one ships.
    run(cargo().current_dir(root()).args(["build", "-p", "host-edge"]));
    build_bundles(&[target]);
    let native = root().join("target/debug/host-edge");
    let built = release_dir(target);
    let out = root().join("target/bundle");
    let name = format!("host-edge-{target}");
    let dir = out.join(&name);
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["bin", "lib", "providers", "actors", "docs"] {
        std::fs::create_dir_all(dir.join(sub)).expect("creating the bundle folders");
    }
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
    };
    if pi.self_contained {
        // bin/host-edge starts lib/host-edge on the C library in lib/.
        copy(&built.join("host-edge"), &dir.join("lib/host-edge"));
        copy(&root().join("boards/raspberry-pi/launcher.sh"), &dir.join("bin/host-edge"));
        let runtime = Path::new(pi.sysroot).join("lib");
        for library in pi::C_RUNTIME {
            copy(&runtime.join(library), &dir.join("lib").join(library));
        }
    } else {
        copy(&built.join("host-edge"), &dir.join("bin/host-edge"));
        std::fs::remove_dir(dir.join("lib")).expect("removing the empty lib folder");
    }
    let keys = out.join("keys");
    let issuer = bundle_keys(&native, &keys, issuer_seed);
    eprintln!("xtask: the bundle's actors and provider archives are signed by {issuer}, which its manifests trust");
    // Each provider ships as a signed archive holding its library for this
    // target: the host loads nothing else.
    for library in LIBRARIES {
        let key = format!("{library}.nk");
        if !keys.join(&key).exists() {
            run(Command::new(&native).current_dir(&keys).args(["keys", "generate", "service", "-o", &key]).stdout(std::process::Stdio::null()));
        }
        let mut create = Command::new(&native);
        create
            .current_dir(&keys)
            .args(["par", "create", "--capability", capability_of(library), "--issuer", "issuer.nk", "--subject", &key])
            .args(["--name", library, "--vendor", "host-edge", "--ver", env!("CARGO_PKG_VERSION"), "--target"])
            .arg(format!("{target}={}", built.join(format!("lib{library}.so")).display()))
            .arg("-o")
            .arg(dir.join("providers").join(archive_file(library)))
            .stdout(std::process::Stdio::null());
        run(&mut create);
    }
    let button_led = ["-s", "--gpio", "--grant", "iot:gpio=out:17,in:27"];
    let telemetry = ["-s", "-g", "--grant", "wascc:messaging=pub:sensors/#,sub:sensors/#,pub:replies/#"];
    let weather = ["-s", "-g", "--i2c", "--grant", "iot:i2c=1:0x76", "--grant", "wascc:messaging=pub:weather/#"];
    let thermometer = ["-s", "-l", "--i2c", "--grant", "iot:i2c=1:0x48,1:0x50"];
    let flash = ["-s", "-l", "--spi", "--grant", "iot:spi=0:0"];
    let actors = [
        ("counter", &["-s", "-k"][..]),
        ("echo", &[][..]),
        ("button_led", &button_led[..]),
        ("telemetry", &telemetry[..]),
        ("weather", &weather[..]),
        ("thermometer", &thermometer[..]),
        ("flash", &flash[..]),
    ];
    for (actor, caps) in actors {
        // Each actor's module key, made on the first bundle and reused.
        let key = format!("{actor}.nk");
        if !keys.join(&key).exists() {
            run(Command::new(&native).current_dir(&keys).args(["keys", "generate", "module", "-o", &key]).stdout(std::process::Stdio::null()));
        }
        let input = wasm.join(format!("{actor}.wasm"));
        let output = dir.join("actors").join(format!("{actor}.wasm"));
        let mut sign = Command::new(&native);
        sign.current_dir(&keys)
            .arg("sign")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .args(["--issuer", "issuer.nk", "--subject", &key, "--name", &actor.replace('_', "-")])
            .args(caps)
            .stdout(std::process::Stdio::null());
        run(&mut sign);
    }
    copy_tree(&root().join("boards"), &dir.join("boards"));
    copy(&root().join("boards/raspberry-pi/host-edge.service"), &dir.join("host-edge.service"));
    for doc in ["raspberry-pi.md", "provider-abi.md", "claims.md", "gpio.md", "i2c.md", "spi.md", "serial.md", "messaging.md", "fleet.md"] {
        copy(&root().join("docs").join(doc), &dir.join("docs").join(doc));
    }
    let manifest = std::fs::read_to_string(root().join("boards/raspberry-pi/manifest.toml"))
        .expect("reading boards/raspberry-pi/manifest.toml")
        .replace("trusted_issuers = []", &format!("trusted_issuers = [\"{issuer}\"]"));
    std::fs::write(dir.join("manifest.toml"), manifest).expect("writing the manifest");
    let gpio = std::fs::read_to_string(root().join("boards/raspberry-pi/gpio.toml"))
        .expect("reading boards/raspberry-pi/gpio.toml")
        .replace("trusted_issuers = []", &format!("trusted_issuers = [\"{issuer}\"]"));
    std::fs::write(dir.join("gpio.toml"), gpio).expect("writing the GPIO manifest");
    let mqtt = std::fs::read_to_string(root().join("boards/examples/mqtt.toml"))
        .expect("reading boards/examples/mqtt.toml")
        .replace("trusted_issuers = []", &format!("trusted_issuers = [\"{issuer}\"]"));
    std::fs::write(dir.join("mqtt.toml"), mqtt).expect("writing the messaging manifest");
    let weather = std::fs::read_to_string(root().join("boards/raspberry-pi/weather.toml"))
        .expect("reading boards/raspberry-pi/weather.toml")
        .replace("trusted_issuers = []", &format!("trusted_issuers = [\"{issuer}\"]"));
    std::fs::write(dir.join("weather.toml"), weather).expect("writing the weather manifest");
    glibc_floor(&dir, GLIBC_FLOOR);
    let tarball = out.join(format!("{name}.tar.gz"));
    run(Command::new("tar").current_dir(&out).arg("czf").arg(&tarball).arg(&name));
    eprintln!("xtask: bundle {} in {:.0?}", tarball.display(), started.elapsed());
    let host = if pi.self_contained { "lib/host-edge" } else { "bin/host-edge" };
    let runtime = pi::C_RUNTIME.iter().filter(|_| pi.self_contained).map(|l| format!("lib/{l}"));
    let files = std::iter::once(host.to_owned()).chain(LIBRARIES.map(|l| format!("providers/{}", archive_file(l)))).chain(runtime);
    for file in files {
        let size = std::fs::metadata(dir.join(&file)).map(|m| m.len()).unwrap_or(0);
        eprintln!("xtask:   {file:<34} {:>8} KiB", size / 1024);
    }
    let size = std::fs::metadata(&tarball).map(|m| m.len()).unwrap_or(0);
    eprintln!("xtask:   {:<34} {:>8} KiB", format!("{name}.tar.gz"), size / 1024);
    dir
}

/// Writes `bytes` to a new file at `path` that only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    file.write_all(bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The oldest glibc every bundle runs on: Raspberry Pi OS Bullseye's.
const GLIBC_FLOOR: glibc::Version = glibc::Version(2, 31);

/// Release cross-builds for `targets`, linked by zig against the symbols
/// of glibc [`GLIBC_FLOOR`] (cargo-zigbuild's `<target>.2.31`), so that what
/// they build starts on Bullseye as well as on Bookworm and later; Debian's
/// cross compilers link against their own glibc 2.36 and the result needs
/// 2.34. `bash .ci/setup` installs zig (PyPI's ziglang) and cargo-zigbuild.
/// One cargo run for the targets rustup has a standard library for, so
/// their builds (and single-threaded LTO steps) share the cores; one more
/// for those whose standard library is built from source, with
/// `RUSTC_BOOTSTRAP=1`: `-Z build-std` is unstable, and the stable
/// toolchain is the only one here.
fn zigbuild(targets: &[&str]) -> Vec<Command> {
    let (from_source, downloaded): (Vec<&str>, Vec<&str>) = targets.iter().partition(|t| pi_target(t).std_from_source);
    let mut builds = Vec::new();
    for (group, std_from_source) in [(downloaded, false), (from_source, true)] {
        if group.is_empty() {
            continue;
        }
        let mut build = cargo();
        build.current_dir(root()).args(["zigbuild", "--release"]);
        if std_from_source {
            build.env("RUSTC_BOOTSTRAP", "1").arg("-Zbuild-std=std,panic_unwind").arg("--target-dir").arg(build_std_dir());
        }
        for target in group {
            build.arg("--target").arg(format!("{target}.{GLIBC_FLOOR}"));
        }
        builds.push(build);
    }
    builds
}

/// The target folder of the builds whose standard library is built from
/// source. Their own: cargo rebuilds the build scripts and proc macros it
/// shares between targets whenever `RUSTC_BOOTSTRAP` changes, so in one
/// folder these builds and the others would rebuild each other.
fn build_std_dir() -> PathBuf {
    root().join("target/build-std")
}

/// Where the release cross-build for `target` puts its files.
fn release_dir(target: &str) -> PathBuf {
    let dir = if pi_target(target).std_from_source { build_std_dir() } else { root().join("target") };
    dir.join(target).join("release")
}

/// Cross-builds the shipped crates in release for every target.
fn build_bundles(targets: &[&str]) {
    for mut build in zigbuild(targets) {
        build.args(["-p", "host-edge"]);
        for provider in PROVIDERS {
            build.args(["-p", provider]);
        }
        run(&mut build);
    }
}

/// Fails unless every ELF file under `dir` runs on glibc `floor`.
fn glibc_floor(dir: &Path, floor: glibc::Version) {
    match glibc::check(dir, floor) {
        Ok((too_new, newest)) if too_new.is_empty() => {
            let newest = newest.map_or_else(|| "none".to_owned(), |version| version.to_string());
            eprintln!("xtask: {}: no ELF file needs a glibc newer than {floor} (the newest needed: {newest})", dir.display());
        }
        Ok((too_new, _)) => {
            for file in &too_new {
                eprintln!("xtask: {} needs {}", file.file.display(), file.versions.join(", "));
            }
            eprintln!("xtask: {} file(s) under {} need a glibc newer than {floor}", too_new.len(), dir.display());
            exit(1);
        }
        Err(e) => {
            eprintln!("xtask: glibc floor check: {e}");
            exit(1);
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a folder");
    for entry in std::fs::read_dir(from).expect("reading a folder").map_while(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copying a file");
        }
    }
}

/// Builds the bundle for `target`, unpacks the tarball, and runs its
/// `host-edge` under qemu-user with the bundled SQLite and HTTP providers
/// (signed archives of the ARM libraries, verified and dlopened by the ARM
/// host) serving the counter; the
/// answers are checked over loopback from this machine.
fn bundle_check(target: &str) {
    let pi = pi_target(target);
    let qemu = pi.qemu();
    bundle(target, None);
    let started = std::time::Instant::now();
    let check = root().join("target/bundle-check").join(target);
    let _ = std::fs::remove_dir_all(&check);
    std::fs::create_dir_all(&check).expect("creating the check folder");
    let tarball = root().join(format!("target/bundle/host-edge-{target}.tar.gz"));
    run(Command::new("tar").current_dir(&check).arg("xzf").arg(&tarball));
    let dir = check.join(format!("host-edge-{target}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let db = check.join("counter.db");
    let manifest = std::fs::read_to_string(dir.join("manifest.toml"))
        .expect("the bundle has a manifest")
        .replace("/var/lib/host-edge/counter.db", &db.display().to_string())
        .replace(r#"ADDRESS = "0.0.0.0", PORT = "8080""#, &format!(r#"ADDRESS = "127.0.0.1", PORT = "{port}""#));
    std::fs::write(dir.join("check.toml"), manifest).expect("writing the check manifest");
    let qemu_on = |libc: &str, args: &[&str]| {
        let mut command = pi.host_edge(&dir, libc);
        command.args(args);
        command
    };
    // Everything below runs on the oldest glibc the bundle promises
    // (Bullseye's 2.31), but this first call, on Bookworm's 2.36; a
    // self-contained bundle runs on the C library it carries.
    let oldest = if pi.self_contained { String::new() } else { bullseye_sysroot(target) };
    let qemu_host_edge = |args: &[&str]| qemu_on(&oldest, args);
    // The interpreter on ARM: a call and a claims check, no providers.
    let echo = qemu_on(pi.sysroot, &["call", "actors/echo.wasm", "Echo", "hello from ARM"]).output().expect("qemu runs");
    if echo.stdout != b"hello from ARM" {
        eprintln!("xtask: {target}: echo answered {:?}: {}", echo.stdout, String::from_utf8_lossy(&echo.stderr));
        exit(1);
    }
    let patience = Patience { read: Duration::from_secs(30), start: Duration::from_secs(120), poll: Duration::from_millis(200) };
    let (first, second, status) =
        count_twice(qemu_host_edge(&["run", "check.toml", "--control", "control.sock"]), port, patience, &format!("{target}: the bundled host"));
    if first != r#"{"counter":1}"# || second != r#"{"counter":2}"# || !status.success() {
        eprintln!("xtask: {target}: bundle check failed: {first:?} then {second:?}, host exit {status}");
        exit(1);
    }
    let libc = if pi.self_contained { "the C library it carries".to_owned() } else { format!("glibc {GLIBC_FLOOR}") };
    eprintln!(
        "xtask: {target}: bundle check passed under {qemu} on {libc} in {:.1?}: {first} then {second}, clean stop",
        started.elapsed()
    );
    for mut build in zigbuild(&[target]) {
        run(build.args(["-p", "host-edge-fixture-wascc-provider", "-p", "host-edge-fixture-panicking-provider"]));
    }
    wascc_refusal_check(target, &dir, &qemu_host_edge);
    panic_check(target, &dir, &qemu_host_edge);
    if target.starts_with("aarch64") {
        rppal_check(target, &dir, &qemu, pi.sysroot);
        raspi::check(target, &dir);
    }
}

/// The target the provider suites run on under qemu-user: 32-bit, the
/// build whose C ABI differs most from the machine's.
const SUITES_TARGET: &str = "armv7-unknown-linux-gnueabihf";

/// The provider suites on an ARM build: the key-value conformance suite
/// (SQLite and Redis, the Redis restart included), the provider ABI tests
/// (the C provider, the panicking provider, the refused ones) and the HTTP
/// server's limits, compiled for `target` and run under qemu-user (the
/// runner in .cargo/config.toml). The ARM test process builds and dlopens
/// ARM providers (testkit builds what it loads for the target it was
/// compiled for) and reaches Redis over loopback like the native suites.
///
/// They run under cargo-nextest's `arm` profile (.config/nextest.toml): a
/// process a test, so that the processes a test starts are forked beside
/// its own threads only (qemu-user can hang a child forked from a busy
/// guest), and a test that hangs anyway is killed and named.
fn arm_suites(target: &str) {
    let started = std::time::Instant::now();
    let test = |tests: &[&str], filters: &[&str]| {
        let mut command = cargo();
        // No debug info and no incremental state: this build is compiled
        // once per CI run and never debugged, and both cost minutes on 2
        // cores. The test process passes the variables on to the cargo
        // builds it starts, so their providers are built alike.
        command
            .current_dir(root())
            .args(["nextest", "run", "--profile", "arm", "-p", "host-edge-e2e", "--target", target])
            .env("CARGO_PROFILE_DEV_DEBUG", "0")
            .env("CARGO_INCREMENTAL", "0");
        // The host and the providers the tests build and load are selected
        // too (`--test` leaves their own targets out): cargo unifies the
        // features of shared dependencies over the selected packages, so
        // the test build then compiles the tokio, hyper and host library
        // that the tests' own build of the host and providers uses, not a
        // second copy of each.
        for package in ["host-edge"].iter().chain(&PROVIDERS).chain(&TEST_PROVIDERS) {
            command.args(["-p", package]);
        }
        for name in tests {
            command.args(["--test", name]);
        }
        command.args(filters);
        run(&mut command);
    };
    test(&["keyvalue", "provider_abi"], &[]);
    test(&["counter"], &["over_the_limit", "no_request_head_in_time", "connections_beyond_the_limit"]);
    eprintln!("xtask: {target}: key-value conformance, provider ABI and HTTP limit tests passed under qemu in {:.1?}", started.elapsed());
}

/// tests/gpio_rppal.rs on the bundle's own host and GPIO provider, under
/// qemu-user: rppal on ARM against emulated registers.
fn rppal_check(target: &str, bundle: &Path, qemu: &str, sysroot: &str) {
    let started = std::time::Instant::now();
    let cc = format!("{}-gcc", sysroot.trim_start_matches("/usr/"));
    let mut test = cargo();
    test.current_dir(root())
        .args(["test", "-p", "host-edge-e2e", "--test", "gpio_rppal"])
        .env("HOST_EDGE_RPPAL_BUNDLE", bundle)
        .env("HOST_EDGE_RPPAL_RUNNER", format!("{qemu} -L {sysroot}"))
        .env("HOST_EDGE_RPPAL_CC", cc);
    run(&mut test);
    eprintln!("xtask: {target}: rppal register check passed under {qemu} in {:.1?}", started.elapsed());
}

/// A provider that panics in a call, built in the release profile (fat
/// LTO, stripped, `panic = "unwind"`) for the board: the bundled host must
/// get the panic back as the call's error, not die of it. A test fixture,
/// loaded unsigned as a provider author does while developing.
fn panic_check(target: &str, dir: &Path, host_edge: &impl Fn(&[&str]) -> Command) {
    let library = release_dir(target).join("libpanicking_provider.so");
    let keys = root().join("target/bundle/keys");
    let actor = dir.join("echo_panics.wasm");
    let native = root().join("target/debug/host-edge");
    let mut sign = Command::new(&native);
    sign.current_dir(&keys)
        .arg("sign")
        .arg(dir.join("actors/echo.wasm"))
        .arg("-o")
        .arg(&actor)
        .args(["--issuer", "issuer.nk", "--subject", "echo.nk", "--name", "echo", "--cap", "example:panics"])
        .stdout(std::process::Stdio::null());
    run(&mut sign);
    let manifest = format!(
        "[host]\nallow_unsigned_providers = true\n\n[[actor]]\npath = \"{}\"\n\n[[provider]]\nname = \"panics\"\npath = \"{}\"\n\n[[link]]\nactor = \"echo\"\ncapability = \"example:panics\"\nprovider = \"panics\"\n",
        actor.display(),
        library.display()
    );
    std::fs::write(dir.join("panics.toml"), manifest).expect("writing the panic check manifest");
    std::fs::write(dir.join("panic.bin"), "default\nexample:panics\nPanic\n").expect("writing the payload");
    let out = host_edge(&["call", "echo", "HostCall", "--payload-file", "panic.bin", "--with-providers", "panics.toml"])
        .output()
        .expect("qemu runs");
    let said = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(1) || !said.contains("the provider panicked: asked to panic") {
        eprintln!("xtask: {target}: a provider panic was not returned as an error ({}): {said}", out.status);
        exit(1);
    }
    eprintln!("xtask: {target}: a panic in a release-built provider came back as the call's error");
}

/// A library built the way waSCC built providers (its entry point returns a
/// Rust trait object, which on 32-bit ARM crashes a C caller) is refused by
/// the ARM host by name, without the host running its code.
fn wascc_refusal_check(target: &str, dir: &Path, host_edge: &impl Fn(&[&str]) -> Command) {
    let library = release_dir(target).join("libwascc_provider.so");
    // Allowed unsigned, so the check reaches the library itself.
    let manifest = format!("[host]\nallow_unsigned_providers = true\n\n[[provider]]\nname = \"redis\"\npath = \"{}\"\n", library.display());
    std::fs::write(dir.join("wascc.toml"), manifest).expect("writing the waSCC check manifest");
    let out = host_edge(&["check", "wascc.toml"]).output().expect("qemu runs");
    let said = String::from_utf8_lossy(&out.stdout);
    if out.status.code() != Some(1) || !said.contains("is a waSCC capability provider") {
        eprintln!("xtask: {target}: the waSCC provider was not refused by name ({}): {said}", out.status);
        exit(1);
    }
    eprintln!("xtask: {target}: a waSCC-built provider library is refused by name");
}

fn main() {
    // `cargo xtask` runs this with the variables cargo sets for a package
    // (`CARGO_MANIFEST_DIR=.../xtask`, `CARGO_PKG_NAME=xtask`). The builds
    // started from here must not see them: ring's build script reads them,
    // and a build that sees them rebuilds everything above ring, and the
    // next one without them (a test's, a user's) all over again.
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("CARGO_PKG_") || text == "CARGO_MANIFEST_DIR" || text == "CARGO_MANIFEST_PATH" || text == "CARGO_CRATE_NAME" {
            std::env::remove_var(&name);
        }
    }
    if let Some(wrapper) = cache::enable() {
        eprintln!("xtask: compiling through {} (the compiler cache; HOST_EDGE_NO_SCCACHE=1 turns it off)", wrapper.display());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("actors") => {
            build_actors();
        }
        Some("demo") if args.get(1).map(String::as_str) == Some("mqtt") => {
            demo_mqtt(args.get(2).map(String::as_str) == Some("--check"), DEMO_PROFILE)
        }
        Some("demo") if args.get(1).map(String::as_str) == Some("weather") => {
            demo_weather(args.get(2).map(String::as_str) == Some("--check"), DEMO_PROFILE)
        }
        Some("demo") if args.get(1).map(String::as_str) == Some("gpio") => {
            demo_gpio(args.get(2).map(String::as_str) == Some("--check"), DEMO_PROFILE)
        }
        Some("demo") => demo(args.get(1).map(String::as_str) == Some("--check"), DEMO_PROFILE),
        Some("test") => test(&args[1..]),
        Some("fuzz") => match args[1..].iter().map(String::as_str).collect::<Vec<_>>()[..] {
            [] => fuzz::fuzz(&root(), cargo, fuzz::DEFAULT_SECONDS),
            ["--seconds", n] if n.parse::<u64>().is_ok_and(|n| n > 0) => fuzz::fuzz(&root(), cargo, n.parse().unwrap()),
            _ => {
                eprintln!("usage: cargo xtask fuzz [--seconds N]   (N: the time all targets share, default {})", fuzz::DEFAULT_SECONDS);
                exit(2);
            }
        },
        Some("bundle") => match &args[1..] {
            [target] => {
                bundle(target, None);
            }
            [target, flag, seed] if flag == "--issuer" => {
                bundle(target, Some(Path::new(seed)));
            }
            _ => {
                eprintln!("usage: cargo xtask bundle <target> [--issuer ACCOUNT_SEED_FILE]");
                exit(2);
            }
        },
        Some("arm-check") => {
            let targets: Vec<&str> = if args.len() > 1 {
                args[1..].iter().map(String::as_str).collect()
            } else {
                pi::PI_TARGETS.iter().map(|t| t.target).collect()
            };
            phases::timed("release cross-builds", || build_bundles(&targets));
            for target in &targets {
                phases::timed(&format!("bundle check {target}"), || bundle_check(target));
            }
            if targets.contains(&SUITES_TARGET) {
                phases::timed(&format!("provider suites {SUITES_TARGET}"), || arm_suites(SUITES_TARGET));
            }
            phases::report("arm-check");
        }
        Some("glibc-floor") => match (args.get(1), args.get(2).map(|v| glibc::parse(v))) {
            (Some(dir), None) => glibc_floor(Path::new(dir), GLIBC_FLOOR),
            (Some(dir), Some(Some(floor))) => glibc_floor(Path::new(dir), floor),
            _ => {
                eprintln!("usage: cargo xtask glibc-floor <dir> [version, such as 2.31]");
                exit(2);
            }
        },
        Some("raspi-check") => match args.get(1) {
            Some(dir) => raspi::check("aarch64-unknown-linux-gnu", Path::new(dir)),
            None => {
                eprintln!("usage: cargo xtask raspi-check <unpacked aarch64 bundle folder>");
                exit(2);
            }
        },
        _ => {
            eprintln!(
                "usage: cargo xtask <actors | demo [gpio | mqtt] [--check] | test [cargo test args] | fuzz [--seconds N] | bundle <target> | arm-check [targets] \
                 | raspi-check <bundle-dir> | glibc-floor <dir> [version]>"
            );
            exit(2);
        }
    }
}
