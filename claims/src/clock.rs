//! A clock that never runs back: the latest signed time the host has seen.
//!
//! A Raspberry Pi has no real-time clock. Offline it boots at 1970, or at
//! whatever fake-hwclock saved, and anyone at the console can set the clock
//! back. Checking a token's expiry against such a clock would let an expired
//! token live again. So the host keeps, on disk, the latest issue time of any
//! token it has verified from a signer it trusts (actor tokens, fleet
//! commands), and never believes the time is earlier than that mark:
//! [`TrustedClock::now`] is the later of the system clock and the mark. Time
//! moves forward only on signed evidence; nothing here needs the network.
//!
//! A signer whose own clock is wrong must not expire every token for good:
//! while the system clock is believed (not behind the mark, and not before
//! [`EARLIEST_BELIEVED`]), a signed time moves the mark at most to the
//! system clock plus [`CLOCK_SKEW_SECS`]. Only a board whose clock is
//! plainly unset lets signed times carry the mark further, since then they
//! are the best evidence there is.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::policy::{now_secs, CLOCK_SKEW_SECS};

/// A system clock before this (2026-01-01, before this host-edge was
/// written) was never set: it is not believed.
pub const EARLIEST_BELIEVED: u64 = 1_767_225_600;

/// Why the clock's mark could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// The mark's file holds something other than seconds since the epoch.
    #[error("{path}: not a time mark (seconds since the epoch): `{text}`")]
    Corrupt {
        /// The file.
        path: String,
        /// What it holds (a number is never secret).
        text: String,
    },
    /// Reading or writing the mark failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
}

/// The system clock, held to the latest signed time seen.
#[derive(Debug)]
pub struct TrustedClock {
    /// Where the mark is kept; `None` keeps it in memory only.
    path: Option<PathBuf>,
    /// The latest signed time seen, seconds since the epoch.
    mark: AtomicU64,
    /// The system clock (a parameter, so tests can stop it at 1970).
    system: fn() -> u64,
    /// Held while the mark is written, so a later mark is never overwritten
    /// by an earlier one.
    writing: Mutex<()>,
}

impl TrustedClock {
    /// A clock whose mark lives in `path` (read now, written when it
    /// advances). A missing file is a mark of 0: nothing seen yet.
    pub fn open(path: &Path) -> Result<TrustedClock, ClockError> {
        let mark = match std::fs::read_to_string(path) {
            Ok(text) => text.trim().parse::<u64>().map_err(|_| ClockError::Corrupt {
                path: path.display().to_string(),
                text: text.trim().chars().take(40).collect(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(error) => return Err(ClockError::Io { path: path.display().to_string(), error }),
        };
        Ok(TrustedClock { path: Some(path.to_owned()), mark: AtomicU64::new(mark), system: now_secs, writing: Mutex::new(()) })
    }

    /// Like [`TrustedClock::open`], but a mark that cannot be read starts
    /// from nothing (the error is returned to be logged) and is written
    /// anew at the next signed time: refusing to start would not protect
    /// anything, since whoever can spoil the file can remove it.
    pub fn open_or_reset(path: &Path) -> (TrustedClock, Option<ClockError>) {
        match TrustedClock::open(path) {
            Ok(clock) => (clock, None),
            Err(e) => {
                let clock = TrustedClock { path: Some(path.to_owned()), ..TrustedClock::in_memory(0) };
                (clock, Some(e))
            }
        }
    }

    /// A clock whose mark is kept in memory only, starting at `mark`.
    pub fn in_memory(mark: u64) -> TrustedClock {
        TrustedClock { path: None, mark: AtomicU64::new(mark), system: now_secs, writing: Mutex::new(()) }
    }

    /// The same clock reading `system` instead of the system clock.
    pub fn with_system(mut self, system: fn() -> u64) -> TrustedClock {
        self.system = system;
        self
    }

    /// Now, in seconds since the epoch: the system clock, or the mark when
    /// the system clock reads earlier.
    pub fn now(&self) -> u64 {
        (self.system)().max(self.mark())
    }

    /// What the system clock says, believed or not.
    pub fn system(&self) -> u64 {
        (self.system)()
    }

    /// The latest signed time seen.
    pub fn mark(&self) -> u64 {
        self.mark.load(Ordering::SeqCst)
    }

    /// Whether the system clock reads earlier than the mark: it was never
    /// set, or was set back.
    pub fn is_behind(&self) -> bool {
        self.system() < self.mark()
    }

    /// Records a signed time (a verified token's `iat`), capped while the
    /// system clock is believed (see the module's text). The mark only
    /// moves forward; when it does, it is written before this returns.
    /// Returns whether it moved.
    pub fn observe(&self, signed_at: u64) -> Result<bool, ClockError> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let system = self.system();
        let believed = system >= self.mark().max(EARLIEST_BELIEVED);
        let signed_at = if believed { signed_at.min(system.saturating_add(CLOCK_SKEW_SECS)) } else { signed_at };
        let previous = self.mark.fetch_max(signed_at, Ordering::SeqCst);
        if signed_at <= previous {
            return Ok(false);
        }
        if let Some(path) = &self.path {
            write_mark(path, signed_at)?;
        }
        Ok(true)
    }
}

/// Writes the mark whole or not at all (a power cut leaves the old one).
fn write_mark(path: &Path, mark: u64) -> Result<(), ClockError> {
    use std::io::Write;
    let io = |error| ClockError::Io { path: path.display().to_string(), error };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut file = atomic_write_file::AtomicWriteFile::open(path).map_err(io)?;
    writeln!(file, "{mark}").map_err(io)?;
    file.commit().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch() -> u64 {
        0
    }

    #[test]
    fn a_clock_set_back_reads_the_latest_signed_time_seen() {
        let clock = TrustedClock::in_memory(0).with_system(epoch);
        assert_eq!(clock.now(), 0);
        assert!(clock.observe(1_800_000_000).unwrap());
        assert_eq!(clock.now(), 1_800_000_000);
        assert!(clock.is_behind());
        assert!(!clock.observe(1_700_000_000).unwrap(), "the mark never moves back");
        assert_eq!(clock.mark(), 1_800_000_000);
    }

    #[test]
    fn a_system_clock_ahead_of_the_mark_is_believed() {
        let clock = TrustedClock::in_memory(1_000);
        assert!(clock.now() >= now_secs() - 1);
        assert!(!clock.is_behind());
    }

    fn first_of_december() -> u64 {
        1_796_083_200
    }

    #[test]
    fn a_signer_with_its_clock_years_ahead_moves_a_believed_clock_only_by_the_skew() {
        let clock = TrustedClock::in_memory(0).with_system(first_of_december);
        clock.observe(first_of_december() + 10 * 365 * 86_400).unwrap();
        assert_eq!(clock.mark(), first_of_december() + CLOCK_SKEW_SECS);
        let unset = TrustedClock::in_memory(1_700_000_000).with_system(epoch);
        unset.observe(first_of_december()).unwrap();
        assert_eq!(unset.now(), first_of_december(), "a clock that is behind takes the signed time whole");
    }

    #[test]
    fn the_mark_survives_a_restart_and_a_corrupt_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/clock");
        let clock = TrustedClock::open(&path).unwrap().with_system(epoch);
        assert_eq!(clock.mark(), 0, "nothing seen yet");
        clock.observe(1_800_000_123).unwrap();
        let again = TrustedClock::open(&path).unwrap().with_system(epoch);
        assert_eq!(again.now(), 1_800_000_123);
        std::fs::write(&path, "yesterday").unwrap();
        let err = TrustedClock::open(&path).unwrap_err();
        assert!(err.to_string().contains("not a time mark") && err.to_string().contains("yesterday"), "{err}");
        let (reset, error) = TrustedClock::open_or_reset(&path);
        assert!(error.is_some() && reset.mark() == 0);
        reset.observe(1_000).unwrap();
        assert_eq!(TrustedClock::open(&path).unwrap().mark(), 1_000, "written anew");
    }
}
