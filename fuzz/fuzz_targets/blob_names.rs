//! Blob store container and object names
//! (`providers/blobstore-fs/src/names.rs`, compiled in from its source:
//! the provider is a cdylib only), as actors send them.
//!
//! Checks that a name the check accepts is exactly one plain path segment:
//! joined to a root it gives a path one level below that root, naming no
//! `.`, `..`, root or prefix, so no name leads out of the actor's folder.

#![no_main]

#[allow(dead_code)]
#[path = "../../providers/blobstore-fs/src/names.rs"]
mod names;

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use names::{check, Kind};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else { return };
    for kind in [Kind::Container, Kind::Object] {
        if check(kind, name).is_ok() {
            let root = Path::new("/srv/blobs/actor");
            let joined = root.join(name);
            assert_eq!(joined.parent(), Some(root), "`{}` leaves the folder it is joined to", name.escape_debug());
            let components: Vec<Component> = Path::new(name).components().collect();
            assert!(
                matches!(components[..], [Component::Normal(segment)] if segment == name),
                "`{}` is not one plain segment: {components:?}",
                name.escape_debug()
            );
        }
    }
});
