//! `cargo xtask raspi-check <bundle-dir>`: the aarch64 bundle's GPIO provider
//! on an emulated Raspberry Pi 3 B running a real Linux kernel.
//!
//! Why it exists: the rppal register test (`tests/gpio_rppal.rs`, run by
//! `arm-check` under qemu-user) fakes the kernel's side: a file stands in for
//! `/dev/gpiomem` and a preloaded shim answers for `/dev/gpiochip0`, so the
//! interrupt request always fails and the sampling path runs. Here QEMU's
//! `raspi3b` machine boots Debian's arm64 kernel with the mainline BCM2837
//! device tree: the `pinctrl-bcm2835` driver owns the GPIO block and exports
//! `/dev/gpiochip0`, and the bundle's host, provider and signed button-led
//! actor run from an initramfs as root, as on a board. The guest's `/init`
//! checks, on the serial console, that the provider found the board from the
//! device tree (no `BOARD` setting), that rppal drove GPIO17 through
//! `/dev/mem` (read back from QEMU's emulated registers with `devmem`), that
//! the kernel granted the button's interrupt line (so the provider uses
//! interrupts, not sampling), and that SIGTERM leaves the LED an input.
//!
//! What it cannot prove: edges and pulls. QEMU's BCM2835 GPIO model keeps
//! the function-select, set, clear and level registers, but implements no
//! edge detection and no pull resistors, so no interrupt ever fires.
//!
//! A second boot proves the I2C provider on the board's real I2C
//! controller: QEMU 9 and later model the BCM2835's BSC controllers, and
//! QEMU's `tmp105` thermometer and `at24c-eeprom` sit on `i2c-bus.1`. The
//! kernel's own drivers (`i2c-bcm2835`, `i2c-dev`) give `/dev/i2c-1`, and the
//! bundle's signed `thermometer` actor reads the TMP105 (set to 25.5 degrees
//! over QMP before the board starts) and keeps the reading in the EEPROM
//! through the bundle's I2C provider; busybox's `i2ctransfer` then reads the
//! EEPROM back through the same kernel. Debian 12's QEMU is 7.2, whose
//! BCM2835 I2C is a stub, so this boot runs bookworm-backports' QEMU 10,
//! downloaded with a private apt configuration and unpacked into
//! `target/raspi/qemu` (nothing is installed; its libraries are Debian 12's
//! own).
//!
//! A third boot proves the SPI provider on the board's SPI controller: QEMU
//! 9 and later model the BCM2835's SPI0, and QEMU's `w25q80` NOR flash sits
//! on its bus. Debian's Pi 3 B device tree leaves SPI0 off, so this boot's
//! tree is the same with SPI0 on and a `spidev` child at chip select 0
//! (`fdtput`, as a `dtparam=spi=on` does on a Pi); the kernel's
//! `spi-bcm2835` and built-in `spidev` give `/dev/spidev0.0`, and the
//! bundle's signed `flash` actor reads the flash's JEDEC id through the
//! bundle's SPI provider. (QEMU's controller drives no chip select line, so
//! the flash sees one long selection; the actor clocks exactly the six id
//! bytes the model answers, which leaves it ready for the next command.)
//!
//! Cost: Debian's kernel package (about 60 MB), busybox-static (under
//! 1 MB) and the backports QEMU (13 MB) are downloaded once with `apt-get
//! download` (the arm64 dpkg architecture, which `.ci/setup` adds) and the
//! files used are kept in `target/raspi/`; each emulated board boots in
//! about 10 to 20 seconds.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{exit, Command, Stdio};
use std::time::{Duration, Instant};

use super::{root, run};

/// Debian's aarch64 cross sysroot: the glibc (Bookworm's 2.36) the emulated
/// board runs the bundle's host on; the bundle itself needs only 2.31.
const SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// binutils for aarch64, to read the host's ELF headers.
const READELF: &str = "aarch64-linux-gnu-readelf";

/// How long the emulated board may take, from power on to power off.
const TIMEOUT: Duration = Duration::from_secs(240);

/// The checks the guest's `/init` reports, each as `raspi-check: PASS <name>`
/// or `raspi-check: FAIL <name>`; every one must pass.
const CHECKS: [&str; 7] = ["board", "led-output", "led-high", "interrupts", "kernel-irq", "clean-exit", "safe-state"];

/// The checks of the I2C boot, reported the same way.
const I2C_CHECKS: [&str; 4] = ["i2c-bus", "i2c-temperature", "i2c-clean-exit", "i2c-eeprom"];

/// The checks of the SPI boot.
const SPI_CHECKS: [&str; 3] = ["spi-bus", "spi-jedec", "spi-clean-exit"];

/// What the TMP105 measures on the I2C boot, in millidegrees (set over QMP:
/// the device's reset clears a `temperature` given on the command line).
const TMP105_MILLIDEGREES: u32 = 25_500;

/// The backports QEMU's packages: the emulator, its shared parts and its
/// firmware files.
const QEMU_PACKAGES: [&str; 3] = ["qemu-system-arm", "qemu-system-common", "qemu-system-data"];

/// The guest's last line: everything before it ran.
const DONE: &str = "raspi-check: done";

/// The kernel command line. `iomem=relaxed` lets rppal map the GPIO block
/// through `/dev/mem` while the pinctrl driver claims it (mainline kernels
/// have no `/dev/gpiomem`).
const APPEND: &str = "console=ttyAMA0,115200 rdinit=/init iomem=relaxed loglevel=3 panic=-1";

/// The files the guest needs from Debian's arm64 packages.
struct Guest {
    /// The kernel (`boot/vmlinuz-*`, an arm64 `Image`).
    kernel: PathBuf,
    /// The Raspberry Pi 3 B device tree of that kernel.
    dtb: PathBuf,
    /// The BCM2835 watchdog module: rebooting through it ends QEMU (the
    /// `raspi3b` machine has no PSCI, so power off would only halt).
    watchdog: PathBuf,
    /// The BCM2835 I2C controller's driver and the `/dev/i2c-N` one.
    i2c_modules: [PathBuf; 2],
    /// The BCM2835 SPI controller's driver (`spidev` is built in).
    spi_module: PathBuf,
    /// busybox-static: the guest's shell, `mount`, `devmem`, `reboot`.
    busybox: PathBuf,
}

/// Boots the aarch64 bundle in `bundle` (an unpacked
/// `host-edge-aarch64-unknown-linux-gnu` folder) on the emulated Raspberry
/// Pi 3 B and exits the process with an error unless every check passed.
pub fn check(target: &str, bundle: &Path) {
    let started = Instant::now();
    let bundle = bundle.canonicalize().unwrap_or_else(|e| fail(&format!("no bundle at {}: {e}", bundle.display())));
    let host = bundle.join("bin/host-edge");
    let machine = readelf(&["-h"], &host);
    if !machine.contains("AArch64") {
        fail(&format!("{} is not an aarch64 executable; raspi-check needs the aarch64 bundle", host.display()));
    }
    let work = root().join("target/raspi");
    std::fs::create_dir_all(&work).expect("creating target/raspi");
    let guest = fetch(&work);
    let qemu = fetch_qemu(&work);
    let fetched = started.elapsed();

    let gpio = Boot {
        name: "gpio",
        checks: &CHECKS,
        qemu: PathBuf::from("qemu-system-aarch64"),
        dtb: guest.dtb.clone(),
        modules: &[],
        devices: &[],
        qmp: None,
    };
    let initrd = initramfs(&work, &gpio, &bundle, &guest, &bundle_files(&bundle, "gpio", &["button_led"]), &manifest(&bundle), INIT);
    let gpio_time = gpio.run(target, &work, &guest, &initrd, started);

    let devices = ["tmp105,id=tmp,bus=i2c-bus.1,address=0x48", "at24c-eeprom,id=eeprom,bus=i2c-bus.1,address=0x50,rom-size=256"];
    let qmp = format!(
        r#"{{"execute":"qom-set","arguments":{{"path":"/machine/peripheral/tmp","property":"temperature","value":{TMP105_MILLIDEGREES}}}}}"#
    );
    let i2c = Boot {
        name: "i2c",
        checks: &I2C_CHECKS,
        qemu: qemu.clone(),
        dtb: guest.dtb.clone(),
        modules: &guest.i2c_modules,
        devices: &devices,
        qmp: Some(qmp),
    };
    let initrd = initramfs(&work, &i2c, &bundle, &guest, &bundle_files(&bundle, "i2c", &["thermometer"]), &bus_manifest(&bundle, "thermometer", "i2c", "iot:i2c"), &bus_init(I2C_BODY));
    let i2c_time = i2c.run(target, &work, &guest, &initrd, started);

    let spi = Boot {
        name: "spi",
        checks: &SPI_CHECKS,
        qemu,
        dtb: spi_device_tree(&work, &guest.dtb),
        modules: std::slice::from_ref(&guest.spi_module),
        devices: &["w25q80,id=flash,bus=spi"],
        qmp: None,
    };
    let initrd = initramfs(&work, &spi, &bundle, &guest, &bundle_files(&bundle, "spi", &["flash"]), &bus_manifest(&bundle, "flash", "spi", "iot:spi"), &bus_init(SPI_BODY));
    let spi_time = spi.run(target, &work, &guest, &initrd, started);
    eprintln!(
        "xtask: {target}: raspi check passed on the emulated Raspberry Pi 3 B in {:.1?} \
         (packages {:.1?}; GPIO boot to power off {gpio_time:.1?}, I2C boot {i2c_time:.1?}, SPI boot {spi_time:.1?}): {} checks",
        started.elapsed(),
        fetched,
        CHECKS.len() + I2C_CHECKS.len() + SPI_CHECKS.len()
    );
}

/// The Pi 3 B device tree with SPI0 on and a `spidev` at chip select 0, as
/// `dtparam=spi=on` gives a Pi: `work/bcm2837-rpi-3-b-spi.dtb`, made from
/// `dtb` by `fdtput` (device-tree-compiler). `rohm,dh2228fv` is a
/// compatible the kernel's spidev driver binds to.
fn spi_device_tree(work: &Path, dtb: &Path) -> PathBuf {
    let out = work.join("bcm2837-rpi-3-b-spi.dtb");
    std::fs::copy(dtb, &out).unwrap_or_else(|e| fail(&format!("copying {}: {e}", dtb.display())));
    let spi = "/soc/spi@7e204000";
    let child = format!("{spi}/spidev@0");
    let edits: [&[&str]; 5] = [
        &["-t", "s", spi, "status", "okay"],
        &["-c", &child],
        &["-t", "s", &child, "compatible", "rohm,dh2228fv"],
        &["-t", "i", &child, "reg", "0"],
        &["-t", "i", &child, "spi-max-frequency", "1000000"],
    ];
    for edit in edits {
        let status = Command::new("fdtput").arg(&out).args(edit).status();
        if !status.is_ok_and(|s| s.success()) {
            fail(&format!("fdtput {edit:?} failed on {}; `bash .ci/setup` installs device-tree-compiler", out.display()));
        }
    }
    out
}

/// One boot of the emulated board: what it checks, which QEMU runs it,
/// the device tree it boots with, the kernel modules it loads, the devices QEMU adds and a QMP command
/// run before the board starts.
struct Boot<'a> {
    name: &'a str,
    checks: &'a [&'a str],
    qemu: PathBuf,
    dtb: PathBuf,
    modules: &'a [PathBuf],
    devices: &'a [&'a str],
    qmp: Option<String>,
}

impl Boot<'_> {
    /// Boots `initrd`, shows the guest's report, and exits the process
    /// with an error unless every check passed; returns the boot's time.
    fn run(&self, target: &str, work: &Path, guest: &Guest, initrd: &Path, started: Instant) -> Duration {
        let booted = Instant::now();
        let console = boot(work, self, guest, initrd);
        let boot_time = booted.elapsed();
        for line in console.lines().filter(|l| l.starts_with("raspi-check: ")) {
            eprintln!("xtask: guest ({}): {line}", self.name);
        }
        let passed = |name: &str| console.lines().any(|l| l.starts_with(&format!("raspi-check: PASS {name}")));
        let missing: Vec<&str> = self.checks.iter().copied().filter(|name| !passed(name)).collect();
        let failed = console.lines().any(|l| l.starts_with("raspi-check: FAIL"));
        let done = console.lines().any(|l| l.starts_with(DONE));
        if failed || !missing.is_empty() || !done {
            let lines: Vec<&str> = console.lines().collect();
            eprintln!("xtask: the console's last lines ({}):", work.join(format!("console-{}.log", self.name)).display());
            for line in &lines[lines.len().saturating_sub(60)..] {
                eprintln!("  | {line}");
            }
            eprintln!(
                "xtask: {target}: raspi check ({}) failed after {:.1?} (boot to power off {boot_time:.1?}): {}{}",
                self.name,
                started.elapsed(),
                if missing.is_empty() { String::new() } else { format!("not passed: {}; ", missing.join(", ")) },
                if done { "the guest finished" } else { "the guest did not finish" }
            );
            exit(1);
        }
        boot_time
    }
}

fn fail(message: &str) -> ! {
    eprintln!("xtask: raspi-check: {message}");
    exit(1)
}

/// Runs `aarch64-linux-gnu-readelf` with `args` on `file` and returns what
/// it prints.
fn readelf(args: &[&str], file: &Path) -> String {
    let out = Command::new(READELF)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run {READELF} ({e}); `bash .ci/setup` installs it")));
    if !out.status.success() {
        fail(&format!("{READELF} {args:?} {}: {}", file.display(), String::from_utf8_lossy(&out.stderr)));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The kernel package `linux-image-arm64` currently depends on, as apt
/// knows it (e.g. `linux-image-6.1.0-56-arm64`).
fn kernel_package() -> Option<String> {
    let out = Command::new("apt-cache").args(["depends", "linux-image-arm64:arm64"]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|line| {
        let package = line.trim().strip_prefix("Depends: ")?.trim_end_matches(":arm64");
        package.starts_with("linux-image-").then(|| package.to_owned())
    })
}

/// The guest's files, from `target/raspi` when there, otherwise downloaded
/// with apt and unpacked there (only the files used are kept).
fn fetch(work: &Path) -> Guest {
    let kernel_dir = match kernel_package() {
        Some(package) => work.join(package),
        // apt cannot say (no arm64 package lists): any kernel unpacked before.
        None => std::fs::read_dir(work)
            .into_iter()
            .flatten()
            .map_while(Result::ok)
            .map(|e| e.path())
            .find(|p| p.join("Image").exists())
            .unwrap_or_else(|| {
                fail("apt knows no linux-image-arm64:arm64; `bash .ci/setup` adds the arm64 architecture and updates apt")
            }),
    };
    let guest = Guest {
        kernel: kernel_dir.join("Image"),
        dtb: kernel_dir.join("bcm2837-rpi-3-b.dtb"),
        watchdog: kernel_dir.join("bcm2835_wdt.ko"),
        i2c_modules: [kernel_dir.join("i2c-bcm2835.ko"), kernel_dir.join("i2c-dev.ko")],
        spi_module: kernel_dir.join("spi-bcm2835.ko"),
        busybox: work.join("busybox"),
    };
    let modules = [&guest.watchdog, &guest.i2c_modules[0], &guest.i2c_modules[1], &guest.spi_module];
    if ![&guest.kernel, &guest.dtb].into_iter().chain(modules).all(|p| p.exists()) {
        let package = kernel_dir.file_name().unwrap().to_string_lossy().into_owned();
        let deb = download(work, &package);
        let files = unpack(
            &deb,
            &kernel_dir,
            &[
                ("Image", &|m: &str| m.starts_with("./boot/vmlinuz-")),
                ("bcm2837-rpi-3-b.dtb", &|m: &str| m.ends_with("/broadcom/bcm2837-rpi-3-b.dtb")),
                ("bcm2835_wdt.ko", &|m: &str| m.contains("/drivers/watchdog/bcm2835_wdt.ko")),
                ("i2c-bcm2835.ko", &|m: &str| m.contains("/drivers/i2c/busses/i2c-bcm2835.ko")),
                ("i2c-dev.ko", &|m: &str| m.contains("/drivers/i2c/i2c-dev.ko")),
                ("spi-bcm2835.ko", &|m: &str| m.contains("/drivers/spi/spi-bcm2835.ko")),
            ],
        );
        // Newer Debian kernels compress their modules; busybox insmod wants
        // the plain object.
        for (member, module) in files[2..].iter().zip(modules) {
            if member.ends_with(".xz") {
                let plain = Command::new("xz").arg("-dc").arg(module).output().expect("xz runs");
                std::fs::write(module, plain.stdout).expect("writing a kernel module");
            }
        }
        let _ = std::fs::remove_file(&deb);
        // Kernels unpacked before this one (Debian moved on) are not used again.
        let stale = std::fs::read_dir(work).into_iter().flatten().map_while(Result::ok).map(|e| e.path());
        for old in stale.filter(|p| p.join("Image").exists() && *p != kernel_dir) {
            let _ = std::fs::remove_dir_all(old);
        }
    }
    if !guest.busybox.exists() {
        let deb = download(work, "busybox-static");
        let dir = work.join("busybox-static");
        unpack(&deb, &dir, &[("busybox", &|m: &str| m.ends_with("bin/busybox"))]);
        std::fs::rename(dir.join("busybox"), &guest.busybox).expect("keeping busybox");
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&deb);
    }
    guest
}

/// bookworm-backports' QEMU (9 or later: it models the BCM2835's I2C
/// controllers), unpacked into `work/qemu` once, with apt configured to
/// read only the backports list under `work/apt` (nothing on the machine
/// changes); returns its `qemu-system-aarch64`.
fn fetch_qemu(work: &Path) -> PathBuf {
    let root = work.join("qemu");
    let binary = root.join("usr/bin/qemu-system-aarch64");
    if binary.exists() {
        return binary;
    }
    let started = Instant::now();
    let apt = work.join("apt");
    for dir in ["lists/partial", "cache/archives/partial", "debs"] {
        std::fs::create_dir_all(apt.join(dir)).expect("creating the private apt folders");
    }
    std::fs::write(
        apt.join("backports.list"),
        "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main\n",
    )
    .expect("writing the backports list");
    let config = format!(
        "Dir::Etc::sourcelist \"{0}/backports.list\";\nDir::Etc::sourceparts \"-\";\nDir::State::lists \"{0}/lists/\";\n\
         Dir::Cache \"{0}/cache/\";\nAPT::Architectures {{ \"amd64\"; }};\n",
        apt.display()
    );
    std::fs::write(apt.join("apt.conf"), config).expect("writing the private apt configuration");
    let apt_get = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command.current_dir(apt.join("debs")).env("APT_CONFIG", apt.join("apt.conf")).args(args);
        run(&mut command);
    };
    apt_get(&["update", "-q"]);
    apt_get(&[&["download", "-q"][..], &QEMU_PACKAGES].concat());
    let scratch = work.join("qemu.unpacking");
    let _ = std::fs::remove_dir_all(&scratch);
    for deb in debs(&apt.join("debs")) {
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&scratch));
    }
    std::fs::rename(&scratch, &root).expect("keeping the unpacked QEMU");
    let _ = std::fs::remove_dir_all(apt.join("debs"));
    let version = Command::new(&binary).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    eprintln!("xtask: {} in {:.1?}", version.lines().next().unwrap_or("no QEMU version"), started.elapsed());
    binary
}

/// `apt-get download <package>:arm64` into `work`; returns the `.deb`.
fn download(work: &Path, package: &str) -> PathBuf {
    let started = Instant::now();
    let before = debs(work);
    run(Command::new("apt-get").current_dir(work).args(["download", "-q", &format!("{package}:arm64")]));
    let deb = debs(work)
        .into_iter()
        .find(|d| !before.contains(d) || d.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_"))))
        .unwrap_or_else(|| fail(&format!("apt-get download {package}:arm64 left no .deb")));
    let size = std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0);
    eprintln!("xtask: downloaded {} ({} KiB) in {:.1?}", deb.display(), size / 1024, started.elapsed());
    deb
}

fn debs(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).into_iter().flatten().map_while(Result::ok);
    entries.map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "deb")).collect()
}

/// A file to take from a package: the name to keep it as, and which archive
/// member it is.
type Wanted<'a> = (&'a str, &'a dyn Fn(&str) -> bool);

/// Extracts from `deb` into `into` the first member each of `wanted`
/// matches, under the name given; returns the members' names.
fn unpack(deb: &Path, into: &Path, wanted: &[Wanted<'_>]) -> Vec<String> {
    let scratch = into.join("unpack");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("creating an unpack folder");
    let listing = deb_tar(deb, &scratch, &["-t"]);
    let members: Vec<String> = wanted
        .iter()
        .map(|(name, matches)| {
            listing
                .lines()
                .find(|m| matches(m))
                .unwrap_or_else(|| fail(&format!("{} has no file for {name}", deb.display())))
                .to_owned()
        })
        .collect();
    let mut args = vec!["-x"];
    args.extend(members.iter().map(String::as_str));
    deb_tar(deb, &scratch, &args);
    for ((name, _), member) in wanted.iter().zip(&members) {
        std::fs::rename(scratch.join(member), into.join(name))
            .unwrap_or_else(|e| fail(&format!("keeping {member} of {}: {e}", deb.display())));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    members
}

/// `dpkg-deb --fsys-tarfile deb | tar args` in `dir`; returns tar's output.
fn deb_tar(deb: &Path, dir: &Path, args: &[&str]) -> String {
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| fail(&format!("cannot run dpkg-deb: {e}")));
    let out = Command::new("tar")
        .current_dir(dir)
        .args(args)
        .stdin(dpkg.stdout.take().expect("piped"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run tar: {e}")));
    let unpacked = dpkg.wait().is_ok_and(|s| s.success());
    if !unpacked || !out.status.success() {
        fail(&format!("cannot unpack {} (tar {args:?})", deb.display()));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The bundle's provider archive `provider` and actors `actors`, as the
/// guest's files (path here, path in the guest), the provider's library
/// unpacked beside the bundle for the C libraries it needs (last).
fn bundle_files(bundle: &Path, provider: &str, actors: &[&str]) -> Vec<(PathBuf, String)> {
    let archive = bundle.join(format!("providers/{provider}.par.gz"));
    let unpacked = bundle.join(format!("../raspi-check-{provider}"));
    let _ = std::fs::remove_dir_all(&unpacked);
    std::fs::create_dir_all(&unpacked).expect("creating a folder to unpack a provider archive in");
    let status = Command::new("tar").arg("xzf").arg(&archive).arg("-C").arg(&unpacked).arg("aarch64-linux.bin").status();
    if !status.is_ok_and(|s| s.success()) {
        fail(&format!("cannot unpack aarch64-linux.bin from the bundle's providers/{provider}.par.gz"));
    }
    let mut files = vec![(archive, format!("opt/host-edge/providers/{provider}.par.gz"))];
    for actor in actors {
        files.push((bundle.join(format!("actors/{actor}.wasm")), format!("opt/host-edge/actors/{actor}.wasm")));
    }
    files.push((unpacked.join("aarch64-linux.bin"), String::new()));
    files
}

/// The manifest of a bus boot: the bundle's `actor` on its `provider`
/// (the Linux backend, the kernel's device for `capability`), sampled
/// twice a second. The I2C boot runs the thermometer on `/dev/i2c-1`, the
/// SPI boot the flash actor on `/dev/spidev0.0`.
fn bus_manifest(bundle: &Path, actor: &str, provider: &str, capability: &str) -> String {
    let trusted = trusted_issuers(bundle);
    format!(
        r#"# cargo xtask raspi-check: the bundle's {actor} actor on the emulated
# Raspberry Pi 3 B's {capability} (xtask/src/raspi.rs).
[host]
state_dir = "/state"

[policy]
{trusted}
clock = "trust-issued-at"

[[actor]]
path = "/opt/host-edge/actors/{actor}.wasm"
instances = 1

[[provider]]
name = "{provider}"
path = "/opt/host-edge/providers/{provider}.par.gz"
settings = {{ BACKEND = "linux" }}

[[link]]
actor = "{actor}"
capability = "{capability}"
provider = "{provider}"
values = {{ SAMPLE_EVERY = "500ms" }}
"#
    )
}

/// The line of the bundle's gpio.toml that trusts its issuer.
fn trusted_issuers(bundle: &Path) -> String {
    let gpio = std::fs::read_to_string(bundle.join("gpio.toml"))
        .unwrap_or_else(|e| fail(&format!("the bundle has no gpio.toml ({e})")));
    gpio.lines()
        .find(|l| l.starts_with("trusted_issuers"))
        .unwrap_or_else(|| fail("the bundle's gpio.toml trusts no issuer"))
        .to_owned()
}

/// The guest's manifest: the button-led actor on the GPIO provider, which
/// must find the board itself; the LED is opened high, so QEMU's level
/// register shows it.
fn manifest(bundle: &Path) -> String {
    let trusted = trusted_issuers(bundle);
    format!(
        r#"# cargo xtask raspi-check: the bundle's button-led actor on the emulated
# Raspberry Pi 3 B (xtask/src/raspi.rs).
[host]
state_dir = "/state"

[policy]
{trusted}
# No real-time clock: the guest's clock starts in 1970.
clock = "trust-issued-at"

[[actor]]
path = "/opt/host-edge/actors/button_led.wasm"
instances = 1

# No BOARD: the provider reads the device tree's model.
[[provider]]
name = "gpio"
path = "/opt/host-edge/providers/gpio.par.gz"
settings = {{ LABELS = "led=17, button=27" }}

[[link]]
actor = "button-led"
capability = "iot:gpio"
provider = "gpio"
values = {{ OPEN = "button in pull=up edge=falling; led out level=high" }}
"#
    )
}

/// The guest's `/init` (busybox sh, as root): runs the host, checks the
/// registers, the log and the kernel's view of the lines, reports each check
/// on the console, stops the host and reboots through the watchdog.
const INIT: &str = r#"#!/bin/busybox sh
# /init of the raspi-check initramfs (xtask/src/raspi.rs).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
dmesg -n 1
ifconfig lo 127.0.0.1 up
pass() { echo "raspi-check: PASS $*"; }
fail() { echo "raspi-check: FAIL $*"; }
# GPIO17's function (GPFSEL1 bits 21-23: 0 input, 1 output) and level (GPLEV0 bit 17).
function17() { echo $(( ($(devmem 0x3f200004 32) >> 21) & 7 )); }
level17() { echo $(( ($(devmem 0x3f200034 32) >> 17) & 1 )); }
echo "raspi-check: booted in $(cut -d' ' -f1 /proc/uptime) s; device tree model: $(tr -d '\000' < /proc/device-tree/model)"
# Mainline trees carry no revision in the model ("Raspberry Pi 3 Model B"):
# the provider finds the board by the compatible entry raspberrypi,3-model-b.
echo "raspi-check: compatible: $(tr '\000' ' ' < /proc/device-tree/compatible)"
echo "raspi-check: $(ls -l /dev/gpiochip0 /dev/mem 2>&1 | tr '\n' ' ')"
echo "raspi-check: before: GPFSEL1=$(devmem 0x3f200004 32) GPLEV0=$(devmem 0x3f200034 32)"

mkdir -p /state
/opt/host-edge/bin/host-edge run /manifest.toml > /host.log 2>&1 &
host=$!
n=0
while [ $n -lt 600 ] && kill -0 $host 2>/dev/null && ! grep -q 'linked' /host.log; do sleep 0.2; n=$((n + 1)); done
if kill -0 $host 2>/dev/null; then echo "raspi-check: host running, link made after $(cut -d' ' -f1 /proc/uptime) s"
else echo "raspi-check: host exited after $(cut -d' ' -f1 /proc/uptime) s"; fi
sed 's/^/raspi-check: host| /' /host.log
shown=$(wc -l < /host.log)

if grep -q '(pi-3b)' /host.log; then pass "board: the provider detected pi-3b from the device tree"
else fail "board: the log does not say (pi-3b)"; fi
f=$(function17)
if [ "$f" = 1 ]; then pass "led-output: GPFSEL1=$(devmem 0x3f200004 32), GPIO17 is an output"
else fail "led-output: GPFSEL1=$(devmem 0x3f200004 32), GPIO17 function $f, not 1 (output)"; fi
if [ "$(level17)" = 1 ]; then pass "led-high: GPLEV0=$(devmem 0x3f200034 32), GPIO17 is high"
else fail "led-high: GPLEV0=$(devmem 0x3f200034 32), GPIO17 is not high"; fi
if grep -q 'sampled every' /host.log; then fail "interrupts: the provider fell back to sampling"
elif ! kill -0 $host 2>/dev/null; then fail "interrupts: the host is not running"
else pass "interrupts: the provider watches the button through kernel interrupts"; fi
line=$(grep 'GPIO27 ' /sys/kernel/debug/gpio)
echo "raspi-check: kernel: $line"
case "$line" in
  *IRQ*) pass "kernel-irq: GPIO27 is requested from /dev/gpiochip0 as an interrupt" ;;
  *) fail "kernel-irq: the kernel holds no interrupt on GPIO27" ;;
esac

kill -TERM $host 2>/dev/null
wait $host
status=$?
if [ $status = 0 ]; then pass "clean-exit: the host stopped on SIGTERM with status 0"
else fail "clean-exit: the host stopped with status $status"; fi
tail -n +$((shown + 1)) /host.log | sed 's/^/raspi-check: host| /'
f=$(function17)
if [ "$f" = 0 ]; then pass "safe-state: GPFSEL1=$(devmem 0x3f200004 32), GPIO17 is an input again"
else fail "safe-state: GPFSEL1=$(devmem 0x3f200004 32), GPIO17 function $f, not 0 (input)"; fi
echo "raspi-check: done after $(cut -d' ' -f1 /proc/uptime) s"
insmod /bcm2835_wdt.ko && reboot -f
poweroff -f
"#;

/// The `/init` of a bus boot (busybox sh, as root): mounts, the shell
/// functions every bus check uses, then `body`, then the watchdog reboot
/// that ends QEMU. `start_host PATTERN` runs the host on /manifest.toml
/// until its log shows PATTERN (or a minute passes) and prints the log;
/// `stop_host CHECK` stops it with SIGTERM and reports CHECK on its exit
/// status.
fn bus_init(body: &str) -> String {
    format!(
        r#"#!/bin/busybox sh
# /init of a raspi-check bus initramfs (xtask/src/raspi.rs).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
dmesg -n 1
ifconfig lo 127.0.0.1 up
pass() {{ echo "raspi-check: PASS $*"; }}
fail() {{ echo "raspi-check: FAIL $*"; }}
start_host() {{
  mkdir -p /state
  /opt/host-edge/bin/host-edge run /manifest.toml > /host.log 2>&1 &
  host=$!
  n=0
  while [ $n -lt 600 ] && kill -0 $host 2>/dev/null && ! grep -q "$1" /host.log; do sleep 0.2; n=$((n + 1)); done
}}
show_log() {{
  sed 's/^/raspi-check: host| /' /host.log
  shown=$(wc -l < /host.log)
}}
stop_host() {{
  kill -TERM $host 2>/dev/null
  wait $host
  status=$?
  if [ $status = 0 ]; then pass "$1: the host stopped on SIGTERM with status 0"
  else fail "$1: the host stopped with status $status"; fi
  tail -n +$((shown + 1)) /host.log | sed 's/^/raspi-check: host| /'
}}
echo "raspi-check: booted in $(cut -d' ' -f1 /proc/uptime) s"
{body}
echo "raspi-check: done after $(cut -d' ' -f1 /proc/uptime) s"
insmod /bcm2835_wdt.ko && reboot -f
poweroff -f
"#
    )
}

/// The I2C boot: loads the kernel's I2C drivers, runs the host with the
/// thermometer actor until it has kept a reading, stops it, and reads the
/// EEPROM back through the kernel.
const I2C_BODY: &str = r#"insmod /lib/mod/i2c-bcm2835.ko && insmod /lib/mod/i2c-dev.ko
node=$(readlink -f /sys/class/i2c-dev/i2c-1/device/of_node 2>/dev/null)
if [ -c /dev/i2c-1 ] && [ "${node##*/}" = "i2c@7e804000" ]; then
  pass "i2c-bus: /dev/i2c-1 is the BCM2835 controller at 7e804000 (i2c-bcm2835)"
else fail "i2c-bus: no /dev/i2c-1 on the BSC1 controller (of_node: $node)"; fi
echo "raspi-check: $(i2cdetect -y 1 | tr '\n' '|')"

start_host 'kept in the EEPROM'
show_log
if grep -q 'temperature 25.50 C, kept in the EEPROM' /host.log; then
  pass "i2c-temperature: the actor read 25.50 C from the TMP105 at 0x48 through the provider and /dev/i2c-1"
else fail "i2c-temperature: the log has no reading of 25.50 C"; fi
stop_host i2c-clean-exit
kept=$(i2ctransfer -y 1 w1@0x50 0x00 r2)
if [ "$kept" = "0x19 0x80" ]; then pass "i2c-eeprom: the EEPROM at 0x50 holds $kept (25.5 C), as the actor wrote it"
else fail "i2c-eeprom: the EEPROM at 0x50 holds '$kept', not 0x19 0x80"; fi"#;

/// The SPI boot: loads the kernel's SPI controller driver, runs the host
/// with the flash actor until it has read the flash's id, lets it sample
/// twice more (a flash left out of step by a read would answer another id,
/// which the actor logs), and stops it.
const SPI_BODY: &str = r#"insmod /lib/mod/spi-bcm2835.ko
n=0
while [ $n -lt 50 ] && [ ! -c /dev/spidev0.0 ]; do sleep 0.1; n=$((n + 1)); done
node=$(readlink -f /sys/class/spidev/spidev0.0/device/of_node 2>/dev/null)
case "$node" in
  */spi@7e204000/spidev@0) pass "spi-bus: /dev/spidev0.0 is chip select 0 of the BCM2835 SPI0 controller at 7e204000 (spi-bcm2835)" ;;
  *) fail "spi-bus: no /dev/spidev0.0 on the SPI0 controller (of_node: $node)" ;;
esac

start_host 'flash: JEDEC id'
sleep 1.2
show_log
if [ "$(grep -c 'flash: JEDEC id' /host.log)" = 1 ] && grep -q 'flash: JEDEC id ef 50 14: Winbond, 1024 KiB' /host.log; then
  pass "spi-jedec: the actor read the W25Q80's JEDEC id ef 50 14 through the provider and /dev/spidev0.0, the same on every sample"
else fail "spi-jedec: the log has no steady JEDEC id ef 50 14"; fi
stop_host spi-clean-exit"#;

/// The ELF interpreter and the shared libraries `files` need, transitively,
/// found in the cross sysroot: (path in the guest, file here).
fn runtime(files: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let lib = Path::new(SYSROOT).join("lib");
    let headers = readelf(&["-l"], &files[0]);
    let interpreter = headers
        .split("[Requesting program interpreter: ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| fail("the host has no ELF interpreter (is it static?)"))
        .to_owned();
    let name = Path::new(&interpreter).file_name().unwrap().to_owned();
    let mut found = vec![(interpreter, lib.join(name))];
    let mut queue: Vec<PathBuf> = files.to_vec();
    let mut seen: Vec<String> = Vec::new();
    while let Some(file) = queue.pop() {
        for line in readelf(&["-d"], &file).lines().filter(|l| l.contains("(NEEDED)")) {
            let Some(needed) = line.split('[').nth(1).and_then(|r| r.split(']').next()) else { continue };
            if seen.iter().any(|s| s == needed) || found[0].1.file_name().is_some_and(|n| n == needed) {
                continue;
            }
            seen.push(needed.to_owned());
            let path = lib.join(needed);
            if !path.exists() {
                fail(&format!("{} needs {needed}, which {} lacks", file.display(), lib.display()));
            }
            found.push((format!("/lib/aarch64-linux-gnu/{needed}"), path.clone()));
            queue.push(path);
        }
    }
    found
}

/// Writes `target/raspi/initramfs-<boot>.cpio.gz`: busybox, the bundle's
/// host and `files` (the last of them is the provider's library, whose C
/// libraries the guest needs, not itself), the glibc they need, the
/// watchdog and the boot's kernel modules, the manifest and `/init`.
fn initramfs(work: &Path, boot: &Boot, bundle: &Path, guest: &Guest, files: &[(PathBuf, String)], manifest: &str, init: &str) -> PathBuf {
    let rootfs = work.join(format!("rootfs-{}", boot.name));
    let _ = std::fs::remove_dir_all(&rootfs);
    for dir in ["bin", "proc", "sys", "dev", "tmp", "state", "lib/mod", "opt/host-edge/bin"] {
        std::fs::create_dir_all(rootfs.join(dir)).expect("creating the initramfs folders");
    }
    let put = |from: &Path, to: &str| {
        let to = rootfs.join(to.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).expect("creating an initramfs folder");
        std::fs::copy(from, &to).unwrap_or_else(|e| fail(&format!("copying {}: {e}", from.display())));
    };
    let host = bundle.join("bin/host-edge");
    put(&guest.busybox, "bin/busybox");
    put(&guest.watchdog, "bcm2835_wdt.ko");
    for module in boot.modules {
        put(module, &format!("lib/mod/{}", module.file_name().unwrap().to_string_lossy()));
    }
    put(&host, "opt/host-edge/bin/host-edge");
    let (library, files) = files.split_last().expect("a provider library");
    for (from, to) in files {
        put(from, to);
    }
    let libraries = runtime(&[host, library.0.clone()]);
    for (path, file) in &libraries {
        put(file, path);
    }
    let names: Vec<&str> = libraries.iter().map(|(p, _)| p.rsplit('/').next().unwrap()).collect();
    eprintln!("xtask: guest runtime from {SYSROOT}/lib: {}", names.join(", "));
    std::fs::write(rootfs.join("manifest.toml"), manifest).expect("writing the guest manifest");
    std::fs::write(rootfs.join("init"), init).expect("writing /init");
    let initrd = work.join(format!("initramfs-{}.cpio.gz", boot.name));
    let archive = format!(
        "find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1 > '{}'",
        initrd.display()
    );
    run(Command::new("sh").current_dir(&rootfs).args(["-c", &format!("chmod 755 bin/busybox init && {archive}")]));
    let size = std::fs::metadata(&initrd).map(|m| m.len()).unwrap_or(0);
    eprintln!("xtask: initramfs {} ({} KiB)", initrd.display(), size / 1024);
    initrd
}

/// Boots the emulated Raspberry Pi 3 B with `initrd` as `boot` says, its
/// serial console into `target/raspi/console-<boot>.log`, for at most
/// [`TIMEOUT`]; returns the console's text.
fn boot(work: &Path, boot: &Boot, guest: &Guest, initrd: &Path) -> String {
    let log = work.join(format!("console-{}.log", boot.name));
    let console = std::fs::File::create(&log).expect("creating the console log");
    let mut qemu = Command::new(&boot.qemu);
    // A QEMU unpacked under target/raspi finds its firmware and modules
    // there, not among the installed QEMU's.
    if let Some(root) = boot.qemu.is_absolute().then(|| boot.qemu.ancestors().nth(3)).flatten() {
        qemu.env("QEMU_MODULE_DIR", root.join("usr/lib/x86_64-linux-gnu/qemu")).arg("-L").arg(root.join("usr/share/qemu"));
    }
    qemu.args(["-M", "raspi3b", "-m", "1G", "-kernel"])
        .arg(&guest.kernel)
        .arg("-dtb")
        .arg(&boot.dtb)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", APPEND, "-no-reboot", "-monitor", "none"]);
    for device in boot.devices {
        qemu.args(["-device", device]);
    }
    match &boot.qmp {
        // Paused until the QMP command ran: stdio carries QMP, the console
        // goes to the file.
        Some(_) => {
            qemu.args(["-S", "-display", "none", "-qmp", "stdio", "-serial"])
                .arg(format!("file:{}", log.display()))
                .stdin(Stdio::piped())
                .stdout(Stdio::null());
        }
        None => {
            qemu.args(["-nographic", "-serial", "stdio"]).stdin(Stdio::null()).stdout(console);
        }
    }
    eprintln!("xtask: {qemu:?}");
    let mut child = qemu
        .spawn()
        .unwrap_or_else(|e| fail(&format!("cannot run {} ({e}); `bash .ci/setup` installs qemu-system-arm", boot.qemu.display())));
    if let (Some(command), Some(mut stdin)) = (&boot.qmp, child.stdin.take()) {
        use std::io::Write;
        let commands = format!("{{\"execute\":\"qmp_capabilities\"}}\n{command}\n{{\"execute\":\"cont\"}}\n");
        if let Err(e) = stdin.write_all(commands.as_bytes()) {
            fail(&format!("cannot send QMP commands to QEMU: {e}"));
        }
    }
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for qemu") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut raw = Vec::new();
    std::fs::File::open(&log).and_then(|mut f| f.read_to_end(&mut raw)).expect("reading the console log");
    let text = String::from_utf8_lossy(&raw).replace('\r', "");
    std::fs::write(&log, &text).expect("writing the console log");
    match status {
        None => eprintln!("xtask: the emulated board did not power off within {TIMEOUT:?}; stopped it"),
        Some(status) if !status.success() => eprintln!("xtask: qemu-system-aarch64 ended with {status}"),
        Some(_) => {}
    }
    text
}
