//! A simulated Bosch BME280 (temperature, pressure, humidity), register
//! for register as the datasheet (BST-BME280-DS002) describes the part:
//! the chip id, the factory calibration words, soft reset, the control
//! registers and forced and normal mode. A conversion produces the raw ADC
//! values from which the datasheet's compensation formulas give back the
//! readings a test set, so an unmodified driver computes those readings
//! with its own arithmetic.

use provider_sdk::codec::i2c::FaultKind;

use super::Device;

const CHIP_ID: u8 = 0x60;
const REG_CHIP_ID: u8 = 0xD0;
const REG_RESET: u8 = 0xE0;
const RESET_WORD: u8 = 0xB6;
const REG_CTRL_HUM: u8 = 0xF2;
const REG_STATUS: u8 = 0xF3;
const REG_CTRL_MEAS: u8 = 0xF4;
const REG_CONFIG: u8 = 0xF5;
const REG_DATA: u8 = 0xF7;

/// What the simulated part measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Readings {
    /// Degrees Celsius, -40 to 85.
    pub(crate) temperature: f64,
    /// Hectopascals, 300 to 1100.
    pub(crate) pressure: f64,
    /// Relative humidity in percent, 0 to 100.
    pub(crate) humidity: f64,
}

impl Default for Readings {
    fn default() -> Readings {
        Readings { temperature: 21.0, pressure: 1013.25, humidity: 45.0 }
    }
}

/// The calibration words of one real part (typical values).
#[derive(Debug, Clone, Copy)]
struct Calibration {
    t: (u16, i16, i16),
    p: [i32; 9],
    h1: u8,
    h2: i16,
    h3: u8,
    h4: i16,
    h5: i16,
    h6: i8,
}

const CALIBRATION: Calibration = Calibration {
    t: (27504, 26435, -1000),
    p: [36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000],
    h1: 75,
    h2: 362,
    h3: 0,
    h4: 313,
    h5: 50,
    h6: 30,
};

/// The part.
#[derive(Debug, Clone)]
pub(crate) struct Bme280 {
    readings: Readings,
    pointer: u8,
    ctrl_hum: u8,
    /// `ctrl_hum` as of the last write of `ctrl_meas`, which is when the
    /// part takes it (datasheet 5.4.3).
    humidity_oversampling: u8,
    ctrl_meas: u8,
    config: u8,
    /// The data registers 0xF7-0xFE.
    data: [u8; 8],
}

impl Bme280 {
    /// A part, after power-on, that will measure `readings`.
    pub(crate) fn new(readings: Readings) -> Bme280 {
        let mut part =
            Bme280 { readings, pointer: 0, ctrl_hum: 0, humidity_oversampling: 0, ctrl_meas: 0, config: 0, data: [0; 8] };
        part.reset();
        part
    }

    fn reset(&mut self) {
        self.ctrl_hum = 0;
        self.humidity_oversampling = 0;
        self.ctrl_meas = 0;
        self.config = 0;
        // The data registers' reset values: a skipped measurement.
        self.data = [0x80, 0, 0, 0x80, 0, 0, 0x80, 0];
    }

    fn register(&self, register: u8) -> u8 {
        let calibration = calibration_bytes();
        match register {
            0x88..=0xA1 => calibration.0[usize::from(register - 0x88)],
            0xE1..=0xE7 => calibration.1[usize::from(register - 0xE1)],
            REG_CHIP_ID => CHIP_ID,
            REG_CTRL_HUM => self.ctrl_hum,
            REG_STATUS => 0,
            REG_CTRL_MEAS => self.ctrl_meas,
            REG_CONFIG => self.config,
            REG_DATA..=0xFE => self.data[usize::from(register - REG_DATA)],
            _ => 0,
        }
    }

    fn set_register(&mut self, register: u8, value: u8) {
        match register {
            REG_RESET if value == RESET_WORD => self.reset(),
            REG_CTRL_HUM => self.ctrl_hum = value & 0x07,
            REG_CTRL_MEAS => {
                self.ctrl_meas = value;
                self.humidity_oversampling = self.ctrl_hum;
                match value & 0x03 {
                    // Forced: one conversion, then back to sleep.
                    0x01 | 0x02 => {
                        self.convert();
                        self.ctrl_meas &= !0x03;
                    }
                    0x03 => self.convert(),
                    _ => {}
                }
            }
            REG_CONFIG => self.config = value & 0xFD,
            // Read-only registers ignore writes, as on the part.
            _ => {}
        }
    }

    /// One conversion: the data registers get the raw values of the
    /// current readings, each channel only if it is not skipped
    /// (oversampling 0).
    fn convert(&mut self) {
        let (adc_t, t_fine) = raw_temperature(self.readings.temperature);
        let adc_p = raw_pressure(self.readings.pressure * 100.0, t_fine);
        let adc_h = raw_humidity(self.readings.humidity, t_fine);
        // A skipped channel reads its reset value, 0x80000 (0x8000 for
        // humidity), whatever an earlier conversion left.
        let pressure = if (self.ctrl_meas >> 2) & 0x07 != 0 { twenty_bits(adc_p) } else { [0x80, 0, 0] };
        let temperature = if self.ctrl_meas >> 5 != 0 { twenty_bits(adc_t) } else { [0x80, 0, 0] };
        let humidity = if self.humidity_oversampling != 0 { (adc_h as u16).to_be_bytes() } else { [0x80, 0] };
        self.data[0..3].copy_from_slice(&pressure);
        self.data[3..6].copy_from_slice(&temperature);
        self.data[6..8].copy_from_slice(&humidity);
    }
}

impl Device for Bme280 {
    /// Register address, then data: `[reg, value, reg, value, ...]`; a
    /// lone register address sets where a read starts (datasheet 6.2.1).
    fn write(&mut self, bytes: &[u8]) -> Result<(), FaultKind> {
        for pair in bytes.chunks(2) {
            self.pointer = pair[0];
            if let [register, value] = *pair {
                self.set_register(register, value);
            }
        }
        Ok(())
    }

    /// Reads from the register pointer on, which advances with each byte.
    fn read(&mut self, buffer: &mut [u8]) {
        for byte in buffer {
            *byte = self.register(self.pointer);
            self.pointer = self.pointer.wrapping_add(1);
        }
    }
}

/// The calibration registers 0x88-0xA1 and 0xE1-0xE7.
fn calibration_bytes() -> ([u8; 26], [u8; 7]) {
    let c = CALIBRATION;
    let mut low = [0u8; 26];
    let words = [c.t.0 as i32, i32::from(c.t.1), i32::from(c.t.2)].into_iter().chain(c.p);
    for (i, word) in words.enumerate() {
        low[2 * i..2 * i + 2].copy_from_slice(&(word as u16).to_le_bytes());
    }
    low[25] = c.h1;
    let (h4, h5) = (c.h4 as u16, c.h5 as u16);
    let h2 = (c.h2 as u16).to_le_bytes();
    let high = [h2[0], h2[1], c.h3, (h4 >> 4) as u8, (h4 & 0x0F) as u8 | ((h5 & 0x0F) << 4) as u8, (h5 >> 4) as u8, c.h6 as u8];
    (low, high)
}

fn twenty_bits(raw: u32) -> [u8; 3] {
    [(raw >> 12) as u8, (raw >> 4) as u8, ((raw & 0x0F) << 4) as u8]
}

/// The datasheet's floating-point compensation of a raw temperature:
/// degrees Celsius, and `t_fine`, which the other channels use.
fn temperature(adc: u32) -> (f64, i32) {
    let (t1, t2, t3) = (f64::from(CALIBRATION.t.0), f64::from(CALIBRATION.t.1), f64::from(CALIBRATION.t.2));
    let var1 = (f64::from(adc) / 16384.0 - t1 / 1024.0) * t2;
    let var2 = (f64::from(adc) / 131072.0 - t1 / 8192.0).powi(2) * t3;
    ((var1 + var2) / 5120.0, (var1 + var2) as i32)
}

/// The datasheet's compensation of a raw pressure, in pascals.
fn pressure(adc: u32, t_fine: i32) -> f64 {
    let p = CALIBRATION.p.map(f64::from);
    let var1 = f64::from(t_fine) / 2.0 - 64000.0;
    let var2 = var1 * var1 * p[5] / 32768.0 + var1 * p[4] * 2.0;
    let var2 = var2 / 4.0 + p[3] * 65536.0;
    let var1 = (p[2] * var1 * var1 / 524288.0 + p[1] * var1) / 524288.0;
    let var1 = (1.0 + var1 / 32768.0) * p[0];
    let pressure = (1048576.0 - f64::from(adc) - var2 / 4096.0) * 6250.0 / var1;
    pressure + (p[8] * pressure * pressure / 2147483648.0 + pressure * p[7] / 32768.0 + p[6]) / 16.0
}

/// The datasheet's compensation of a raw humidity, in percent (not
/// clamped).
fn humidity(adc: u32, t_fine: i32) -> f64 {
    let c = CALIBRATION;
    let var1 = f64::from(t_fine) - 76800.0;
    let var2 = f64::from(c.h4) * 64.0 + f64::from(c.h5) / 16384.0 * var1;
    let var5 = 1.0 + f64::from(c.h3) / 67108864.0 * var1;
    let var6 = 1.0 + f64::from(c.h6) / 67108864.0 * var1 * var5;
    let var6 = (f64::from(adc) - var2) * (f64::from(c.h2) / 65536.0) * (var5 * var6);
    var6 * (1.0 - f64::from(c.h1) * var6 / 524288.0)
}

/// The raw value in `0..limit` whose compensated value `f` is nearest
/// `target`, for an `f` that rises with the raw value (`rising`) or falls.
fn nearest(limit: u32, target: f64, rising: bool, f: impl Fn(u32) -> f64) -> u32 {
    let (mut low, mut high) = (0u32, limit - 1);
    while low < high {
        let middle = low + (high - low) / 2;
        let below = if rising { f(middle) < target } else { f(middle) > target };
        if below {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    let distance = |raw: u32| (f(raw) - target).abs();
    if low > 0 && distance(low - 1) < distance(low) { low - 1 } else { low }
}

fn raw_temperature(celsius: f64) -> (u32, i32) {
    let adc = nearest(1 << 20, celsius.clamp(-40.0, 85.0), true, |raw| temperature(raw).0);
    (adc, temperature(adc).1)
}

fn raw_pressure(pascals: f64, t_fine: i32) -> u32 {
    nearest(1 << 20, pascals.clamp(30_000.0, 110_000.0), false, |raw| pressure(raw, t_fine))
}

fn raw_humidity(percent: f64, t_fine: i32) -> u32 {
    nearest(1 << 16, percent.clamp(0.0, 100.0), true, |raw| humidity(raw, t_fine))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a driver does: reads the 8 data bytes and compensates them with
    /// the calibration it read from the part.
    fn measure(part: &mut Bme280) -> (f64, f64, f64) {
        // Temperature x2, pressure x16 (bits 7-5, 4-2), forced mode (1-0).
        part.write(&[REG_CTRL_HUM, 0x01, REG_CTRL_MEAS, (0b010 << 5) | (0b101 << 2) | 0b01]).unwrap();
        part.write(&[REG_DATA]).unwrap();
        let mut data = [0u8; 8];
        part.read(&mut data);
        let adc_p = u32::from(data[0]) << 12 | u32::from(data[1]) << 4 | u32::from(data[2]) >> 4;
        let adc_t = u32::from(data[3]) << 12 | u32::from(data[4]) << 4 | u32::from(data[5]) >> 4;
        let adc_h = u32::from(data[6]) << 8 | u32::from(data[7]);
        let (celsius, t_fine) = temperature(adc_t);
        (celsius, pressure(adc_p, t_fine) / 100.0, humidity(adc_h, t_fine))
    }

    #[test]
    fn the_part_answers_with_its_chip_id_and_calibration_as_the_datasheet_lays_them_out() {
        let mut part = Bme280::new(Readings::default());
        let mut id = [0u8];
        part.write(&[REG_CHIP_ID]).unwrap();
        part.read(&mut id);
        assert_eq!(id, [0x60]);
        let mut low = [0u8; 26];
        part.write(&[0x88]).unwrap();
        part.read(&mut low);
        assert_eq!(u16::from_le_bytes([low[0], low[1]]), 27504, "dig_T1");
        assert_eq!(i16::from_le_bytes([low[22], low[23]]), 6000, "dig_P9");
        assert_eq!(low[25], 75, "dig_H1");
        let mut high = [0u8; 7];
        part.write(&[0xE1]).unwrap();
        part.read(&mut high);
        let h4 = (i16::from(high[3] as i8) * 16) | (i16::from(high[4] as i8) & 0x0F);
        let h5 = (i16::from(high[5] as i8) * 16) | ((i16::from(high[4] as i8) & 0xF0) >> 4);
        assert_eq!((h4, h5), (313, 50));
    }

    #[test]
    fn a_forced_conversion_measures_the_readings_and_returns_the_part_to_sleep() {
        let mut part = Bme280::new(Readings { temperature: 23.4, pressure: 1001.5, humidity: 40.0 });
        let (celsius, hpa, percent) = measure(&mut part);
        assert!((celsius - 23.4).abs() < 0.01, "{celsius}");
        assert!((hpa - 1001.5).abs() < 0.02, "{hpa}");
        assert!((percent - 40.0).abs() < 0.01, "{percent}");
        assert_eq!(part.register(REG_CTRL_MEAS) & 0x03, 0, "asleep after a forced conversion");
    }

    #[test]
    fn a_soft_reset_clears_the_controls_and_a_skipped_channel_reads_its_reset_value() {
        let mut part = Bme280::new(Readings::default());
        part.write(&[REG_CTRL_MEAS, (0b001 << 5) | 0b11]).unwrap(); // temperature only, normal mode
        assert_eq!(part.register(REG_DATA), 0x80, "pressure skipped");
        assert_ne!(part.register(REG_DATA + 3), 0x80, "temperature measured");
        part.write(&[REG_CTRL_MEAS, (0b001 << 2) | 0b01]).unwrap(); // pressure only, forced
        assert_eq!(part.register(REG_DATA + 3), 0x80, "temperature skipped this time: its reset value, not the last one");
        part.write(&[REG_RESET, RESET_WORD]).unwrap();
        assert_eq!(part.register(REG_CTRL_MEAS), 0);
        assert_eq!(part.register(REG_DATA + 3), 0x80);
    }

    proptest! {
        #[test]
        fn any_reading_in_the_parts_range_comes_back_through_the_datasheets_formulas(
            celsius in -40.0f64..85.0, hpa in 300.0f64..1100.0, percent in 0.0f64..100.0,
        ) {
            let mut part = Bme280::new(Readings { temperature: celsius, pressure: hpa, humidity: percent });
            let (t, p, h) = measure(&mut part);
            prop_assert!((t - celsius).abs() < 0.01, "{t} for {celsius}");
            prop_assert!((p - hpa).abs() < 0.05, "{p} for {hpa}");
            prop_assert!((h - percent).abs() < 0.05, "{h} for {percent}");
        }

        #[test]
        fn any_bytes_written_or_read_leave_the_part_answering(writes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 0..8), read in 0usize..300) {
            let mut part = Bme280::new(Readings::default());
            for bytes in &writes {
                part.write(bytes).unwrap();
            }
            let mut buffer = vec![0u8; read];
            part.read(&mut buffer);
            part.write(&[REG_CHIP_ID]).unwrap();
            let mut id = [0u8];
            part.read(&mut id);
            prop_assert_eq!(id, [CHIP_ID]);
        }
    }
}
