//! Properties of the manifest parser over generated input: any text is
//! read as a manifest or refused with a reason. The `manifest_toml` and
//! `wascc_manifest` fuzz targets in fuzz/ check the same on arbitrary bytes.

use std::path::Path;

use host_edge_runtime::Manifest;
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_text_is_read_as_a_manifest_or_refused_with_a_reason(text in "(\\[\\[?[a-z]{0,8}\\]\\]?\n|[a-z_]{1,10} = (\"[^\"\n]{0,10}\"|[0-9]{1,20}|\\[\\])\n){0,8}") {
        match Manifest::parse(&text, Path::new("/opt/host-edge")) {
            Ok(manifest) => prop_assert_eq!(manifest.commands().len(), manifest.actors.len() + manifest.providers.len() + manifest.links.len()),
            Err(problems) => prop_assert!(!problems.0.is_empty() && !problems.to_string().is_empty()),
        }
    }
}
