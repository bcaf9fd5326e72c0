//! Names the provider-archive target of the machine this crate is built
//! for (`HOST_EDGE_ARCHIVE_TARGET`), from cargo's target triple: `cfg!`
//! cannot tell an ARMv7 build from an ARMv6 one on stable Rust.

include!("src/target.rs");

fn main() {
    let triple = std::env::var("TARGET").unwrap_or_default();
    let name = target_for_triple(&triple).unwrap_or("unknown-unknown");
    println!("cargo:rustc-env=HOST_EDGE_ARCHIVE_TARGET={name}");
    println!("cargo:rerun-if-changed=src/target.rs");
    println!("cargo:rerun-if-env-changed=TARGET");
}
