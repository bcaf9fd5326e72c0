//! Offline verification of an actor's claims, one named check at a time.
//!
//! Every check is recorded with its outcome, so `host-edge inspect` can show
//! the whole picture and the loader can refuse with the first failure's name.
//! Nothing here touches the network.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

use provider_abi::grant::{GrantError, Rule};

use super::keys::{check_public_key, KeyRole};
use super::policy::{ClockRule, Policy, CLOCK_SKEW_SECS};
use super::section::{self, SectionError};
use super::token::{ActorClaims, ActorMetadata};
use crate::capability::{CapabilityId, InvalidCapabilityId};

/// One verification step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The file is a WebAssembly module whose sections can be read.
    Module,
    /// The module carries exactly one claims section.
    ClaimsSection,
    /// The token is a JWT of three base64url segments with readable claims.
    Token,
    /// The JWT header is exactly `{"typ":"jwt","alg":"Ed25519"}`.
    Header,
    /// `iss` is a well-formed account key (prefix and checksum).
    IssuerKey,
    /// `sub` is a well-formed module key (prefix and checksum).
    SubjectKey,
    /// The Ed25519 signature verifies with the key in `iss`.
    Signature,
    /// The module hash in the token matches the module.
    Hash,
    /// The fine-grained grants, if any, name capabilities and hold rules
    /// that can be read.
    Grants,
    /// The system clock is plausible (not behind the token's `iat`).
    Clock,
    /// The token has not expired (`exp`).
    Expiry,
    /// The token is already valid (`nbf`).
    NotBefore,
    /// The issuer is one the policy trusts.
    TrustedIssuer,
    /// The subject (module key) has not been revoked.
    SubjectRevocation,
    /// The token id (`jti`) has not been revoked.
    TokenRevocation,
    /// A provider archive: the file is a tar (gzipped or not) holding one
    /// `claims.jwt` and libraries named `<target>.bin`, within the limits.
    Archive,
    /// A provider archive's claims name a capability id.
    Capability,
    /// A provider archive holds a library for this machine's target, and
    /// its claims sign that library's hash.
    Target,
}

/// The checks of an actor, in the order they run.
const ACTOR_CHECKS: [Check; 15] = [
    Check::Module,
    Check::ClaimsSection,
    Check::Token,
    Check::Header,
    Check::IssuerKey,
    Check::SubjectKey,
    Check::Signature,
    Check::Hash,
    Check::Grants,
    Check::Clock,
    Check::Expiry,
    Check::NotBefore,
    Check::TrustedIssuer,
    Check::SubjectRevocation,
    Check::TokenRevocation,
];

impl Check {
    /// The name printed in refusals and reports.
    pub fn name(self) -> &'static str {
        match self {
            Check::Module => "module",
            Check::ClaimsSection => "claims-section",
            Check::Token => "token",
            Check::Header => "header",
            Check::IssuerKey => "issuer-key",
            Check::SubjectKey => "subject-key",
            Check::Signature => "signature",
            Check::Hash => "hash",
            Check::Grants => "grants",
            Check::Clock => "clock",
            Check::Expiry => "expiry",
            Check::NotBefore => "not-before",
            Check::TrustedIssuer => "trusted-issuer",
            Check::SubjectRevocation => "subject-revocation",
            Check::TokenRevocation => "token-revocation",
            Check::Archive => "archive",
            Check::Capability => "capability",
            Check::Target => "target",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "kebab-case")]
pub enum Outcome {
    /// The check passed; the text says what was seen.
    Passed(String),
    /// The check passed with a caveat the operator should see.
    Warned(String),
    /// The check failed; the text says why.
    Failed(String),
    /// The check could not run because an earlier one failed.
    Skipped(String),
}

/// A check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// Which check.
    pub check: Check,
    /// What it found.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A refusal: the first check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("claims check `{check}` failed: {detail}")]
pub struct ClaimsError {
    /// The failed check.
    pub check: Check,
    /// Why it failed.
    pub detail: String,
}

/// Everything verification found out about a module.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every check, in the order run.
    pub checks: Vec<CheckResult>,
    /// The decoded claims, when the token could be read.
    pub claims: Option<ActorClaims>,
    /// The section the token was read from (`jwt` or `wasmcloud_jwt`).
    pub section: Option<String>,
    /// The time the checks were evaluated at, in seconds since the epoch.
    pub evaluated_at: u64,
}

impl Report {
    /// The first failed check, if any.
    pub fn first_failure(&self) -> Option<ClaimsError> {
        first_failure(&self.checks)
    }

    /// The verified claims, or the first failed check.
    pub fn into_verified(self) -> Result<VerifiedClaims, ClaimsError> {
        if let Some(failure) = self.first_failure() {
            return Err(failure);
        }
        let warnings = warnings(&self.checks);
        let claims = self.claims.ok_or_else(|| ClaimsError {
            check: Check::Token,
            detail: "no claims were decoded".into(),
        })?;
        let metadata = claims.metadata.clone().ok_or_else(|| ClaimsError {
            check: Check::Token,
            detail: "the token has no `wascap` metadata".into(),
        })?;
        Ok(VerifiedClaims {
            claims,
            metadata,
            warnings,
        })
    }
}

/// The first failed check of `checks`, if any.
pub(crate) fn first_failure(checks: &[CheckResult]) -> Option<ClaimsError> {
    checks.iter().find_map(|r| match &r.outcome {
        Outcome::Failed(detail) => Some(ClaimsError { check: r.check, detail: detail.clone() }),
        _ => None,
    })
}

/// The caveats among `checks`: `check: text` for each warning.
pub(crate) fn warnings(checks: &[CheckResult]) -> Vec<String> {
    checks
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Warned(text) => Some(format!("{}: {text}", r.check)),
            _ => None,
        })
        .collect()
}

/// Claims that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedClaims {
    /// The full JWT claims.
    pub claims: ActorClaims,
    /// Their `wascap` metadata.
    pub metadata: ActorMetadata,
    /// Caveats the operator should see (an unset clock, say).
    pub warnings: Vec<String>,
}

impl VerifiedClaims {
    /// The actor's module key (`M…`): its identity in the host.
    pub fn subject(&self) -> &str {
        &self.claims.subject
    }

    /// The account key that signed the actor.
    pub fn issuer(&self) -> &str {
        &self.claims.issuer
    }

    /// The friendly name, or the subject when the token has none.
    pub fn display_name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or(&self.claims.subject)
    }

    /// The capability ids the claims grant, as written in the token.
    /// waSCC also lists here the module keys of the actors this one may
    /// call; [`VerifiedClaims::callable_actors`] reads those.
    pub fn capabilities(&self) -> &[String] {
        self.metadata.caps.as_deref().unwrap_or(&[])
    }

    /// The module keys (`M…`, checksum checked) among the token's `caps`:
    /// the actors this one may call, in waSCC's form. Anything else in
    /// `caps` is a capability id, or neither and ignored.
    pub fn callable_actors(&self) -> impl Iterator<Item = &str> {
        self.capabilities()
            .iter()
            .map(String::as_str)
            .filter(|cap| crate::keys::check_public_key(cap, crate::keys::KeyRole::Module).is_ok())
    }

    /// The fine-grained grant the token signs for `capability` (matched in
    /// any spelling, so `wasmcloud:keyvalue` finds `wascc:keyvalue`): its
    /// rules, any of which permits a resource, or `None` when the token
    /// carries no grant for it and does not narrow it.
    ///
    /// The `grants` check has made sure the grants read. Should they not
    /// (claims assembled by hand, never verified), every capability reads
    /// as granted with no rules, which permits nothing: a grant that cannot
    /// be read never widens.
    pub fn signed_grant(&self, capability: &CapabilityId) -> Option<Vec<Rule>> {
        match read_grants(&self.metadata) {
            Ok(mut grants) => grants.remove(capability),
            Err(_) => Some(Vec::new()),
        }
    }

    /// Every fine-grained grant the token signs, by canonical capability id;
    /// empty when it carries none. Grants that cannot be read give an empty
    /// map here; see [`VerifiedClaims::signed_grant`] for how they are
    /// enforced.
    pub fn signed_grants(&self) -> BTreeMap<CapabilityId, Vec<Rule>> {
        read_grants(&self.metadata).unwrap_or_default()
    }
}

/// Why the token's `grants` cannot be read: the first entry that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantsError {
    /// A grant is keyed by something that is not a capability id.
    #[error("a grant is for {0}")]
    Capability(InvalidCapabilityId),
    /// Two keys spell the same capability.
    #[error("the token has two grants for {capability} (as `{first}` and `{second}`); it must have one")]
    Twice {
        /// The capability, canonical.
        capability: CapabilityId,
        /// The first spelling.
        first: String,
        /// The second spelling.
        second: String,
    },
    /// A rule of a grant is not `kind:value`.
    #[error("the grant for {capability}: {problem}")]
    Rule {
        /// The capability the grant is for.
        capability: CapabilityId,
        /// What is wrong with the rule.
        problem: GrantError,
    },
}

/// The token's `grants`, by canonical capability id, with parsed rules; an
/// error naming the first entry that cannot be read: a capability id that is
/// not one, a rule that is not `kind:value`, or two spellings of the same
/// capability.
pub fn read_grants(metadata: &ActorMetadata) -> Result<BTreeMap<CapabilityId, Vec<Rule>>, GrantsError> {
    let mut grants = BTreeMap::new();
    let mut spelled: BTreeMap<CapabilityId, &str> = BTreeMap::new();
    for (id, texts) in metadata.grants.iter().flatten() {
        let capability = CapabilityId::parse(id).map_err(GrantsError::Capability)?;
        if let Some(first) = spelled.insert(capability.clone(), id) {
            return Err(GrantsError::Twice { capability, first: first.to_owned(), second: id.clone() });
        }
        let rules = texts
            .iter()
            .map(|text| text.parse::<Rule>().map_err(|problem| GrantsError::Rule { capability: capability.clone(), problem }))
            .collect::<Result<Vec<Rule>, GrantsError>>()?;
        grants.insert(capability, rules);
    }
    Ok(grants)
}

/// `wascc:keyvalue: prefix:sensors:, prefix:lab:` for each capability,
/// joined with `; `.
pub fn describe_grants(grants: &BTreeMap<CapabilityId, Vec<Rule>>) -> String {
    grants
        .iter()
        .map(|(capability, rules)| {
            let rules: Vec<String> = rules.iter().map(Rule::to_string).collect();
            let rules = if rules.is_empty() { "(no rules: nothing)".to_owned() } else { rules.join(", ") };
            format!("{capability}: {rules}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs every check against `module` under `policy`, at time `now`
/// (seconds since the epoch).
pub fn inspect(module: &[u8], policy: &Policy, now: u64) -> Report {
    let mut run = Run::new(&ACTOR_CHECKS, now);
    let (claims, section) = run.all(module, policy, now);
    Report {
        checks: run.checks,
        claims,
        section,
        evaluated_at: run.evaluated_at,
    }
}

/// Verifies `module` under `policy` at time `now`: the claims, or the first
/// failed check.
pub fn verify(module: &[u8], policy: &Policy, now: u64) -> Result<VerifiedClaims, ClaimsError> {
    inspect(module, policy, now).into_verified()
}

/// A run of checks in progress: what each found, and the time the token's
/// dates were evaluated at. Actors and provider archives share the checks
/// of the token itself (framing, keys, signature, times, policy).
pub(crate) struct Run {
    pub checks: Vec<CheckResult>,
    pub evaluated_at: u64,
    /// Every check of this kind of token, in order (for [`Run::skip_rest`]).
    order: &'static [Check],
}

impl Run {
    /// A run of the checks in `order`, at time `now`.
    pub fn new(order: &'static [Check], now: u64) -> Run {
        Run { checks: Vec::new(), evaluated_at: now, order }
    }

    pub fn record(&mut self, check: Check, outcome: Outcome) -> bool {
        let passed = !matches!(outcome, Outcome::Failed(_) | Outcome::Skipped(_));
        self.checks.push(CheckResult { check, outcome });
        passed
    }

    pub fn pass(&mut self, check: Check, text: impl Into<String>) -> bool {
        self.record(check, Outcome::Passed(text.into()))
    }

    pub fn fail(&mut self, check: Check, text: impl Into<String>) -> bool {
        self.record(check, Outcome::Failed(text.into()))
    }

    /// Records every check after `after` as skipped because it failed.
    pub fn skip_rest(&mut self, after: Check) {
        let all = self.order;
        let from = all.iter().position(|c| *c == after).map_or(all.len(), |i| i + 1);
        for check in &all[from..] {
            self.record(*check, Outcome::Skipped(format!("`{after}` failed")));
        }
    }

    fn all(
        &mut self,
        module: &[u8],
        policy: &Policy,
        now: u64,
    ) -> (Option<ActorClaims>, Option<String>) {
        // Module framing and the claims section.
        let sections = match section::scan(module) {
            Ok(s) => s,
            Err(e) => {
                let text = match e {
                    SectionError::NotWasm => e.to_string(),
                    _ => format!("{e} (is the file truncated?)"),
                };
                self.fail(Check::Module, text);
                self.skip_rest(Check::Module);
                return (None, None);
            }
        };
        self.pass(Check::Module, format!("{} bytes", module.len()));
        let found = match sections.claims.as_slice() {
            [] => {
                self.fail(
                    Check::ClaimsSection,
                    "the module has no claims section (`jwt`): it is not signed; sign it with \
                     `host-edge sign MODULE.wasm -o SIGNED.wasm --issuer ISSUER.nk --subject MODULE.nk`",
                );
                self.skip_rest(Check::ClaimsSection);
                return (None, None);
            }
            [one] => one.clone(),
            many => {
                self.fail(
                    Check::ClaimsSection,
                    format!("the module carries {} claims sections; exactly one is allowed", many.len()),
                );
                self.skip_rest(Check::ClaimsSection);
                return (None, None);
            }
        };
        self.pass(Check::ClaimsSection, format!("`{}` section", found.name));
        let section_name = Some(found.name.clone());
        let jwt = found.token.trim();

        // The token itself.
        let segments: Vec<&str> = jwt.split('.').collect();
        if segments.len() != 3 {
            self.fail(
                Check::Token,
                format!("expected a JWT of 3 segments, found {}", segments.len()),
            );
            self.skip_rest(Check::Token);
            return (None, section_name);
        }
        let claims = match ActorClaims::decode(jwt) {
            Ok(c) if c.metadata.is_some() => c,
            Ok(_) => {
                self.fail(Check::Token, "the claims have no `wascap` metadata");
                self.skip_rest(Check::Token);
                return (None, section_name);
            }
            Err(e) => {
                self.fail(Check::Token, format!("the claims cannot be read: {e}"));
                self.skip_rest(Check::Token);
                return (None, section_name);
            }
        };
        self.pass(Check::Token, format!("jti {}", claims.id));
        let metadata = claims.metadata.clone().unwrap_or_default();

        self.header(segments[0]);
        let issuer_ok = match check_public_key(&claims.issuer, KeyRole::Account) {
            Ok(_) => self.pass(Check::IssuerKey, claims.issuer.clone()),
            Err(e) => self.fail(Check::IssuerKey, e.to_string()),
        };
        match check_public_key(&claims.subject, KeyRole::Module) {
            Ok(_) => self.pass(Check::SubjectKey, claims.subject.clone()),
            Err(e) => self.fail(Check::SubjectKey, e.to_string()),
        };
        if issuer_ok {
            self.signature::<ActorMetadata>(jwt);
        } else {
            self.record(
                Check::Signature,
                Outcome::Skipped("`issuer-key` failed".into()),
            );
        }
        self.hash(module, &sections, &metadata);
        self.grants(&metadata);
        self.times(&claims, policy.clock, now);
        self.policy(&claims, policy);
        (Some(claims), section_name)
    }

    pub fn header(&mut self, segment: &str) {
        let decoded = data_encoding::BASE64URL_NOPAD
            .decode(segment.as_bytes())
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        let expected = serde_json::json!({"typ": "jwt", "alg": "Ed25519"});
        match decoded {
            Some(h) if h == expected => self.pass(Check::Header, "typ jwt, alg Ed25519"),
            Some(h) => self.fail(
                Check::Header,
                format!("expected {{\"typ\":\"jwt\",\"alg\":\"Ed25519\"}}, found {h}"),
            ),
            None => self.fail(Check::Header, "the header is not base64url JSON"),
        };
    }

    pub fn signature<T: serde::Serialize + serde::de::DeserializeOwned + wascap::jwt::WascapEntity>(&mut self, jwt: &str) {
        match wascap::jwt::validate_token::<T>(jwt) {
            Ok(v) if v.signature_valid => self.pass(Check::Signature, "Ed25519, by the issuer"),
            Ok(_) => self.fail(
                Check::Signature,
                "the signature does not verify with the issuer's key (signed by another key, or the claims were edited)",
            ),
            Err(e) => self.fail(Check::Signature, format!("cannot verify: {e}")),
        };
    }

    fn hash(&mut self, module: &[u8], sections: &section::ModuleSections, metadata: &ActorMetadata) {
        let actual = section::hash_without_claims(module, sections);
        if actual == metadata.hash {
            self.pass(Check::Hash, actual);
        } else {
            self.fail(
                Check::Hash,
                format!(
                    "the module was changed after signing: token says {}, module is {actual}",
                    if metadata.hash.is_empty() { "(no hash)" } else { &metadata.hash }
                ),
            );
        }
    }

    fn grants(&mut self, metadata: &ActorMetadata) {
        let grants = match read_grants(metadata) {
            Ok(grants) => grants,
            Err(e) => {
                self.fail(Check::Grants, e.to_string());
                return;
            }
        };
        if grants.is_empty() {
            self.pass(Check::Grants, "none: every granted capability is unrestricted");
            return;
        }
        let granted: Vec<CapabilityId> = metadata
            .caps
            .iter()
            .flatten()
            .filter_map(|c| CapabilityId::parse(c).ok())
            .collect();
        let text = describe_grants(&grants);
        let idle: Vec<&str> =
            grants.keys().filter(|c| !granted.contains(c)).map(CapabilityId::as_str).collect();
        if idle.is_empty() {
            self.pass(Check::Grants, text);
        } else {
            self.record(
                Check::Grants,
                Outcome::Warned(format!(
                    "{text}; the token does not grant {}, so the grant has no effect",
                    idle.join(", ")
                )),
            );
        }
    }

    pub fn times<T>(&mut self, claims: &wascap::jwt::Claims<T>, rule: ClockRule, now: u64) {
        let mut at = now;
        if now.saturating_add(CLOCK_SKEW_SECS) < claims.issued_at {
            let seen = format!(
                "the system clock ({}) is behind the token's issue time ({}): the board's clock is probably not set",
                stamp(now),
                stamp(claims.issued_at)
            );
            match rule {
                ClockRule::Reject => {
                    self.fail(
                        Check::Clock,
                        format!("{seen}; set the clock (NTP or an RTC), or use the clock rule `trust-issued-at`"),
                    );
                    self.record(Check::Expiry, Outcome::Skipped("`clock` failed".into()));
                    self.record(Check::NotBefore, Outcome::Skipped("`clock` failed".into()));
                    return;
                }
                ClockRule::TrustIssuedAt => {
                    at = claims.issued_at;
                    self.record(
                        Check::Clock,
                        Outcome::Warned(format!("{seen}; times checked as of the issue time")),
                    );
                }
            }
        } else {
            self.pass(Check::Clock, format!("now {}", stamp(now)));
        }
        self.evaluated_at = at;
        match claims.expires {
            Some(exp) if exp <= at => {
                self.fail(Check::Expiry, format!("the token expired at {}", stamp(exp)))
            }
            Some(exp) => self.pass(Check::Expiry, format!("valid until {}", stamp(exp))),
            None => self.pass(Check::Expiry, "never expires"),
        };
        match claims.not_before {
            Some(nbf) if nbf > at => self.fail(
                Check::NotBefore,
                format!("the token is not valid until {}", stamp(nbf)),
            ),
            Some(nbf) => self.pass(Check::NotBefore, format!("valid since {}", stamp(nbf))),
            None => self.pass(Check::NotBefore, "valid from issue"),
        };
    }

    pub fn policy<T>(&mut self, claims: &wascap::jwt::Claims<T>, policy: &Policy) {
        if policy.trusted_issuers.is_empty() {
            self.record(
                Check::TrustedIssuer,
                Outcome::Warned("no trusted issuers configured: any valid signer is accepted".into()),
            );
        } else if policy.trusted_issuers.contains(&claims.issuer) {
            self.pass(Check::TrustedIssuer, "issuer is trusted");
        } else {
            self.fail(
                Check::TrustedIssuer,
                format!("issuer {} is not in the trusted issuers", claims.issuer),
            );
        }
        match policy.subject_revocation(&claims.subject, claims.issued_at) {
            Some(why) => self.fail(Check::SubjectRevocation, why),
            None => self.pass(Check::SubjectRevocation, "not revoked"),
        };
        if policy.revoked_tokens.contains(&claims.id) {
            self.fail(Check::TokenRevocation, format!("token {} is revoked", claims.id));
        } else {
            self.pass(Check::TokenRevocation, "not revoked");
        }
    }
}

/// The first second of the year 10000: RFC 3339 writes four-digit years.
const RFC3339_END: u64 = 253_402_300_800;

/// Formats seconds since the epoch as an RFC 3339 UTC time; a time past
/// the year 9999 (which a token or a broken clock can carry, but neither
/// RFC 3339 nor every `SystemTime` can hold) as the seconds themselves.
pub fn stamp(secs: u64) -> String {
    if secs >= RFC3339_END {
        return format!("{secs} s after the epoch (after the year 9999)");
    }
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use nkeys::KeyPair;

    use super::*;
    use crate::capability::WellKnown;
    use crate::sign::{sign_module, SignOptions};
    use crate::token::{new_claims, ClaimsFields};

    /// The smallest module there is: the header alone.
    const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";
    const NOW: u64 = 1_800_000_000;

    fn rules(texts: &[&str]) -> Vec<Rule> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    fn signed(caps: &[WellKnown], grants: &[(WellKnown, &[&str])]) -> Vec<u8> {
        let options = SignOptions {
            caps: caps.iter().map(|&c| c.into()).collect(),
            grants: grants.iter().map(|(c, r)| ((*c).into(), rules(r))).collect(),
            issued_at: NOW,
            ..SignOptions::default()
        };
        sign_module(EMPTY_MODULE, &KeyPair::new_account(), &KeyPair::new_module(), &options).unwrap()
    }

    /// A module signed with metadata written by hand, as another tool might.
    fn signed_with_metadata(metadata: ActorMetadata) -> Vec<u8> {
        let issuer = KeyPair::new_account();
        let fields = ClaimsFields {
            id: "jti".into(),
            issued_at: NOW,
            issuer: issuer.public_key(),
            subject: KeyPair::new_module().public_key(),
            expires: None,
            not_before: None,
        };
        let metadata = ActorMetadata { hash: section::hash_bytes(EMPTY_MODULE), ..metadata };
        let jwt = new_claims(fields, metadata).unwrap().encode(&issuer).unwrap();
        section::append_claims(EMPTY_MODULE, &jwt)
    }

    fn grants(pairs: &[(&str, &[&str])]) -> Option<BTreeMap<String, Vec<String>>> {
        Some(pairs.iter().map(|(c, r)| (c.to_string(), r.iter().map(|t| t.to_string()).collect())).collect())
    }

    fn outcome(report: &Report, check: Check) -> Outcome {
        report.checks.iter().find(|r| r.check == check).unwrap().outcome.clone()
    }

    #[test]
    fn a_signed_grant_is_found_under_any_spelling_of_its_capability() {
        let module = signed(&[WellKnown::KeyValue], &[(WellKnown::KeyValue, &["prefix:sensors:", "prefix:lab:"])]);
        let claims = verify(&module, &Policy::default(), NOW).unwrap();
        let want = Some(rules(&["prefix:sensors:", "prefix:lab:"]));
        for spelling in ["wascc:keyvalue", "wasmcloud:keyvalue", "wascap:keyvalue"] {
            assert_eq!(claims.signed_grant(&CapabilityId::parse(spelling).unwrap()), want, "{spelling}");
        }
        assert_eq!(claims.metadata.grants, grants(&[("wascc:keyvalue", &["prefix:sensors:", "prefix:lab:"])]));
    }

    #[test]
    fn a_capability_without_a_signed_grant_is_not_narrowed_by_the_token() {
        let module = signed(&[WellKnown::KeyValue, WellKnown::Logging], &[(WellKnown::KeyValue, &["prefix:a"])]);
        let claims = verify(&module, &Policy::default(), NOW).unwrap();
        assert_eq!(claims.signed_grant(&WellKnown::Logging.into()), None);
        let plain = verify(&signed(&[WellKnown::KeyValue], &[]), &Policy::default(), NOW).unwrap();
        assert_eq!(plain.signed_grant(&WellKnown::KeyValue.into()), None);
        assert_eq!(plain.metadata.grants, None);
        assert!(plain.signed_grants().is_empty());
    }

    #[test]
    fn the_grants_check_shows_every_signed_grant() {
        let module = signed(&[WellKnown::KeyValue], &[(WellKnown::KeyValue, &["prefix:sensors:"])]);
        let report = inspect(&module, &Policy::default(), NOW);
        assert_eq!(outcome(&report, Check::Grants), Outcome::Passed("wascc:keyvalue: prefix:sensors:".into()));
        let plain = inspect(&signed(&[WellKnown::KeyValue], &[]), &Policy::default(), NOW);
        assert!(matches!(outcome(&plain, Check::Grants), Outcome::Passed(t) if t.starts_with("none")));
    }

    #[test]
    fn grants_written_in_another_spelling_are_read_canonically() {
        let module = signed_with_metadata(ActorMetadata {
            caps: Some(vec!["wasmcloud:keyvalue".into()]),
            grants: grants(&[("wasmcloud:keyvalue", &["prefix:sensors:"])]),
            ..ActorMetadata::default()
        });
        let claims = verify(&module, &Policy::default(), NOW).unwrap();
        assert_eq!(claims.signed_grant(&WellKnown::KeyValue.into()), Some(rules(&["prefix:sensors:"])));
    }

    #[test]
    fn a_token_whose_grants_cannot_be_read_is_refused_by_the_grants_check() {
        for (bad, why) in [
            (grants(&[("wascc:keyvalue", &["sensors"])]), "`sensors` is not a grant rule"),
            (grants(&[("keyvalue", &["prefix:a"])]), "`keyvalue` is not a capability id"),
            (
                grants(&[("wascc:keyvalue", &["prefix:a"]), ("wasmcloud:keyvalue", &["prefix:b"])]),
                "two grants for wascc:keyvalue",
            ),
        ] {
            let module = signed_with_metadata(ActorMetadata {
                caps: Some(vec!["wascc:keyvalue".into()]),
                grants: bad,
                ..ActorMetadata::default()
            });
            let err = verify(&module, &Policy::default(), NOW).unwrap_err();
            assert_eq!(err.check, Check::Grants, "{err}");
            assert!(err.detail.contains(why), "{err}");
        }
    }

    #[test]
    fn unverified_claims_with_unreadable_grants_permit_nothing() {
        let module = signed(&[WellKnown::KeyValue], &[]);
        let mut claims = verify(&module, &Policy::default(), NOW).unwrap();
        claims.metadata.grants = grants(&[("wascc:keyvalue", &["no colon"])]);
        assert_eq!(claims.signed_grant(&WellKnown::KeyValue.into()), Some(Vec::new()));
    }

    #[test]
    fn a_grant_for_a_capability_the_token_does_not_grant_is_a_warning() {
        let module = signed_with_metadata(ActorMetadata {
            caps: Some(vec!["wascc:logging".into()]),
            grants: grants(&[("wascc:keyvalue", &["prefix:a"])]),
            ..ActorMetadata::default()
        });
        let report = inspect(&module, &Policy::default(), NOW);
        assert!(
            matches!(outcome(&report, Check::Grants), Outcome::Warned(t) if t.contains("does not grant wascc:keyvalue")),
            "{:?}",
            outcome(&report, Check::Grants)
        );
        assert!(report.into_verified().is_ok());
    }

    #[test]
    fn an_unsigned_module_is_refused_with_the_command_that_signs_it() {
        let err = verify(EMPTY_MODULE, &Policy::default(), NOW).unwrap_err();
        assert_eq!(err.check, Check::ClaimsSection);
        assert!(err.detail.starts_with("the module has no claims section (`jwt`): it is not signed; sign it with `host-edge sign "), "{err}");
    }

    /// A module whose token, signed by `signer` and naming `issuer` as its
    /// issuer, carries these dates.
    fn dated(signer: &KeyPair, issuer: &KeyPair, issued_at: u64, expires: Option<u64>, not_before: Option<u64>) -> Vec<u8> {
        let fields = ClaimsFields {
            id: "jti".into(),
            issued_at,
            issuer: issuer.public_key(),
            subject: KeyPair::new_module().public_key(),
            expires,
            not_before,
        };
        let metadata = ActorMetadata { hash: section::hash_bytes(EMPTY_MODULE), ..ActorMetadata::default() };
        let jwt = new_claims(fields, metadata).unwrap().encode(signer).unwrap();
        section::append_claims(EMPTY_MODULE, &jwt)
    }

    /// The first second of the year 10000, past what RFC 3339 can write.
    const YEAR_10000: u64 = 253_402_300_800;

    #[test]
    fn a_token_expiring_after_the_year_9999_is_checked_not_a_crash() {
        let issuer = KeyPair::new_account();
        let module = dated(&issuer, &issuer, NOW, Some(YEAR_10000), None);
        let report = inspect(&module, &Policy::default(), NOW);
        assert!(matches!(outcome(&report, Check::Expiry), Outcome::Passed(t) if t.contains("253402300800")), "{report:?}");
        assert!(report.into_verified().is_ok());
    }

    #[test]
    fn a_forged_token_with_dates_at_the_end_of_time_is_refused_not_a_crash() {
        // Signed by a key other than the issuer it names: the signature
        // fails, and every date is still printed in the report.
        let module = dated(&KeyPair::new_account(), &KeyPair::new_account(), u64::MAX, Some(u64::MAX), Some(u64::MAX));
        for rule in [ClockRule::TrustIssuedAt, ClockRule::Reject] {
            let err = verify(&module, &Policy { clock: rule, ..Policy::default() }, NOW).unwrap_err();
            assert_eq!(err.check, Check::Signature, "{err}");
        }
    }

    #[test]
    fn a_clock_reading_past_the_year_9999_is_checked_not_a_crash() {
        let issuer = KeyPair::new_account();
        let module = dated(&issuer, &issuer, NOW, Some(NOW + 60), None);
        let err = verify(&module, &Policy::default(), u64::MAX).unwrap_err();
        assert_eq!(err.check, Check::Expiry, "{err}");
        assert!(stamp(YEAR_10000 - 1).starts_with("9999-12-31T23:59:59"));
    }
}
