//! The simulated GPS: a module that speaks NMEA 0183 on a pseudo-terminal,
//! for development, demos and tests without a GPS on the bench.
//!
//! The provider setting `SIM_GPS` names it and its fix (`gps0 lat=52.5163
//! lon=13.3777 alt=34 every=1s`). The provider opens a pseudo-terminal pair
//! and the name means its slave device, so an actor opens `gps0` as it
//! opens `ttyS0` (grant `port:gps0`): the same checks, real termios, one
//! holder. What the module says and answers is [`crate::nmea`]'s; this is
//! its I/O. What nobody reads is lost after the terminal's buffer fills, as
//! on a UART.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serialport::{SerialPort, TTYPort};

use crate::nmea::{answer, fix, GpsSpec};

/// Why the simulated GPS cannot start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GpsError {
    /// No pseudo-terminal could be opened or set up.
    #[error("cannot open a pseudo-terminal: {0}")]
    Terminal(serialport::Error),
    /// Its slave's name could not be read.
    #[error("cannot find the pseudo-terminal's name: {0}")]
    Name(std::io::Error),
    /// Its thread could not start.
    #[error("cannot start the module's thread: {0}")]
    Thread(std::io::Error),
}

/// A running simulated GPS.
pub(crate) struct Gps {
    /// The port name actors open it by.
    pub(crate) name: String,
    /// The slave device actors open.
    pub(crate) device: PathBuf,
    /// Kept open, so the module's side never reads end-of-file while no
    /// actor holds the port.
    _slave: TTYPort,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Gps {
    /// Opens the pseudo-terminal and starts the module.
    pub(crate) fn start(spec: GpsSpec) -> Result<Gps, GpsError> {
        let (mut module, slave) = TTYPort::pair().map_err(GpsError::Terminal)?;
        let device = std::fs::read_link(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&slave)))
            .map_err(GpsError::Name)?;
        module.set_timeout(Duration::from_millis(50)).map_err(GpsError::Terminal)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let name = spec.name.clone();
        let thread = std::thread::Builder::new()
            .name(format!("sim-gps-{}", spec.name))
            .spawn(move || run(&spec, &mut module, &stopping))
            .map_err(GpsError::Thread)?;
        Ok(Gps { name, device, _slave: slave, stop, thread: Some(thread) })
    }
}

impl Drop for Gps {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The module: a fix each `every`, an answer to each command line.
fn run(spec: &GpsSpec, module: &mut TTYPort, stop: &AtomicBool) {
    let mut heard = Vec::new();
    let mut next = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if std::time::Instant::now() >= next {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            // A full buffer times the write out: the fix is lost, as on a
            // UART nobody reads.
            let _ = module.write_all(fix(spec, now).as_bytes());
            next += spec.every;
        }
        let mut buffer = [0u8; 256];
        if let Ok(n) = module.read(&mut buffer) {
            heard.extend_from_slice(&buffer[..n]);
            while let Some(end) = heard.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = heard.drain(..=end).collect();
                if let Some(reply) = answer(&String::from_utf8_lossy(&line)) {
                    let _ = module.write_all(reply.as_bytes());
                }
            }
            // A line is at most 82 bytes in NMEA: a longer one is noise.
            if heard.len() > 256 {
                heard.clear();
            }
        }
    }
}

