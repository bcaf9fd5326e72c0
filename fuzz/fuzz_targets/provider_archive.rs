//! Provider archives as they arrive from a manifest's path or a fleet
//! deployment's chunks: any bytes, read as a tar (gzipped or not) and then
//! checked as a provider's signed claims.
//!
//! Checks that reading never panics and stays within its bounds, that the
//! report and `verify_archive` agree, and that an archive the reader keeps
//! a library of carries exactly the bytes it hashed.

#![no_main]

use claims::archive::{self, hash_bytes};
use claims::provider::{inspect_archive, verify_archive};
use claims::Policy;
use libfuzzer_sys::fuzz_target;

const TARGET: &str = "x86_64-linux";

fuzz_target!(|data: &[u8]| {
    if let Ok(contents) = archive::read(data, Some(TARGET)) {
        assert!(contents.libraries.len() <= archive::MAX_ENTRIES);
        assert!(contents.libraries.iter().map(|l| l.size).sum::<u64>() <= archive::MAX_UNPACKED);
        if let Some(library) = contents.library(TARGET) {
            let bytes = library.bytes.as_ref().expect("the kept target's bytes are kept");
            assert_eq!(library.hash, hash_bytes(bytes));
            assert_eq!(library.size, bytes.len() as u64);
        }
    }
    let policy = Policy::default();
    for now in [0, 1_800_000_000, u64::MAX] {
        let report = inspect_archive(data, TARGET, &policy, now);
        assert_eq!(report.first_failure().is_none(), verify_archive(data, TARGET, &policy, now).is_ok());
    }
});
