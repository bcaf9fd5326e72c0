//! A simulated LM75-compatible thermometer (LM75, TMP102, TMP105: the part
//! QEMU's `tmp105` models): a pointer register chooses the temperature
//! (0), configuration (1), low limit (2) or high limit (3) register; reads
//! continue in the chosen register. The temperature is a signed 16-bit
//! value, 1/256 degree per unit, of which the part resolves 9 bits by
//! default (0.5 degree) and up to 12 (0.0625) as the configuration asks.

use provider_sdk::codec::i2c::FaultKind;

use super::Device;

/// The part.
#[derive(Debug, Clone)]
pub(crate) struct Lm75 {
    /// Degrees Celsius.
    celsius: f64,
    pointer: u8,
    config: u8,
    limits: [u16; 2],
}

impl Lm75 {
    /// A part, after power-on, measuring `celsius`.
    pub(crate) fn new(celsius: f64) -> Lm75 {
        Lm75 { celsius, pointer: 0, config: 0, limits: [75 << 8, 80 << 8] }
    }

    fn register(&self) -> u16 {
        match self.pointer & 0x03 {
            0 => {
                // Resolution bits R1 R0 (config bits 6-5): 9 to 12 bits.
                let bits = 9 + u32::from(self.config >> 5 & 0x03);
                let step = 256.0 / f64::from(1u32 << (bits - 8));
                let raw = (self.celsius * 256.0 / step).floor() * step;
                raw.clamp(-32768.0, 32767.0) as i16 as u16
            }
            1 => u16::from(self.config) << 8,
            limit => self.limits[usize::from(limit - 2)],
        }
    }
}

impl Device for Lm75 {
    fn write(&mut self, bytes: &[u8]) -> Result<(), FaultKind> {
        let Some((&pointer, data)) = bytes.split_first() else { return Ok(()) };
        self.pointer = pointer & 0x03;
        match (self.pointer, data) {
            (1, [config, ..]) => self.config = *config,
            (limit @ 2..=3, [high, low, ..]) => self.limits[usize::from(limit - 2)] = u16::from_be_bytes([*high, *low]),
            _ => {}
        }
        Ok(())
    }

    fn read(&mut self, buffer: &mut [u8]) {
        let value = self.register().to_be_bytes();
        for (i, byte) in buffer.iter_mut().enumerate() {
            *byte = value[i % 2];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temperature(part: &mut Lm75) -> i16 {
        part.write(&[0x00]).unwrap();
        let mut bytes = [0u8; 2];
        part.read(&mut bytes);
        i16::from_be_bytes(bytes)
    }

    #[test]
    fn the_temperature_register_holds_the_reading_at_the_configured_resolution() {
        let mut part = Lm75::new(25.5);
        assert_eq!(temperature(&mut part), 0x1980);
        let mut part = Lm75::new(-12.345);
        assert_eq!(f64::from(temperature(&mut part)) / 256.0, -12.5, "9 bits: half degrees");
        part.write(&[0x01, 0x60]).unwrap(); // 12 bits
        assert_eq!(f64::from(temperature(&mut part)) / 256.0, -12.375);
    }
}
