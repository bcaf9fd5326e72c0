//! The Raspberry Pi targets bundles are built for, and what differs between
//! them: how the standard library comes (downloaded by rustup, or built from
//! source where rustup has none), which C library the host runs on (the
//! board's, or one the bundle carries), and how qemu-user runs it here.

use std::path::Path;
use std::process::Command;

/// One target a bundle is built for.
pub struct PiTarget {
    /// The Rust target.
    pub target: &'static str,
    /// qemu-user and its arguments, to run the target's code here.
    pub qemu: &'static [&'static str],
    /// Debian's libraries for the target, from its cross packages
    /// (`-L` for qemu; for a self-contained bundle, what it carries).
    pub sysroot: &'static str,
    /// rustup has no standard library for the target: cargo builds it from
    /// rust-src (`-Z build-std`, on the stable toolchain through
    /// `RUSTC_BOOTSTRAP=1`).
    pub std_from_source: bool,
    /// The bundle carries its C library in `lib/` and starts the host
    /// through it (boards/raspberry-pi/launcher.sh), rather than using the
    /// board's.
    pub self_contained: bool,
}

/// Every target, in the order `cargo xtask arm-check` checks them.
pub const PI_TARGETS: [PiTarget; 3] = [
    // 64-bit Raspberry Pi OS: Pi 3, 4, 5, Zero 2 W.
    PiTarget {
        target: "aarch64-unknown-linux-gnu",
        qemu: &["qemu-aarch64"],
        sysroot: "/usr/aarch64-linux-gnu",
        std_from_source: false,
        self_contained: false,
    },
    // 32-bit Raspberry Pi OS on ARMv7 boards: Pi 2, 3, 4.
    PiTarget {
        target: "armv7-unknown-linux-gnueabihf",
        qemu: &["qemu-arm"],
        sysroot: "/usr/arm-linux-gnueabihf",
        std_from_source: false,
        self_contained: false,
    },
    // ARMv6: Pi Zero W, Pi 1. Raspberry Pi OS's ARMv6 hard-float glibc
    // cannot be had here and Debian's armhf one is ARMv7 (SIGILL on an
    // ARM1176), so this bundle is soft-float ARMv6 code carrying Debian's
    // armel glibc (ARMv5TE, which an ARM1176 runs), proven on the CPU of a
    // Pi Zero: `qemu-arm -cpu arm1176`.
    PiTarget {
        target: "arm-unknown-linux-gnueabi",
        qemu: &["qemu-arm", "-cpu", "arm1176"],
        sysroot: "/usr/arm-linux-gnueabi",
        std_from_source: true,
        self_contained: true,
    },
];

/// The C runtime a self-contained bundle carries in `lib/`: the loader and
/// the libraries the host and the providers link (zig links its own
/// unwinder in, so there is no libgcc_s).
pub const C_RUNTIME: [&str; 5] = ["ld-linux.so.3", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2"];

/// The target called `target`, or `None`.
pub fn find(target: &str) -> Option<&'static PiTarget> {
    PI_TARGETS.iter().find(|t| t.target == target)
}

impl PiTarget {
    /// A command that runs the host of the unpacked bundle `dir` here under
    /// qemu-user, on the C library `libc` (a folder for qemu's `-L`);
    /// a self-contained bundle runs through its own launcher and C library
    /// and ignores `libc`.
    pub fn host_edge(&self, dir: &Path, libc: &str) -> Command {
        if self.self_contained {
            let mut command = Command::new(dir.join("bin/host-edge"));
            command.current_dir(dir).env("HOST_EDGE_EMULATOR", self.qemu.join(" "));
            command
        } else {
            let mut command = Command::new(self.qemu[0]);
            command.current_dir(dir).args(&self.qemu[1..]).args(["-L", libc, "bin/host-edge"]);
            command
        }
    }

    /// qemu's command line, for messages.
    pub fn qemu(&self) -> String {
        self.qemu.join(" ")
    }
}
