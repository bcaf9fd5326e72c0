//! Fleet deployments: the deployment file an operator writes
//! (`DeploymentFile::load`, TOML), and the deployment a device receives in
//! a signed command (`Deployment`, JSON) with what the device does with it:
//! validate it, lay it over its manifest, expand `${NAME}` placeholders.
//!
//! The first byte picks the form: even, a deployment file, read from a
//! folder holding a real signed actor (`echo_s.wasm`, from the seed
//! corpus of `claims_verify`) and the file; odd, a deployment's JSON. Checks that
//! a deployment that validates names its modules and the provider archives
//! it carries inside the modules folder, each in 1 to `MAX_CHUNKS` chunks.

#![no_main]

use std::collections::BTreeMap;
use std::path::{Component, Path};
use std::sync::OnceLock;

use host_edge_fleet::deployment::{expand, module_file, Deployment, DeploymentFile, DEFAULT_CHUNK, MAX_CHUNKS};
use host_edge_runtime::Manifest;
use libfuzzer_sys::fuzz_target;

fn folder() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        // The signed echo actor of the claims targets' seeds, under its
        // own name: the deployment seeds name it.
        let signed = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/claims_verify/echo_s.wasm");
        if let Ok(bytes) = std::fs::read(&signed) {
            std::fs::write(dir.path().join("echo_s.wasm"), bytes).expect("writing the signed actor");
        }
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let vars = BTreeMap::from([("HTTP_PORT".to_owned(), "8081".to_owned()), ("PIN".to_owned(), "17".to_owned())]);
    let deployment = if mode % 2 == 0 {
        let path = folder().path().join("deployment.toml");
        std::fs::write(&path, rest).expect("writing the deployment file");
        match DeploymentFile::load(&path, DEFAULT_CHUNK) {
            Ok(file) => file.deployment,
            Err(_) => return,
        }
    } else {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        let _ = expand(text, &vars);
        match serde_json::from_str::<Deployment>(text) {
            Ok(deployment) => deployment,
            Err(_) => return,
        }
    };
    let _ = deployment.describe();
    let _ = deployment.checks_for(&vars);
    if deployment.validate().is_err() {
        return;
    }
    let modules = Path::new("/var/lib/host-edge/modules");
    for actor in &deployment.actors {
        assert!(actor.chunks() >= 1);
        assert_eq!(module_file(modules, &actor.sha256).parent(), Some(modules));
    }
    // Modules and carried provider archives alike.
    for shipment in deployment.shipments(modules) {
        assert!(shipment.chunks() >= 1 && shipment.chunks() <= MAX_CHUNKS);
        let file = &shipment.file;
        assert_eq!(file.parent(), Some(modules), "a validated file leaves the modules folder: {}", file.display());
        assert!(file.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_))));
    }
    let base = Manifest::parse("", Path::new("/opt/host-edge")).expect("the empty manifest parses");
    // The provider folder does not exist here, so a deployment naming a
    // provider is refused; the paths checks are the unit tests' (deployment.rs).
    let _ = deployment.manifest(&base, modules, Path::new("/var/lib/host-edge/providers"), &vars);
});
