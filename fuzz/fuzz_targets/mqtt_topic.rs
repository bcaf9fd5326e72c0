//! MQTT topic names and filters (`providers/messaging-mqtt/src/topic.rs`,
//! compiled in from its source: the provider is a cdylib only): the
//! filters actors subscribe with, the topics they publish to and receive,
//! and the NATS subjects of waSCC actors.
//!
//! The input is three lines: filter A, filter B, topic T. Checks that a
//! valid filter A that `covers` a valid B matches every topic B matches
//! (`minimal` relies on it to drop B); that `minimal` keeps, for every
//! filter given, one that covers it; that a filter matches its own topic
//! when it has no wildcards; and that NATS subjects map to topics and back.

#![no_main]

#[allow(dead_code)]
#[path = "../../providers/messaging-mqtt/src/topic.rs"]
mod topic;

use libfuzzer_sys::fuzz_target;
use topic::{check_filter, check_name, covers, matches, minimal, Subjects};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.splitn(3, '\n');
    let (a, b, t) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let filters_valid = check_filter(a).is_ok() && check_filter(b).is_ok();
    if filters_valid && covers(a, b) && matches(b, t) {
        assert!(matches(a, t), "`{a}` covers `{b}`, which matches `{t}`, but `{a}` does not");
    }
    if filters_valid {
        let kept = minimal([a.to_owned(), b.to_owned()]);
        for filter in [a, b] {
            assert!(kept.iter().any(|k| covers(k, filter)), "minimal({a:?}, {b:?}) = {kept:?} drops `{filter}`");
        }
    }
    if check_name(t).is_ok() {
        assert!(check_filter(t).is_ok() && matches(t, t), "the topic `{t}` is not matched by itself as a filter");
        if let Some(subject) = Subjects::Nats.to_subject(t) {
            if let Ok(back) = Subjects::Nats.to_mqtt(&subject) {
                assert_eq!(back, t, "`{t}` -> `{subject}` -> `{back}`");
            }
        }
    }
    let _ = Subjects::parse(a);
});
