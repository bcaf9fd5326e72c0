//! Declared settings: what a provider accepts, so the host can check a
//! manifest before it starts anything.
//!
//! Every provider declares its settings in its descriptor, as JSON: a list
//! of [`Setting`]s, each for the provider as a whole (`[[provider]]
//! settings`, e.g. a GPIO board or a broker connection several actors share)
//! or for one link (`[[link]] values`, e.g. a database file). The host reads
//! the list with [`parse`] and refuses a manifest whose settings or link
//! values name something undeclared or hold a value of the wrong type,
//! naming the provider, the setting and what it expected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::redact::redact_value;

/// Link values the host itself adds; never declared, always accepted.
pub const RESERVED_PREFIXES: [&str; 2] = ["__wascc_", "__host_edge_"];

/// Whether `settings` declare [`Setting::enforced_grant`].
pub fn enforces_grants(settings: &[Setting]) -> bool {
    settings.iter().any(|s| s.name == crate::grant::GRANT_KEY && s.scope == Scope::Link)
}

/// Where a setting is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Once for the provider instance: `[[provider]] settings`.
    Provider,
    /// Per link: `[[link]] values`.
    Link,
}

/// The type of a setting's value (values are always strings in manifests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "of")]
pub enum Kind {
    /// Any text.
    Text,
    /// A whole number, optionally bounded.
    Integer {
        /// The smallest value accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        /// The largest value accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    /// `true` or `false`.
    Boolean,
    /// One of a fixed set of words (compared without regard to case).
    Choice(Vec<String>),
}

/// One declared setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// Its name, as written in the manifest (`PORT`).
    pub name: String,
    /// Where it is given.
    pub scope: Scope,
    /// Its type.
    #[serde(flatten)]
    pub kind: Kind,
    /// The value used when it is not given; `None` for required settings
    /// and settings whose absence means something of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Whether it must be given.
    #[serde(default)]
    pub required: bool,
    /// What it does, for `host-edge` to show.
    #[serde(default)]
    pub doc: String,
}

impl Setting {
    /// An optional whole-number setting between `min` and `max` with a
    /// default.
    pub fn integer(name: &str, scope: Scope, min: i64, max: Option<i64>, default: &str, doc: &str) -> Setting {
        Setting::optional(name, scope, Kind::Integer { min: Some(min), max }, Some(default), doc)
    }

    /// An optional `true`/`false` setting with a default.
    pub fn boolean(name: &str, scope: Scope, default: bool, doc: &str) -> Setting {
        Setting::optional(name, scope, Kind::Boolean, Some(if default { "true" } else { "false" }), doc)
    }

    /// An optional text setting; `default` `None` when its absence means
    /// something of its own.
    pub fn text(name: &str, scope: Scope, default: Option<&str>, doc: &str) -> Setting {
        Setting::optional(name, scope, Kind::Text, default, doc)
    }

    /// The declaration that the provider enforces the grant the host hands
    /// it with each binding under [`GRANT_KEY`](crate::grant::GRANT_KEY).
    /// The host links an actor whose grant narrows the capability only to
    /// a provider that declares this: a provider that ignored the grant
    /// would leave the actor unrestricted, and nothing would say so.
    pub fn enforced_grant() -> Setting {
        Setting::optional(
            crate::grant::GRANT_KEY,
            Scope::Link,
            Kind::Text,
            None,
            "set by the host: the actor's effective grant, which this provider enforces",
        )
    }

    fn optional(name: &str, scope: Scope, kind: Kind, default: Option<&str>, doc: &str) -> Setting {
        Setting {
            name: name.to_owned(),
            scope,
            kind,
            default: default.map(str::to_owned),
            required: false,
            doc: doc.to_owned(),
        }
    }

    /// Checks one value against this setting's type. The refusal quotes
    /// the value as [`redact_value`] shows it: a secret setting's value is
    /// never echoed, nor a password in a URL.
    pub fn check(&self, value: &str) -> Result<(), SettingError> {
        let name = || self.name.clone();
        match &self.kind {
            Kind::Text => Ok(()),
            Kind::Boolean => match value.trim().to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(()),
                _ => Err(SettingError::NotBoolean { name: name(), shown: self.shown(value) }),
            },
            Kind::Integer { min, max } => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| SettingError::NotInteger { name: name(), shown: self.shown(value) })?;
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return Err(SettingError::OutOfRange { name: name(), min: *min, max: *max, shown: self.shown(&n.to_string()) });
                }
                Ok(())
            }
            Kind::Choice(words) => {
                if words.iter().any(|w| w.eq_ignore_ascii_case(value.trim())) {
                    Ok(())
                } else {
                    Err(SettingError::NotAChoice { name: name(), choices: words.clone(), shown: self.shown(value) })
                }
            }
        }
    }

    /// `value` as a message about this setting may quote it.
    fn shown(&self, value: &str) -> String {
        redact_value(&self.name, value).into_owned()
    }
}

/// Why a value does not fit its setting's type. Each variant holds the
/// value as a message may quote it ([`redact_value`]): never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// A boolean setting holds something other than `true` or `false`.
    #[error("`{name}` must be true or false, not `{shown}`")]
    NotBoolean {
        /// The setting.
        name: String,
        /// The value, redacted.
        shown: String,
    },
    /// An integer setting holds something that is not a whole number.
    #[error("`{name}` must be a whole number, not `{shown}`")]
    NotInteger {
        /// The setting.
        name: String,
        /// The value, redacted.
        shown: String,
    },
    /// An integer setting holds a number outside its bounds.
    #[error("`{name}` must be between {} and {}, not {shown}", bound(.min), bound(.max))]
    OutOfRange {
        /// The setting.
        name: String,
        /// The smallest value accepted, if bounded below.
        min: Option<i64>,
        /// The largest value accepted, if bounded above.
        max: Option<i64>,
        /// The number, redacted.
        shown: String,
    },
    /// A choice setting holds none of its words.
    #[error("`{name}` must be one of {}, not `{shown}`", .choices.join(", "))]
    NotAChoice {
        /// The setting.
        name: String,
        /// The words it accepts.
        choices: Vec<String>,
        /// The value, redacted.
        shown: String,
    },
}

/// A bound of a range as a message shows it: the number, or `…` for none.
fn bound(limit: &Option<i64>) -> String {
    limit.map_or("…".to_owned(), |b| b.to_string())
}

/// Why a declaration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the provider's settings declaration is not valid JSON of the expected shape: {0}")]
pub struct DeclarationError(String);

/// Reads a provider's declaration (a JSON array of [`Setting`]).
pub fn parse(json: &str) -> Result<Vec<Setting>, DeclarationError> {
    serde_json::from_str(json).map_err(|e| DeclarationError(e.to_string()))
}

/// Writes a declaration as the JSON a descriptor carries.
pub fn to_json(settings: &[Setting]) -> String {
    serde_json::to_string(settings).expect("settings always serialise")
}

/// Checks `values` given at `scope` against `declared`: every name must be
/// declared for that scope (host-reserved names aside), every value must
/// fit its type, and every required setting must be there. Returns every
/// problem found, one sentence each.
pub fn check(declared: &[Setting], scope: Scope, values: &BTreeMap<String, String>) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for (name, value) in values {
        if RESERVED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        match declared.iter().find(|s| s.name == *name && s.scope == scope) {
            Some(setting) => {
                if let Err(e) = setting.check(value) {
                    problems.push(e.to_string());
                }
            }
            None => {
                let known: Vec<&str> =
                    declared.iter().filter(|s| s.scope == scope).map(|s| s.name.as_str()).collect();
                let elsewhere = declared.iter().any(|s| s.name == *name);
                problems.push(match (elsewhere, known.is_empty()) {
                    (true, _) => format!(
                        "`{name}` is a {} setting, not a {} one",
                        other(scope),
                        scope_word(scope)
                    ),
                    (false, true) => format!("`{name}` is not a setting: it takes no {} settings", scope_word(scope)),
                    (false, false) => format!(
                        "`{name}` is not a setting{}; it takes {}",
                        crate::suggest::did_you_mean(name, known.iter().copied()),
                        known.join(", ")
                    ),
                });
            }
        }
    }
    for setting in declared.iter().filter(|s| s.scope == scope && s.required) {
        if !values.contains_key(&setting.name) {
            problems.push(format!("`{}` is required", setting.name));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn scope_word(scope: Scope) -> &'static str {
    match scope {
        Scope::Provider => "provider",
        Scope::Link => "link",
    }
}

fn other(scope: Scope) -> &'static str {
    match scope {
        Scope::Provider => "link",
        Scope::Link => "provider",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Vec<Setting> {
        vec![
            Setting {
                name: "PORT".into(),
                scope: Scope::Link,
                kind: Kind::Integer { min: Some(1), max: Some(65535) },
                default: Some("8080".into()),
                required: false,
                doc: "the port".into(),
            },
            Setting {
                name: "SYNC".into(),
                scope: Scope::Link,
                kind: Kind::Choice(vec!["full".into(), "normal".into()]),
                default: Some("full".into()),
                required: false,
                doc: String::new(),
            },
            Setting {
                name: "BOARD".into(),
                scope: Scope::Provider,
                kind: Kind::Text,
                default: None,
                required: true,
                doc: String::new(),
            },
        ]
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_declaration_round_trips_through_its_json() {
        let json = to_json(&declared());
        assert_eq!(parse(&json).unwrap(), declared());
    }

    #[test]
    fn declared_values_of_the_right_type_pass_and_reserved_keys_are_ignored() {
        let ok = values(&[("PORT", "8081"), ("SYNC", "NORMAL"), ("__wascc_name", "x"), ("__host_edge_grant", "[]")]);
        assert_eq!(check(&declared(), Scope::Link, &ok), Ok(()));
    }

    #[test]
    fn every_problem_is_named() {
        let bad = values(&[("PORT", "eighty"), ("SYNC", "fast"), ("PROT", "1"), ("BOARD", "pi")]);
        let problems = check(&declared(), Scope::Link, &bad).unwrap_err();
        assert!(problems.contains(&"`PORT` must be a whole number, not `eighty`".to_owned()), "{problems:?}");
        assert!(problems.contains(&"`SYNC` must be one of full, normal, not `fast`".to_owned()), "{problems:?}");
        assert!(
            problems.contains(&"`PROT` is not a setting (did you mean `PORT`?); it takes PORT, SYNC".to_owned()),
            "{problems:?}"
        );
        assert!(problems.contains(&"`BOARD` is a provider setting, not a link one".to_owned()), "{problems:?}");
    }

    #[test]
    fn a_value_out_of_bounds_and_a_missing_required_setting_are_refused() {
        let problems = check(&declared(), Scope::Link, &values(&[("PORT", "70000")])).unwrap_err();
        assert_eq!(problems, ["`PORT` must be between 1 and 65535, not 70000"]);
        let problems = check(&declared(), Scope::Provider, &values(&[])).unwrap_err();
        assert_eq!(problems, ["`BOARD` is required"]);
    }

    #[test]
    fn a_refusal_never_echoes_a_secret_value_nor_a_password_in_a_url() {
        let setting = |name: &str, kind: Kind| Setting {
            name: name.into(),
            scope: Scope::Link,
            kind,
            default: None,
            required: false,
            doc: String::new(),
        };
        let pin = setting("API_KEY", Kind::Integer { min: Some(0), max: Some(9) });
        assert_eq!(pin.check("hunter2").unwrap_err().to_string(), "`API_KEY` must be a whole number, not `***`");
        assert_eq!(pin.check("12345").unwrap_err().to_string(), "`API_KEY` must be between 0 and 9, not ***");
        let token = setting("AUTH_TOKEN", Kind::Boolean);
        assert_eq!(token.check("t0ken").unwrap_err().to_string(), "`AUTH_TOKEN` must be true or false, not `***`");
        let detail = setting("ERROR_DETAIL", Kind::Boolean);
        assert_eq!(
            detail.check("redis://:s3cret@127.0.0.1/").unwrap_err().to_string(),
            "`ERROR_DETAIL` must be true or false, not `redis://:***@127.0.0.1/`"
        );
        let mode = setting("MODE", Kind::Choice(vec!["a".into(), "b".into()]));
        assert_eq!(mode.check("c").unwrap_err().to_string(), "`MODE` must be one of a, b, not `c`");
    }
}
