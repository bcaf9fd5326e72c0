//! The host-edge manifest (TOML, `Manifest::parse`): what `host-edge run`
//! and `host-edge check` read, and what fleet deployments are laid over.
//!
//! Checks that a manifest that parses yields the commands, limits and
//! settings the host asks of it without a panic, and that every accessor
//! the manifest documents as "checked when the manifest is parsed" gives a
//! value.

#![no_main]

use std::path::Path;

use host_edge_runtime::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(manifest) = Manifest::parse(text, Path::new("/nonexistent/host-edge-fuzz")) else { return };
    let commands = manifest.commands();
    assert_eq!(commands.len(), manifest.actors.len() + manifest.providers.len() + manifest.links.len());
    let _ = manifest.host.builtins();
    let _ = manifest.host.scaling();
    let _ = manifest.host.health_interval();
    if manifest.host.metrics_address.as_deref().is_some_and(|a| a != "off") {
        assert!(manifest.host.metrics_address().is_some(), "a metrics address passed the parse but does not read");
    }
    // The [fleet] table is data to the runtime; fleet control checks it
    // (as `run` and `check` do), and refuses or resolves, never panics.
    let _ = host_edge_fleet::config::of_manifest(&manifest);
    for actor in &manifest.actors {
        let _ = actor.limits(manifest.limits);
    }
});
