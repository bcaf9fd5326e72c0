//! The header as a table a person can wire from: odd pins on the left, even
//! on the right, as on the board seen from above with the header at the
//! right edge.

use std::fmt::Write;

use crate::{Board, HeaderPin};

impl Board {
    /// The header table, then the reserved pins, PWM channels and buses.
    pub fn header_table(&self) -> String {
        let mut out = format!("{} ({}): {}, {} backend\n\n", self.title, self.name, self.soc, self.backend_name());
        let cells: Vec<String> = self.header.iter().map(|p| self.describe(p)).collect();
        let width = cells.iter().step_by(2).map(String::len).max().unwrap_or(0);
        for (row, pair) in self.header.chunks(2).enumerate() {
            let left = &cells[row * 2];
            let _ = write!(out, "{left:>width$}  {:>2}", pair[0].pin);
            if let Some(right) = pair.get(1) {
                let _ = write!(out, " | {:<2}  {}", right.pin, cells[row * 2 + 1]);
            }
            out.push('\n');
        }
        if !self.reserved.is_empty() {
            out.push_str("\n* reserved (allow by name with the GPIO provider's ALLOW_RESERVED):\n");
            for r in &self.reserved {
                let _ = writeln!(out, "  GPIO{:<3} {}", r.bcm, r.reason);
            }
        }
        if !self.pwm.is_empty() {
            let pins: Vec<String> = self.pwm.iter().map(|p| format!("GPIO{} ch{}", p.bcm, p.channel)).collect();
            let _ = writeln!(out, "\nhardware PWM: {}", pins.join(", "));
        }
        if !self.buses.is_empty() {
            out.push_str("\nbuses, (tag) on the header; a pin of an enabled bus is not a GPIO:\n");
            let tag_width = self.buses.iter().map(|b| b.tag().len()).max().unwrap_or(0);
            let device_width = self.buses.iter().map(|b| b.device().len()).max().unwrap_or(0);
            for bus in &self.buses {
                let mut pins: Vec<(&String, &u8)> = bus.pins.iter().collect();
                pins.sort_by_key(|(_, pin)| **pin);
                let pins: Vec<String> = pins.iter().map(|(role, pin)| format!("{role} GPIO{pin}")).collect();
                let _ = writeln!(
                    out,
                    "  {:<tag_width$}  {:<device_width$}  {}; enable: {}",
                    bus.tag(),
                    bus.device(),
                    pins.join(", "),
                    bus.enable
                );
            }
        }
        out
    }

    fn backend_name(&self) -> &'static str {
        match self.backend {
            crate::Backend::Rppal => "rppal",
            crate::Backend::Sim => "simulated",
        }
    }

    /// `GPIO17`, `GPIO2 sda (i2c1)`, `GPIO0 id_sd* (i2c0)`, `GND`.
    fn describe(&self, pin: &HeaderPin) -> String {
        match pin.bcm {
            None => pin.power.clone().unwrap_or_default(),
            Some(bcm) => {
                let mut text = format!("GPIO{bcm}");
                if let Some(label) = &pin.label {
                    text.push(' ');
                    text.push_str(label);
                }
                if self.reserved(bcm).is_some() {
                    text.push('*');
                }
                let buses: Vec<String> = self.buses_on(bcm).iter().map(|(bus, _)| bus.tag()).collect();
                if !buses.is_empty() {
                    let _ = write!(text, " ({})", buses.join(","));
                }
                text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_puts_odd_pins_left_and_even_pins_right_and_marks_reserved_and_bus_pins() {
        let table = crate::find("pi-4b").unwrap().header_table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("Raspberry Pi 4 Model B (pi-4b): BCM2711"), "{table}");
        assert!(lines.iter().any(|l| l.trim_start().starts_with("3V3   1 | 2   5V")), "{table}");
        assert!(lines.iter().any(|l| l.contains("GPIO17 (spi1)  11 | 12  GPIO18 pcm_clk (spi1)")), "{table}");
        assert!(lines.iter().any(|l| l.contains("GPIO0 id_sd* (i2c0)  27 | 28  GPIO1 id_sc* (i2c0)")), "{table}");
        assert!(lines.iter().any(|l| l.contains("GPIO2 sda (i2c1)   3 | 4   5V")), "{table}");
        assert!(lines.iter().any(|l| l.contains("GPIO8 ce0 (spi0,i2c4)")), "{table}");
        assert!(table.contains("GPIO14  serial console TX"), "{table}");
        assert!(table.contains("hardware PWM: GPIO12 ch0"), "{table}");
        assert!(table.contains("i2c1     /dev/i2c-1      sda GPIO2, scl GPIO3; enable: dtparam=i2c_arm=on"), "{table}");
        assert!(table.contains("serial0  /dev/serial0    txd GPIO14, rxd GPIO15; enable: enable_uart=1"), "{table}");
    }
}
