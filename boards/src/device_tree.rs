//! What the running machine says it is: the device tree's `model` and
//! `compatible`, which Linux shows on every board booted with one (every
//! Raspberry Pi), read once and matched against the built-in boards.

use crate::{detect, Board};

/// Where Linux shows the device tree; `/proc/device-tree` links here.
const DEVICE_TREE: [&str; 2] = ["/sys/firmware/devicetree/base", "/proc/device-tree"];

/// The device tree's identity strings, as read (NUL separators kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceTree {
    /// `model`, e.g. `Raspberry Pi 4 Model B Rev 1.4`.
    pub model: Option<String>,
    /// `compatible`, e.g. `raspberrypi,4-model-b\0brcm,bcm2711\0`.
    pub compatible: Option<String>,
}

impl DeviceTree {
    /// Reads this machine's device tree; both fields are `None` where it
    /// has none (a PC, a container without /sys/firmware).
    pub fn read() -> DeviceTree {
        let file = |name: &str| DEVICE_TREE.iter().find_map(|dir| std::fs::read_to_string(format!("{dir}/{name}")).ok());
        DeviceTree { model: file("model"), compatible: file("compatible") }
    }

    /// The built-in board it describes, if any.
    pub fn board(&self) -> Option<Board> {
        detect(self.model.as_deref(), self.compatible.as_deref())
    }

    /// `model` and `compatible` for messages, NULs shown as `, `.
    pub fn describe(&self) -> String {
        let clean = |text: &str| text.split('\0').filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ");
        match (&self.model, &self.compatible) {
            (None, None) => "no device tree".to_owned(),
            (model, compatible) => format!(
                "model `{}`, compatible `{}`",
                model.as_deref().map(clean).unwrap_or_default(),
                compatible.as_deref().map(clean).unwrap_or_default()
            ),
        }
    }
}
