//! Trust policy: which issuers the host accepts, what is revoked, and what to
//! do when the board's clock cannot be trusted.
//!
//! Many boards (Raspberry Pi among them) have no real-time clock. Until NTP
//! answers — and offline it never does — the clock reads whatever
//! fake-hwclock saved, or 1970. Comparing `exp`/`nbf` against such a clock
//! would reject every token, or, worse, accept expired ones without a word.
//! The rule host-edge applies is [`ClockRule`]; see docs/claims.md.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, BTreeSet};
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
    /// Module keys (`M…`) of actors and service keys (`V…`) of provider
    /// archives that are refused whatever their tokens say.
    #[serde(default)]
    pub revoked_subjects: BTreeSet<String>,
    /// Token ids (`jti`) that are refused.
    #[serde(default)]
    pub revoked_tokens: BTreeSet<String>,
    /// Module or service keys whose tokens issued before a time are refused, as
    /// NATS revokes: a leaked or superseded version stops loading, while a
    /// token signed for it afterwards still does. The time is seconds since
    /// the epoch or an RFC 3339 date (`2026-11-01T00:00:00Z`). The check
    /// compares two signed times, so it holds whatever the board's clock says.
    #[serde(default, deserialize_with = "times_by_key")]
    pub revoked_issued_before: BTreeMap<String, u64>,
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
        for subject in self.revoked_subjects.iter().chain(self.revoked_issued_before.keys()) {
            // An actor's module key or a provider's service key.
            if check_public_key(subject, KeyRole::Service).is_err() {
                check_public_key(subject, KeyRole::Module)?;
            }
        }
        Ok(())
    }

    /// Adds every revocation of `other` to this policy: subjects, tokens,
    /// and revocations by issue time (the later time where both name a
    /// subject). Revocations only ever tighten, so a running host can take
    /// them at once (a manifest reload) without dropping the ones it holds
    /// from elsewhere (fleet revocations). Returns whether anything was
    /// added.
    pub fn add_revocations(&mut self, other: &Policy) -> bool {
        let before = (self.revoked_subjects.len(), self.revoked_tokens.len(), self.revoked_issued_before.clone());
        self.revoked_subjects.extend(other.revoked_subjects.iter().cloned());
        self.revoked_tokens.extend(other.revoked_tokens.iter().cloned());
        for (subject, &time) in &other.revoked_issued_before {
            let entry = self.revoked_issued_before.entry(subject.clone()).or_insert(time);
            *entry = (*entry).max(time);
        }
        before != (self.revoked_subjects.len(), self.revoked_tokens.len(), self.revoked_issued_before.clone())
    }

    /// Why tokens of `subject` issued at `issued_at` are revoked, if they
    /// are: the subject is revoked, or revoked for tokens issued before a
    /// later time.
    pub fn subject_revocation(&self, subject: &str, issued_at: u64) -> Option<String> {
        if self.revoked_subjects.contains(subject) {
            return Some(format!("{} {subject} is revoked", subject_kind(subject)));
        }
        let before = self.revoked_issued_before.get(subject).filter(|before| issued_at < **before)?;
        Some(format!(
            "{} {subject} is revoked for tokens issued before {}, and this one was issued at {}",
            subject_kind(subject),
            crate::verify::stamp(*before),
            crate::verify::stamp(issued_at)
        ))
    }

    /// Why the token `token_id` of `subject`, issued at `issued_at`, is
    /// revoked, if it is, by subject or by token id.
    pub fn revocation(&self, subject: &str, token_id: &str, issued_at: u64) -> Option<String> {
        self.subject_revocation(subject, issued_at)
            .or_else(|| self.revoked_tokens.contains(token_id).then(|| format!("token {token_id} is revoked")))
    }
}

/// What a revoked subject is, for messages: `module` for an actor's key,
/// `provider` for a provider archive's service key.
fn subject_kind(subject: &str) -> &'static str {
    if subject.starts_with('V') {
        "provider"
    } else {
        "module"
    }
}

/// Seconds since the epoch, written as a number or an RFC 3339 date.
fn times_by_key<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Time {
        Seconds(u64),
        Date(String),
    }
    let raw = BTreeMap::<String, Time>::deserialize(deserializer)?;
    raw.into_iter()
        .map(|(key, time)| match time {
            Time::Seconds(secs) => Ok((key, secs)),
            Time::Date(text) => humantime::parse_rfc3339_weak(&text)
                .map_err(|e| serde::de::Error::custom(format!("revoked_issued_before for {key}: `{text}` is not an RFC 3339 date: {e}")))
                .map(|t| (key, t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))),
        })
        .collect()
}

/// Seconds since the Unix epoch by the system clock (0 if it reads before 1970).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const M1: &str = "MB2ZQB6ROOMAYBO4ZCTFYWN7YIVBWA3MTKZYAQKJMTIHE2ELLRW2E3ZW";

    #[test]
    fn added_revocations_tighten_and_keep_the_ones_already_held() {
        let mut running = Policy { revoked_tokens: ["fleet-jti".to_owned()].into(), ..Policy::default() };
        running.revoked_issued_before.insert(M1.to_owned(), 2_000);
        let mut manifest = Policy { revoked_subjects: [M1.to_owned()].into(), ..Policy::default() };
        manifest.revoked_issued_before.insert(M1.to_owned(), 1_000);
        assert!(running.add_revocations(&manifest));
        assert!(running.revoked_subjects.contains(M1));
        assert!(running.revoked_tokens.contains("fleet-jti"), "a revocation held from elsewhere stays");
        assert_eq!(running.revoked_issued_before[M1], 2_000, "an earlier cut-off never loosens a later one");
        assert!(!running.add_revocations(&manifest), "nothing new the second time");
    }
}
