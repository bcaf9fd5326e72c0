//! `cargo xtask`: the project's own tasks, so that README commands stay short
//! and work the same on a laptop and in CI.
//!
//! - `actors`: build the example actors for wasm32;
//! - `demo`: build everything, make keys, sign the echo actor, inspect and
//!   call it;
//! - `test`: build the actors, then run every test in the workspace.

use std::path::{Path, PathBuf};
use std::process::{exit, Command};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(command: &mut Command) {
    eprintln!("xtask: {command:?}");
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => {
            eprintln!("xtask: failed with {status}");
            exit(status.code().unwrap_or(1));
        }
        Err(e) => {
            eprintln!("xtask: cannot run: {e}");
            exit(1);
        }
    }
}

fn build_actors() -> PathBuf {
    let actors = root().join("actors");
    // actors/.cargo/config.toml sets the wasm32 target; it is read from the
    // working directory.
    run(cargo().current_dir(&actors).args(["build", "--release"]));
    actors.join("target/wasm32-unknown-unknown/release")
}

fn demo() {
    let wasm = build_actors();
    run(cargo().current_dir(root()).args(["build", "--release", "-p", "host-edge"]));
    let bin = root().join("target/release/host-edge");
    let dir = root().join("target/demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating target/demo");
    let host_edge = |args: &[&str]| {
        let mut command = Command::new(&bin);
        command.current_dir(&dir).args(args);
        command
    };
    run(&mut host_edge(&["keys", "generate", "account", "-o", "issuer.nk"]));
    run(&mut host_edge(&["keys", "generate", "module", "-o", "echo.nk"]));
    let input = wasm.join("echo.wasm");
    run(&mut host_edge(&[
        "sign",
        input.to_str().unwrap(),
        "-o",
        "echo_s.wasm",
        "--issuer",
        "issuer.nk",
        "--subject",
        "echo.nk",
        "--name",
        "echo",
        "--expires-in",
        "365d",
    ]));
    run(&mut host_edge(&["inspect", "echo_s.wasm"]));
    run(&mut host_edge(&["call", "echo_s.wasm", "Echo", "hello from host-edge\n"]));
    eprintln!("xtask: demo files are in {}", dir.display());
}

/// Runs the workspace tests, echoing their output, and closes with one line
/// that sums every test binary's result: `tests: N passed, M failed`.
fn test(extra: &[String]) {
    use std::io::{BufRead, BufReader};
    build_actors();
    let mut command = cargo();
    command
        .current_dir(root())
        .args(["test", "--workspace"])
        .args(extra)
        .stdout(std::process::Stdio::piped());
    eprintln!("xtask: {command:?}");
    let mut child = command.spawn().unwrap_or_else(|e| {
        eprintln!("xtask: cannot run cargo: {e}");
        exit(1)
    });
    let (mut passed, mut failed) = (0u64, 0u64);
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            passed += count(summary, " passed");
            failed += count(summary, " failed");
        }
    }
    let status = child.wait().expect("cargo test finishes");
    println!("tests: {passed} passed, {failed} failed");
    if !status.success() {
        exit(status.code().unwrap_or(1));
    }
}

/// The number before `label` in a `test result:` line.
fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(';')
        .find(|part| part.ends_with(label))
        .and_then(|part| part.trim_end_matches(label).rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("actors") => {
            build_actors();
        }
        Some("demo") => demo(),
        Some("test") => test(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <actors|demo|test [cargo test args]>");
            exit(2);
        }
    }
}
