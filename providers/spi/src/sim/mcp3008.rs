//! A simulated Microchip MCP3008 (8-channel 10-bit ADC), bit for bit as the
//! datasheet (DS21295) describes its serial interface: after the chip
//! select falls, the first 1 on DIN is the start bit; the next four bits
//! choose single-ended or differential input and the channel; one clock
//! samples; then DOUT gives a null bit and the ten result bits, most
//! significant first. So a driver framing it in three bytes (`0x01`,
//! `SGL|D2 D1 D0 << 4`, `0x00`) reads `?????0 B9 B8` and `B7..B0`, and any
//! other framing a driver uses works too.

use provider_sdk::codec::spi::{Fault, FaultKind};

use super::Device;
use crate::backend::Clocking;

/// The fastest clock the part takes (at 5 V; 1.35 MHz at 2.7 V).
const MAX_SPEED_HZ: u32 = 3_600_000;

/// Where the part is in its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Waiting for the start bit.
    Idle,
    /// Reading the four configuration bits.
    Config { bits: u8, value: u8 },
    /// Sending the sample clock, the null bit and the result, last bit
    /// first (popped from the end).
    Output(Vec<bool>),
}

/// The part.
#[derive(Debug, Clone)]
pub(crate) struct Mcp3008 {
    /// The reference voltage.
    vref: f64,
    /// Each input's voltage.
    inputs: [f64; 8],
    phase: Phase,
}

impl Mcp3008 {
    /// A part with reference `vref` and inputs at `inputs` volts.
    pub(crate) fn new(vref: f64, inputs: [f64; 8]) -> Mcp3008 {
        Mcp3008 { vref, inputs, phase: Phase::Idle }
    }

    /// The 10-bit result for the configuration bits `SGL D2 D1 D0`.
    fn convert(&self, config: u8) -> u16 {
        let channel = usize::from(config & 0x07);
        let volts = if config & 0x08 != 0 {
            self.inputs[channel]
        } else {
            // Differential: pairs (0,1), (2,3), ...; D0 says which is IN+.
            let pair = channel & !1;
            let (plus, minus) = if channel & 1 == 0 { (pair, pair + 1) } else { (pair + 1, pair) };
            self.inputs[plus] - self.inputs[minus]
        };
        (volts / self.vref * 1024.0).floor().clamp(0.0, 1023.0) as u16
    }

    /// One clock: `din` in, the DOUT bit out.
    fn clock(&mut self, din: bool) -> bool {
        match &mut self.phase {
            Phase::Idle => {
                if din {
                    self.phase = Phase::Config { bits: 0, value: 0 };
                }
                false
            }
            Phase::Config { bits, value } => {
                let (bits, value) = (*bits + 1, (*value << 1) | u8::from(din));
                self.phase = Phase::Config { bits, value };
                if bits == 4 {
                    let code = self.convert(value);
                    // Sample clock, null bit, B9..B0: stored reversed.
                    let mut out: Vec<bool> = (0..10).map(|bit| code >> bit & 1 == 1).collect();
                    out.extend([false, false]);
                    self.phase = Phase::Output(out);
                }
                false
            }
            Phase::Output(out) => out.pop().unwrap_or(false),
        }
    }
}

impl Device for Mcp3008 {
    fn check(&self, clocking: Clocking) -> Result<(), Fault> {
        if !matches!(clocking.mode, 0 | 3) {
            let message = format!("the MCP3008 speaks SPI modes 0 and 3, not {}", clocking.mode);
            return Err(Fault { kind: FaultKind::FrameFormat, message });
        }
        if clocking.speed_hz > MAX_SPEED_HZ {
            let message = format!("the MCP3008 clocks at most {MAX_SPEED_HZ} Hz, not {}", clocking.speed_hz);
            return Err(Fault { kind: FaultKind::FrameFormat, message });
        }
        Ok(())
    }

    fn select(&mut self) {
        self.phase = Phase::Idle;
    }

    fn exchange(&mut self, mosi: u8) -> u8 {
        (0..8).rev().fold(0u8, |miso, bit| miso | u8::from(self.clock(mosi >> bit & 1 == 1)) << bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(part: &mut Mcp3008, frame: &[u8]) -> Vec<u8> {
        part.select();
        frame.iter().map(|&byte| part.exchange(byte)).collect()
    }

    #[test]
    fn the_three_byte_frame_reads_a_single_ended_channel() {
        let mut part = Mcp3008::new(3.3, [1.65, 3.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let reply = read(&mut part, &[0x01, 0x80, 0x00]);
        assert_eq!(u16::from(reply[1] & 0x03) << 8 | u16::from(reply[2]), 512);
        assert_eq!(reply[1] & 0x04, 0, "the null bit");
        let reply = read(&mut part, &[0x01, 0x90, 0x00]);
        assert_eq!(u16::from(reply[1] & 0x03) << 8 | u16::from(reply[2]), 1023, "full scale is 1023");
    }

    #[test]
    fn a_differential_read_subtracts_its_pair_and_stops_at_zero() {
        let mut part = Mcp3008::new(3.3, [2.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let reply = read(&mut part, &[0x01, 0x00, 0x00]); // CH0+ CH1-
        assert_eq!(u16::from(reply[1] & 0x03) << 8 | u16::from(reply[2]), 310);
        let reply = read(&mut part, &[0x01, 0x10, 0x00]); // CH0- CH1+
        assert_eq!(u16::from(reply[1] & 0x03) << 8 | u16::from(reply[2]), 0);
    }

    #[test]
    fn another_framing_with_the_start_bit_later_reads_the_same() {
        // Start bit as the last bit of byte 0 is one framing; as the first
        // bit of a 5-bit aligned frame another: 0b0000_0001 1000_0000 vs
        // 0b0000_0000 0001_1000 0000_0000 0000_0000.
        let mut part = Mcp3008::new(3.3, [1.65, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let reply = read(&mut part, &[0x00, 0x18, 0x00, 0x00]);
        let bits = u32::from_be_bytes([reply[0], reply[1], reply[2], reply[3]]);
        assert_eq!(bits >> 4 & 0x3FF, 512, "{bits:032b}");
    }

    #[test]
    fn a_mode_or_clock_the_part_cannot_do_is_a_frame_format_fault() {
        let part = Mcp3008::new(3.3, [0.0; 8]);
        assert_eq!(part.check(Clocking { mode: 1, speed_hz: 1_000_000, bits_per_word: 8 }).unwrap_err().kind, FaultKind::FrameFormat);
        assert!(part.check(Clocking { mode: 3, speed_hz: 3_600_000, bits_per_word: 8 }).is_ok());
        assert!(part.check(Clocking { mode: 0, speed_hz: 10_000_000, bits_per_word: 8 }).unwrap_err().message.contains("at most 3600000 Hz"));
    }

    proptest! {
        #[test]
        fn every_channel_reads_its_voltage_to_one_code(channel in 0u8..8, volts in 0.0f64..3.3) {
            let mut inputs = [0.0; 8];
            inputs[usize::from(channel)] = volts;
            let mut part = Mcp3008::new(3.3, inputs);
            let reply = read(&mut part, &[0x01, 0x80 | channel << 4, 0x00]);
            let code = u16::from(reply[1] & 0x03) << 8 | u16::from(reply[2]);
            prop_assert_eq!(code, (volts / 3.3 * 1024.0).floor() as u16);
        }
    }
}
