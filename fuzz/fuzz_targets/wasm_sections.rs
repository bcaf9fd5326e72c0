//! The claims custom-section scan and the module hash
//! (`claims::section`), on arbitrary bytes.
//!
//! Checks, for every module the scan accepts: cutting the claims sections
//! out leaves a module the scan accepts with none left; the hash of a
//! module is the SHA-256 of that cut module; and appending a token to the
//! cut module gives back one claims section holding exactly that token,
//! under the same hash (signing and verifying agree on the hashed bytes).

#![no_main]

use claims::section::{append_claims, hash_bytes, hash_without_claims, module_hash, scan, strip_claims};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|module: &[u8]| {
    let Ok(sections) = scan(module) else {
        assert!(strip_claims(module).is_err() && module_hash(module).is_err());
        return;
    };
    for section in &sections.claims {
        assert!(section.range.start < section.range.end && section.range.end <= module.len());
    }
    let stripped = strip_claims(module).expect("a module that scans can be stripped");
    let left = scan(&stripped).expect("the stripped module still scans");
    assert!(left.claims.is_empty(), "claims sections left after stripping");
    let hash = module_hash(module).unwrap();
    assert_eq!(hash, hash_bytes(&stripped));
    assert_eq!(hash, hash_without_claims(module, &sections));
    let resigned = append_claims(&stripped, "a.b.c");
    let found = scan(&resigned).expect("a module with a token appended scans");
    assert_eq!(found.claims.len(), 1);
    assert_eq!(found.claims[0].token, "a.b.c");
    assert_eq!(module_hash(&resigned).unwrap(), hash);
});
