//! The compiler cache: every build xtask starts goes through sccache when
//! it is installed (`bash .ci/setup` installs it), so a fresh clone on a
//! machine that has built host-edge before compiles only what changed.
//!
//! cargo's own target folder lives in the clone and goes with it; sccache's
//! cache lives in the user's cache folder (`~/.cache/sccache`) and outlives
//! clones, as CI systems keep it between runs. It caches the compilation of
//! every library crate, keyed by its sources, flags and compiler; it cannot
//! cache linking, LTO, build-script runs or the workspace's own crates
//! while cargo builds them incrementally (those simply compile).
//!
//! Set up here, in the process's environment, rather than in
//! `.cargo/config.toml`: a machine without sccache must build all the same,
//! and the test processes, which start cargo builds of their own (the
//! providers they load), inherit the variable and share the cache.

use std::path::{Path, PathBuf};

/// The cache's size limit unless `SCCACHE_CACHE_SIZE` says otherwise:
/// what one full `cargo xtask test` and `arm-check` compile (four targets,
/// debug, release and the fuzz build), with room for a second version of
/// the dependencies.
const CACHE_SIZE: &str = "30G";

/// Wraps rustc in sccache for every build this process starts, unless
/// `RUSTC_WRAPPER` is already set or `HOST_EDGE_NO_SCCACHE=1`. Returns the
/// wrapper in use, if any.
pub fn enable() -> Option<PathBuf> {
    if let Some(wrapper) = std::env::var_os("RUSTC_WRAPPER").filter(|w| !w.is_empty()) {
        return Some(PathBuf::from(wrapper));
    }
    if std::env::var_os("HOST_EDGE_NO_SCCACHE").is_some_and(|v| v == "1") {
        return None;
    }
    let sccache = find("sccache")?;
    std::env::set_var("RUSTC_WRAPPER", &sccache);
    if std::env::var_os("SCCACHE_CACHE_SIZE").is_none() {
        std::env::set_var("SCCACHE_CACHE_SIZE", CACHE_SIZE);
    }
    Some(sccache)
}

/// `program` on the `PATH`, or in cargo's own bin folder (where `cargo
/// install` puts it, not always on a non-interactive shell's `PATH`).
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .map(|home| home.join("bin"));
    std::env::split_paths(&path).chain(cargo_bin).map(|dir| dir.join(program)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The cache's hit and miss counts since its server started, for the
/// summary at the end of a run; `None` without sccache.
pub fn stats() -> Option<String> {
    let wrapper = std::env::var_os("RUSTC_WRAPPER")?;
    let output = std::process::Command::new(wrapper).arg("--show-stats").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let pick = |label: &str| {
        text.lines()
            .find(|line| line.starts_with(label))
            .and_then(|line| line.split_whitespace().last())
            .unwrap_or("?")
            .to_owned()
    };
    Some(format!(
        "compiler cache: {} compilations, {} hits, {} misses, {} not cacheable",
        pick("Compile requests executed"),
        pick("Cache hits"),
        pick("Cache misses"),
        pick("Non-cacheable calls"),
    ))
}
