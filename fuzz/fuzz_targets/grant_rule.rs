//! Grant rules and transported grants (`provider_abi::grant`): rule texts
//! from signed claims and manifest links, and the grant JSON a provider
//! reads from its binding values.
//!
//! Checks that a rule that parses prints back to text that parses to the
//! same rule, that a grant that reads serializes to JSON that reads to the
//! same decisions, and that a rule kind no provider understands permits
//! nothing.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use provider_abi::grant::{Grant, Rule, GRANT_KEY};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for line in text.lines() {
        if let Ok(rule) = line.parse::<Rule>() {
            let printed = rule.to_string();
            assert_eq!(printed.parse::<Rule>().as_ref(), Ok(&rule), "`{line}` prints as `{printed}`");
            if !rule.is_understood() {
                assert!(!rule.permits(line) && !rule.permits(rule.value()), "a rule of unknown kind permits");
            }
        }
    }
    let values = BTreeMap::from([(GRANT_KEY.to_owned(), text.to_owned())]);
    if let Ok(grant) = Grant::from_values(&values) {
        let _ = grant.describe();
        let _ = grant.check("wascc:keyvalue", "read", "sensors:a");
        let probes = ["", "sensors:a", text];
        match grant.to_value() {
            None => assert!(grant.is_unrestricted()),
            Some(json) => {
                let again = Grant::from_values(&BTreeMap::from([(GRANT_KEY.to_owned(), json)])).expect("a grant reads back");
                for probe in probes {
                    assert_eq!(again.permits(probe), grant.permits(probe));
                }
            }
        }
    }
});
