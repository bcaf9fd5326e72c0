//! `cargo xtask fuzz [--seconds N]`: builds the fuzz targets in `fuzz/`
//! (cargo-fuzz, libFuzzer) and runs each one for a bounded time on its seed
//! corpus, failing when one crashes; prints the executions of each.
//!
//! The build is `cargo fuzz build -s none`: coverage instrumentation and
//! `--cfg fuzzing`, release optimisation, debug assertions and overflow
//! checks on (fuzz/Cargo.toml), and no sanitizer. The code under test is
//! safe Rust parsing text and bytes: what a fuzzer finds there are panics,
//! overflows, hangs and runaway allocations, which libFuzzer catches
//! without AddressSanitizer. ASan would need a nightly flag
//! (`-Zsanitizer`, through `RUSTC_BOOTSTRAP=1` on the stable toolchain)
//! and an instrumented build of every dependency, fleet control's tokio,
//! hyper and rustls included, for memory errors that safe Rust cannot
//! make; a deeper run can ask for it by hand (docs/fuzzing.md). Without a
//! sanitizer nothing unstable is passed, so the stable toolchain builds it
//! as it is. `--codegen-units 16` overrides cargo-fuzz's 1, which would
//! compile each crate on one core of two.

use std::path::{Path, PathBuf};
use std::process::{exit, Command, Stdio};
use std::time::{Duration, Instant};

/// The time all targets share by default, in seconds.
pub const DEFAULT_SECONDS: u64 = 75;

/// What one target's run found.
struct Run {
    target: String,
    executions: u64,
    corpus: u64,
    elapsed: Duration,
    crash: Option<String>,
}

/// The host triple cargo-fuzz builds for (it passes `--target` explicitly).
const TRIPLE: &str = "x86_64-unknown-linux-gnu";

fn fuzz_dir(root: &Path) -> PathBuf {
    root.join("fuzz")
}

/// Builds and runs every target, `seconds` shared between them.
pub fn fuzz(root: &Path, cargo: impl Fn() -> Command, seconds: u64) {
    let version = cargo().args(["fuzz", "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !version.is_ok_and(|s| s.success()) {
        eprintln!("xtask: cargo-fuzz is not installed; `bash .ci/setup` installs it (cargo install --locked cargo-fuzz)");
        exit(1);
    }
    let started = Instant::now();
    let mut build = cargo();
    // The target folder named, so a CARGO_TARGET_DIR in the environment
    // does not move the binaries from where they are run.
    build
        .current_dir(root)
        .args(["fuzz", "build", "--sanitizer", "none", "--codegen-units", "16", "--target-dir"])
        .arg(fuzz_dir(root).join("target"));
    super::run(&mut build);
    let built = started.elapsed();
    eprintln!("xtask: fuzz targets built in {built:.1?}");
    let targets = list(root, &cargo);
    if targets.is_empty() {
        eprintln!("xtask: `cargo fuzz list` names no target");
        exit(1);
    }
    let each = (seconds / targets.len() as u64).max(1);
    let runs: Vec<Run> = targets.iter().map(|target| run_target(root, target, each)).collect();
    eprintln!("xtask: fuzzing: {} targets, {each} s each, built in {built:.0?}, all in {:.0?}", runs.len(), started.elapsed());
    eprintln!("xtask:   {:<16} {:>12} {:>10} {:>8}", "target", "executions", "per second", "corpus");
    for run in &runs {
        let rate = run.executions as f64 / run.elapsed.as_secs_f64().max(0.001);
        eprintln!("xtask:   {:<16} {:>12} {:>10.0} {:>8}", run.target, run.executions, rate, run.corpus);
    }
    let crashed: Vec<&Run> = runs.iter().filter(|r| r.crash.is_some()).collect();
    if !crashed.is_empty() {
        for run in &crashed {
            eprintln!("xtask: fuzz target {} failed: {}", run.target, run.crash.as_deref().unwrap_or_default());
        }
        eprintln!(
            "xtask: replay an input with `fuzz/target/{TRIPLE}/release/TARGET FILE`; keep it as a regression case \
             (a unit test and a file in fuzz/corpus/TARGET/, see docs/fuzzing.md)"
        );
        exit(1);
    }
}

/// The targets, as `cargo fuzz list` names them.
fn list(root: &Path, cargo: &impl Fn() -> Command) -> Vec<String> {
    let output = cargo().current_dir(root).args(["fuzz", "list"]).output().unwrap_or_else(|e| {
        eprintln!("xtask: cannot run cargo fuzz list: {e}");
        exit(1)
    });
    String::from_utf8_lossy(&output.stdout).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// Runs `target` for `seconds` on its seed corpus (fuzz/corpus/TARGET) and
/// a working corpus of its own under fuzz/target, which keeps what it
/// found for the next local run.
fn run_target(root: &Path, target: &str, seconds: u64) -> Run {
    let dir = fuzz_dir(root);
    let binary = dir.join("target").join(TRIPLE).join("release").join(target);
    let work = dir.join("target/corpus").join(target);
    let seeds = dir.join("corpus").join(target);
    let artifacts = dir.join("artifacts").join(target);
    for folder in [&work, &seeds, &artifacts] {
        std::fs::create_dir_all(folder).unwrap_or_else(|e| panic!("creating {}: {e}", folder.display()));
    }
    let started = Instant::now();
    let output = Command::new(&binary)
        .arg(format!("-max_total_time={seconds}"))
        // An input that takes seconds is a hang, and an allocation of
        // gigabytes a bomb, whatever the parser does with it.
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&work)
        .arg(&seeds)
        .stdout(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            eprintln!("xtask: cannot run {}: {e}", binary.display());
            exit(1)
        });
    let elapsed = started.elapsed();
    let log = String::from_utf8_lossy(&output.stderr);
    let stat = |name: &str| {
        log.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().parse().ok())
            .unwrap_or(0)
    };
    let executions = stat("stat::number_of_executed_units:");
    let corpus = std::fs::read_dir(&work).map_or(0, |entries| entries.count() as u64);
    let crash = (!output.status.success()).then(|| {
        let artifact = log.lines().find_map(|line| line.split("Test unit written to ").nth(1)).unwrap_or("no input written");
        // The panic message and libFuzzer's verdict, not the backtrace.
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.iter().position(|l| l.contains("panicked at") || l.contains("ERROR: libFuzzer")).unwrap_or(0);
        let said: Vec<&str> = lines[from..].iter().copied().filter(|l| !l.starts_with("  ")).take(12).collect();
        format!("{} ({artifact})\n{}", output.status, said.join("\n"))
    });
    eprintln!("xtask: fuzz {target}: {executions} executions in {elapsed:.1?}{}", if crash.is_some() { ", FAILED" } else { "" });
    Run { target: target.to_owned(), executions, corpus, elapsed, crash }
}
