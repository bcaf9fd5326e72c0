//! `iot:spi` through the real host, the real SPI provider library on its
//! simulated bus, and real signed actors: the adc example reading the
//! simulated MCP3008 through the SDK's embedded-hal `SpiDevice` over HTTP;
//! signed per-bus, per-chip-select grants narrowed by the link; controller
//! faults that come back typed while the host serves on; and the limits on
//! what one call may ask.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use codec::spi::{FaultKind, Operation, Transaction, Transferred, OP_TRANSACTION};
use host_edge_runtime::capability::CapabilityId;
use host_edge_runtime::claims::{Policy, SignOptions};
use host_edge_runtime::grant::Rule;
use host_edge_runtime::{Host, LinkSpec, Limits};
use testkit::{actor_module, free_port, http_get, options, provider_archive, wait_for_port, Signer};

const SPI: &str = "iot:spi";
const HTTP: &str = "wascc:http_server";
/// An MCP3008 on chip select 0 of bus 0, its channels at known voltages.
const DEVICES: &str = "0:0 mcp3008 vref=3.3 ch0=1.65 ch1=0.4 ch3=3.3";

fn cap(id: &str) -> CapabilityId {
    CapabilityId::parse(id).unwrap()
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `options(name, caps)` with a signed `iot:spi` grant.
fn signed(name: &str, caps: &[&str], grant: &[&str]) -> SignOptions {
    let rules: Vec<Rule> = grant.iter().map(|r| r.parse().unwrap()).collect();
    SignOptions { grants: BTreeMap::from([(cap(SPI), rules)]), ..options(name, caps) }
}

/// A host with the SPI provider on the simulated bus.
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
        Bench::with_devices(dir, DEVICES)
    }

    /// A bench whose simulated bus has `devices` (`SIM_DEVICES`).
    fn with_devices(dir: &Path, devices: &str) -> Bench {
        let host = Host::with_state_dir(Policy::default(), dir.join("state"));
        host.add_provider_with("spi", &provider_archive("spi"), &values(&[("BACKEND", "sim"), ("SIM_DEVICES", devices)])).unwrap();
        Bench { host }
    }

    /// Starts `module` signed for `caps` and `grant`, linked to the SPI
    /// provider with the link grant `narrowed`; returns its key.
    fn start(&self, module: &str, caps: &[&str], grant: &[&str], narrowed: &[&str]) -> String {
        let module = Signer::new().sign_with(&actor_module(module), &signed(module, caps, grant));
        let actor = self.host.load(&module).unwrap();
        let key = actor.subject().to_owned();
        self.host.start_actor(actor, 1, Limits::default()).unwrap();
        self.host
            .link(LinkSpec {
                actor: key.clone(),
                capability: cap(SPI),
                binding: "default".into(),
                provider: "spi".into(),
                values: BTreeMap::new(),
                grant: narrowed.iter().map(|g| g.to_string()).collect(),
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

    /// The echo actor runs one transaction and returns the reply, or the
    /// host's refusal as text.
    fn transact(&self, actor: &str, transaction: &Transaction) -> Result<Transferred, String> {
        let mut payload = format!("default\n{SPI}\n{OP_TRANSACTION}\n").into_bytes();
        payload.extend_from_slice(&codec::serialize(transaction).unwrap());
        let reply = self.host.call(actor, "HostCall", &payload).map_err(|e| e.to_string())?;
        Ok(codec::deserialize(&reply).unwrap())
    }
}

/// The three-byte MCP3008 frame for single-ended `channel`.
fn conversion(bus: u8, chip_select: u8, channel: u8) -> Transaction {
    let operations = vec![Operation::Transfer(vec![0x01, 0x80 | channel << 4, 0])];
    Transaction { bus, chip_select, mode: 0, speed_hz: 1_000_000, bits_per_word: 8, operations }
}

#[test]
fn the_adc_actor_reads_each_channel_of_the_simulated_mcp3008_through_embedded_hals_spi_device() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path());
    let adc = bench.start("adc", &[SPI, HTTP], &["0:0"], &[]);
    let port = bench.serve_http(&adc);
    let get = |path: &str| http_get(&format!("http://127.0.0.1:{port}{path}"));
    assert_eq!(get("/adc/0"), (200, r#"{"channel":0,"code":512,"volts":1.650}"#.to_owned()));
    assert_eq!(get("/adc/1"), (200, r#"{"channel":1,"code":124,"volts":0.400}"#.to_owned()));
    assert_eq!(get("/adc/3"), (200, r#"{"channel":3,"code":1023,"volts":3.297}"#.to_owned()), "full scale is 1023");
    assert_eq!(get("/adc/0?differential"), (200, r#"{"channel":0,"code":387,"volts":1.247}"#.to_owned()), "CH0 - CH1");
    assert_eq!(get("/adc/1?words=16"), (200, r#"{"channel":1,"code":124,"volts":0.400}"#.to_owned()), "SpiDevice<u16>, 16-bit words");
}

#[test]
fn a_word_size_is_checked_before_the_bus_and_one_the_part_cannot_take_is_a_typed_fault() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path());
    let echo = bench.start("echo", &[SPI], &["0:0"], &[]);
    let refused = bench.transact(&echo, &Transaction { bits_per_word: 16, ..conversion(0, 0, 0) }).unwrap_err();
    assert!(refused.contains("operation 0 moves 3 bytes, not whole 16-bit words (2 bytes each)"), "{refused}");
    let refused = bench.transact(&echo, &Transaction { bits_per_word: 33, ..conversion(0, 0, 0) }).unwrap_err();
    assert!(refused.contains("a word of 33 bits does not exist"), "{refused}");
    let twelve = Transaction { bits_per_word: 12, operations: vec![Operation::Transfer(vec![0, 0])], ..conversion(0, 0, 0) };
    let fault = bench.transact(&echo, &twelve).unwrap().fault.expect("a fault");
    assert_eq!(fault.kind, FaultKind::FrameFormat);
    assert!(bench.transact(&echo, &conversion(0, 0, 0)).unwrap().fault.is_none(), "the bus serves on");
}

#[test]
fn the_flash_actor_reads_the_simulated_w25q80s_id_and_what_another_actor_programmed() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::with_devices(dir.path(), "0:0 w25q80");
    let flash = bench.start("flash", &[SPI, HTTP], &["0:0"], &[]);
    let port = bench.serve_http(&flash);
    let get = |path: &str| http_get(&format!("http://127.0.0.1:{port}{path}"));
    assert_eq!(get("/flash"), (200, r#"{"id":"ef5014","maker":"Winbond","bytes":1048576}"#.to_owned()));
    assert_eq!(get("/flash/1f00"), (200, format!(r#"{{"address":7936,"bytes":"{}"}}"#, "ff".repeat(16))), "an erased part");

    // Another actor, granted the same part, enables writing and programs
    // a page; the flash actor reads what it wrote.
    let writer = bench.start("echo", &[SPI], &["0:0"], &[]);
    let command = |bytes: Vec<u8>| Transaction { operations: vec![Operation::Write(bytes)], ..conversion(0, 0, 0) };
    bench.transact(&writer, &command(vec![0x06])).unwrap();
    bench.transact(&writer, &command(vec![0x02, 0x00, 0x1f, 0x00, 0xde, 0xad, 0xbe, 0xef])).unwrap();
    assert_eq!(get("/flash/1f00"), (200, format!(r#"{{"address":7936,"bytes":"deadbeef{}"}}"#, "ff".repeat(12))));
    assert_eq!(get("/flash/zz").0, 400);
}

#[test]
fn a_chip_select_outside_the_signed_grant_is_refused_naming_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path());
    let adc = bench.start("adc", &[SPI, HTTP], &["0:1"], &[]);
    let port = bench.serve_http(&adc);
    let (status, body) = http_get(&format!("http://127.0.0.1:{port}/adc/0"));
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("chip select 0 of SPI bus 0 is outside the grant for iot:spi (signed: 0:1)"), "{body}");
}

#[test]
fn a_link_narrows_the_signed_grant_and_never_widens_it() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path());
    let echo = bench.start("echo", &[SPI], &["0:*"], &["0:1"]);
    let quiet = bench.transact(&echo, &conversion(0, 1, 0)).unwrap();
    assert_eq!(quiet.reads[0].as_ref(), [0, 0, 0], "nothing sits on chip select 1: MISO reads zeros");
    let err = bench.transact(&echo, &conversion(0, 0, 0)).unwrap_err();
    assert!(err.contains("chip select 0 of SPI bus 0 is outside the grant for iot:spi (signed: 0:*; link: 0:1)"), "{err}");
}

#[test]
fn a_mode_or_clock_the_part_cannot_do_is_a_typed_fault_and_the_bus_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path());
    let echo = bench.start("echo", &[SPI], &["0:0"], &[]);
    let wrong_mode = Transaction { mode: 1, ..conversion(0, 0, 0) };
    let fault = bench.transact(&echo, &wrong_mode).unwrap().fault.expect("a fault, not a refusal");
    assert_eq!((fault.kind, fault.message.as_str()), (FaultKind::FrameFormat, "the MCP3008 speaks SPI modes 0 and 3, not 1"));
    let too_fast = Transaction { speed_hz: 20_000_000, ..conversion(0, 0, 0) };
    assert_eq!(bench.transact(&echo, &too_fast).unwrap().fault.unwrap().kind, FaultKind::FrameFormat);
    let reading = bench.transact(&echo, &Transaction { mode: 3, ..conversion(0, 0, 0) }).unwrap();
    assert_eq!(u16::from(reading.reads[0][1] & 3) << 8 | u16::from(reading.reads[0][2]), 512, "mode 3 works, and the bus serves on");
}

#[test]
fn a_transaction_beyond_the_limits_is_refused_before_the_chip_select_falls() {
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::new(dir.path());
    let echo = bench.start("echo", &[SPI], &["0:0"], &[]);
    let refuse = |transaction: Transaction| bench.transact(&echo, &transaction).unwrap_err();
    assert!(refuse(Transaction { mode: 4, ..conversion(0, 0, 0) }).contains("SPI mode 4 does not exist: modes are 0 to 3"));
    assert!(refuse(Transaction { speed_hz: 0, ..conversion(0, 0, 0) }).contains("a clock of 0 Hz is outside"));
    let holds_the_bus = Transaction { operations: vec![Operation::DelayNs(u32::MAX)], ..conversion(0, 0, 0) };
    assert!(refuse(holds_the_bus).contains("waits 4294967295 ns with the chip select held; at most 10000000 ns"));
    let huge = Transaction { operations: vec![Operation::Read(u32::MAX)], ..conversion(0, 0, 0) };
    assert!(refuse(huge).contains("operation 0 would move 4294967295 bytes"));
    let err = refuse(conversion(2, 0, 0));
    assert!(err.contains("is outside the grant"), "a bus outside the grant is refused before it is looked up: {err}");
}
