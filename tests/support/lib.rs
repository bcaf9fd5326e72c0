//! Test and benchmark support: builds the example actors from `actors/`,
//! builds the `host-edge` binary, and signs modules with fresh keys.
//!
//! Everything here produces real artefacts: modules compiled by rustc for
//! wasm32 and signed by host-edge's own signing code.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use host_edge::capability::CapabilityId;
use host_edge::claims::policy::now_secs;
use host_edge::claims::{sign_module, SignOptions};
use nkeys::KeyPair;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Builds every example actor (once per process) and returns the folder
/// holding the unsigned `.wasm` files.
pub fn actors_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let actors = repo_root().join("actors");
        // The target comes from actors/.cargo/config.toml, which cargo reads
        // relative to the working directory.
        let status = cargo()
            .current_dir(&actors)
            .args(["build", "--release", "--quiet"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the actors failed (is the wasm32-unknown-unknown target installed?)");
        actors.join("target/wasm32-unknown-unknown/release")
    })
}

/// The unsigned module of example actor `name` (`echo`, `faulty`, ...).
pub fn actor_module(name: &str) -> Vec<u8> {
    let path = actors_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Builds the `host-edge` binary (once per process) and returns its path.
pub fn host_edge_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = cargo()
            .current_dir(repo_root())
            .args(["build", "--quiet", "--package", "host-edge", "--bin", "host-edge"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building host-edge failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"));
        target.join("debug/host-edge")
    })
}

/// An issuer (account) and a subject (module) key pair.
pub struct Signer {
    /// The account key that signs.
    pub issuer: KeyPair,
    /// The module key the token is about.
    pub subject: KeyPair,
}

impl Signer {
    /// Fresh keys.
    pub fn new() -> Signer {
        Signer {
            issuer: KeyPair::new_account(),
            subject: KeyPair::new_module(),
        }
    }

    /// Signs `module` with `options`.
    pub fn sign_with(&self, module: &[u8], options: &SignOptions) -> Vec<u8> {
        sign_module(module, &self.issuer, &self.subject, options).expect("signing succeeds")
    }

    /// Signs `module`, named `name`, granting `caps`, valid from now on.
    pub fn sign(&self, module: &[u8], name: &str, caps: &[&str]) -> Vec<u8> {
        self.sign_with(module, &options(name, caps))
    }
}

impl Default for Signer {
    fn default() -> Self {
        Signer::new()
    }
}

/// Sign options for `name` granting `caps`, issued now, never expiring.
pub fn options(name: &str, caps: &[&str]) -> SignOptions {
    SignOptions {
        name: Some(name.to_owned()),
        caps: caps.iter().map(|c| CapabilityId::parse(c).expect("valid id")).collect(),
        issued_at: now_secs(),
        ..SignOptions::default()
    }
}
