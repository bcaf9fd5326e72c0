//! Board definitions: which BCM pin sits on which header pin, which pins
//! are power and ground, which the board reserves and why, and where its
//! hardware PWM channels and buses (I2C, SPI, serial) are.
//!
//! The definitions are the TOML files in the repository's `boards/` folder,
//! compiled in, so a host on a board needs no file besides its manifest;
//! a board not listed can still be described in a file of its own and named
//! by path. The GPIO provider reads them to resolve labels, refuse reserved
//! pins and find its board from the device tree's model string; the CLI
//! prints them (`host-edge boards show pi-4b`) for a person wiring a board.

mod board;
mod builtin;
mod bus;
mod device_tree;
mod pins;
mod table;

pub use board::{is_label, Backend, Board, BoardError, HeaderPin, Inconsistency, PwmChannel, Reserved};
pub use builtin::{builtin, detect, find, load};
pub use bus::{Bus, BusKind, BusProblem};
pub use device_tree::DeviceTree;
pub use pins::{NumberError, PinError, PinMap, PinSettingError};
