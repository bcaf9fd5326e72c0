//! `host-edge new actor NAME`: a ready-to-build actor on the actor SDK, so
//! a new author starts from code that builds, signs and answers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

/// Write a new project.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    host-edge new actor thermostat\n  \
    host-edge new actor thermostat --sdk ~/host-edge/actors/sdk\n  \
    cd thermostat && cargo build --release   # target/wasm32-unknown-unknown/release/thermostat.wasm")]
pub struct NewArgs {
    #[command(subcommand)]
    what: NewCommand,
}

#[derive(Debug, Subcommand)]
enum NewCommand {
    /// An actor on the SDK: an HTTP handler counting requests per path in
    /// the linked key-value store, built for wasm32-unknown-unknown.
    Actor {
        /// The actor's name, also its folder and crate name.
        name: String,
        /// The SDK (`actors/sdk` of a host-edge checkout); default: $HOST_EDGE_SDK,
        /// else the checkout this binary was built from.
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
}

/// Where the SDK is, in the order `--sdk`, `$HOST_EDGE_SDK`, the checkout
/// this binary was built from.
fn find_sdk(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../actors/sdk");
    let candidate = given.or_else(|| std::env::var_os("HOST_EDGE_SDK").map(PathBuf::from)).unwrap_or(built_from);
    if !candidate.join("Cargo.toml").is_file() {
        bail!(
            "no actor SDK at {}: pass --sdk PATH (or set HOST_EDGE_SDK) to the actors/sdk folder of a host-edge checkout",
            candidate.display()
        );
    }
    candidate.canonicalize().with_context(|| candidate.display().to_string())
}

/// A crate name: ASCII letters, digits, `-` and `_`, starting with a letter.
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!("`{name}` cannot name an actor: use ASCII letters, digits, `-` and `_`, starting with a letter");
    }
    Ok(())
}

pub fn execute(args: NewArgs) -> anyhow::Result<ExitCode> {
    let NewCommand::Actor { name, sdk } = args.what;
    check_name(&name)?;
    let sdk = find_sdk(sdk)?;
    let dir = PathBuf::from(&name);
    if dir.exists() {
        bail!("{} exists already; nothing was written", dir.display());
    }
    let files = [
        ("Cargo.toml", cargo_toml(&name, &sdk)),
        (".cargo/config.toml", CONFIG.to_owned()),
        ("src/lib.rs", lib_rs(&name)),
        (".gitignore", "/target\n".to_owned()),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let wasm = name.replace('-', "_");
    println!("wrote {name}/: an HTTP actor on the SDK at {}", sdk.display());
    println!("build:  cd {name} && cargo build --release");
    println!("keys:   host-edge keys generate account -o issuer.nk && host-edge keys generate module -o {wasm}.nk");
    println!("sign:   host-edge sign target/wasm32-unknown-unknown/release/{wasm}.wasm -o {wasm}_s.wasm --issuer issuer.nk --subject {wasm}.nk --name {name} -s -k");
    println!("try:    host-edge call {wasm}_s.wasm HandleRequest --json '{{\"path\": \"/hello\"}}'");
    Ok(ExitCode::SUCCESS)
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]

[dependencies]
host-edge-actor = {{ path = "{sdk}" }}

[profile.release]
# Small modules: less to validate, instantiate and ship to a board.
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = "debuginfo"

# A workspace of its own, even inside another project's folder.
[workspace]
"#,
        sdk = sdk.display().to_string().replace('\\', "/")
    )
}

const CONFIG: &str = r#"# Actors are WebAssembly modules: build for wasm32 by default.
[build]
target = "wasm32-unknown-unknown"
"#;

fn lib_rs(name: &str) -> String {
    format!(
        r##"//! `{name}`: answers HTTP requests with a greeting and how many times
//! the path was asked for, counted in the linked key-value store.
//!
//! Sign it with `wascc:http_server` and `wascc:keyvalue` (`-s -k`); link
//! both in the manifest. docs/actors.md in host-edge lists every client.

use host_edge_actor::prelude::*;

actor_handlers! {{ http::HANDLE_REQUEST => greet }}

fn greet(request: http::Request) -> HandlerResult<http::Response> {{
    let name = request.query("name").unwrap_or_else(|| "world".to_owned());
    let count = match keyvalue::default().atomic_add(&request.path, 1) {{
        Ok(count) => count.to_string(),
        Err(e) => {{
            warn!("not counted: {{e}}");
            "?".to_owned()
        }}
    }};
    Ok(http::Response::ok().with_json(format!(r#"{{{{"hello":"{{name}}","count":"{{count}}"}}}}"#)))
}}
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_cannot_be_a_crate_is_refused() {
        assert!(check_name("thermostat").is_ok() && check_name("door-bell_2").is_ok());
        for bad in ["", "2fast", "a b", "../x", "ü"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
