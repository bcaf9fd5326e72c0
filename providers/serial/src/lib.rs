//! `iot:serial`: actors use the board's serial ports (a UART on the
//! header, a USB adapter) with real line settings, one actor a port, under
//! signed per-port grants, and hear what a port receives as frames.
//!
//! Before a port is opened, the provider checks, in this order: that the
//! name is one plain device name (never a path); that the actor's
//! effective grant (signed, narrowed by the link) names it (`port:ttyS0`,
//! or `port:*`); that it is a character device (links resolved, so
//! `serial0` and `ttyAMA0` are one port); and that no other actor holds
//! it. Every refusal names the port and why. A port opened with a framing
//! (`frame=line`, a delimiter, a length) is read by a thread of its own
//! and its frames go to the actor's `Receive` handler through a bounded
//! queue (the oldest are dropped and counted when it is full); otherwise
//! the actor reads, with a timeout of at most 5 s. When an actor is
//! unbound or the provider stops, its ports are closed.
//!
//! A simulated NMEA GPS (`SIM_GPS`, [`gps`]) is a port like any other.
//!
//! Provider settings: `DEVICE_DIR` [/dev], `FRAME_QUEUE` [256], `SIM_GPS`. Link value:
//! `OPEN`. See docs/serial.md.

mod framer;
mod gps;
mod link;
mod name;
mod nmea;
mod port;
mod queue;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use provider_sdk::bindings::{read_grant, Bindings};
use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::codec::serial::{
    self as contract, Framing, OpenRequest, PortRequest, PortState, ReadRequest, Received, WriteRequest, Written,
    MAX_READ_TIMEOUT_MS, MAX_TRANSFER_BYTES,
};
use provider_sdk::{export_provider, Host, Level, Provider, ProviderError, Setting, SettingScope, Settings};
use serialport::TTYPort;

/// An open port.
struct Opened {
    /// The actor holding it.
    actor: String,
    /// The name it used.
    name: String,
    port: Arc<Mutex<TTYPort>>,
    /// Its reader, when opened with a framing.
    reader: Option<port::Reader>,
}

/// The serial provider.
pub struct SerialProvider {
    host: Host,
    dir: PathBuf,
    queue_capacity: usize,
    /// Each bound actor's effective grant (its ports are kept below).
    grants: Bindings<(), ()>,
    /// The open ports, by device.
    ports: Mutex<BTreeMap<PathBuf, Opened>>,
    /// Delivery threads of closed ports, joined when the provider stops.
    ended: Mutex<Vec<JoinHandle<()>>>,
    /// The simulated GPS, where `SIM_GPS` asks for one; stopped with the
    /// provider.
    gps: Mutex<Option<gps::Gps>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl SerialProvider {
    /// The device `name` means for `actor`: a plain name, inside its grant,
    /// a character device.
    fn device(&self, actor: &str, name: &str) -> Result<PathBuf, ProviderError> {
        name::check(name).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        let grant = self.grants.get(actor)?.1;
        grant
            .check_by(contract::CAPABILITY_ID, &format!("port `{name}`"), |kind| kind == "port", |rule| {
                name::permits(rule.kind(), rule.value(), name)
            })
            .map_err(|refusal| ProviderError::denied(refusal.to_string()))?;
        if let Some(gps) = lock(&self.gps).as_ref().filter(|gps| gps.name == name) {
            return Ok(gps.device.clone());
        }
        name::resolve(&self.dir, name).map_err(|e| ProviderError::bad_request(e.to_string()))
    }

    fn open(&self, actor: &str, request: OpenRequest) -> Result<Vec<u8>, ProviderError> {
        let device = self.device(actor, &request.port)?;
        let mut ports = lock(&self.ports);
        if let Some(held) = ports.get(&device) {
            if held.actor != actor {
                return Err(ProviderError::unavailable(format!(
                    "port `{}` ({}) is held by actor {}; a port has one holder",
                    request.port,
                    device.display(),
                    held.actor
                )));
            }
        }
        // The holder opening it again gets it afresh, with the new settings.
        if let Some(previous) = ports.remove(&device) {
            self.close_opened(previous);
        }
        let port = port::open(&device, &request).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        let port = Arc::new(Mutex::new(port));
        let reader = match request.framing {
            Framing::None => None,
            framing => Some(
                port::read(&self.host, actor, &request.port, &port, framing, self.queue_capacity)
                    .map_err(|e| ProviderError::new(format!("cannot start reading port `{}`: {e}", request.port)))?,
            ),
        };
        ports.insert(device.clone(), Opened { actor: actor.to_owned(), name: request.port.clone(), port, reader });
        let state = PortState { port: request.port, device: device.display().to_string(), open: true };
        Ok(provider_sdk::codec::serialize(&state)?)
    }

    /// The port `name` that `actor` holds.
    fn held(&self, actor: &str, name: &str) -> Result<(PathBuf, Arc<Mutex<TTYPort>>, bool), ProviderError> {
        let device = self.device(actor, name)?;
        let ports = lock(&self.ports);
        let opened = ports.get(&device).filter(|o| o.actor == actor).ok_or_else(|| {
            ProviderError::bad_request(format!("port `{name}` is not open for this actor: open it first (Open, or the link's OPEN)"))
        })?;
        Ok((device, Arc::clone(&opened.port), opened.reader.is_some()))
    }

    fn write(&self, actor: &str, request: WriteRequest) -> Result<Vec<u8>, ProviderError> {
        if request.data.len() > MAX_TRANSFER_BYTES {
            return Err(ProviderError::bad_request(format!(
                "a write of {} bytes is more than one call may send ({MAX_TRANSFER_BYTES})",
                request.data.len()
            )));
        }
        let (_, port, _) = self.held(actor, &request.port)?;
        let mut port = lock(&port);
        port.write_all(&request.data)
            .and_then(|()| port.flush())
            .map_err(|e| ProviderError::unavailable(format!("writing port `{}`: {e}", request.port)))?;
        Ok(provider_sdk::codec::serialize(&Written { written: request.data.len() as u32 })?)
    }

    fn read(&self, actor: &str, request: ReadRequest) -> Result<Vec<u8>, ProviderError> {
        if request.timeout_ms > MAX_READ_TIMEOUT_MS || request.max as usize > MAX_TRANSFER_BYTES {
            return Err(ProviderError::bad_request(format!(
                "a read waits at most {MAX_READ_TIMEOUT_MS} ms for at most {MAX_TRANSFER_BYTES} bytes, not {} ms for {}",
                request.timeout_ms, request.max
            )));
        }
        let (_, port, framed) = self.held(actor, &request.port)?;
        if framed {
            return Err(ProviderError::bad_request(format!(
                "port `{}` was opened with a framing: what it receives goes to the actor's Receive handler",
                request.port
            )));
        }
        let mut port = lock(&port);
        let data = port::read_once(&mut port, request.max as usize, Duration::from_millis(u64::from(request.timeout_ms)))
            .map_err(|e| ProviderError::unavailable(format!("reading port `{}`: {e}", request.port)))?;
        Ok(provider_sdk::codec::serialize(&Received { data })?)
    }

    fn close(&self, actor: &str, name: &str) -> Result<Vec<u8>, ProviderError> {
        let (device, _, _) = self.held(actor, name)?;
        if let Some(opened) = lock(&self.ports).remove(&device) {
            self.close_opened(opened);
        }
        let state = PortState { port: name.to_owned(), device: device.display().to_string(), open: false };
        Ok(provider_sdk::codec::serialize(&state)?)
    }

    /// Stops a port's reader; its delivery thread, which may be in a call
    /// of the actor's, is joined when the provider stops. The device
    /// closes when its last handle goes.
    fn close_opened(&self, opened: Opened) {
        if let Some(reader) = opened.reader {
            let delivery = reader.stop();
            let mut ended = lock(&self.ended);
            ended.retain(|thread| !thread.is_finished());
            ended.push(delivery);
        }
    }

    /// Closes every port `actor` holds.
    fn close_all(&self, actor: &str) {
        let mut ports = lock(&self.ports);
        let devices: Vec<PathBuf> = ports.iter().filter(|(_, o)| o.actor == actor).map(|(d, _)| d.clone()).collect();
        for device in devices {
            if let Some(opened) = ports.remove(&device) {
                self.host.log(Level::Info, &format!("actor={actor}: port `{}` closed", opened.name));
                self.close_opened(opened);
            }
        }
    }
}

impl Provider for SerialProvider {
    const CAPABILITY_ID: &'static str = contract::CAPABILITY_ID;
    const NAME: &'static str = "serial ports (termios)";

    fn settings() -> Vec<Setting> {
        vec![
            Setting::text("DEVICE_DIR", SettingScope::Provider, Some("/dev"), "where ports are found by name"),
            Setting::integer("FRAME_QUEUE", SettingScope::Provider, 1, Some(65_536), "256", "frames queued per port before the oldest are dropped"),
            Setting::text(
                "SIM_GPS",
                SettingScope::Provider,
                Some(""),
                "a simulated NMEA GPS on a pseudo-terminal, opened by its name: `gps0 lat=52.5163 lon=13.3777 alt=34 every=1s`",
            ),
            Setting::text(
                "OPEN",
                SettingScope::Link,
                Some(""),
                "ports opened for the actor when it is linked: `ttyS0 baud=9600 frame=line; ttyUSB0 baud=115200 parity=even`",
            ),
            // Enforces grants: see `Setting::enforced_grant`.
            Setting::enforced_grant(),
        ]
    }

    fn start(host: Host, settings: Settings) -> Result<SerialProvider, ProviderError> {
        let dir = PathBuf::from(settings.get("DEVICE_DIR").map(String::as_str).filter(|d| !d.is_empty()).unwrap_or("/dev"));
        let queue_capacity = settings.get("FRAME_QUEUE").and_then(|n| n.parse().ok()).unwrap_or(256);
        let spec = nmea::parse(settings.get("SIM_GPS").map_or("", String::as_str))
            .map_err(|e| ProviderError::bad_request(format!("SIM_GPS: {e}")))?;
        let gps = match spec {
            Some(spec) => {
                let gps = gps::Gps::start(spec).map_err(|e| ProviderError::new(format!("SIM_GPS: {e}")))?;
                host.log(Level::Info, &format!("simulated GPS `{}` on {}", gps.name, gps.device.display()));
                Some(gps)
            }
            None => None,
        };
        host.log(Level::Info, &format!("serial ports under {}", dir.display()));
        Ok(SerialProvider {
            host,
            dir,
            queue_capacity,
            grants: Bindings::default(),
            ports: Mutex::default(),
            ended: Mutex::default(),
            gps: Mutex::new(gps),
        })
    }

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let grant = read_grant(&config.values)?;
        let opens = link::parse(config.values.get("OPEN").map_or("", String::as_str)).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        let actor = config.module;
        // An update (a replaced actor) starts from nothing: the old
        // version's ports close; the new one opens its own.
        self.close_all(&actor);
        self.grants.bind(&actor, (), grant, || Ok(()))?;
        for open in opens {
            if let Err(e) = self.open(&actor, open) {
                self.close_all(&actor);
                self.grants.remove(&actor);
                return Err(ProviderError::of(e.kind(), format!("OPEN: {}", e.message())));
            }
        }
        Ok(())
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        self.close_all(&config.module);
        self.grants.remove(&config.module);
        Ok(())
    }

    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        use provider_sdk::codec::deserialize;
        match operation {
            contract::OP_OPEN => self.open(actor, deserialize(payload)?),
            contract::OP_WRITE => self.write(actor, deserialize(payload)?),
            contract::OP_READ => self.read(actor, deserialize(payload)?),
            contract::OP_CLOSE => self.close(actor, &deserialize::<PortRequest>(payload)?.port),
            other => Err(ProviderError::bad_request(format!(
                "iot:serial has no operation `{other}`; it has Open, Write, Read and Close"
            ))),
        }
    }

    fn stop(&self) {
        let actors: Vec<String> = lock(&self.ports).values().map(|o| o.actor.clone()).collect();
        for actor in actors {
            self.close_all(&actor);
        }
        self.grants.clear();
        // Each delivery ends after the frame in hand, whose handler may call
        // back in: nothing is locked while they are joined.
        let ended = std::mem::take(&mut *lock(&self.ended));
        for thread in ended {
            let _ = thread.join();
        }
        drop(lock(&self.gps).take());
    }
}

export_provider!(SerialProvider);
