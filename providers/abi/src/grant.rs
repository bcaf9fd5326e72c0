//! Fine-grained grants: which resources of a capability an actor may touch.
//!
//! A capability in an actor's claims is all or nothing: `wascc:keyvalue`
//! reaches every key of the store. A grant narrows it to some resources:
//! key prefixes for key-value, and, with the same mechanism, GPIO pins, MQTT
//! topics, HTTP hosts or blob containers.
//!
//! A grant is built from [`Rule`]s, written `kind:value` (`prefix:sensors:`).
//! Rules come in [`Layer`]s, each from one [`Source`]: the signed claims
//! (`host-edge sign --grant`) or a manifest link (`grant = [...]`), which may
//! only narrow what the claims allow. A layer permits a resource when any of
//! its rules does; a [`Grant`] permits it when every layer does, so the
//! effective grant is the intersection of the signed rules and the link's.
//! A grant with no layers is unrestricted.
//!
//! The host hands the effective grant to the provider in the binding values,
//! as JSON under [`GRANT_KEY`]; the provider reads it with
//! [`Grant::from_values`] and asks [`Grant::check`] before it touches a
//! resource. Every provider reads and enforces grants through this one
//! module, so they all decide the same way, and a rule kind a provider does
//! not understand permits nothing (fail closed).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The binding value that carries the effective grant to the provider, as
/// the JSON of [`Grant::to_value`]. Absent when the actor is unrestricted.
pub const GRANT_KEY: &str = "__host_edge_grant";

/// Why a grant rule or a transported grant cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// A rule is not of the form `kind:value`.
    #[error("`{text}` is not a grant rule: {reason}; expected `kind:value`, such as `prefix:sensors:`")]
    Rule {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The grant in the binding values cannot be read. A provider must
    /// refuse the binding, never treat the actor as unrestricted.
    #[error("the grant in the binding value `{GRANT_KEY}` cannot be read: {0}")]
    Malformed(String),
}

/// A grant refused a resource: what was asked, under which capability, the
/// grant that refused it, and the rule kinds the provider does not
/// understand (they permit nothing). Displays as
/// ``key `admin:x` is outside the grant for wascc:keyvalue (signed: prefix:sensors:)``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{subject} is outside the grant for {capability} ({}){}",
    .grant.join("; "),
    not_understood_note(.capability, .not_understood)
)]
pub struct OutsideGrant {
    /// What was asked for, as the provider names it (``key `admin:x` ``).
    pub subject: String,
    /// The capability the grant narrows.
    pub capability: String,
    /// The grant, one line per layer, as [`Grant::describe`] gives it.
    pub grant: Vec<String>,
    /// The rule kinds of the grant the provider does not understand,
    /// sorted, each once; empty when it understands them all.
    pub not_understood: Vec<String>,
}

/// The end of a refusal's message that names the rule `kinds` the provider
/// does not understand (``; rules of kind `topic` are not understood for
/// …``); empty when there are none.
fn not_understood_note(capability: &str, kinds: &[String]) -> String {
    if kinds.is_empty() {
        return String::new();
    }
    let kinds: Vec<String> = kinds.iter().map(|kind| format!("`{kind}`")).collect();
    format!("; rules of kind {} are not understood for {capability} and permit nothing", kinds.join(", "))
}

/// One rule of a grant: a `kind` saying how to match and a `value` to match
/// against, written `kind:value`.
///
/// Kinds understood now:
/// - `prefix:VALUE`: the resource starts with `VALUE` at a boundary
///   ([`prefix_permits`]): `prefix:sensors:` reaches `sensors:t1`, and
///   `prefix:sensors` reaches `sensors` and `sensors:t1` but not
///   `sensorsadmin`;
/// - `exact:VALUE`: the resource is `VALUE` (`exact:config`).
///
/// Other kinds (`pins:17,27`, `topic:sensors/#`, `host:api.example.com`,
/// `container:photos`) parse, so tokens and manifests can carry them for the
/// providers that will understand them, but [`Rule::permits`] answers false
/// for them: a rule that is not understood never widens a grant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rule {
    kind: String,
    value: String,
}

impl Rule {
    /// A rule of `kind` and `value`; the kind must be lowercase ASCII
    /// letters, digits and `-`, the value must not be empty.
    pub fn new(kind: &str, value: &str) -> Result<Rule, GrantError> {
        let invalid = |reason| GrantError::Rule { text: format!("{kind}:{value}"), reason };
        if kind.is_empty() {
            return Err(invalid("the kind before `:` is empty"));
        }
        if !kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(invalid("the kind may hold only lowercase letters, digits and `-`"));
        }
        if value.is_empty() {
            return Err(invalid("the value after `:` is empty"));
        }
        Ok(Rule { kind: kind.to_owned(), value: value.to_owned() })
    }

    /// How the rule matches (`prefix`).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// What it matches against (`sensors:`).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether this code knows how to apply the rule's kind.
    pub fn is_understood(&self) -> bool {
        Rule::understood_kind(&self.kind)
    }

    /// Whether [`Rule::permits`] understands rules of `kind`.
    pub fn understood_kind(kind: &str) -> bool {
        matches!(kind, "prefix" | "exact")
    }

    /// Whether the rule lets the actor touch `resource`. False for a kind
    /// that is not understood.
    pub fn permits(&self, resource: &str) -> bool {
        self.matcher().is_some_and(|matches| matches(&self.value, resource))
    }

    /// The matching function of each understood kind, `(value, resource)`.
    /// A new kind is one more arm here.
    fn matcher(&self) -> Option<fn(&str, &str) -> bool> {
        match self.kind.as_str() {
            // Keep in step with `understood_kind`.
            "prefix" => Some(prefix_permits),
            "exact" => Some(|value, resource| resource == value),
            _ => None,
        }
    }
}

/// Whether the `prefix:` rule `prefix` permits `resource`.
///
/// A prefix that ends with a separator (any ASCII character that is not a
/// letter or digit: `:`, `/`, `.`, `-`, `_`, ...) is a plain string prefix:
/// `prefix:sensors:` permits `sensors:t1`. A prefix that ends with a letter,
/// a digit or any other character names a whole segment: it permits the
/// resource equal to it, or followed by a separator, so `prefix:sensors`
/// permits `sensors` and `sensors:t1` but not `sensorsadmin`, and
/// `prefix:sensors:t` permits `sensors:t:1` but not `sensors:temp`.
pub fn prefix_permits(prefix: &str, resource: &str) -> bool {
    let Some(rest) = resource.strip_prefix(prefix) else {
        return false;
    };
    let is_separator = |c: char| c.is_ascii() && !c.is_ascii_alphanumeric();
    prefix.ends_with(is_separator) || rest.is_empty() || rest.starts_with(is_separator)
}

impl FromStr for Rule {
    type Err = GrantError;

    /// Parses `kind:value`, splitting at the first `:` (the value may hold
    /// more).
    fn from_str(text: &str) -> Result<Rule, GrantError> {
        match text.split_once(':') {
            Some((kind, value)) => Rule::new(kind, value),
            None => Err(GrantError::Rule { text: text.to_owned(), reason: "there is no `:`" }),
        }
    }
}

impl TryFrom<String> for Rule {
    type Error = GrantError;
    fn try_from(text: String) -> Result<Rule, GrantError> {
        text.parse()
    }
}

impl From<Rule> for String {
    fn from(rule: Rule) -> String {
        rule.to_string()
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// Where a layer of a grant comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The actor's signed claims (`host-edge sign --grant`).
    Signed,
    /// The manifest link that binds the actor (`grant = [...]`).
    Link,
}

impl Source {
    /// `signed` or `link`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Signed => "signed",
            Source::Link => "link",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The rules of one source. It permits a resource when any of its rules
/// does; a layer without rules permits nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Where the rules come from.
    pub source: Source,
    /// The rules, any of which may permit.
    pub rules: Vec<Rule>,
}

impl Layer {
    /// A layer of `rules` from `source`.
    pub fn new(source: Source, rules: Vec<Rule>) -> Layer {
        Layer { source, rules }
    }

    /// Whether any rule permits `resource`.
    pub fn permits(&self, resource: &str) -> bool {
        self.rules.iter().any(|rule| rule.permits(resource))
    }

    /// One line: `signed: prefix:sensors:, prefix:lab:`.
    pub fn describe(&self) -> String {
        let rules: Vec<String> = self.rules.iter().map(Rule::to_string).collect();
        let rules = if rules.is_empty() { "(no rules: nothing)".to_owned() } else { rules.join(", ") };
        format!("{}: {rules}", self.source)
    }
}

/// What an actor may touch through one capability: the intersection of its
/// layers. No layers means unrestricted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grant {
    /// The layers, every one of which must permit.
    pub layers: Vec<Layer>,
}

impl Grant {
    /// The grant of an actor with no restriction.
    pub fn unrestricted() -> Grant {
        Grant::default()
    }

    /// A grant of `layers`.
    pub fn new(layers: Vec<Layer>) -> Grant {
        Grant { layers }
    }

    /// The effective grant of a link: the signed rules for the capability,
    /// when the token carries any (even an empty list, which permits
    /// nothing), narrowed by the link's rules, when it has any. Where the
    /// token carries no grant, the link alone decides; where neither does,
    /// the actor is unrestricted.
    pub fn effective(signed: Option<&[Rule]>, link: &[Rule]) -> Grant {
        let mut layers = Vec::new();
        if let Some(signed) = signed {
            layers.push(Layer::new(Source::Signed, signed.to_vec()));
        }
        if !link.is_empty() {
            layers.push(Layer::new(Source::Link, link.to_vec()));
        }
        Grant { layers }
    }

    /// True when the grant restricts nothing (it has no layers).
    pub fn is_unrestricted(&self) -> bool {
        self.layers.is_empty()
    }

    /// Whether every layer permits `resource`.
    pub fn permits(&self, resource: &str) -> bool {
        self.permits_by(|rule| rule.permits(resource))
    }

    /// Whether every layer has a rule that `permits` accepts: for providers
    /// whose rules are not plain matches on one string (GPIO's `out:17`
    /// names a mode and a pin, and the pin may be given by label or number).
    pub fn permits_by(&self, permits: impl Fn(&Rule) -> bool) -> bool {
        self.permits_by_source(|_, rule| permits(rule))
    }

    /// [`Grant::permits_by`] with each rule's [`Source`]: for providers
    /// that read a signed rule differently from a link's (GPIO resolves a
    /// signed pin label through the board's labels only, never through the
    /// manifest's).
    pub fn permits_by_source(&self, permits: impl Fn(Source, &Rule) -> bool) -> bool {
        self.layers.iter().all(|layer| layer.rules.iter().any(|rule| permits(layer.source, rule)))
    }

    /// `Ok` when the grant permits `resource`; otherwise the refusal, which
    /// names it as a `what` (`key`), the capability and the grant:
    /// ``key `admin:x` is outside the grant for wascc:keyvalue (signed: prefix:sensors:)``.
    pub fn check(&self, capability: &str, what: &str, resource: &str) -> Result<(), OutsideGrant> {
        self.check_by(capability, &format!("{what} `{resource}`"), Rule::understood_kind, |rule| {
            rule.permits(resource)
        })
    }

    /// [`Grant::check`] with the provider's own rule test: `Ok` when
    /// [`Grant::permits_by`] accepts, otherwise the refusal, whose message
    /// starts with `subject`, shows the grant, and names the rule kinds the
    /// provider does not `understand` (they permit nothing).
    pub fn check_by(
        &self,
        capability: &str,
        subject: &str,
        understood: impl Fn(&str) -> bool,
        permits: impl Fn(&Rule) -> bool,
    ) -> Result<(), OutsideGrant> {
        self.check_by_source(capability, subject, understood, |_, rule| permits(rule))
    }

    /// [`Grant::check_by`] with each rule's [`Source`], as in
    /// [`Grant::permits_by_source`].
    pub fn check_by_source(
        &self,
        capability: &str,
        subject: &str,
        understood: impl Fn(&str) -> bool,
        permits: impl Fn(Source, &Rule) -> bool,
    ) -> Result<(), OutsideGrant> {
        if self.permits_by_source(permits) {
            return Ok(());
        }
        let mut not_understood: Vec<String> = self
            .layers
            .iter()
            .flat_map(|layer| &layer.rules)
            .map(Rule::kind)
            .filter(|kind| !understood(kind))
            .map(str::to_owned)
            .collect();
        not_understood.sort_unstable();
        not_understood.dedup();
        Err(OutsideGrant {
            subject: subject.to_owned(),
            capability: capability.to_owned(),
            grant: self.describe(),
            not_understood,
        })
    }

    /// One line per layer, `signed: prefix:sensors:, prefix:lab:`; empty
    /// when unrestricted.
    pub fn describe(&self) -> Vec<String> {
        self.layers.iter().map(Layer::describe).collect()
    }

    /// The grant as the JSON value stored under [`GRANT_KEY`]; `None` when
    /// unrestricted, so no value is added.
    pub fn to_value(&self) -> Option<String> {
        if self.is_unrestricted() {
            return None;
        }
        Some(serde_json::to_string(self).expect("a grant always serializes"))
    }

    /// The grant stored under [`GRANT_KEY`] in binding `values`.
    /// A missing value is unrestricted; a value that cannot be read is an
    /// error, never an unrestricted grant.
    pub fn from_values(values: &BTreeMap<String, String>) -> Result<Grant, GrantError> {
        match values.get(GRANT_KEY) {
            None => Ok(Grant::unrestricted()),
            Some(json) => serde_json::from_str(json).map_err(|e| GrantError::Malformed(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Rule {
        text.parse().unwrap()
    }

    fn rules(texts: &[&str]) -> Vec<Rule> {
        texts.iter().map(|t| rule(t)).collect()
    }

    fn signed(texts: &[&str]) -> Layer {
        Layer::new(Source::Signed, rules(texts))
    }

    fn link(texts: &[&str]) -> Layer {
        Layer::new(Source::Link, rules(texts))
    }

    #[test]
    fn a_rule_is_kind_colon_value_split_at_the_first_colon() {
        let r = rule("prefix:sensors:room:1");
        assert_eq!(r.kind(), "prefix");
        assert_eq!(r.value(), "sensors:room:1");
        assert_eq!(r.to_string(), "prefix:sensors:room:1");
    }

    #[test]
    fn a_prefix_rule_permits_resources_that_start_with_its_value() {
        let r = rule("prefix:sensors:");
        assert!(r.permits("sensors:t1"));
        assert!(r.permits("sensors:"));
        assert!(!r.permits("sensors"));
        assert!(!r.permits("admin:x"));
        assert!(!r.permits("xsensors:t1"));
    }

    #[test]
    fn an_exact_rule_permits_only_its_value() {
        let r = rule("exact:config");
        assert!(r.permits("config"));
        assert!(!r.permits("config2"));
        assert!(!r.permits("conf"));
    }

    #[test]
    fn rule_kinds_for_future_providers_parse_but_permit_nothing() {
        for text in ["pins:17,27", "topic:sensors/#", "host:api.example.com", "container:photos", "glob:*"] {
            let r = rule(text);
            assert_eq!(r.to_string(), text);
            assert!(!r.is_understood(), "{text}");
            assert!(!r.permits("17"), "{text}");
            assert!(!r.permits("sensors/t1"), "{text}");
            assert!(!r.permits("*"), "{text}");
        }
        assert!(rule("prefix:a").is_understood());
        assert!(rule("exact:a").is_understood());
    }

    #[test]
    fn a_prefix_without_a_trailing_separator_does_not_admit_a_longer_word() {
        // `prefix:sensors` is meant as the `sensors` namespace; as a plain
        // string prefix it also reached `sensorsadmin`.
        let r = rule("prefix:sensors");
        assert!(!r.permits("sensorsadmin"));
        assert!(!r.permits("sensors2"));
        assert!(r.permits("sensors"));
        for separated in ["sensors:t1", "sensors/t1", "sensors.t1", "sensors-t1", "sensors_t1"] {
            assert!(r.permits(separated), "{separated}");
        }
        let within = rule("prefix:sensors:t");
        assert!(within.permits("sensors:t") && within.permits("sensors:t:1"));
        assert!(!within.permits("sensors:temp"), "a segment is matched whole");
        assert!(rule("prefix:photos-").permits("photos-2024"), "a trailing separator is a plain prefix");
    }

    #[test]
    fn prefix_boundaries_hold_for_every_resource_built_from_a_small_alphabet() {
        // Every resource of up to 4 symbols over letters, digits and
        // separators: the boundary rule, spelled out, agrees with the code.
        let alphabet = ['a', 'b', '1', ':', '/', '-'];
        let mut words = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = words.iter().flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}"))).collect();
            words.extend(longer);
        }
        words.sort();
        words.dedup();
        for prefix in ["a", "ab", "a:", "a1", "a/b", "a-"] {
            for resource in &words {
                let separated = |c: char| !c.is_ascii_alphanumeric();
                let expected = resource.starts_with(prefix)
                    && (prefix.ends_with(separated)
                        || resource.len() == prefix.len()
                        || resource[prefix.len()..].starts_with(separated));
                assert_eq!(prefix_permits(prefix, resource), expected, "prefix:{prefix} against `{resource}`");
                if prefix_permits(prefix, resource) {
                    assert!(resource.starts_with(prefix), "never more than a string prefix");
                }
            }
        }
    }

    #[test]
    fn malformed_rules_are_refused_naming_the_text_and_the_expected_form() {
        for (text, why) in [
            ("sensors", "there is no `:`"),
            (":sensors", "the kind before `:` is empty"),
            ("prefix:", "the value after `:` is empty"),
            ("Prefix:a", "only lowercase letters"),
            ("pre fix:a", "only lowercase letters"),
            ("pre_fix:a", "only lowercase letters"),
        ] {
            let err = text.parse::<Rule>().unwrap_err().to_string();
            assert!(err.contains(&format!("`{text}` is not a grant rule")), "{err}");
            assert!(err.contains(why), "{err}");
            assert!(err.contains("expected `kind:value`, such as `prefix:sensors:`"), "{err}");
        }
        assert!("my-kind2:x".parse::<Rule>().is_ok());
    }

    #[test]
    fn a_layer_permits_what_any_of_its_rules_permits() {
        let layer = signed(&["prefix:sensors:", "exact:config"]);
        assert!(layer.permits("sensors:t1"));
        assert!(layer.permits("config"));
        assert!(!layer.permits("admin:x"));
    }

    #[test]
    fn a_layer_without_rules_permits_nothing() {
        assert!(!signed(&[]).permits("anything"));
    }

    #[test]
    fn a_grant_without_layers_is_unrestricted() {
        let grant = Grant::unrestricted();
        assert!(grant.is_unrestricted());
        assert!(grant.permits("admin:x"));
        assert_eq!(grant.check("wascc:keyvalue", "key", "admin:x"), Ok(()));
        assert!(grant.describe().is_empty());
    }

    #[test]
    fn a_grant_permits_only_what_every_layer_permits() {
        let grant = Grant::new(vec![signed(&["prefix:sensors:"]), link(&["prefix:sensors:temp:", "prefix:admin:"])]);
        assert!(!grant.is_unrestricted());
        assert!(grant.permits("sensors:temp:1"));
        assert!(!grant.permits("sensors:hum:1"), "the link narrows the signed grant");
        assert!(!grant.permits("admin:x"), "the link cannot widen the signed grant");
    }

    #[test]
    fn permits_by_source_tells_the_signed_layer_from_the_links() {
        let grant = Grant::new(vec![signed(&["exact:a"]), link(&["exact:b"])]);
        assert!(grant.permits_by_source(|source, _| source == Source::Signed || source == Source::Link));
        assert!(!grant.permits_by_source(|source, _| source == Source::Signed));
    }

    #[test]
    fn a_refusal_names_the_resource_the_capability_and_the_grant() {
        let grant = Grant::new(vec![signed(&["prefix:sensors:"])]);
        assert_eq!(
            grant.check("wascc:keyvalue", "key", "admin:x").unwrap_err().to_string(),
            "key `admin:x` is outside the grant for wascc:keyvalue (signed: prefix:sensors:)"
        );
        assert_eq!(grant.check("wascc:keyvalue", "key", "sensors:t1"), Ok(()));

        let both = Grant::new(vec![signed(&["prefix:sensors:", "prefix:lab:"]), link(&["prefix:sensors:temp:"])]);
        assert_eq!(
            both.check("wascc:keyvalue", "key", "lab:1").unwrap_err().to_string(),
            "key `lab:1` is outside the grant for wascc:keyvalue \
             (signed: prefix:sensors:, prefix:lab:; link: prefix:sensors:temp:)"
        );
    }

    #[test]
    fn a_refusal_by_a_rule_kind_not_understood_says_so() {
        let grant = Grant::new(vec![signed(&["topic:sensors/#"])]);
        let err = grant.check("wascc:keyvalue", "key", "sensors/t1").unwrap_err().to_string();
        assert!(err.contains("rules of kind `topic` are not understood for wascc:keyvalue and permit nothing"), "{err}");
    }

    #[test]
    fn describe_gives_one_line_per_layer() {
        let grant = Grant::new(vec![signed(&["prefix:sensors:", "prefix:lab:"]), link(&["exact:sensors:t1"])]);
        assert_eq!(grant.describe(), ["signed: prefix:sensors:, prefix:lab:", "link: exact:sensors:t1"]);
    }

    #[test]
    fn the_effective_grant_intersects_the_signed_rules_with_the_link() {
        let grant = Grant::effective(Some(&rules(&["prefix:sensors:"])), &rules(&["prefix:sensors:temp:"]));
        assert_eq!(grant.describe(), ["signed: prefix:sensors:", "link: prefix:sensors:temp:"]);
        assert!(grant.permits("sensors:temp:1"));
        assert!(!grant.permits("sensors:hum:1"));
    }

    #[test]
    fn without_a_signed_grant_the_link_alone_decides() {
        let grant = Grant::effective(None, &rules(&["prefix:sensors:temp:"]));
        assert_eq!(grant.describe(), ["link: prefix:sensors:temp:"]);
        assert!(grant.permits("sensors:temp:1"));
        assert!(!grant.permits("admin:x"));
    }

    #[test]
    fn without_a_link_grant_the_signed_grant_alone_decides() {
        let grant = Grant::effective(Some(&rules(&["prefix:sensors:"])), &[]);
        assert_eq!(grant.describe(), ["signed: prefix:sensors:"]);
    }

    #[test]
    fn with_no_grant_anywhere_the_actor_is_unrestricted() {
        assert!(Grant::effective(None, &[]).is_unrestricted());
    }

    #[test]
    fn an_empty_signed_grant_permits_nothing_whatever_the_link_says() {
        let grant = Grant::effective(Some(&[]), &rules(&["prefix:sensors:"]));
        assert!(!grant.is_unrestricted());
        assert!(!grant.permits("sensors:t1"));
    }

    #[test]
    fn a_grant_travels_in_the_binding_values_and_comes_back_equal() {
        let grant = Grant::new(vec![signed(&["prefix:sensors:", "topic:a/#"]), link(&["exact:sensors:t1"])]);
        let json = grant.to_value().unwrap();
        assert_eq!(
            json,
            r#"[{"source":"signed","rules":["prefix:sensors:","topic:a/#"]},{"source":"link","rules":["exact:sensors:t1"]}]"#
        );
        let values = BTreeMap::from([(GRANT_KEY.to_owned(), json), ("PATH".to_owned(), "kv.db".to_owned())]);
        assert_eq!(Grant::from_values(&values).unwrap(), grant);
    }

    #[test]
    fn an_unrestricted_grant_adds_no_binding_value_and_a_missing_value_reads_as_unrestricted() {
        assert_eq!(Grant::unrestricted().to_value(), None);
        let values = BTreeMap::from([("PATH".to_owned(), "kv.db".to_owned())]);
        assert!(Grant::from_values(&values).unwrap().is_unrestricted());
    }

    #[test]
    fn a_malformed_grant_value_is_an_error_never_unrestricted() {
        for bad in [
            "",
            "not json",
            "{}",
            r#"[{"source":"signed"}]"#,
            r#"[{"source":"manifest","rules":["prefix:a"]}]"#,
            r#"[{"source":"signed","rules":["sensors"]}]"#,
            r#"[{"source":"signed","rules":["prefix:a"],"widen":true}]"#,
        ] {
            let values = BTreeMap::from([(GRANT_KEY.to_owned(), bad.to_owned())]);
            let err = Grant::from_values(&values).unwrap_err();
            assert!(matches!(err, GrantError::Malformed(_)), "{bad}: {err}");
            assert!(err.to_string().contains("`__host_edge_grant` cannot be read"), "{err}");
        }
    }
}
