//! A simulated 24C02 EEPROM (256 bytes, 8-byte pages), the part QEMU's
//! `at24c-eeprom` models: a write sets the word address and stores what
//! follows within the page, wrapping at its end as the part does; a read
//! continues from the word address, wrapping at the end of the memory.

use provider_sdk::codec::i2c::FaultKind;

use super::Device;

const SIZE: usize = 256;
const PAGE: usize = 8;

/// The part.
#[derive(Debug, Clone)]
pub(crate) struct Eeprom {
    memory: [u8; SIZE],
    pointer: u8,
}

impl Eeprom {
    /// A part as shipped: every byte 0xFF.
    pub(crate) fn new() -> Eeprom {
        Eeprom { memory: [0xFF; SIZE], pointer: 0 }
    }
}

impl Device for Eeprom {
    fn write(&mut self, bytes: &[u8]) -> Result<(), FaultKind> {
        let Some((&address, data)) = bytes.split_first() else { return Ok(()) };
        let page = usize::from(address) / PAGE * PAGE;
        let mut offset = usize::from(address) % PAGE;
        for &byte in data {
            self.memory[page + offset] = byte;
            offset = (offset + 1) % PAGE;
        }
        self.pointer = (page + offset) as u8;
        if data.is_empty() {
            self.pointer = address;
        }
        Ok(())
    }

    fn read(&mut self, buffer: &mut [u8]) {
        for byte in buffer {
            *byte = self.memory[usize::from(self.pointer)];
            self.pointer = self.pointer.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back_from_its_address() {
        let mut part = Eeprom::new();
        part.write(&[0x10, 1, 2, 3]).unwrap();
        part.write(&[0x10]).unwrap();
        let mut buffer = [0u8; 4];
        part.read(&mut buffer);
        assert_eq!(buffer, [1, 2, 3, 0xFF]);
    }

    #[test]
    fn a_write_past_the_end_of_a_page_wraps_to_its_start() {
        let mut part = Eeprom::new();
        part.write(&[0x06, 0xA, 0xB, 0xC]).unwrap();
        part.write(&[0x00]).unwrap();
        let mut buffer = [0u8; 8];
        part.read(&mut buffer);
        assert_eq!(buffer, [0xC, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xA, 0xB]);
    }
}
