//! The msgpack codec (`host-edge-codec`): every request and reply type of
//! every capability, decoded from arbitrary bytes, as a provider or an
//! actor receives them.
//!
//! For each value that decodes: encoding it (maps keyed by field name, as
//! waSCC writes) and decoding that gives the same value; so does the
//! positional-array form some encoders write; and both encodings are
//! stable (encoding the value decoded from them gives the same bytes).
//! The hand-written reader and writer of the messages on every request's
//! path (`codec::decode`, `codec::encode`) agree with rmp-serde on every
//! input.

#![no_main]

use codec::{blobstore, core, extras, gpio, http, i2c, keyvalue, logging, messaging, serial, spi};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Decodes `bytes` as `T`; when that works, checks both encodings round
/// trip. Values are compared through their encoding, so a NaN frequency
/// (which is not equal to itself) round-trips too.
fn round_trip<T: Serialize + DeserializeOwned + std::fmt::Debug>(bytes: &[u8]) {
    round_trip_if::<T>(bytes, |_| true);
}

/// [`round_trip`], checking the positional form only of values for which
/// `positional` holds. The blob store's `context` is left out of the map
/// form when it is `None` (`skip_serializing_if`), and so out of the array
/// form this crate's encoder would write, where no reader could tell which
/// field is missing; waSCC's writers, whose arrays host-edge reads, write
/// `nil` there. Those values are checked in the map form only.
fn round_trip_if<T: Serialize + DeserializeOwned + std::fmt::Debug>(bytes: &[u8], positional: impl Fn(&T) -> bool) {
    let Ok(value) = codec::deserialize::<T>(bytes) else { return };
    let named = codec::serialize(&value).expect("a decoded value encodes");
    let again: T = codec::deserialize(&named).unwrap_or_else(|e| panic!("{value:?} does not decode from its own encoding: {e}"));
    assert_eq!(codec::serialize(&again).unwrap(), named, "the map form of {value:?} changes on a round trip");
    if !positional(&value) {
        return;
    }
    let positional = rmp_serde::to_vec(&value).expect("a decoded value encodes as an array");
    let from_array: T =
        codec::deserialize(&positional).unwrap_or_else(|e| panic!("{value:?} does not decode from its array form: {e}"));
    assert_eq!(codec::serialize(&from_array).unwrap(), named, "the array form of {value:?} decodes to another value");
}

/// The hand-written reader (`codec::decode`) and rmp-serde agree on
/// `bytes`; where it decodes, the hand-written writer (`codec::encode`)
/// writes what rmp-serde writes.
fn hand_written_agrees<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + 'static>(bytes: &[u8]) {
    match (codec::decode::<T>(bytes), codec::deserialize::<T>(bytes)) {
        (Ok(fast), Ok(serde)) => {
            assert_eq!(fast, serde, "the hand-written reader and rmp-serde disagree on {bytes:02x?}");
            assert_eq!(codec::encode(&fast).unwrap(), codec::serialize(&fast).unwrap(), "the hand-written writer differs on {fast:?}");
        }
        (Err(fast), Err(serde)) => assert_eq!(fast.to_string(), serde.to_string()),
        (fast, serde) => panic!("{bytes:02x?}: hand-written {fast:?}, rmp-serde {serde:?}"),
    }
}

macro_rules! all {
    ($bytes:expr; $($ty:ty),* $(,)?) => { $( round_trip::<$ty>($bytes); )* };
}

fuzz_target!(|bytes: &[u8]| {
    all!(bytes;
        core::CapabilityConfiguration, core::HealthRequest, core::CapabilityDescriptor, core::OperationDescriptor,
        keyvalue::GetRequest, keyvalue::GetResponse, keyvalue::SetRequest, keyvalue::SetResponse,
        keyvalue::AddRequest, keyvalue::AddResponse, keyvalue::DelRequest, keyvalue::DelResponse,
        keyvalue::ListPushRequest, keyvalue::ListDelItemRequest, keyvalue::ListClearRequest,
        keyvalue::ListRangeRequest, keyvalue::ListRangeResponse, keyvalue::ListResponse,
        keyvalue::SetAddRequest, keyvalue::SetRemoveRequest, keyvalue::SetQueryRequest, keyvalue::SetQueryResponse,
        keyvalue::SetIntersectionRequest, keyvalue::SetUnionRequest, keyvalue::SetOperationResponse,
        keyvalue::KeyExistsQuery,
        http::Request, http::Response,
        messaging::BrokerMessage, messaging::RequestMessage,
        blobstore::Container, blobstore::Blob, blobstore::BlobList,
        extras::GeneratorRequest, extras::GeneratorResult,
        logging::WriteLogRequest,
        gpio::InputRequest, gpio::OutputRequest, gpio::PwmRequest, gpio::PinRequest, gpio::WriteRequest,
        gpio::PinState, gpio::EdgeEvent,
        i2c::Transaction, i2c::WriteRequest, i2c::ReadRequest, i2c::WriteReadRequest, i2c::DelayRequest, i2c::Sample,
        spi::Transaction, spi::TransferRequest,
        serial::OpenRequest, serial::PortRequest, serial::WriteRequest, serial::Written, serial::ReadRequest,
        serial::Received, serial::PortState, serial::Frame,
    );
    hand_written_agrees::<http::Request>(bytes);
    hand_written_agrees::<http::Response>(bytes);
    hand_written_agrees::<keyvalue::AddRequest>(bytes);
    hand_written_agrees::<keyvalue::AddResponse>(bytes);
    round_trip_if::<blobstore::FileChunk>(bytes, |chunk| chunk.context.is_some());
    round_trip_if::<blobstore::StreamRequest>(bytes, |request| request.context.is_some());
    round_trip_if::<i2c::Transfer>(bytes, |transfer| transfer.fault.is_some());
    round_trip_if::<spi::Transferred>(bytes, |transferred| transferred.fault.is_some());
});
