//! Properties of container and object names over generated names (in the
//! crate, as the provider is a cdylib only). The `blob_names` fuzz target
//! in fuzz/ checks the same on arbitrary text.

use std::path::{Component, Path};

use proptest::prelude::*;

use crate::names::{check, Kind};

/// Names built from the pieces that make paths escape: separators, dots,
/// `..`, NUL, absolute starts, as well as plain letters and spaces.
fn name() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("/".to_owned()),
        Just("\\".to_owned()),
        Just("\0".to_owned()),
        Just("~".to_owned()),
        Just(" ".to_owned()),
        "[a-zA-Z0-9_=@+,-]{1,4}",
        "\\PC{1,2}",
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn an_accepted_name_never_leads_out_of_the_container_folder(name in name(), object in any::<bool>()) {
        let kind = if object { Kind::Object } else { Kind::Container };
        if check(kind, &name).is_ok() {
            let root = Path::new("/srv/blobs/actor");
            let joined = root.join(&name);
            prop_assert_eq!(joined.parent(), Some(root), "{:?} leaves the folder", name);
            let components: Vec<Component> = Path::new(&name).components().collect();
            prop_assert!(matches!(components[..], [Component::Normal(segment)] if segment == name.as_str()), "{:?} is {:?}", name, components);
        }
    }

    #[test]
    fn a_name_holding_a_separator_or_starting_with_a_dot_is_refused(
        before in "[a-z]{0,4}", separator in "(/|\\\\)", after in "[a-z.]{0,4}",
    ) {
        let name = format!("{before}{separator}{after}");
        prop_assert!(check(Kind::Object, &name).is_err(), "{:?} was accepted", name);
        let hidden = format!(".{before}");
        prop_assert!(check(Kind::Container, &hidden).is_err(), "{:?} was accepted", hidden);
    }
}
