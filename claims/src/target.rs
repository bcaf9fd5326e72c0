// Target names of provider archives. Written without `crate::` paths or
// inner doc comments: `build.rs` includes this file to name the target the
// crate is compiled for, so the host and the CLI map triples alike.

/// The archive target name (`[arch]-[os]`, wasmCloud's form) of the
/// libraries a Rust target triple builds, if it is one host-edge names:
/// `x86_64-linux`, `aarch64-linux`, `armv7-linux` (hard-float ARMv7),
/// `armv6hf-linux` (hard-float ARMv6), `armv6-linux` (soft-float ARMv6,
/// the Pi Zero bundle), `x86_64-macos`, `aarch64-macos`. The 32-bit ARM
/// names tell the ABIs apart: a hard-float ARMv7 library does not load into
/// a soft-float ARMv6 host.
pub fn target_for_triple(triple: &str) -> Option<&'static str> {
    let mut parts = triple.split('-');
    let arch = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    let linux = rest.contains(&"linux");
    let darwin = rest.contains(&"darwin");
    let hard_float = rest.last().is_some_and(|abi| abi.ends_with("eabihf"));
    Some(match arch {
        "x86_64" if linux => "x86_64-linux",
        "aarch64" if linux => "aarch64-linux",
        "x86_64" if darwin => "x86_64-macos",
        "aarch64" if darwin => "aarch64-macos",
        "armv7" if linux && hard_float => "armv7-linux",
        "arm" | "armv6" if linux && hard_float => "armv6hf-linux",
        "arm" | "armv6" | "armv5te" if linux => "armv6-linux",
        _ => return None,
    })
}
