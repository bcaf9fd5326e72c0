//! Linux's I2C character devices (`/dev/i2c-N`, from the `i2c-dev`
//! module), one `I2C_RDWR` ioctl per transaction through the embedded
//! working group's `i2cdev` crate. The kernel holds the adapter's lock for
//! the whole ioctl, so a transaction is atomic against every other user of
//! the bus, in this host or not.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use i2cdev::core::{I2CMessage, I2CTransfer};
use i2cdev::linux::{LinuxI2CBus, LinuxI2CError, LinuxI2CMessage};
use provider_sdk::codec::i2c::{Fault, FaultKind};

use super::{Backend, BusError, Outcome, Step};

/// The buses under a device folder (`/dev`).
pub(crate) struct Linux {
    dir: PathBuf,
    /// Each bus, opened on first use and kept open.
    open: Mutex<BTreeMap<u8, Arc<Mutex<LinuxI2CBus>>>>,
}

impl Linux {
    /// The buses `dir/i2c-N`.
    pub(crate) fn new(dir: PathBuf) -> Linux {
        Linux { dir, open: Mutex::default() }
    }

    fn bus(&self, bus: u8) -> Result<Arc<Mutex<LinuxI2CBus>>, BusError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = open.get(&bus) {
            return Ok(Arc::clone(handle));
        }
        let path = self.dir.join(format!("i2c-{bus}"));
        let handle = LinuxI2CBus::new(&path).map_err(|e| BusError::Unusable {
            bus,
            why: format!("{}: {}", path.display(), std::io::Error::from(e)),
        })?;
        let handle = Arc::new(Mutex::new(handle));
        open.insert(bus, Arc::clone(&handle));
        Ok(handle)
    }
}

/// The embedded-hal kind of a failed `I2C_RDWR`, from its errno, as the
/// kernel's I2C drivers report them (Documentation/i2c/fault-codes.rst).
fn fault(error: LinuxI2CError) -> Fault {
    let error = std::io::Error::from(error);
    let kind = match error.raw_os_error() {
        // No ACK: ENXIO for the address (most controllers), EREMOTEIO when
        // the driver cannot tell which byte.
        Some(6) => FaultKind::NoAcknowledgeAddress,
        Some(121) => FaultKind::NoAcknowledge,
        Some(11) => FaultKind::ArbitrationLoss,
        Some(110) => FaultKind::Timeout,
        Some(71) | Some(5) => FaultKind::Bus,
        _ => FaultKind::Other,
    };
    Fault { kind, message: error.to_string() }
}

impl Backend for Linux {
    fn transaction(&self, bus: u8, address: u8, steps: &mut [Step<'_>]) -> Outcome {
        let handle = self.bus(bus)?;
        let mut messages: Vec<LinuxI2CMessage<'_>> = steps
            .iter_mut()
            .map(|step| match step {
                Step::Write(bytes) => LinuxI2CMessage::write(bytes),
                Step::Read(buffer) => LinuxI2CMessage::read(buffer),
            })
            .map(|message| message.with_address(u16::from(address)))
            .collect();
        let mut handle = handle.lock().unwrap_or_else(|e| e.into_inner());
        let asked = messages.len();
        Ok(match handle.transfer(&mut messages) {
            Ok(done) if done as usize == asked => Ok(()),
            // The kernel stopped short: the buffers of the messages it did
            // not run hold zeros, not data.
            Ok(done) => Err(Fault { kind: FaultKind::Other, message: format!("the controller ran {done} of {asked} messages") }),
            Err(e) => Err(fault(e)),
        })
    }

    fn describe(&self) -> String {
        format!("{}/i2c-*", self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bus_without_a_device_file_is_unusable_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("host-edge-i2c-none-{}", std::process::id()));
        let linux = Linux::new(dir.clone());
        let mut steps = [Step::Write(&[0xD0])];
        let err = linux.transaction(7, 0x76, &mut steps).unwrap_err().to_string();
        assert!(err.starts_with(&format!("I2C bus 7 cannot be used: {}/i2c-7: No such file", dir.display())), "{err}");
    }

    #[test]
    fn the_kernels_fault_codes_become_embedded_hal_kinds() {
        assert_eq!(fault(LinuxI2CError::Errno(6)).kind, FaultKind::NoAcknowledgeAddress);
        assert_eq!(fault(LinuxI2CError::Errno(121)).kind, FaultKind::NoAcknowledge);
        assert_eq!(fault(LinuxI2CError::Errno(110)).kind, FaultKind::Timeout);
        assert_eq!(fault(LinuxI2CError::Errno(11)).kind, FaultKind::ArbitrationLoss);
        let other = fault(LinuxI2CError::Errno(22));
        assert_eq!(other.kind, FaultKind::Other);
        assert!(other.message.contains("Invalid argument"), "{}", other.message);
    }
}
