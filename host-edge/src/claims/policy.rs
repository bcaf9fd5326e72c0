//! Trust policy: which issuers the host accepts, what is revoked, and what to
//! do when the board's clock cannot be trusted.
//!
//! Many boards (Raspberry Pi among them) have no real-time clock. Until NTP
//! answers — and offline it never does — the clock reads whatever
//! fake-hwclock saved, or 1970. Comparing `exp`/`nbf` against such a clock
//! would reject every token, or, worse, accept expired ones without a word.
//! The rule host-edge applies is [`ClockRule`]; see docs/claims.md.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use super::keys::{check_public_key, KeyError, KeyRole};

/// What to do when the system clock reads earlier than a token's `iat`.
///
/// A token cannot have been issued in the future, so a clock behind `iat`
/// is known to be wrong (beyond [`CLOCK_SKEW_SECS`] of tolerated skew).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockRule {
    /// Evaluate `exp` and `nbf` as if the time were the token's `iat`, the
    /// latest moment known to have passed, and log a warning naming the
    /// actor. A token that expired before it was issued, or is not valid
    /// until after, is still refused. The default: boards without a clock
    /// must still start their actors offline.
    #[default]
    TrustIssuedAt,
    /// Refuse the actor: the clock must be set (NTP, an RTC) first.
    Reject,
}

/// Seconds a signer's clock may run ahead of the board before the board's
/// clock is treated as unset.
pub const CLOCK_SKEW_SECS: u64 = 300;

/// The host's trust policy, the `[policy]` table of the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Account keys (`A…`) whose signatures the host accepts. Empty means
    /// any issuer with a valid signature (the host warns at start-up).
    #[serde(default)]
    pub trusted_issuers: BTreeSet<String>,
    /// Module keys (`M…`) that are refused whatever their tokens say.
    #[serde(default)]
    pub revoked_subjects: BTreeSet<String>,
    /// Token ids (`jti`) that are refused.
    #[serde(default)]
    pub revoked_tokens: BTreeSet<String>,
    /// The rule for a clock that reads earlier than a token's `iat`.
    #[serde(default)]
    pub clock: ClockRule,
}

impl Policy {
    /// Checks that every key named in the policy is a well-formed key of
    /// the right role, so a typo cannot silently trust or revoke nothing.
    pub fn validate(&self) -> Result<(), KeyError> {
        for issuer in &self.trusted_issuers {
            check_public_key(issuer, KeyRole::Account)?;
        }
        for subject in &self.revoked_subjects {
            check_public_key(subject, KeyRole::Module)?;
        }
        Ok(())
    }
}

/// Seconds since the Unix epoch by the system clock (0 if it reads before 1970).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
