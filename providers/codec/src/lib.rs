//! waSCC's message types, encoded as waSCC encodes them.
//!
//! Actors, the host and providers exchange msgpack: structs as maps keyed by
//! field name (camelCase where waSCC used it), `Vec<u8>` bodies as msgpack
//! `bin`. [`serialize`] writes that form; [`deserialize`] reads it and also the
//! positional array form some encoders write. Keeping every message type in
//! one crate is what lets an actor built against waSCC's SDK talk to a
//! provider built for host-edge.

pub mod blobstore;
pub mod core;
pub mod extras;
pub mod gpio;
pub mod http;
pub mod i2c;
pub mod keyvalue;
pub mod logging;
pub mod messaging;
pub mod sample;
pub mod serial;
pub mod spi;
mod wire;

use serde::{de::DeserializeOwned, Serialize};

/// A message could not be encoded or decoded.
#[derive(Debug)]
pub struct CodecError(String);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

/// Encodes `item` as waSCC does: msgpack with structs as maps.
pub fn serialize<T: Serialize + ?Sized>(item: &T) -> Result<Vec<u8>, CodecError> {
    rmp_serde::to_vec_named(item).map_err(|e| CodecError(format!("failed to encode a message: {e}")))
}

/// Decodes a message written as a map or as a positional array.
pub fn deserialize<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    rmp_serde::from_slice(bytes).map_err(|e| {
        CodecError(format!(
            "failed to decode a {}: {e}",
            std::any::type_name::<T>().rsplit("::").next().unwrap_or("message")
        ))
    })
}

/// [`serialize`], written by hand for the messages on every request's
/// path (an HTTP response, a key-value `Add`): the same bytes, for a
/// fraction of the instructions an interpreted actor pays through serde.
pub fn encode<T: Serialize + std::any::Any>(item: &T) -> Result<Vec<u8>, CodecError> {
    match wire::encode(item) {
        Some(bytes) => Ok(bytes),
        None => serialize(item),
    }
}

/// [`deserialize`], read by hand for the messages on every request's path
/// (an HTTP request, a key-value `Add` reply) in the shape [`serialize`]
/// writes; any other shape, and every other type, goes to rmp-serde, which
/// decodes it or names what is wrong.
pub fn decode<T: DeserializeOwned + std::any::Any>(bytes: &[u8]) -> Result<T, CodecError> {
    match wire::decode(bytes) {
        Some(item) => Ok(item),
        None => deserialize(bytes),
    }
}

/// The reply to an operation that returns nothing: msgpack `nil`.
pub const UNIT_REPLY: &[u8] = &[0xc0];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Request;
    use crate::keyvalue::{AddRequest, GetResponse, ListResponse};

    #[test]
    fn structs_are_encoded_as_maps_keyed_by_field_name() {
        let bytes = serialize(&AddRequest { key: "k".into(), value: 1 }).unwrap();
        // fixmap of 2, "key": "k", "value": 1
        assert_eq!(bytes, [0x82, 0xa3, b'k', b'e', b'y', 0xa1, b'k', 0xa5, b'v', b'a', b'l', b'u', b'e', 0x01]);
    }

    #[test]
    fn the_positional_array_form_is_accepted() {
        // fixarray of 2: "v", true
        let reply: GetResponse = deserialize(&[0x92, 0xa1, b'v', 0xc3]).unwrap();
        assert_eq!(reply, GetResponse { value: "v".into(), exists: true });
    }

    #[test]
    fn camel_case_keys_are_used_where_wascc_uses_them() {
        let bytes = serialize(&ListResponse { new_count: 3 }).unwrap();
        assert!(bytes.windows(8).any(|w| w == b"newCount"));
        let bytes = serialize(&Request::default()).unwrap();
        assert!(bytes.windows(11).any(|w| w == b"queryString"));
    }

    #[test]
    fn bodies_are_msgpack_bin() {
        let bytes = serialize(&Request { body: vec![1, 2, 3], ..Request::default() }).unwrap();
        assert!(bytes.windows(5).any(|w| w == [0xc4, 3, 1, 2, 3]), "{bytes:x?}");
    }

    #[test]
    fn a_decode_error_names_the_message_type() {
        let err = deserialize::<AddRequest>(&[0x01]).unwrap_err();
        assert!(err.to_string().contains("AddRequest"), "{err}");
    }
}
