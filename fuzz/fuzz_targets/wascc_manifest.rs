//! waSCC's host manifest (YAML or JSON, `wascc_manifest::translate`), read
//! as a host-edge manifest.
//!
//! The first byte picks YAML (even) or JSON (odd). The translation runs
//! against a folder holding an actor file (`echo.wasm`) and host-edge's
//! provider libraries (empty files), so that translations can succeed.
//! Checks that a translation is TOML the manifest parser reads.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use host_edge_runtime::wascc_manifest::translate;
use host_edge_runtime::Manifest;
use libfuzzer_sys::fuzz_target;

/// The folder the manifest's paths are taken from: `echo.wasm`, and the
/// provider libraries in `providers/`.
fn base() -> &'static (tempfile::TempDir, Vec<PathBuf>) {
    static BASE: OnceLock<(tempfile::TempDir, Vec<PathBuf>)> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("echo.wasm"), b"").expect("writing the actor file");
        let providers = dir.path().join("providers");
        std::fs::create_dir(&providers).expect("creating the provider folder");
        for name in ["keyvalue_sqlite", "keyvalue_redis", "http_server", "http_client", "messaging_mqtt", "blobstore_fs", "gpio", "i2c", "spi", "serial"] {
            std::fs::write(providers.join(format!("lib{name}.so")), b"").expect("writing a provider file");
        }
        (dir, vec![providers])
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let (dir, providers) = base();
    let Ok(toml) = translate(text, mode % 2 == 1, dir.path(), providers) else { return };
    if let Err(e) = Manifest::parse(&toml, dir.path()) {
        // Two capabilities entries for one library and binding translate
        // to two providers of one name, which the manifest refuses.
        assert!(e.to_string().contains("is named twice"), "a translation does not parse: {e}\n{toml}");
    }
});
