//! The whole claims check (`claims::verify::inspect`) on arbitrary module
//! bytes: the seeds are real signed actors, so mutations reach the token,
//! its segments and the module hash.
//!
//! Checks that every check is reported once, in order, whatever the bytes,
//! and that `verify` accepts exactly the modules whose report has no failed
//! or skipped check.

#![no_main]

use claims::verify::{inspect, verify, Outcome};
use claims::{ClockRule, Policy};
use libfuzzer_sys::fuzz_target;

/// Times the check runs at: the epoch (a board without a clock), a
/// plausible present, and the end of time.
const NOWS: [u64; 3] = [0, 1_800_000_000, u64::MAX];

fuzz_target!(|module: &[u8]| {
    let policies = [Policy::default(), Policy { clock: ClockRule::Reject, ..Policy::default() }];
    for policy in &policies {
        for now in NOWS {
            let report = inspect(module, policy, now);
            assert_eq!(report.checks.len(), 15, "every check is reported once: {:?}", report.checks);
            let passed = report.checks.iter().all(|c| !matches!(c.outcome, Outcome::Failed(_) | Outcome::Skipped(_)));
            assert_eq!(verify(module, policy, now).is_ok(), passed);
        }
    }
});
