//! Fleet commands as a device judges them (`fleet::command::check`): what
//! arrives on a command topic from the broker.
//!
//! The first byte picks the mode. Even: the first line is the topic, the
//! rest the payload, judged as they are (unsigned garbage, tokens by other
//! keys). Odd: the rest is the command's claims JSON (`$OPERATOR` stands
//! for the device's operator key), which the target signs with that key
//! and sends on the topic the claims name, so mutations reach what is
//! checked behind the signature: audience, target, topic, sequence, and
//! the deployment's validation.
//!
//! Checks that an accepted command was signed by the device's operator,
//! is for this fleet and this device, arrived on its own topic, and, for a
//! deployment, validates.

#![no_main]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use host_edge_runtime::claims::jwt;
use host_edge_fleet::command::{check, CommandClaims, Judge, Mark, Order, Verdict};
use host_edge_fleet::topics::Target;
use host_edge_fleet::Topics;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let operator = common::operator();
    let groups: BTreeSet<String> = ["all".to_owned(), "kitchen".to_owned()].into();
    let operators: BTreeSet<String> = [operator.public_key()].into();
    let topics = Topics::new("fleet").expect("a valid prefix");
    // The last command accepted was signed at IAT; the device's clock reads NOW.
    const IAT: u64 = 1_790_000_000;
    const NOW: u64 = 1_800_000_000;
    let marks = BTreeMap::from([("fleet/devices/pi-1/deploy".to_owned(), Mark { seq: 5, jti: "applied".to_owned(), iat: IAT })]);
    let judge = Judge { device: "pi-1", groups: &groups, operators: &operators, topics: &topics, marks: &marks, deployment: 5, now: NOW };
    let (topic, payload) = if mode % 2 == 0 {
        let (topic, payload) = common::split_line(rest);
        let Ok(topic) = std::str::from_utf8(topic) else { return };
        let _ = topics.parse(topic);
        (topic.to_owned(), payload.to_vec())
    } else {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&common::fill(text, "")) else { return };
        let topic = serde_json::from_value::<CommandClaims>(value.clone())
            .ok()
            .and_then(|claims| claims.topic(&topics).ok())
            .unwrap_or_else(|| "fleet/devices/pi-1/deploy".to_owned());
        let token = jwt::encode(&value, &operator).expect("JSON values serialize and seeded keys sign");
        (topic, token.into_bytes())
    };
    for retained in [false, true] {
        if let Verdict::Accept(claims) = check(judge, &topic, &payload, retained) {
            assert_eq!(claims.iss, operator.public_key());
            assert_eq!(claims.aud, "fleet");
            assert!(claims.exp > NOW, "an expired command was accepted: exp {}", claims.exp);
            assert!(matches!(claims.sub.parse(), Ok(Target::Device(ref id)) if id == "pi-1") || matches!(claims.sub.parse(), Ok(Target::Group(ref g)) if groups.contains(g)));
            assert_eq!(claims.topic(&topics).as_deref(), Ok(topic.as_str()));
            if let Order::Deploy(deployment) = &claims.host_edge_fleet {
                assert!(deployment.validate().is_ok());
                assert!(claims.seq > 5);
            }
        }
    }
});
