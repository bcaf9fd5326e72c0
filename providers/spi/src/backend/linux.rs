//! Linux's SPI character devices (`/dev/spidevB.C`, from the `spidev`
//! module; on a Pi, `dtparam=spi=on`), one `SPI_IOC_MESSAGE` ioctl per
//! transaction through the embedded working group's `spidev` crate: the
//! kernel keeps the chip select asserted across the transfers of one
//! message, and no other message on the bus comes between them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use provider_sdk::codec::spi::{Fault, FaultKind};
use spidev::{SpiModeFlags, Spidev, SpidevOptions, SpidevTransfer};

use super::{Backend, BusError, Clocking, Outcome, Step};
use crate::device;

/// An open device, with the clocking it was last set to.
type Opened = Arc<Mutex<(Spidev, Option<Clocking>)>>;

/// The devices under a device folder (`/dev`).
pub(crate) struct Linux {
    dir: PathBuf,
    /// Each device, by bus and chip select, opened on first use and kept
    /// open.
    open: Mutex<BTreeMap<(u8, u8), Opened>>,
}

impl Linux {
    /// The devices `dir/spidevB.C`.
    pub(crate) fn new(dir: PathBuf) -> Linux {
        Linux { dir, open: Mutex::default() }
    }

    fn device(&self, bus: u8, cs: u8) -> Result<Opened, BusError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = open.get(&(bus, cs)) {
            return Ok(Arc::clone(handle));
        }
        let path = self.dir.join(format!("spidev{bus}.{cs}"));
        let spidev = Spidev::open(&path)
            .map_err(|e| BusError::Unusable { device: device::describe(bus, cs), why: format!("{}: {e}", path.display()) })?;
        let handle = Arc::new(Mutex::new((spidev, None)));
        open.insert((bus, cs), Arc::clone(&handle));
        Ok(handle)
    }
}

fn fault(kind: FaultKind, error: std::io::Error) -> Fault {
    Fault { kind, message: error.to_string() }
}

impl Backend for Linux {
    fn transaction(&self, bus: u8, cs: u8, clocking: Clocking, steps: &mut [Step<'_>]) -> Outcome {
        let handle = self.device(bus, cs)?;
        let mut handle = handle.lock().unwrap_or_else(|e| e.into_inner());
        let (spidev, configured) = &mut *handle;
        if *configured != Some(clocking) {
            let mode = match clocking.mode {
                0 => SpiModeFlags::SPI_MODE_0,
                1 => SpiModeFlags::SPI_MODE_1,
                2 => SpiModeFlags::SPI_MODE_2,
                _ => SpiModeFlags::SPI_MODE_3,
            };
            let options =
                SpidevOptions::new().bits_per_word(clocking.bits_per_word).max_speed_hz(clocking.speed_hz).mode(mode).build();
            if let Err(e) = spidev.configure(&options) {
                return Ok(Err(fault(FaultKind::FrameFormat, e)));
            }
            *configured = Some(clocking);
        }
        let mut transfers: Vec<SpidevTransfer<'_, '_>> = steps
            .iter_mut()
            .map(|step| match step {
                Step::Write(bytes) => SpidevTransfer::write(bytes),
                Step::Read(buffer) => SpidevTransfer::read(buffer),
                Step::Transfer(buffer) => SpidevTransfer::read_write_in_place(buffer),
                // Whole microseconds, rounded up: the ioctl counts in them.
                Step::Delay(ns) => SpidevTransfer::delay(ns.div_ceil(1000).min(u32::from(u16::MAX)) as u16),
            })
            .collect();
        Ok(spidev.transfer_multiple(&mut transfers).map_err(|e| fault(FaultKind::Other, e)))
    }

    fn describe(&self) -> String {
        format!("{}/spidev*.*", self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_without_a_device_file_is_unusable_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("host-edge-spi-none-{}", std::process::id()));
        let linux = Linux::new(dir.clone());
        let clocking = Clocking { mode: 0, speed_hz: 1_000_000, bits_per_word: 8 };
        let err = linux.transaction(0, 1, clocking, &mut [Step::Write(&[1])]).unwrap_err().to_string();
        assert!(err.starts_with(&format!("chip select 1 of SPI bus 0 cannot be used: {}/spidev0.1: No such file", dir.display())), "{err}");
    }
}
