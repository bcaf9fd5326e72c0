//! MQTT topic names and filters, and the NATS subject syntax waSCC's actors
//! were written for.
//!
//! Topics are matched here, not only by the broker, because one connection
//! serves several actors: the provider routes each message to every actor
//! whose own filters match, checks grants (`pub:sensors/#`) against topics,
//! and subscribes to the fewest filters that cover every actor's.

/// Why a topic, filter or NATS subject is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// An empty topic name.
    #[error("a topic cannot be empty")]
    EmptyName,
    /// A wildcard in a topic name.
    #[error("`{0}` is not a topic name: `+` and `#` are wildcards, allowed only in subscriptions")]
    WildcardInName(String),
    /// NUL in a topic name.
    #[error("`{}` is not a topic name: it contains NUL", .0.escape_debug())]
    NulInName(String),
    /// An empty filter.
    #[error("a subscription filter cannot be empty")]
    EmptyFilter,
    /// NUL in a filter.
    #[error("`{}` is not a filter: it contains NUL", .0.escape_debug())]
    NulInFilter(String),
    /// `#` that is not the whole last level.
    #[error("`{0}` is not a filter: `#` must be the whole last level")]
    HashNotLast(String),
    /// `+` that is not a whole level.
    #[error("`{0}` is not a filter: `+` must be a whole level")]
    PlusNotWhole(String),
    /// A NATS subject holding what NATS has no meaning for.
    #[error("`{0}` is not a NATS subject (SUBJECTS = nats): `/`, `+` and `#` have no NATS meaning")]
    NotNats(String),
}

/// Checks a topic name an actor publishes to: not empty, no wildcards, no
/// NUL.
pub fn check_name(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::EmptyName);
    }
    if topic.contains(['+', '#']) {
        return Err(TopicError::WildcardInName(topic.to_owned()));
    }
    if topic.contains('\0') {
        return Err(TopicError::NulInName(topic.to_owned()));
    }
    Ok(())
}

/// Checks a subscription filter: `+` only as a whole level, `#` only as the
/// whole last level.
pub fn check_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::EmptyFilter);
    }
    if filter.contains('\0') {
        return Err(TopicError::NulInFilter(filter.to_owned()));
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err(TopicError::HashNotLast(filter.to_owned()));
        }
        if level.contains('+') && *level != "+" {
            return Err(TopicError::PlusNotWhole(filter.to_owned()));
        }
    }
    Ok(())
}

/// Whether `filter` matches the topic name `topic` (MQTT 3.1.1 §4.7: a
/// leading wildcard does not match a topic starting with `$`).
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match level {
            "#" => return true,
            "+" => {
                if topic_levels.next().is_none() {
                    return false;
                }
            }
            literal => {
                if topic_levels.next() != Some(literal) {
                    return false;
                }
            }
        }
    }
    topic_levels.next().is_none()
}

/// Whether every topic `inner` matches is also matched by `outer`:
/// `sensors/#` covers `sensors/+/temp`, `+/temp` does not cover `#`.
/// As in [`matches`], a wildcard first level does not reach topics that
/// start with `$`: `#` does not cover `$SYS/#` (MQTT 3.1.1 §4.7.2), so a
/// `sub:#` grant does not let an actor subscribe to the broker's `$SYS`.
pub fn covers(outer: &str, inner: &str) -> bool {
    if inner.starts_with('$') && (outer.starts_with('+') || outer.starts_with('#')) {
        return false;
    }
    let mut inner_levels = inner.split('/');
    for level in outer.split('/') {
        match (level, inner_levels.next()) {
            ("#", _) => return true,
            (_, None) => return false,
            (_, Some("#")) => return false,
            ("+", Some(_)) => {}
            (literal, Some(other)) => {
                if literal != other {
                    return false;
                }
            }
        }
    }
    inner_levels.next().is_none()
}

/// The fewest filters that together match what `filters` match: a filter
/// covered by another is left out, so the broker does not send one message
/// twice for two overlapping subscriptions of the shared connection.
pub fn minimal(filters: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut all: Vec<String> = filters.into_iter().collect();
    all.sort();
    all.dedup();
    let keep: Vec<bool> = all
        .iter()
        .enumerate()
        .map(|(i, f)| !all.iter().enumerate().any(|(j, g)| i != j && covers(g, f)))
        .collect();
    all.into_iter().zip(keep).filter_map(|(f, k)| k.then_some(f)).collect()
}

/// Why the link value `SUBJECTS` cannot be read: it is neither `mqtt` nor
/// `nats`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SUBJECTS must be mqtt or nats, not `{text}`")]
pub struct UnknownSubjects {
    /// The value as given.
    pub text: String,
}

/// How the subjects an actor sees map to MQTT topics: a link value
/// (`SUBJECTS`), so actors written for waSCC's NATS provider run unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subjects {
    /// Subjects are MQTT topics, unchanged.
    Mqtt,
    /// Subjects are NATS subjects: `.` separates levels, `*` is one level
    /// and `>` the rest; `sensors.*.temp` is `sensors/+/temp`.
    Nats,
}

impl Subjects {
    /// Reads the link value (`mqtt` or `nats`).
    pub fn parse(text: &str) -> Result<Subjects, UnknownSubjects> {
        match text.trim().to_ascii_lowercase().as_str() {
            "mqtt" => Ok(Subjects::Mqtt),
            "nats" => Ok(Subjects::Nats),
            _ => Err(UnknownSubjects { text: text.to_owned() }),
        }
    }

    /// The MQTT topic or filter for an actor's `subject`. Under `nats`, a
    /// subject holding `/` or MQTT wildcards is refused: it could not come
    /// back unchanged.
    pub fn to_mqtt(self, subject: &str) -> Result<String, TopicError> {
        match self {
            Subjects::Mqtt => Ok(subject.to_owned()),
            Subjects::Nats => {
                if subject.contains(['/', '+', '#']) {
                    return Err(TopicError::NotNats(subject.to_owned()));
                }
                let levels: Vec<&str> = subject
                    .split('.')
                    .map(|level| match level {
                        "*" => "+",
                        ">" => "#",
                        other => other,
                    })
                    .collect();
                Ok(levels.join("/"))
            }
        }
    }

    /// The subject an actor sees for the MQTT `topic`; `None` under `nats`
    /// when the topic holds a `.`, which no NATS subject can express, or a
    /// level `*` or `>`: literal in an MQTT topic, they would be wildcards
    /// in the subject (and come back as `+` or `#`).
    pub fn to_subject(self, topic: &str) -> Option<String> {
        match self {
            Subjects::Mqtt => Some(topic.to_owned()),
            Subjects::Nats if topic.contains('.') || topic.split('/').any(|level| level == "*" || level == ">") => None,
            Subjects::Nats => Some(topic.replace('/', ".")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_as_the_mqtt_specification_says() {
        assert!(matches("sensors/#", "sensors/a/temp"));
        assert!(matches("sensors/#", "sensors"));
        assert!(matches("sensors/+/temp", "sensors/a/temp"));
        assert!(!matches("sensors/+/temp", "sensors/a/b/temp"));
        assert!(!matches("sensors/+", "sensors"));
        assert!(matches("#", "a/b"));
        assert!(!matches("#", "$SYS/uptime"));
        assert!(matches("$SYS/#", "$SYS/uptime"));
        assert!(matches("a//b", "a//b"));
        assert!(!matches("a/b", "a/b/c"));
    }

    #[test]
    fn wildcards_are_refused_in_names_and_misplaced_ones_in_filters() {
        assert!(check_name("sensors/a").is_ok());
        assert!(check_name("sensors/#").unwrap_err().to_string().contains("wildcards"));
        assert!(check_name("").is_err());
        assert!(check_filter("sensors/+/t").is_ok());
        assert!(check_filter("sensors/#/t").unwrap_err().to_string().contains("last level"));
        assert!(check_filter("sensors/a+").unwrap_err().to_string().contains("whole level"));
    }

    #[test]
    fn a_filter_covers_the_filters_whose_matches_it_contains() {
        assert!(covers("sensors/#", "sensors/+/temp"));
        assert!(covers("+/temp", "a/temp"));
        assert!(covers("#", "#"));
        assert!(!covers("+/temp", "#"));
        assert!(!covers("sensors/+", "sensors/#"));
        assert!(!covers("a/b", "a/+"));
        assert_eq!(
            minimal(["a/b".to_owned(), "a/#".to_owned(), "c/+".to_owned(), "c/+".to_owned()]),
            vec!["a/#".to_owned(), "c/+".to_owned()]
        );
    }

    #[test]
    fn a_sub_grant_of_hash_does_not_cover_the_brokers_sys_topics() {
        // MQTT 3.1.1 §4.7.2: `#` and `+/...` do not match `$SYS/...`; a
        // grant `sub:#` covered `$SYS/#` all the same.
        assert!(!covers("#", "$SYS/#"));
        assert!(!covers("+/#", "$SYS/broker/clients/+"));
        assert!(!covers("#", "$share/group/a"));
        assert!(covers("$SYS/#", "$SYS/broker/uptime"));
        assert!(covers("#", "a/$b"), "only the first level is special");
    }

    /// Every topic name of up to 3 levels over a small alphabet, `$` ones
    /// and empty levels included.
    fn names() -> Vec<String> {
        let levels = ["a", "b", "$s", ""];
        let mut all: Vec<String> = levels.iter().map(|l| l.to_string()).collect();
        for _ in 0..2 {
            let longer: Vec<String> = all.iter().flat_map(|t| levels.iter().map(move |l| format!("{t}/{l}"))).collect();
            all.extend(longer);
        }
        all.sort();
        all.dedup();
        all
    }

    /// Every filter of up to 3 levels over the same alphabet and wildcards.
    fn filters() -> Vec<String> {
        let levels = ["a", "$s", "+", "#", ""];
        let mut all: Vec<String> = levels.iter().map(|l| l.to_string()).collect();
        for _ in 0..2 {
            let longer: Vec<String> = all.iter().flat_map(|f| levels.iter().map(move |l| format!("{f}/{l}"))).collect();
            all.extend(longer);
        }
        all.retain(|f| check_filter(f).is_ok());
        all.sort();
        all.dedup();
        all
    }

    #[test]
    fn covers_implies_that_every_topic_the_inner_filter_matches_the_outer_one_matches() {
        let (names, filters) = (names(), filters());
        let mut covered = 0;
        for outer in &filters {
            for inner in &filters {
                if !covers(outer, inner) {
                    continue;
                }
                covered += 1;
                for topic in names.iter().filter(|t| matches(inner, t)) {
                    assert!(matches(outer, topic), "`{outer}` covers `{inner}`, which matches `{topic}`, but `{outer}` does not");
                }
            }
        }
        assert!(covered > 100, "the property was exercised: {covered} pairs");
    }

    #[test]
    fn nats_subjects_map_to_topics_and_back() {
        let nats = Subjects::Nats;
        assert_eq!(nats.to_mqtt("sensors.*.temp").unwrap(), "sensors/+/temp");
        assert_eq!(nats.to_mqtt("sensors.>").unwrap(), "sensors/#");
        assert_eq!(nats.to_subject("sensors/a/temp").unwrap(), "sensors.a.temp");
        assert!(nats.to_subject("v1.0/a").is_none());
        // Found by fuzzing: literal in MQTT, wildcards in NATS.
        assert!(nats.to_subject("sensors/*/temp").is_none());
        assert!(nats.to_subject("sensors/>").is_none());
        assert_eq!(nats.to_subject("sensors/a*/temp").unwrap(), "sensors.a*.temp");
        assert!(nats.to_mqtt("a/b").unwrap_err().to_string().contains("not a NATS subject"));
        assert_eq!(Subjects::Mqtt.to_mqtt("a/b").unwrap(), "a/b");
    }
}
