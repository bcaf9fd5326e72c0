//! The `host-edge` binary serving a manifest in a folder of its own, as a
//! user runs it: started, asked over HTTP on loopback, read from its log,
//! stopped with a signal.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A host process serving a manifest (`manifest.toml`) in `dir`, with an
/// HTTP route on `port`. Stopped with SIGKILL when dropped. It runs in a
/// process group of its own, and signals go to the whole group: a wrapper
/// such as `faketime` forks the host and waits, and a signal to the wrapper
/// alone would leave the host running after the test.
#[derive(Debug)]
pub struct HostProcess {
    dir: PathBuf,
    /// The manifest's file name in `dir`.
    manifest: String,
    port: u16,
    rust_log: String,
    /// A command the host runs under (`faketime ...`), if any.
    wrapper: Vec<String>,
    /// Variables set for the host besides the ones every start sets.
    env: Vec<(String, String)>,
    /// Options after `run MANIFEST`.
    args: Vec<String>,
    child: Option<Child>,
}

impl HostProcess {
    /// A host for the manifest `manifest` (written to `dir/manifest.toml`),
    /// whose HTTP route listens on `port`; not started yet.
    pub fn new(dir: &Path, manifest: &str, port: u16) -> HostProcess {
        HostProcess::with_manifest_file(dir, "manifest.toml", manifest, port)
    }

    /// A host for the manifest `manifest` written to `dir/file` (a waSCC
    /// `manifest.yaml`, say); not started yet.
    pub fn with_manifest_file(dir: &Path, file: &str, manifest: &str, port: u16) -> HostProcess {
        std::fs::write(dir.join(file), manifest).unwrap();
        HostProcess {
            dir: dir.to_owned(),
            manifest: file.to_owned(),
            port,
            rust_log: "info".to_owned(),
            wrapper: Vec::new(),
            env: Vec::new(),
            args: Vec::new(),
            child: None,
        }
    }

    /// Sets `RUST_LOG` for the next start.
    pub fn rust_log(&mut self, filter: &str) -> &mut Self {
        self.rust_log = filter.to_owned();
        self
    }

    /// Runs the host under `wrapper` from the next start on (`faketime
    /// @1970-01-02`, say); empty for none.
    pub fn wrapper(&mut self, wrapper: &[&str]) -> &mut Self {
        self.wrapper = wrapper.iter().map(|w| w.to_string()).collect();
        self
    }

    /// Sets the variable `name` to `value` for the host from the next start.
    pub fn env(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Passes `args` to `host-edge run MANIFEST` from the next start on.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.args = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Starts the host and waits until its HTTP route answers and it has
    /// logged that it serves; its log goes to `host.log`, appended across
    /// starts.
    pub fn start(&mut self) -> &mut Self {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("host.log")).unwrap();
        let logged_before = usize::try_from(log.metadata().unwrap().len()).unwrap();
        let mut command = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(crate::host_edge_bin());
                command
            }
            None => Command::new(crate::host_edge_bin()),
        };
        let child = command
            .process_group(0)
            .current_dir(&self.dir)
            .args(["run", &self.manifest])
            .args(&self.args)
            .env("RUST_LOG", &self.rust_log)
            .env("NO_COLOR", "1")
            .env("HOST_EDGE_CONTROL", self.dir.join("control.sock"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(exited.is_none() && Instant::now() < deadline, "the host does not serve ({exited:?}): {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        // The port opens before the host has said all it says at start
        // (what it serves, what is built in, the control socket): its last
        // start-up line, in this start's part of the log, says it has.
        while !self.log().get(logged_before..).is_some_and(|log| log.contains("host-edge is serving")) {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(exited.is_none() && Instant::now() < deadline, "the host never said it serves ({exited:?}): {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        self
    }

    /// Stops the host with `signal` (`TERM`, `KILL`) and waits for it.
    pub fn stop(&mut self, signal: &str) {
        if let Some(mut child) = self.child.take() {
            signal_group(&child, signal);
            child.wait().unwrap();
        }
    }

    /// The URL of `path` on the host's HTTP route.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Everything the host has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("host.log")).unwrap_or_default()
    }

    /// The host's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The folder the host runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(&child, "KILL");
            let _ = child.wait();
        }
    }
}

/// Sends `signal` to the process group `child` leads (the host, and its
/// wrapper if it has one).
fn signal_group(child: &Child, signal: &str) {
    let _ = Command::new("kill").arg(format!("-{signal}")).arg("--").arg(format!("-{}", child.id())).status();
}

/// The manifest entries that serve `actor` over HTTP on loopback `port`
/// through the HTTP server provider (named `http`), with error details in
/// the answers so tests can read the host's messages.
pub fn http_entries(actor: &str, port: u16) -> String {
    format!(
        r#"
[[provider]]
name = "http"
path = "{http}"

[[link]]
actor = "{actor}"
capability = "wascc:http_server"
provider = "http"
values = {{ ADDRESS = "127.0.0.1", PORT = "{port}", ERROR_DETAIL = "true" }}
"#,
        http = crate::provider_archive("http_server").display(),
    )
}

/// The demo's manifest (demo/counter.toml, what `cargo xtask demo` serves)
/// with the providers at `kv` and `http` and the counter served on
/// loopback `port`, a number or a `${NAME}` placeholder of a fleet
/// deployment: as TOML tables, for a test to change what it is about. The
/// demo's `[policy]` (its own issuer) is left out.
pub fn demo_manifest(kv: &Path, http: &Path, port: &str) -> toml::Table {
    let text = include_str!("../../demo/counter.toml")
        .replace("${KV}", &kv.display().to_string())
        .replace("${HTTP}", &http.display().to_string())
        .replace("${PORT}", port);
    let mut manifest: toml::Table = text.parse().expect("demo/counter.toml reads as TOML");
    manifest.remove("policy");
    manifest
}

/// The `[[link]]` of `manifest` for `capability`.
pub fn link_mut<'a>(manifest: &'a mut toml::Table, capability: &str) -> &'a mut toml::Table {
    manifest["link"]
        .as_array_mut()
        .and_then(|links| links.iter_mut().filter_map(toml::Value::as_table_mut).find(|l| l["capability"].as_str() == Some(capability)))
        .unwrap_or_else(|| panic!("the demo manifest links {capability}"))
}

/// `manifest` as text.
pub fn manifest_text(manifest: &toml::Table) -> String {
    toml::to_string(manifest).expect("a manifest serializes")
}

/// Only the tables of `manifest` named `keys`, as text that goes on the end
/// of a manifest or a deployment file.
pub fn entries_text(mut manifest: toml::Table, keys: &[&str]) -> String {
    manifest.retain(|key, _| keys.contains(&key));
    format!("\n{}", manifest_text(&manifest))
}

/// A TOML value written inline (`{ PATH = "counter.db" }`, `"x"`, `3`).
pub fn toml_value(inline: &str) -> toml::Value {
    let table: toml::Table = format!("value = {inline}").parse().expect("an inline TOML value");
    table["value"].clone()
}

/// The demo's entries that serve the counter (named `counter`) from the
/// SQLite store (`PATH = counter.db` in the provider's state) over HTTP on
/// `port` ([`demo_manifest`]): its `[[provider]]`s and `[[link]]`s, for a
/// manifest or a deployment file alike.
pub fn counter_entries(kv: &Path, http: &Path, port: &str) -> String {
    entries_text(demo_manifest(kv, http, port), &["provider", "link"])
}
