//! Properties of topic matching over generated filters and topics (in the
//! crate, as the provider is a cdylib only). The `mqtt_topic` fuzz target
//! in fuzz/ checks the same on arbitrary text.

use proptest::prelude::*;

use crate::topic::{check_filter, check_name, covers, matches, minimal, Subjects};

/// Topic levels from a small alphabet, so that generated filters and
/// topics often share levels; `$SYS` among them.
fn level() -> impl Strategy<Value = String> {
    prop_oneof![Just("a".to_owned()), Just("b".to_owned()), Just(String::new()), Just("$SYS".to_owned()), "[a-c]{1,2}"]
}

fn topic() -> impl Strategy<Value = String> {
    proptest::collection::vec(level(), 1..5).prop_map(|levels| levels.join("/")).prop_filter("not empty", |t| !t.is_empty())
}

fn filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![3 => level(), 1 => Just("+".to_owned())];
    (proptest::collection::vec(level, 1..5), any::<bool>()).prop_map(|(mut levels, hash)| {
        if hash {
            levels.push("#".to_owned());
        }
        levels.join("/")
    })
    .prop_filter("not empty", |f| !f.is_empty())
}

proptest! {
    #[test]
    fn a_filter_that_covers_another_matches_every_topic_the_other_matches(outer in filter(), inner in filter(), topic in topic()) {
        prop_assert!(check_filter(&outer).is_ok() && check_filter(&inner).is_ok());
        // `$` topics included: a filter starting with a wildcard matches
        // none of them (MQTT 3.1.1 §4.7.2), so it must not cover a filter
        // that does.
        if covers(&outer, &inner) && matches(&inner, &topic) {
            prop_assert!(matches(&outer, &topic), "`{}` covers `{}`, which matches `{}`, but `{}` does not", outer, inner, topic, outer);
        }
    }

    #[test]
    fn minimal_keeps_a_filter_covering_every_filter_it_was_given(filters in proptest::collection::vec(filter(), 0..6)) {
        let kept = minimal(filters.clone());
        for filter in &filters {
            prop_assert!(kept.iter().any(|k| covers(k, filter)), "minimal({:?}) = {:?} drops {}", filters, kept, filter);
        }
    }

    #[test]
    fn a_topic_name_is_a_filter_that_matches_itself_only(topic in topic(), other in topic()) {
        prop_assert!(check_name(&topic).is_ok() && check_filter(&topic).is_ok());
        prop_assert!(matches(&topic, &topic));
        prop_assert_eq!(matches(&topic, &other), topic == other);
    }

    #[test]
    fn a_topic_without_dots_maps_to_a_nats_subject_and_back(topic in topic()) {
        let subject = Subjects::Nats.to_subject(&topic).expect("no `.` in generated topics");
        prop_assert_eq!(Subjects::Nats.to_mqtt(&subject).unwrap(), topic);
    }
}

/// The case fuzzing found, pinned: a filter starting with a wildcard was
/// said to cover `$` filters whose topics it does not match.
#[test]
fn a_leading_wildcard_does_not_cover_dollar_topics_it_does_not_match() {
    assert!(matches("$SYS/#", "$SYS/uptime"));
    assert!(!matches("#", "$SYS/uptime"));
    assert!(!covers("#", "$SYS/#"), "`#` covers `$SYS/#` although it matches none of its topics");
}
