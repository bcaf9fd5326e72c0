//! An open port: the device with its line settings (through the
//! serialport crate, termios on Linux), and, when it was opened with a
//! framing, the thread that reads it and cuts what it receives into frames
//! for the actor's queue.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use provider_sdk::codec::serial::{FlowControl, Frame, Framing, OpenRequest, Parity, MAX_FRAME_BYTES};
use provider_sdk::{Host, Level};
use serialport::{SerialPort, TTYPort};

use crate::framer::Framer;
use crate::queue::{self, Queue};

/// How long a read waits before the reader looks whether it should stop.
const POLL: Duration = Duration::from_millis(100);

/// Why a port cannot be opened with the settings asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PortError {
    /// Settings the line cannot have.
    #[error("{0}")]
    Settings(String),
    /// The device refused to open or be configured.
    #[error("cannot open {device}: {why}")]
    Open {
        /// The device.
        device: String,
        /// Why.
        why: String,
    },
}

/// The port's reader and the delivery of its frames.
pub(crate) struct Reader {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
    queue: Arc<Queue>,
    delivery: JoinHandle<()>,
}

impl Reader {
    /// Stops reading (within [`POLL`]) and delivering; returns the delivery
    /// thread, which may be in a call of the actor's and is joined later.
    pub(crate) fn stop(self) -> JoinHandle<()> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.queue.close();
        self.delivery
    }
}

/// Opens `device` as `request` asks.
pub(crate) fn open(device: &Path, request: &OpenRequest) -> Result<TTYPort, PortError> {
    let data_bits = match request.data_bits {
        5 => serialport::DataBits::Five,
        6 => serialport::DataBits::Six,
        7 => serialport::DataBits::Seven,
        8 => serialport::DataBits::Eight,
        other => return Err(PortError::Settings(format!("a line has 5 to 8 data bits, not {other}"))),
    };
    let stop_bits = match request.stop_bits {
        1 => serialport::StopBits::One,
        2 => serialport::StopBits::Two,
        other => return Err(PortError::Settings(format!("a line has 1 or 2 stop bits, not {other}"))),
    };
    if request.baud_rate == 0 {
        return Err(PortError::Settings("a line needs a baud rate above 0".into()));
    }
    let parity = match request.parity {
        Parity::None => serialport::Parity::None,
        Parity::Even => serialport::Parity::Even,
        Parity::Odd => serialport::Parity::Odd,
    };
    let flow = match request.flow_control {
        FlowControl::None => serialport::FlowControl::None,
        FlowControl::Software => serialport::FlowControl::Software,
        FlowControl::Hardware => serialport::FlowControl::Hardware,
    };
    serialport::new(device.to_string_lossy(), request.baud_rate)
        .data_bits(data_bits)
        .stop_bits(stop_bits)
        .parity(parity)
        .flow_control(flow)
        .timeout(POLL)
        .open_native()
        .map_err(|e| PortError::Open { device: device.display().to_string(), why: e.to_string() })
}

/// Starts reading `port` for `actor`, cutting frames as `framing` says
/// into a queue of `capacity` frames delivered as `name`'s.
pub(crate) fn read(host: &Host, actor: &str, name: &str, port: &Arc<Mutex<TTYPort>>, framing: Framing, capacity: usize) -> std::io::Result<Reader> {
    let mut reading = port.lock().unwrap_or_else(|e| e.into_inner()).try_clone_native().map_err(std::io::Error::other)?;
    let queue = Arc::new(Queue::new(capacity));
    let delivery = queue::deliver(host.clone(), actor.to_owned(), Arc::clone(&queue))?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (stop, queue, host, actor, name) = (Arc::clone(&stop), Arc::clone(&queue), host.clone(), actor.to_owned(), name.to_owned());
        std::thread::Builder::new().name("serial-read".into()).spawn(move || {
            let mut framer = Framer::new(framing, MAX_FRAME_BYTES);
            let (mut buffer, mut sequence, mut failing) = (vec![0u8; 1024], 0u64, false);
            while !stop.load(Ordering::Relaxed) {
                match reading.read(&mut buffer) {
                    Ok(n) => {
                        failing = false;
                        for cut in framer.push(&buffer[..n]) {
                            sequence += 1;
                            queue.push(Frame { port: name.clone(), data: cut.data, sequence, dropped: 0, cut: cut.cut });
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(e) => {
                        // A device that went away (unplugged, the other end
                        // of a pty closed) fails every read: say so once,
                        // and do not spin.
                        if !std::mem::replace(&mut failing, true) {
                            host.log(Level::Warn, &format!("actor={actor}: reading {name} failed (said once until a read works): {e}"));
                        }
                        std::thread::sleep(POLL);
                    }
                }
            }
        })?
    };
    Ok(Reader { stop, thread, queue, delivery })
}

/// Reads what `port` received within `timeout`, at most `max` bytes: empty
/// when nothing came.
pub(crate) fn read_once(port: &mut TTYPort, max: usize, timeout: Duration) -> std::io::Result<Vec<u8>> {
    port.set_timeout(timeout).map_err(std::io::Error::other)?;
    let mut buffer = vec![0u8; max];
    let read = match port.read(&mut buffer) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => 0,
        Err(e) => return Err(e),
    };
    port.set_timeout(POLL).map_err(std::io::Error::other)?;
    buffer.truncate(read);
    Ok(buffer)
}
