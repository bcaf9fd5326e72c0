//! Which device a port name means, and whether an actor may use it.
//!
//! An actor names a port as `/dev` does (`ttyAMA0`, `ttyUSB0`, `serial0`):
//! one plain file name, never a path, so no name leads out of the device
//! folder. The name is resolved through links (`serial0` is a link to
//! `ttyAMA0` or `ttyS0` on a Pi) to the device it is, which must be a
//! character device: one actor holds a device, however it was named. A
//! grant rule names ports the same way, `port:ttyAMA0` (or `port:*`), and is
//! checked against the name the actor used: a rule for `serial0` does not
//! reach `ttyAMA0` by its other name (fail closed).

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Why a port name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NameError {
    /// Not one plain file name.
    #[error("`{0}` is not a port name: use a device name such as ttyAMA0 or ttyUSB0 (letters, digits, `_`, `-`, `.`; no path)")]
    Invalid(String),
    /// No such device.
    #[error("there is no port `{name}` ({path}: {why})")]
    Missing {
        /// The name.
        name: String,
        /// Where it was looked for.
        path: String,
        /// Why it could not be found.
        why: String,
    },
    /// A file that is not a character device.
    #[error("`{name}` is {path}, which is not a character device (a serial port is one)")]
    NotADevice {
        /// The name.
        name: String,
        /// What it resolved to.
        path: String,
    },
}

/// Checks that `name` is one plain file name.
pub(crate) fn check(name: &str) -> Result<(), NameError> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if plain { Ok(()) } else { Err(NameError::Invalid(name.to_owned())) }
}

/// The device `name` is under `dir`, links resolved.
pub(crate) fn resolve(dir: &Path, name: &str) -> Result<PathBuf, NameError> {
    check(name)?;
    let path = dir.join(name);
    let device = path.canonicalize().map_err(|e| NameError::Missing {
        name: name.to_owned(),
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    let is_device = std::fs::metadata(&device).is_ok_and(|m| m.file_type().is_char_device());
    if !is_device {
        return Err(NameError::NotADevice { name: name.to_owned(), path: device.display().to_string() });
    }
    Ok(device)
}

/// Whether a grant rule permits the port `name`: `port:NAME` or `port:*`.
pub(crate) fn permits(kind: &str, value: &str, name: &str) -> bool {
    kind == "port" && (value == "*" || value == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_port_is_one_plain_name_never_a_path() {
        for bad in ["", "../etc/passwd", "tty/../../x", ".hidden", "/dev/ttyAMA0", "tty AMA0", "ttyé"] {
            assert_eq!(check(bad), Err(NameError::Invalid(bad.to_owned())), "{bad}");
        }
        for good in ["ttyAMA0", "ttyUSB0", "serial0", "ttyS0", "rfcomm0", "gps.0"] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn a_regular_file_is_not_a_port_and_a_missing_one_is_named() {
        let dir = std::env::temp_dir().join(format!("host-edge-serial-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("notes"), b"x").unwrap();
        assert!(matches!(resolve(&dir, "notes"), Err(NameError::NotADevice { .. })));
        let err = resolve(&dir, "ttyUSB9").unwrap_err().to_string();
        assert!(err.starts_with("there is no port `ttyUSB9`"), "{err}");
        assert_eq!(resolve(Path::new("/dev"), "null").unwrap(), Path::new("/dev/null"), "a character device");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rule_names_a_port_by_the_name_the_actor_uses() {
        assert!(permits("port", "ttyAMA0", "ttyAMA0"));
        assert!(permits("port", "*", "ttyUSB0"));
        assert!(!permits("port", "serial0", "ttyAMA0"), "not by another name of the same device");
        assert!(!permits("pin", "ttyAMA0", "ttyAMA0"));
    }

    proptest! {
        #[test]
        fn an_accepted_name_joins_to_one_level_below_the_folder(name in ".{0,20}") {
            if check(&name).is_ok() {
                let joined = Path::new("/dev").join(&name);
                prop_assert_eq!(joined.parent(), Some(Path::new("/dev")));
                prop_assert!(name != "." && name != "..");
            }
        }
    }
}
