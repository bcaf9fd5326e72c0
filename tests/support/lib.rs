//! Test and benchmark support: builds the example actors from `actors/`,
//! the `host-edge` binary and the provider libraries, signs modules with
//! fresh keys, and runs a private Redis server when a test must stop one.
//!
//! Everything here produces real artefacts: modules compiled by rustc for
//! wasm32 and signed by host-edge's own signing code, providers built as the
//! shared libraries a board loads.

pub mod host;
pub mod mqtt;
pub mod upstream;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::policy::now_secs;
use host_edge_runtime::claims::{sign_module, SignOptions};
use nkeys::KeyPair;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A cargo command for a build of the workspace. The variables cargo sets
/// for the process running this one (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`,
/// `OUT_DIR`, this crate having a build script, ...) are left out: build
/// scripts (ring's) read them, and a build that sees them rebuilds
/// everything above those crates, and the next one without them all over
/// again.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_by_cargo = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || ["CARGO_MANIFEST_DIR", "CARGO_MANIFEST_PATH", "CARGO_CRATE_NAME", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"]
                .contains(&name.as_ref());
        if set_by_cargo {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// Builds every example actor (once per process) and returns the folder
/// holding the unsigned `.wasm` files.
pub fn actors_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let actors = repo_root().join("actors");
        // The target comes from actors/.cargo/config.toml, which cargo reads
        // relative to the working directory.
        let status = cargo()
            .current_dir(&actors)
            .args(["build", "--release", "--quiet"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the actors failed (is the wasm32-unknown-unknown target installed?)");
        let status = cargo()
            .current_dir(&actors)
            .args(["build", "--release", "--quiet", "--target", "wasm32-wasip1"])
            .args(WASI_ACTORS.iter().flat_map(|actor| ["-p", actor]))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the WASI actors failed (is the wasm32-wasip1 target installed?)");
        actors.join("target")
    })
}

/// The example actors built for `wasm32-wasip1` rather than
/// `wasm32-unknown-unknown`.
pub const WASI_ACTORS: [&str; 2] = ["wasi-hello", "wasi-files"];

/// The unsigned module of example actor `name` (`echo`, `faulty`,
/// `wasi_hello`, ...).
pub fn actor_module(name: &str) -> Vec<u8> {
    let target = if WASI_ACTORS.contains(&name.replace('_', "-").as_str()) { "wasm32-wasip1" } else { "wasm32-unknown-unknown" };
    let path = actors_dir().join(target).join("release").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Builds the `host-edge` binary (once per process) and returns its path.
pub fn host_edge_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        build_host_and_providers();
        build_dir().join("host-edge")
    })
}

/// Builds the host and every provider of [`PROVIDERS`] in one cargo run
/// (once per process). One run, because cargo unifies the features of
/// shared dependencies over the packages a run selects: the host alone
/// gets another tokio and hyper than the host with the providers (whose
/// HTTP client wants HTTP/2), and each selection would compile its own
/// copy of them and of everything above them. Selected together, they
/// match the test build (`cargo test --workspace`, or on ARM the selection
/// of `cargo xtask arm-check`), so little is compiled twice.
fn build_host_and_providers() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut command = cargo();
        command.current_dir(repo_root()).args(["build", "--quiet", "--package", "host-edge"]).args(profile().0).args(target_args());
        for (_, package) in PROVIDERS {
            command.args(["--package", package]);
        }
        assert!(command.status().expect("cargo runs").success(), "building host-edge and the providers failed");
    });
}

/// The cargo profile these tests were built with, so that binaries and
/// providers are built alike: `cargo test --release` tests release builds
/// (LTO, stripped), including the catching of provider panics.
fn profile() -> (&'static [&'static str], &'static str) {
    if cfg!(debug_assertions) {
        (&[], "debug")
    } else {
        (&["--release"], "release")
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The target these tests were compiled for (tests/build.rs).
const TARGET: &str = env!("TESTKIT_TARGET");

/// Whether these tests were cross-compiled (`cargo test --target ...`, run
/// under qemu-user): then what they build and load is built for [`TARGET`]
/// too, so that an ARM test process loads ARM providers.
fn cross_built() -> bool {
    TARGET != env!("TESTKIT_HOST")
}

/// `--target` for the cargo builds of a cross-built test process.
fn target_args() -> Vec<&'static str> {
    if cross_built() {
        vec!["--target", TARGET]
    } else {
        Vec::new()
    }
}

/// Where cargo puts what this process builds in its own profile.
fn build_dir() -> PathBuf {
    let dir = if cross_built() { target_dir().join(TARGET) } else { target_dir() };
    dir.join(profile().1)
}

/// The C compiler for libraries this process loads: `TARGET_CC`, else
/// Debian's cross compiler for a cross-built process (the ones
/// .cargo/config.toml links with), else `CC`, else `cc`.
fn c_compiler() -> String {
    if let Ok(compiler) = std::env::var("TARGET_CC") {
        return compiler;
    }
    if cross_built() {
        let prefix = match TARGET {
            "aarch64-unknown-linux-gnu" => "aarch64-linux-gnu",
            "armv7-unknown-linux-gnueabihf" => "arm-linux-gnueabihf",
            other => panic!("no C cross compiler known for {other}: set TARGET_CC"),
        };
        return format!("{prefix}-gcc");
    }
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

/// The provider crates of the workspace, by library name.
/// The first [`SHIPPED`] are the ones a bundle carries.
pub const PROVIDERS: [(&str, &str); 12] = [
    ("keyvalue_sqlite", "host-edge-keyvalue-sqlite"),
    ("keyvalue_redis", "host-edge-keyvalue-redis"),
    ("http_server", "host-edge-http-server"),
    ("gpio", "host-edge-gpio"),
    ("messaging_mqtt", "host-edge-messaging-mqtt"),
    ("http_client", "host-edge-http-client"),
    ("blobstore_fs", "host-edge-blobstore-fs"),
    ("i2c", "host-edge-i2c"),
    ("spi", "host-edge-spi"),
    ("serial", "host-edge-serial"),
    ("panicking_provider", "host-edge-fixture-panicking-provider"),
    ("wascc_provider", "host-edge-fixture-wascc-provider"),
];

/// How many of [`PROVIDERS`] are shipped providers (the rest are test
/// fixtures).
pub const SHIPPED: usize = 10;

/// Builds the providers (with the host, once per process) and returns the
/// path of the one whose library is called `name` (`keyvalue_sqlite`, ...).
pub fn provider_library(name: &str) -> PathBuf {
    build_host_and_providers();
    assert!(PROVIDERS.iter().any(|(lib, _)| *lib == name), "no provider library {name}");
    build_dir().join(format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// The capability the provider whose library is called `name` serves.
pub fn provider_capability(name: &str) -> &'static str {
    match name {
        "keyvalue_sqlite" | "keyvalue_redis" => "wascc:keyvalue",
        "http_server" => "wascc:http_server",
        "gpio" => "iot:gpio",
        "messaging_mqtt" => "wascc:messaging",
        "http_client" => "wascc:http_client",
        "blobstore_fs" => "wascc:blobstore",
        "i2c" => "iot:i2c",
        "spi" => "iot:spi",
        "serial" => "iot:serial",
        "panicking_provider" => "example:panics",
        // waSCC's providers carried no host-edge descriptor; the archive
        // signs what it would serve.
        "wascc_provider" => "wascc:keyvalue",
        other => panic!("no provider library {other}"),
    }
}

/// The account that signs the test provider archives: a fixed key (from
/// fixed bytes, a test key that only test manifests trust), so that an
/// archive made by one test process serves every other.
pub fn provider_issuer() -> &'static KeyPair {
    static ISSUER: OnceLock<KeyPair> = OnceLock::new();
    ISSUER.get_or_init(|| KeyPair::new_from_raw(nkeys::KeyPairType::Account, [0x5e; 32]).expect("32 bytes make a key"))
}

/// The provider whose library is called `name` as a signed provider
/// archive (by [`provider_issuer`], for this machine's target), as the host
/// loads providers. One archive per build of the library, shared by every
/// test process: `target/test-archives/<name>-<hash>.par`, written whole or
/// not at all; the archives of earlier builds are removed.
pub fn provider_archive(name: &str) -> PathBuf {
    static MADE: OnceLock<std::sync::Mutex<std::collections::BTreeMap<String, PathBuf>>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let mut made = made.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = made.get(name) {
        return path.clone();
    }
    let library = provider_library(name);
    let bytes = std::fs::read(&library).expect("reading the provider library");
    let hash = host_edge_runtime::claims::archive::hash_bytes(&bytes);
    let dir = target_dir().join("test-archives");
    std::fs::create_dir_all(&dir).expect("creating the archive folder");
    let path = dir.join(format!("{name}-{}.par", &hash[..16]));
    if !path.is_file() {
        let partial = dir.join(format!(".{name}-{}.{}", &hash[..16], std::process::id()));
        sign_provider(&library, provider_capability(name), &partial);
        std::fs::rename(&partial, &path).expect("moving the archive into place");
        for entry in std::fs::read_dir(&dir).expect("listing the archive folder").flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&format!("{name}-")) && entry.path() != path {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    made.insert(name.to_owned(), path.clone());
    path
}

/// Signs the library at `library`, serving `capability`, into a provider
/// archive at `output` (gzipped when it ends in `.gz`), issued by
/// [`provider_issuer`] for this machine's target; returns `output`.
pub fn sign_provider(library: &Path, capability: &str, output: &Path) -> PathBuf {
    sign_provider_revision(library, capability, None, output)
}

/// [`sign_provider`], with the revision `rev` in the claims (a new release
/// of the same library, say).
pub fn sign_provider_revision(library: &Path, capability: &str, rev: Option<i32>, output: &Path) -> PathBuf {
    let bytes = std::fs::read(library).expect("reading the provider library");
    let options = host_edge_runtime::claims::ProviderSignOptions {
        name: library.file_stem().map(|s| s.to_string_lossy().into_owned()),
        vendor: "host-edge tests".to_owned(),
        rev,
        ..host_edge_runtime::claims::ProviderSignOptions::new(CapabilityId::parse(capability).expect("a capability id"), now_secs())
    };
    let target = host_edge_runtime::claims::provider::HOST_TARGET.to_owned();
    let gzip = output.extension().is_some_and(|e| e == "gz");
    let archive = host_edge_runtime::claims::sign_archive(&[(target, bytes)], provider_issuer(), &KeyPair::new_service(), &options, gzip)
        .expect("signing the provider archive");
    std::fs::write(output, archive).expect("writing the provider archive");
    output.to_path_buf()
}

/// Builds the `host-edge` binary and every shipped provider in release
/// (once per process) and returns the folder holding them; for benchmarks.
pub fn release_build() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut command = cargo();
        command.current_dir(repo_root()).args(["build", "--release", "--quiet", "--package", "host-edge"]);
        for (_, package) in &PROVIDERS[..SHIPPED] {
            command.args(["--package", package]);
        }
        assert!(command.status().expect("cargo runs").success(), "the release build failed");
    });
    target_dir().join("release")
}

/// Compiles `tests/fixtures/c-provider/<source>` against the provider ABI
/// header into `dir` with the C compiler, passing `defines`; returns the
/// library.
pub fn c_provider(dir: &Path, source: &str, defines: &[&str]) -> PathBuf {
    let stem = source.trim_end_matches(".c");
    let output = dir.join(format!("lib{stem}{}.so", defines.join("").replace(['=', '-'], "_")));
    let status = Command::new(c_compiler())
        .args(["-shared", "-fPIC", "-pthread", "-O1", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(repo_root().join("providers/abi/include"))
        .args(defines)
        .arg(repo_root().join("tests/fixtures/c-provider").join(source))
        .arg("-o")
        .arg(&output)
        .status()
        .expect("the C compiler runs");
    assert!(status.success(), "compiling {source} failed");
    output
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The shared Redis server the tests use (`REDIS_URL`, default loopback:6379).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned())
}

/// A Redis server of a test's own, on a free loopback port, so the test can
/// stop and restart it without disturbing others. Stopped when dropped.
pub struct PrivateRedis {
    port: u16,
    /// The password it requires (`--requirepass`), if any.
    password: Option<String>,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    /// Starts `redis-server` on a free port and waits until it answers.
    pub fn start() -> PrivateRedis {
        let mut redis = PrivateRedis { port: free_port(), password: None, child: None };
        redis.restart();
        redis
    }

    /// Starts `redis-server` on a free port requiring `password` from every
    /// client (`--requirepass`), and waits until it answers.
    pub fn start_with_password(password: &str) -> PrivateRedis {
        let mut redis = PrivateRedis { port: free_port(), password: Some(password.to_owned()), child: None };
        redis.restart();
        redis
    }

    /// Its URL, with the password in it when the server requires one
    /// (`redis://:PASSWORD@127.0.0.1:PORT/`).
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// Its port on loopback.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL: nothing is flushed, clients see resets).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let mut command = Command::new("redis-server");
        command.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (bash .ci/setup installs it)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start on port {}", self.port);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends a GET over loopback; returns the status and body. Non-2xx
/// statuses are answers, not errors; an unreachable server panics.
pub fn http_get(url: &str) -> (u16, String) {
    let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(60)).build();
    match agent.get(url).call() {
        Ok(response) => (response.status(), response.into_string().expect("a text body")),
        Err(ureq::Error::Status(status, response)) => (status, response.into_string().expect("a text body")),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// PUTs `body` to `url`; the status and the body, whatever the status.
pub fn http_put(url: &str, body: &str) -> (u16, String) {
    let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(60)).build();
    match agent.put(url).send_string(body) {
        Ok(response) => (response.status(), response.into_string().expect("a text body")),
        Err(ureq::Error::Status(status, response)) => (status, response.into_string().expect("a text body")),
        Err(e) => panic!("PUT {url}: {e}"),
    }
}

/// POSTs `body` to `url`; the status and the body, whatever the status.
pub fn http_post(url: &str, body: &str) -> (u16, String) {
    let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(60)).build();
    match agent.post(url).send_string(body) {
        Ok(response) => (response.status(), response.into_string().expect("a text body")),
        Err(ureq::Error::Status(status, response)) => (status, response.into_string().expect("a text body")),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

/// A client of the simulated GPIO board's control socket (JSON lines), as
/// `host-edge gpio` is.
pub struct SimBoard {
    path: PathBuf,
}

impl SimBoard {
    /// The board listening at `path`, waiting up to 10 s for the socket.
    pub fn at(path: &Path) -> SimBoard {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(path).is_err() {
            assert!(std::time::Instant::now() < deadline, "no simulated board at {}", path.display());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        SimBoard { path: path.to_owned() }
    }

    /// Sends one request and returns the answer; panics on `ok: false`.
    pub fn request(&self, request: serde_json::Value) -> serde_json::Value {
        let answer = self.try_request(request.clone());
        assert_eq!(answer["ok"], true, "{request} was refused: {answer}");
        answer
    }

    /// Sends one request and returns the answer, refusals included.
    pub fn try_request(&self, request: serde_json::Value) -> serde_json::Value {
        use std::io::{BufRead, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&self.path).expect("the board's socket accepts");
        writeln!(stream, "{request}").expect("sending to the board");
        let mut line = String::new();
        std::io::BufReader::new(stream).read_line(&mut line).expect("reading the board's answer");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("the board answered `{line}`: {e}"))
    }

    /// Drives input `pin` to `level` (`high` or `low`).
    pub fn set(&self, pin: &str, level: &str) {
        self.request(serde_json::json!({"op": "set", "pin": pin, "level": level}));
    }

    /// The pin view of BCM `pin`: mode, level, driven.
    pub fn pin(&self, pin: u64) -> serde_json::Value {
        let answer = self.request(serde_json::json!({"op": "pins"}));
        let pins = answer["pins"].as_array().expect("pins");
        pins.iter().find(|p| p["pin"] == pin).cloned().expect("the pin is on the board")
    }

    /// Every change the board remembers, oldest first.
    pub fn history(&self) -> Vec<serde_json::Value> {
        let answer = self.request(serde_json::json!({"op": "history", "since": 0}));
        answer["changes"].as_array().expect("changes").clone()
    }
}

/// A Raspberry Pi 4 B as rppal sees it, emulated in a private mount
/// namespace (`unshare -m`, needs root): a 4 KiB file of the caller's is
/// bind-mounted over /dev/gpiomem, /proc/cpuinfo and the device tree say
/// Pi 4 B, and a preloaded shim (fixtures/gpio-kernel) answers the chip-info
/// question rppal asks of /dev/gpiochip0. Nothing reaches the real /dev or
/// /proc. Used by tests/gpio_rppal.rs and the GPIO benchmark.
pub struct EmulatedPi4 {
    dir: PathBuf,
    shim: PathBuf,
}

impl EmulatedPi4 {
    /// Writes the board's files into `dir` (the register file zeroed) and
    /// builds the shim with the C compiler `cc` (a cross compiler for an ARM
    /// host run under qemu-user).
    pub fn prepare(dir: &Path, cc: &str) -> EmulatedPi4 {
        let shim = dir.join("libfake_gpiochip.so");
        let compiled = Command::new(cc)
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&shim)
            .arg(repo_root().join("tests/fixtures/gpio-kernel/fake_gpiochip.c"))
            .status()
            .expect("the C compiler runs");
        assert!(compiled.success(), "building the gpiochip shim failed");
        let cpuinfo = "processor\t: 0\nRevision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n";
        std::fs::write(dir.join("cpuinfo"), cpuinfo).unwrap();
        std::fs::write(dir.join("model"), "Raspberry Pi 4 Model B Rev 1.4\0").unwrap();
        std::fs::write(dir.join("compatible"), "raspberrypi,4-model-b\0brcm,bcm2711\0").unwrap();
        std::fs::write(dir.join("gpiomem"), vec![0u8; 4096]).unwrap();
        EmulatedPi4 { dir: dir.to_owned(), shim }
    }

    /// The file that stands for the GPIO registers.
    pub fn registers(&self) -> PathBuf {
        self.dir.join("gpiomem")
    }

    /// Runs `program` with `args` in the namespace, through `runner` (e.g.
    /// `qemu-aarch64 -L /usr/aarch64-linux-gnu`) when given; `exec`s, so the
    /// child's pid is the program's.
    pub fn command(&self, runner: &[String], program: &Path, args: &[&str]) -> Command {
        let setup = r#"
set -eu
mount --make-rprivate /
mount --bind "$W/cpuinfo" /proc/cpuinfo
mount -t tmpfs -o mode=755 host-edge-test /sys/firmware
mkdir -p /sys/firmware/devicetree/base
cp "$W/model" "$W/compatible" /sys/firmware/devicetree/base/
mount -t tmpfs -o mode=755 host-edge-test /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/random c 1 8
ln -s /proc/self/fd /dev/fd
touch /dev/gpiomem /dev/gpiochip0
mount --bind "$W/gpiomem" /dev/gpiomem
if [ -n "$RUNNER" ]; then
  export QEMU_SET_ENV="LD_PRELOAD=$SHIM,FAKE_GPIOCHIP_LABEL=pinctrl-bcm2711"
  exec $RUNNER "$@"
fi
export LD_PRELOAD="$SHIM" FAKE_GPIOCHIP_LABEL=pinctrl-bcm2711
exec "$@"
"#;
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "sh", "-c", setup, "sh"])
            .arg(program)
            .args(args)
            .env("W", &self.dir)
            .env("SHIM", &self.shim)
            .env("RUNNER", runner.join(" "));
        command
    }
}

/// Polls `probe` every 10 ms until it returns `Some`, for at most `within`.
pub fn eventually<T>(within: std::time::Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Waits until something accepts connections on loopback `port`.
pub fn wait_for_port(port: u16, within: std::time::Duration) {
    let deadline = std::time::Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// An issuer (account) and a subject (module) key pair.
pub struct Signer {
    /// The account key that signs.
    pub issuer: KeyPair,
    /// The module key the token is about.
    pub subject: KeyPair,
}

impl Signer {
    /// Fresh keys.
    pub fn new() -> Signer {
        Signer {
            issuer: KeyPair::new_account(),
            subject: KeyPair::new_module(),
        }
    }

    /// Signs `module` with `options`.
    pub fn sign_with(&self, module: &[u8], options: &SignOptions) -> Vec<u8> {
        sign_module(module, &self.issuer, &self.subject, options).expect("signing succeeds")
    }

    /// Signs `module`, named `name`, granting `caps`, valid from now on.
    pub fn sign(&self, module: &[u8], name: &str, caps: &[&str]) -> Vec<u8> {
        self.sign_with(module, &options(name, caps))
    }
}

impl Default for Signer {
    fn default() -> Self {
        Signer::new()
    }
}

/// Sign options for `name` granting `caps`, issued now, never expiring.
pub fn options(name: &str, caps: &[&str]) -> SignOptions {
    SignOptions {
        name: Some(name.to_owned()),
        caps: caps.iter().map(|c| CapabilityId::parse(c).expect("valid id")).collect(),
        issued_at: now_secs(),
        ..SignOptions::default()
    }
}
