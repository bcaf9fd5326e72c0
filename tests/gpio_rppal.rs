//! The rppal backend, unmodified, against emulated Raspberry Pi 4
//! registers: the host runs in a private mount namespace (`unshare -m`;
//! nothing reaches the real /dev or /proc) where a 4 KiB file of this test
//! is bind-mounted over /dev/gpiomem, and /proc/cpuinfo and the device tree
//! say "Raspberry Pi 4 Model B". rppal maps the file as it would the GPIO
//! registers, so this test reads what the button-led actor's calls wrote
//! (function select, set, clear, pull) and writes the level register for the
//! actor to read, and for the provider to see edges in.
//!
//! The kernel here has no GPIO subsystem: a preloaded shim
//! (fixtures/gpio-kernel) answers the chip-info question rppal asks of
//! /dev/gpiochip0, and rppal's request for edge interrupts fails, so the
//! provider samples the level register instead. Kernel interrupts are not
//! exercised here.
//!
//! By default the test runs the x86_64 build. `cargo xtask arm-check` runs
//! it again on an ARM bundle under qemu-user, through
//! HOST_EDGE_RPPAL_BUNDLE (the unpacked bundle), HOST_EDGE_RPPAL_RUNNER
//! (`qemu-aarch64 -L /usr/aarch64-linux-gnu`) and HOST_EDGE_RPPAL_CC (the
//! cross compiler for the shim). It needs root, as CI has.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use host_edge_runtime::claims::SignOptions;
use host_edge_runtime::grant::Rule;
use testkit::{actor_module, free_port, EmulatedPi4, http_get, http_put, options, provider_archive, wait_for_port, Signer};

// Byte offsets of the BCM2711 GPIO registers rppal uses.
const GPFSEL1: u64 = 0x04;
const GPFSEL2: u64 = 0x08;
const GPSET0: u64 = 0x1c;
const GPCLR0: u64 = 0x28;
const GPLEV0: u64 = 0x34;
const PUP_PDN_CNTRL_REG1: u64 = 0xe8;

const LED: u32 = 17;
const BUTTON: u32 = 27;

/// The build under test: how to run its `host-edge`, its signed GPIO and
/// HTTP provider archives, and the C compiler for its shim.
struct Build {
    runner: Vec<String>,
    host_edge: PathBuf,
    gpio: PathBuf,
    http: PathBuf,
    cc: String,
}

fn build() -> Build {
    match std::env::var_os("HOST_EDGE_RPPAL_BUNDLE") {
        Some(bundle) => {
            let bundle = PathBuf::from(bundle);
            let runner = std::env::var("HOST_EDGE_RPPAL_RUNNER").unwrap_or_default();
            Build {
                runner: runner.split_whitespace().map(str::to_owned).collect(),
                host_edge: bundle.join("bin/host-edge"),
                gpio: bundle.join("providers/gpio.par.gz"),
                http: bundle.join("providers/http_server.par.gz"),
                cc: std::env::var("HOST_EDGE_RPPAL_CC").unwrap_or_else(|_| "cc".to_owned()),
            }
        }
        None => Build {
            runner: Vec::new(),
            host_edge: testkit::host_edge_bin().to_owned(),
            gpio: provider_archive("gpio"),
            http: provider_archive("http_server"),
            cc: "cc".to_owned(),
        },
    }
}

/// The emulated register block, as a file the host maps.
struct Registers {
    file: std::fs::File,
}

impl Registers {
    fn open(path: &Path) -> Registers {
        Registers { file: std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap() }
    }

    fn read(&self, offset: u64) -> u32 {
        let mut word = [0u8; 4];
        self.file.read_exact_at(&mut word, offset).unwrap();
        u32::from_le_bytes(word)
    }

    fn write(&self, offset: u64, value: u32) {
        self.file.write_all_at(&value.to_le_bytes(), offset).unwrap();
    }

    /// The 3-bit function of `pin`: 0 input, 1 output.
    fn function(&self, pin: u32) -> u32 {
        let offset = if pin < 20 { GPFSEL1 } else { GPFSEL2 };
        (self.read(offset) >> ((pin % 10) * 3)) & 0b111
    }

    /// Sets the function of `pin` (10 to 29), as the firmware does for an
    /// enabled bus's pins.
    fn set_function(&self, pin: u32, function: u32) {
        let offset = if pin < 20 { GPFSEL1 } else { GPFSEL2 };
        let shift = (pin % 10) * 3;
        self.write(offset, (self.read(offset) & !(0b111 << shift)) | function << shift);
    }

    fn bit(&self, offset: u64, pin: u32) -> bool {
        self.read(offset) & (1 << pin) != 0
    }

    /// Drives `pin`'s line in the level register, as the outside world would.
    fn set_level(&self, pin: u32, high: bool) {
        let level = self.read(GPLEV0);
        self.write(GPLEV0, if high { level | 1 << pin } else { level & !(1 << pin) });
    }

    /// Forgets the set and clear writes seen so far.
    fn clear_writes(&self) {
        self.write(GPSET0, 0);
        self.write(GPCLR0, 0);
    }
}

fn led(port: u16) -> String {
    let (status, body) = http_get(&format!("http://127.0.0.1:{port}/led"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["led"].as_str().unwrap().to_owned()
}

/// Writes the signed button-led actor and a manifest that opens its pins
/// at link time and serves HTTP on `port`; returns the manifest's path.
fn write_button_led(dir: &Path, build: &Build, port: u16) -> PathBuf {
    let grant = SignOptions {
        grants: [(host_edge_runtime::capability::CapabilityId::parse("iot:gpio").unwrap(), ["out:17", "in:27"].map(|r| r.parse::<Rule>().unwrap()).to_vec())].into(),
        ..options("button-led", &["iot:gpio", "wascc:http_server"])
    };
    std::fs::write(dir.join("button_led.wasm"), Signer::new().sign_with(&actor_module("button_led"), &grant)).unwrap();
    let manifest = format!(
        r#"
[host]
state_dir = "state"
control_socket = "control.sock"

[[actor]]
path = "button_led.wasm"

# No BOARD: detected from the device tree model string.
[[provider]]
name = "gpio"
path = "{gpio}"
settings = {{ LABELS = "led=17, button=27", POLL_INTERVAL_US = "500" }}

[[provider]]
name = "http"
path = "{http}"

[[link]]
actor = "button-led"
capability = "iot:gpio"
provider = "gpio"
values = {{ OPEN = "button in pull=up edge=falling; led out level=low" }}

[[link]]
actor = "button-led"
capability = "wascc:http_server"
provider = "http"
values = {{ ADDRESS = "127.0.0.1", PORT = "{port}", ERROR_DETAIL = "true" }}
"#,
        gpio = build.gpio.display(),
        http = build.http.display()
    );
    let manifest_path = dir.join("manifest.toml");
    std::fs::write(&manifest_path, manifest).unwrap();
    manifest_path

}

#[test]
fn the_button_led_actor_drives_emulated_pi_4_registers_through_rppal_and_sigterm_leaves_its_pins_safe() {
    assert_eq!(
        std::process::Command::new("id").arg("-u").output().unwrap().stdout,
        b"0\n",
        "this test needs root for a private mount namespace (CI runs as root)"
    );
    let build = build();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let pi = EmulatedPi4::prepare(dir, &build.cc);
    let registers = Registers::open(&pi.registers());

    let port = free_port();
    let manifest_path = write_button_led(dir, &build, port);

    // The button is up (released) before the provider opens it: the level
    // it samples first is high, so the falling edge below is a change it
    // sees whenever it next samples, however slowly this machine runs.
    registers.set_level(BUTTON, true);
    let mut host = pi
        .command(&build.runner, &build.host_edge, &["run", manifest_path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare runs (util-linux)");
    let log = {
        let stderr = host.stderr.take().unwrap();
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default())
    };
    wait_for_port(port, Duration::from_secs(180));

    // Opening: the LED is an output driven low, the button an input with
    // its pull-up (BCM2711: two bits per pin, 01 = up).
    assert_eq!(registers.function(LED), 0b001, "GPFSEL1 {:#010x}", registers.read(GPFSEL1));
    assert!(registers.bit(GPCLR0, LED), "the LED starts low");
    assert_eq!(registers.function(BUTTON), 0b000);
    assert_eq!((registers.read(PUP_PDN_CNTRL_REG1) >> ((BUTTON % 16) * 2)) & 0b11, 0b01);

    // An actor's write sets the LED's bit in the set register.
    registers.clear_writes();
    assert_eq!(http_put(&format!("http://127.0.0.1:{port}/led"), "on").0, 200);
    assert!(registers.bit(GPSET0, LED) && !registers.bit(GPCLR0, LED));

    // What the level register says is what the actor reads.
    registers.set_level(LED, true);
    assert_eq!(led(port), "high");
    registers.set_level(LED, false);
    assert_eq!(led(port), "low");
    registers.set_level(LED, true);

    // A falling edge on the button, written into the level register, is
    // seen by the provider and toggles the LED (driven high: now low).
    registers.clear_writes();
    registers.set_level(BUTTON, false);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !registers.bit(GPCLR0, LED) {
        if std::time::Instant::now() > deadline {
            let _ = host.kill();
            panic!("the edge did not toggle the LED through the clear register: {}", log.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (_, edges) = http_get(&format!("http://127.0.0.1:{port}/edges"));
    assert!(edges.contains(r#""events":1"#), "{edges}");

    // SIGTERM: every pin the actor held is an input again.
    let terminated = Command::new("kill").args(["-TERM", &host.id().to_string()]).status().unwrap();
    assert!(terminated.success());
    let status = host.wait().unwrap();
    let log = log.join().unwrap();
    assert!(status.success(), "the host stopped with {status}: {log}");
    assert_eq!(registers.function(LED), 0b000, "the LED is an input after SIGTERM: {log}");
    assert_eq!(registers.function(BUTTON), 0b000);
    assert!(log.contains("Raspberry Pi 4 Model B (pi-4b)"), "the board was detected: {log}");
    assert!(log.contains("sampled every"), "without kernel interrupts the provider says it samples: {log}");
}

#[test]
fn a_pin_the_firmware_gave_to_an_enabled_bus_is_refused_as_a_gpio_and_left_to_the_bus() {
    assert_eq!(std::process::Command::new("id").arg("-u").output().unwrap().stdout, b"0\n", "needs root, as CI has");
    let build = build();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let pi = EmulatedPi4::prepare(dir, &build.cc);
    let registers = Registers::open(&pi.registers());
    // GPIO 17 is SPI1's CE1 on a Pi 4: `dtoverlay=spi1-3cs` sets it to
    // ALT4 (BCM2711 function select 0b011) at boot.
    const ALT4: u32 = 0b011;
    registers.set_function(LED, ALT4);
    let manifest_path = write_button_led(dir, &build, free_port());

    let out = pi
        .command(&build.runner, &build.host_edge, &["run", manifest_path.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .expect("unshare runs (util-linux)");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the link that opens the bus's pin is refused, so the host does not start: {said}");
    assert!(said.contains("pin 17 (led) is SPI bus 1's CE1 (set to ALT4, as `dtoverlay=spi1-3cs"), "{said}");
    assert_eq!(registers.function(LED), ALT4, "the pin is still the bus's");
}
