//! `iot:serial` through the real host, the real serial provider library
//! and real signed actors, on pseudo-terminals: the kernel's tty layer with
//! real termios settings, as on a UART. The gps example follows NMEA lines
//! written to the other end and sends a command back; a port has one holder
//! however it is named; ports outside the grant, paths and files that are
//! not devices are refused by name; and the line settings reach the
//! terminal.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codec::serial::{OpenRequest, Parity, PortState, OP_OPEN};
use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::{Policy, SignOptions};
use host_edge_runtime::grant::Rule;
use host_edge_runtime::{Host, LinkSpec, Limits};
use testkit::{actor_module, eventually, free_port, http_get, http_post, options, provider_archive, wait_for_port, Signer};

const SERIAL: &str = "iot:serial";
const HTTP: &str = "wascc:http_server";

fn cap(id: &str) -> CapabilityId {
    CapabilityId::parse(id).unwrap()
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A pseudo-terminal pair: the test plays the device on the master side;
/// the provider opens the slave by a name linked to it in the test's
/// device folder. (The pty driver keeps the rate and stop bits it is given
/// and clears parity and the data size, which a UART keeps.)
struct Pty {
    master: File,
    /// Kept open, so the master never reads end-of-file between openings.
    slave: RawFd,
    /// What the master received, read by a thread of its own.
    heard: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn new(dir: &Path, names: &[&str]) -> Pty {
        let pair = nix::pty::openpty(None, None).expect("a pseudo-terminal");
        let path = nix::unistd::ttyname(pair.slave).expect("the slave's name");
        for name in names {
            std::os::unix::fs::symlink(&path, dir.join(name)).unwrap();
        }
        // SAFETY: openpty returned this descriptor for us alone; the File
        // owns it from here on.
        let master = unsafe { File::from_raw_fd(pair.master) };
        let heard = Arc::new(Mutex::new(Vec::new()));
        let mut reading = master.try_clone().unwrap();
        let sink = Arc::clone(&heard);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 256];
            while let Ok(n) = reading.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        Pty { master, slave: pair.slave, heard }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    fn heard(&self) -> Vec<u8> {
        self.heard.lock().unwrap().clone()
    }
}

/// A host with the serial provider looking for ports in `dir`.
struct Bench {
    host: Host,
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.host.shutdown();
    }
}

impl Bench {
    fn new(dir: &Path) -> Bench {
        Bench::with(dir, &[])
    }

    /// [`Bench::new`] with more provider settings.
    fn with(dir: &Path, extra: &[(&str, &str)]) -> Bench {
        let host = Host::with_state_dir(Policy::default(), dir.join("state"));
        let mut settings = values(&[("DEVICE_DIR", dir.join("dev").to_str().unwrap())]);
        settings.extend(values(extra));
        host.add_provider_with("serial", &provider_archive("serial"), &settings).unwrap();
        Bench { host }
    }

    /// Starts `module` as `name`, signed for `caps` and the port rules
    /// `grant`, linked with `open`; returns its key.
    fn start(&self, module: &str, name: &str, caps: &[&str], grant: &[&str], open: &str) -> String {
        let rules: Vec<Rule> = grant.iter().map(|r| r.parse().unwrap()).collect();
        let signed = SignOptions { grants: BTreeMap::from([(cap(SERIAL), rules)]), ..options(name, caps) };
        let actor = self.host.load(&Signer::new().sign_with(&actor_module(module), &signed)).unwrap();
        let key = actor.subject().to_owned();
        self.host.start_actor(actor, 1, Limits::default()).unwrap();
        self.host
            .link(LinkSpec {
                actor: key.clone(),
                capability: cap(SERIAL),
                binding: "default".into(),
                provider: "serial".into(),
                values: values(&[("OPEN", open)]),
                grant: Vec::new(),
            })
            .unwrap();
        key
    }

    /// Serves `actor` over HTTP on a loopback port; returns the port.
    fn serve_http(&self, actor: &str) -> u16 {
        let port = free_port();
        self.host.add_provider("http", &provider_archive("http_server")).unwrap();
        self.host.link_provider(actor, &cap(HTTP), "default", "http", &values(&[("ADDRESS", "127.0.0.1"), ("PORT", &port.to_string())])).unwrap();
        wait_for_port(port, Duration::from_secs(10));
        port
    }

    /// The echo actor opens a port; the reply, or the refusal as text.
    fn open(&self, actor: &str, request: &OpenRequest) -> Result<PortState, String> {
        let mut payload = format!("default\n{SERIAL}\n{OP_OPEN}\n").into_bytes();
        payload.extend_from_slice(&codec::serialize(request).unwrap());
        let reply = self.host.call(actor, "HostCall", &payload).map_err(|e| e.to_string())?;
        Ok(codec::deserialize(&reply).unwrap())
    }
}

fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dev")).unwrap();
    dir
}

#[test]
fn the_gps_actor_follows_nmea_lines_from_a_pseudo_terminal_and_sends_a_command_back() {
    let dir = folder();
    let mut gps = Pty::new(&dir.path().join("dev"), &["gps0"]);
    let bench = Bench::new(dir.path());
    let actor = bench.start("gps", "gps", &[SERIAL, HTTP], &["port:gps0"], "gps0 baud=9600 frame=line");
    let port = bench.serve_http(&actor);
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    assert_eq!(http_get(&url("/position")), (503, "no fix yet".to_owned()));

    // A sentence with a bad checksum, a line in two pieces, then a good fix.
    gps.send(b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*00\r\n$GPRMC,12");
    gps.send(b"3519,A\r\n$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n");
    let position = eventually(Duration::from_secs(20), "the fix is served", || {
        let (status, body) = http_get(&url("/position"));
        (status == 200).then_some(body)
    });
    assert_eq!(position, r#"{"latitude":48.117300,"longitude":11.516667,"satellites":8,"sentences":3}"#);

    let (status, body) = http_post(&url("/send"), "PMTK220,1000");
    assert_eq!((status, body.as_str()), (200, "$PMTK220,1000*1F\r\n"));
    eventually(Duration::from_secs(10), "the module hears the command", || (gps.heard() == b"$PMTK220,1000*1F\r\n").then_some(()));
}

#[test]
fn the_gps_actor_gets_its_fix_from_the_simulated_gps_on_a_pseudo_terminal() {
    let dir = folder();
    let bench = Bench::with(dir.path(), &[("SIM_GPS", "gps0 lat=-33.8568 lon=151.2153 alt=58 sats=11 every=50ms")]);
    let actor = bench.start("gps", "gps", &[SERIAL, HTTP], &["port:gps0"], "gps0 baud=9600 frame=line");
    let port = bench.serve_http(&actor);
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let position = eventually(Duration::from_secs(20), "the simulated fix is served", || {
        let (status, body) = http_get(&url("/position"));
        (status == 200).then_some(body)
    });
    assert!(position.starts_with(r#"{"latitude":-33.856800,"longitude":151.215300,"satellites":11,"#), "{position}");
    let (status, body) = http_post(&url("/send"), "PMTK220,1000");
    assert_eq!((status, body.as_str()), (200, "$PMTK220,1000*1F\r\n"), "the module's port takes the command");

    // The simulated port is held like any other.
    let other = bench.start("echo", "echo", &[SERIAL], &["port:gps0"], "");
    let err = bench.open(&other, &OpenRequest::new("gps0")).unwrap_err();
    assert!(err.contains("port `gps0`") && err.contains("is held by actor"), "{err}");
}

#[test]
fn a_port_has_one_holder_however_it_is_named() {
    let dir = folder();
    let _pty = Pty::new(&dir.path().join("dev"), &["ttyUSB0", "gps"]);
    let bench = Bench::new(dir.path());
    let first = bench.start("echo", "first", &[SERIAL], &["port:*"], "");
    let second = bench.start("echo", "second", &[SERIAL], &["port:*"], "");
    let opened = bench.open(&first, &OpenRequest::new("ttyUSB0")).unwrap();
    assert!(opened.device.starts_with("/dev/pts/"), "{opened:?}");
    let err = bench.open(&second, &OpenRequest::new("gps")).unwrap_err();
    assert!(err.contains(&format!("port `gps` ({}) is held by actor {first}; a port has one holder", opened.device)), "{err}");
    assert!(bench.open(&first, &OpenRequest::new("gps")).is_ok(), "its holder may open it again, by either name");
}

#[test]
fn a_port_outside_the_grant_a_path_or_a_file_that_is_no_device_is_refused_by_name() {
    let dir = folder();
    let _pty = Pty::new(&dir.path().join("dev"), &["ttyS0", "ttyS1"]);
    std::fs::write(dir.path().join("dev/notes"), b"not a port").unwrap();
    let bench = Bench::new(dir.path());
    let echo = bench.start("echo", "echo", &[SERIAL], &["port:ttyS0", "port:notes"], "");
    let err = bench.open(&echo, &OpenRequest::new("ttyS1")).unwrap_err();
    assert!(err.contains("port `ttyS1` is outside the grant for iot:serial (signed: port:ttyS0, port:notes)"), "{err}");
    let err = bench.open(&echo, &OpenRequest::new("../dev/ttyS0")).unwrap_err();
    assert!(err.contains("`../dev/ttyS0` is not a port name"), "{err}");
    let err = bench.open(&echo, &OpenRequest::new("notes")).unwrap_err();
    assert!(err.contains("which is not a character device"), "{err}");
    assert!(bench.open(&echo, &OpenRequest::new("ttyS0")).is_ok());
}

#[test]
fn the_line_settings_reach_the_terminal() {
    let dir = folder();
    let pty = Pty::new(&dir.path().join("dev"), &["ttyAMA0"]);
    let bench = Bench::new(dir.path());
    let echo = bench.start("echo", "echo", &[SERIAL], &["port:ttyAMA0"], "");
    let settings = OpenRequest { baud_rate: 115_200, parity: Parity::Even, stop_bits: 2, ..OpenRequest::new("ttyAMA0") };
    bench.open(&echo, &settings).unwrap();
    // The provider sets any rate through termios2 (BOTHER), which plain
    // cfgetospeed cannot read back: ask the kernel as it was told.
    // SAFETY: `termios2` is plain data the ioctl fills; `slave` is open.
    let termios = unsafe {
        let mut termios: libc::termios2 = std::mem::zeroed();
        assert_eq!(libc::ioctl(pty.slave, libc::TCGETS2, &mut termios), 0, "TCGETS2");
        termios
    };
    assert_eq!(termios.c_ospeed, 115_200);
    let flags = termios.c_cflag;
    assert!(flags & libc::CSTOPB != 0, "two stop bits: {flags:o}");
    assert!(flags & libc::CLOCAL != 0 && flags & libc::CREAD != 0, "a local line that receives: {flags:o}");
    // Parity and the data size cannot be seen here: the kernel's pty driver
    // clears PARENB and forces CS8 on every setting (pty_set_termios).
}
