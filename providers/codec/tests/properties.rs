//! Properties of the msgpack codec over generated messages: every message
//! decodes from the map form host-edge writes and from the positional
//! array form other encoders write, to the value it was encoded from, and
//! no bytes make a decoder panic. The `codec` fuzz target in fuzz/ checks
//! the same on arbitrary bytes.

use std::collections::BTreeMap;

use codec::blobstore::{Blob, BlobList, FileChunk, StreamRequest};
use codec::core::CapabilityConfiguration;
use codec::gpio::{Edge, EdgeEvent, InputRequest, Level, Pull, PwmRequest};
use codec::http::{Request, Response};
use codec::keyvalue::{GetResponse, ListRangeRequest, SetRequest};
use codec::messaging::{BrokerMessage, RequestMessage};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Decodes `value`'s map form and its array form, and checks both give
/// `value` back.
fn both_forms<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) -> Result<(), TestCaseError> {
    let map = codec::serialize(value).unwrap();
    prop_assert_eq!(&codec::deserialize::<T>(&map).unwrap(), value, "map form");
    let array = rmp_serde::to_vec(value).unwrap();
    let decoded = codec::deserialize::<T>(&array).map_err(|e| TestCaseError::fail(format!("array form of {value:?}: {e}")))?;
    prop_assert_eq!(&decoded, value, "array form");
    Ok(())
}

/// Decodes `value`'s map form and checks it gives `value` back.
fn map_form<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) -> Result<(), TestCaseError> {
    prop_assert_eq!(&codec::deserialize::<T>(&codec::serialize(value).unwrap()).unwrap(), value, "map form");
    Ok(())
}

fn text() -> impl Strategy<Value = String> {
    ".{0,24}"
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..64)
}

fn header() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(text(), text(), 0..4)
}

fn level() -> impl Strategy<Value = Level> {
    prop_oneof![Just(Level::Low), Just(Level::High)]
}

fn edge() -> impl Strategy<Value = Edge> {
    prop_oneof![Just(Edge::None), Just(Edge::Rising), Just(Edge::Falling), Just(Edge::Both)]
}

proptest! {
    #[test]
    fn http_requests_and_responses_decode_from_both_forms(
        method in text(), path in text(), query_string in text(), header in header(), body in bytes(), status_code in any::<u32>(),
    ) {
        both_forms(&Request { method, path: path.clone(), query_string, header: header.clone(), body: body.clone() })?;
        both_forms(&Response { status_code, status: path, header, body })?;
    }

    #[test]
    fn messages_decode_from_both_forms(subject in text(), reply_to in text(), body in bytes(), timeout_ms in any::<i64>()) {
        both_forms(&BrokerMessage { subject: subject.clone(), reply_to, body: body.clone() })?;
        both_forms(&RequestMessage { subject, body, timeout_ms })?;
    }

    #[test]
    fn key_value_messages_decode_from_both_forms(key in text(), value in text(), exists in any::<bool>(), n in any::<i32>(), m in any::<i32>()) {
        both_forms(&GetResponse { value: value.clone(), exists })?;
        both_forms(&SetRequest { key: key.clone(), value, expires: n })?;
        both_forms(&ListRangeRequest { key, start: n, stop: m })?;
    }

    #[test]
    fn blob_messages_decode_from_both_forms(
        id in text(), container in text(), numbers in any::<(u64, u64, u64)>(), context in proptest::option::of(text()), chunk_bytes in bytes(),
    ) {
        let (sequence_no, total_bytes, chunk_size) = numbers;
        // A `None` context is left out of the map form, and so out of the
        // array form this crate would write, where no reader could place
        // what follows; waSCC's writers put `nil` there. The array form is
        // checked with a context, the map form with either.
        let chunk = FileChunk { sequence_no, container: container.clone(), id: id.clone(), total_bytes, chunk_size, context: context.clone(), chunk_bytes };
        map_form(&chunk)?;
        both_forms(&FileChunk { context: Some(context.clone().unwrap_or_default()), ..chunk })?;
        let request = StreamRequest { id: id.clone(), container: container.clone(), chunk_size, context: context.clone() };
        map_form(&request)?;
        both_forms(&StreamRequest { context: Some(context.unwrap_or_default()), ..request })?;
        both_forms(&BlobList { blobs: vec![Blob { id, container, byte_size: total_bytes }] })?;
    }

    #[test]
    fn gpio_messages_decode_from_both_forms(
        pin in text(), bcm in any::<u8>(), level in level(), edge in edge(), numbers in any::<(u64, u64, u64, u32)>(),
        frequency_hz in -1e12f64..1e12, duty_cycle in 0f64..=1.0, hardware in any::<bool>(),
    ) {
        let (timestamp_us, sequence, dropped, debounce_ms) = numbers;
        both_forms(&InputRequest { pin: pin.clone(), pull: Pull::Up, edge, debounce_ms })?;
        both_forms(&PwmRequest { pin: pin.clone(), frequency_hz, duty_cycle, hardware })?;
        both_forms(&EdgeEvent { pin: bcm, label: pin, level, edge, timestamp_us, sequence, dropped })?;
    }

    #[test]
    fn a_link_configuration_decodes_from_both_forms(module in text(), values in header()) {
        both_forms(&CapabilityConfiguration { module, values })?;
    }

    #[test]
    fn no_bytes_make_a_decoder_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = codec::deserialize::<Request>(&bytes);
        let _ = codec::deserialize::<FileChunk>(&bytes);
        let _ = codec::deserialize::<EdgeEvent>(&bytes);
        let _ = codec::deserialize::<PwmRequest>(&bytes);
        let _ = codec::deserialize::<CapabilityConfiguration>(&bytes);
        let _ = codec::deserialize::<BlobList>(&bytes);
    }
}

/// `codec::decode` and `codec::deserialize` agree on `bytes`: the same
/// value, or both an error with the same message.
fn decoders_agree<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + 'static>(bytes: &[u8]) -> Result<(), TestCaseError> {
    match (codec::decode::<T>(bytes), codec::deserialize::<T>(bytes)) {
        (Ok(fast), Ok(serde)) => prop_assert_eq!(fast, serde),
        (Err(fast), Err(serde)) => prop_assert_eq!(fast.to_string(), serde.to_string()),
        (fast, serde) => prop_assert!(false, "{bytes:02x?}: hand-written {fast:?}, rmp-serde {serde:?}"),
    }
    Ok(())
}

/// Every byte of `bytes` changed in turn, and every prefix: encodings
/// close to valid ones, where a hand-written reader would slip.
fn near<'a>(bytes: &'a [u8], with: u8) -> impl Iterator<Item = Vec<u8>> + 'a {
    let changed = (0..bytes.len()).map(move |i| {
        let mut mutated = bytes.to_vec();
        mutated[i] ^= with.max(1);
        mutated
    });
    changed.chain((0..bytes.len()).map(|end| bytes[..end].to_vec()))
}

proptest! {
    #[test]
    fn the_hand_written_codec_writes_the_bytes_rmp_serde_writes(
        status_code in any::<u32>(), status in text(), header in header(), body in proptest::collection::vec(any::<u8>(), 0..300),
        key in text(), value in any::<i32>(),
    ) {
        let response = Response { status_code, status, header, body };
        prop_assert_eq!(codec::encode(&response).unwrap(), rmp_serde::to_vec_named(&response).unwrap());
        let add = codec::keyvalue::AddRequest { key, value };
        prop_assert_eq!(codec::encode(&add).unwrap(), rmp_serde::to_vec_named(&add).unwrap());
    }

    #[test]
    fn the_hand_written_codec_reads_what_it_is_given_as_rmp_serde_does(
        method in text(), path in text(), query_string in text(), header in header(), body in bytes(),
        value in any::<i32>(), with in any::<u8>(), noise in bytes(),
    ) {
        let request = Request { method, path, query_string, header, body };
        let encoded = codec::serialize(&request).unwrap();
        prop_assert_eq!(&codec::decode::<Request>(&encoded).unwrap(), &request);
        for bytes in near(&encoded, with).chain([rmp_serde::to_vec(&request).unwrap(), noise.clone()]) {
            decoders_agree::<Request>(&bytes)?;
        }
        let reply = codec::serialize(&codec::keyvalue::AddResponse { value }).unwrap();
        for bytes in near(&reply, with).chain([reply.clone(), noise]) {
            decoders_agree::<codec::keyvalue::AddResponse>(&bytes)?;
        }
    }
}
