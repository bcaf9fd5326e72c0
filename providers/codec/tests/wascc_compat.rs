//! Byte-for-byte agreement with waSCC's own codec.
//!
//! The fixtures below were written by wascc-codec 0.8.1 (the codec of
//! wascc-actor 0.7) with rmp 0.8.11; wascc-codec cannot be a dev-dependency
//! because its rmp-serde 0.14 does not build against the rmp that rmp-serde 1
//! needs. Each message must decode to the same value here and encode back to
//! the very same bytes.

use std::collections::BTreeMap;

use codec::{core, http, keyvalue, messaging};
use serde::{de::DeserializeOwned, Serialize};

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn agrees<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(wascc_bytes: &str, expected: T) {
    let bytes = unhex(wascc_bytes);
    let decoded: T = codec::deserialize(&bytes).unwrap();
    assert_eq!(decoded, expected);
    assert_eq!(codec::serialize(&expected).unwrap(), bytes, "encoding differs from wascc-codec");
}

#[test]
fn an_http_request_matches_wascc() {
    agrees(
        "85a66d6574686f64a4504f5354a470617468a52f68697473ab7175657279537472696e67a3613d31\
         a668656164657281a6616363657074a32a2f2aa4626f6479c404626f6479",
        http::Request {
            method: "POST".into(),
            path: "/hits".into(),
            query_string: "a=1".into(),
            header: BTreeMap::from([("accept".to_owned(), "*/*".to_owned())]),
            body: b"body".to_vec(),
        },
    );
}

#[test]
fn an_http_response_matches_wascc() {
    agrees(
        "84aa737461747573436f6465ccc8a6737461747573a24f4ba668656164657280a4626f6479c4027b7d",
        http::Response { status_code: 200, status: "OK".into(), header: BTreeMap::new(), body: b"{}".to_vec() },
    );
}

#[test]
fn key_value_messages_match_wascc() {
    agrees(
        "83a36b6579a16ba576616c7565a176a76578706972657305",
        keyvalue::SetRequest { key: "k".into(), value: "v".into(), expires: 5 },
    );
    agrees("81a86e6577436f756e7402", keyvalue::ListResponse { new_count: 2 });
    agrees("82a576616c7565a176a6657869737473c3", keyvalue::GetResponse { value: "v".into(), exists: true });
}

#[test]
fn bind_actor_configuration_matches_wascc() {
    agrees(
        "82a66d6f64756c65a44d78797aa676616c75657381a4504f5254a438303830",
        core::CapabilityConfiguration {
            module: "Mxyz".into(),
            values: BTreeMap::from([("PORT".to_owned(), "8080".to_owned())]),
        },
    );
}

#[test]
fn a_broker_message_matches_wascc() {
    agrees(
        "83a77375626a656374a973656e736f72732e74a77265706c79546fa0a4626f6479c403000102",
        messaging::BrokerMessage { subject: "sensors.t".into(), reply_to: String::new(), body: vec![0, 1, 2] },
    );
}
