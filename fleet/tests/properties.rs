//! Properties of a deployment's placeholders over generated input: a
//! device's values replace them and other text stays. The `deployment` and
//! `fleet_command` fuzz targets in fuzz/ check the parsers on arbitrary
//! bytes.

use std::collections::BTreeMap;

use host_edge_fleet::deployment::expand;
use proptest::prelude::*;

proptest! {
    #[test]
    fn placeholders_take_the_devices_values_and_other_text_stays(
        plain in "[^$]{0,30}", name in "[A-Z_]{1,10}", value in ".{0,20}", tail in "[^$]{0,30}",
    ) {
        let vars = BTreeMap::from([(name.clone(), value.clone())]);
        prop_assert_eq!(expand(&plain, &vars).unwrap(), plain.clone());
        let placeholder = format!("{plain}${{{name}}}{tail}");
        prop_assert_eq!(expand(&placeholder, &vars).unwrap(), format!("{plain}{value}{tail}"));
        let dollars = format!("{plain}$${tail}");
        prop_assert_eq!(expand(&dollars, &vars).unwrap(), format!("{plain}${tail}"));
        let missing = format!("{plain}${{{name}_MISSING}}");
        let refused = expand(&missing, &vars).unwrap_err().to_string();
        prop_assert!(refused.contains("has no value on this device"), "{}", refused);
    }
}
