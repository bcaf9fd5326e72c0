//! A simulated Winbond W25Q80 (8 Mbit, 1 MiB SPI NOR flash), answering as
//! its datasheet's standard SPI commands do: the JEDEC id (`0x9F`: `EF 50
//! 14`, as QEMU's `w25q80` model answers, so one actor reads the same id
//! from this part and from the emulated Raspberry Pi's), read (`0x03` and a
//! 24-bit address, wrapping at the end), status (`0x05`: write in progress
//! never, write enable latch), write enable and disable (`0x06`, `0x04`),
//! page program (`0x02`: bits go from 1 to 0 only, wrapping within the
//! 256-byte page) and 4 KiB sector erase (`0x20`). Every command starts
//! when the chip select falls; program and erase need write enable first
//! and clear it, as on the part. Erased bytes read `0xFF`; only programmed
//! bytes are kept, so the part costs what is written to it.

use std::collections::BTreeMap;

use provider_sdk::codec::spi::{Fault, FaultKind};

use super::Device;
use crate::backend::Clocking;

/// The part's size in bytes.
const SIZE: u32 = 1 << 20;
/// Its JEDEC id: manufacturer (Winbond), memory type, capacity (2^20).
const JEDEC_ID: [u8; 3] = [0xEF, 0x50, 0x14];
/// The fastest clock for the plain read command (the datasheet's fR).
const MAX_SPEED_HZ: u32 = 50_000_000;

/// Where the part is in the command since the chip select fell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the command byte.
    Command,
    /// Clocking in the address of `command`: `count` bytes so far.
    Address { command: u8, count: u8, address: u32 },
    /// Answering: the JEDEC id from this byte on.
    Id(usize),
    /// Reading from this address on.
    Read(u32),
    /// The status register, repeated.
    Status,
    /// Programming the page of `address`, from `address` on.
    Program(u32),
    /// Ignoring the rest (an unknown or refused command).
    Ignore,
}

/// The part.
#[derive(Debug, Clone)]
pub(crate) struct W25q80 {
    /// Programmed bytes; the rest read as erased.
    written: BTreeMap<u32, u8>,
    write_enabled: bool,
    phase: Phase,
}

impl W25q80 {
    /// An erased part.
    pub(crate) fn new() -> W25q80 {
        W25q80 { written: BTreeMap::new(), write_enabled: false, phase: Phase::Command }
    }

    fn byte(&self, address: u32) -> u8 {
        self.written.get(&(address % SIZE)).copied().unwrap_or(0xFF)
    }

    /// A command byte: what follows it.
    fn command(&mut self, command: u8) -> Phase {
        match command {
            0x9F => Phase::Id(0),
            0x05 => Phase::Status,
            0x06 => {
                self.write_enabled = true;
                Phase::Ignore
            }
            0x04 => {
                self.write_enabled = false;
                Phase::Ignore
            }
            0x03 | 0x02 | 0x20 => Phase::Address { command, count: 0, address: 0 },
            _ => Phase::Ignore,
        }
    }

    /// The third address byte arrived: run or start `command` at `address`.
    fn addressed(&mut self, command: u8, address: u32) -> Phase {
        let address = address % SIZE;
        match command {
            0x03 => Phase::Read(address),
            0x02 if self.write_enabled => {
                self.write_enabled = false;
                Phase::Program(address)
            }
            0x20 if self.write_enabled => {
                self.write_enabled = false;
                let sector = address & !0xFFF;
                self.written.retain(|a, _| *a < sector || *a >= sector + 0x1000);
                Phase::Ignore
            }
            _ => Phase::Ignore,
        }
    }
}

impl Device for W25q80 {
    fn check(&self, clocking: Clocking) -> Result<(), Fault> {
        if !matches!(clocking.mode, 0 | 3) {
            return Err(Fault { kind: FaultKind::FrameFormat, message: format!("the W25Q80 takes SPI modes 0 and 3, not {}", clocking.mode) });
        }
        if clocking.speed_hz > MAX_SPEED_HZ {
            let message = format!("the W25Q80 reads at up to {MAX_SPEED_HZ} Hz, not {}", clocking.speed_hz);
            return Err(Fault { kind: FaultKind::FrameFormat, message });
        }
        Ok(())
    }

    fn select(&mut self) {
        self.phase = Phase::Command;
    }

    fn exchange(&mut self, mosi: u8) -> u8 {
        let (out, next) = match self.phase {
            Phase::Command => (0, self.command(mosi)),
            Phase::Address { command, count, address } => {
                let address = address << 8 | u32::from(mosi);
                let next = if count == 2 { self.addressed(command, address) } else { Phase::Address { command, count: count + 1, address } };
                (0, next)
            }
            Phase::Id(index) => (JEDEC_ID.get(index).copied().unwrap_or(0), Phase::Id(index + 1)),
            Phase::Read(address) => (self.byte(address), Phase::Read((address + 1) % SIZE)),
            Phase::Status => (u8::from(self.write_enabled) << 1, Phase::Status),
            Phase::Program(address) => {
                let programmed = self.byte(address) & mosi;
                self.written.insert(address, programmed);
                (0, Phase::Program((address & !0xFF) | ((address + 1) & 0xFF)))
            }
            Phase::Ignore => (0, Phase::Ignore),
        };
        self.phase = next;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One command with the chip select held: every byte out, every byte in.
    fn command(part: &mut W25q80, bytes: &[u8]) -> Vec<u8> {
        part.select();
        bytes.iter().map(|b| part.exchange(*b)).collect()
    }

    #[test]
    fn the_jedec_id_is_winbonds_and_a_mebibyte() {
        let mut part = W25q80::new();
        assert_eq!(command(&mut part, &[0x9F, 0, 0, 0, 0]), [0, 0xEF, 0x50, 0x14, 0]);
    }

    #[test]
    fn a_program_needs_write_enable_clears_bits_only_and_wraps_in_its_page() {
        let mut part = W25q80::new();
        command(&mut part, &[0x02, 0x00, 0x01, 0x00, 0x12]);
        assert_eq!(command(&mut part, &[0x03, 0x00, 0x01, 0x00, 0])[4], 0xFF, "no write enable: nothing written");
        command(&mut part, &[0x06]);
        assert_eq!(command(&mut part, &[0x05, 0])[1], 0x02, "the write enable latch");
        command(&mut part, &[0x02, 0x00, 0x01, 0xFF, 0xF0, 0x0F]);
        assert_eq!(command(&mut part, &[0x05, 0])[1], 0x00, "a program clears the latch");
        assert_eq!(command(&mut part, &[0x03, 0x00, 0x01, 0xFF, 0])[4], 0xF0);
        assert_eq!(command(&mut part, &[0x03, 0x00, 0x01, 0x00, 0])[4], 0x0F, "the second byte wrapped to the page's start");
        command(&mut part, &[0x06]);
        command(&mut part, &[0x02, 0x00, 0x01, 0xFF, 0x0F]);
        assert_eq!(command(&mut part, &[0x03, 0x00, 0x01, 0xFF, 0])[4], 0x00, "bits only go from 1 to 0");
    }

    #[test]
    fn a_sector_erase_sets_its_four_kibibytes_back_to_ff_and_no_more() {
        let mut part = W25q80::new();
        for address in [0x0FFFu32, 0x1000, 0x1FFF, 0x2000] {
            command(&mut part, &[0x06]);
            let [_, a, b, c] = address.to_be_bytes();
            command(&mut part, &[0x02, a, b, c, 0x00]);
        }
        command(&mut part, &[0x06]);
        command(&mut part, &[0x20, 0x00, 0x15, 0x55]);
        let read = |part: &mut W25q80, address: u32| {
            let [_, a, b, c] = address.to_be_bytes();
            command(part, &[0x03, a, b, c, 0])[4]
        };
        assert_eq!([read(&mut part, 0x0FFF), read(&mut part, 0x1000), read(&mut part, 0x1FFF), read(&mut part, 0x2000)], [0, 0xFF, 0xFF, 0]);
    }
}
