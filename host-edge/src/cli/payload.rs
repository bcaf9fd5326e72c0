//! JSON payloads for `host-edge call`: the operations whose message types
//! host-edge knows are built from JSON and their replies printed as JSON,
//! so an actor author can call `HandleRequest` without hand-writing
//! msgpack.
//!
//! Fields left out take their defaults (`{"path": "/hits"}` is a `GET` with
//! no query, headers or body); a field the message does not have is
//! refused by name, with the field probably meant. Bodies are given and
//! shown as text when they are UTF-8.

use anyhow::{anyhow, bail};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use codec::blobstore::{FileChunk, OP_RECEIVE_CHUNK};
use codec::core::{HealthRequest, OP_HEALTH_REQUEST};
use codec::gpio::{EdgeEvent, OP_HANDLE_EDGE};
use codec::http::{Request, Response, OP_HANDLE_REQUEST};
use codec::messaging::{BrokerMessage, OP_DELIVER_MESSAGE};

/// The operations with known message types.
pub const KNOWN: [&str; 5] = [OP_HANDLE_REQUEST, OP_DELIVER_MESSAGE, OP_HANDLE_EDGE, OP_RECEIVE_CHUNK, OP_HEALTH_REQUEST];

/// The msgpack payload of `operation` written as `json`.
pub fn encode(operation: &str, json: &str) -> anyhow::Result<Vec<u8>> {
    let given: Value = serde_json::from_str(json).map_err(|e| anyhow!("the JSON payload does not parse: {e}"))?;
    match operation {
        OP_HANDLE_REQUEST => typed::<Request>(operation, given),
        OP_DELIVER_MESSAGE => typed::<BrokerMessage>(operation, given),
        OP_HANDLE_EDGE => typed::<EdgeEvent>(operation, given),
        OP_RECEIVE_CHUNK => typed::<FileChunk>(operation, given),
        OP_HEALTH_REQUEST => typed::<HealthRequest>(operation, given),
        other => bail!(
            "host-edge knows no message type for `{other}`{}; it builds JSON payloads for {}; give other payloads as text or with --payload-file",
            provider_abi::suggest::did_you_mean(other, KNOWN),
            KNOWN.join(", ")
        ),
    }
}

/// The reply to `operation` as JSON, or `None` when its type is unknown.
pub fn decode_reply(operation: &str, reply: &[u8]) -> anyhow::Result<Option<String>> {
    let value = match operation {
        OP_HANDLE_REQUEST => readable(serde_json::to_value(codec::deserialize::<Response>(reply)?)?),
        o if KNOWN.contains(&o) => serde_json::to_value(codec::deserialize::<()>(reply)?)?,
        _ => return Ok(None),
    };
    Ok(Some(serde_json::to_string_pretty(&value)?))
}

/// `given` over the defaults of `T`, checked field by field, as msgpack.
fn typed<T: Serialize + DeserializeOwned + Default>(operation: &str, given: Value) -> anyhow::Result<Vec<u8>> {
    let Value::Object(given) = given else { bail!("the JSON payload of {operation} must be an object") };
    let Value::Object(mut fields) = serde_json::to_value(T::default())? else { unreachable!("messages are structs") };
    let names: Vec<String> = fields.keys().cloned().collect();
    for (name, value) in given {
        if !fields.contains_key(&name) {
            bail!(
                "{operation} has no field `{name}`{}; its fields: {}",
                provider_abi::suggest::did_you_mean(&name, names.iter().map(String::as_str)),
                names.join(", ")
            );
        }
        fields.insert(name, value);
    }
    let message: T = serde_json::from_value(Value::Object(fields)).map_err(|e| anyhow!("{operation}: {e}"))?;
    Ok(codec::serialize(&message)?)
}

/// `value` with every byte-array `body` shown as text when it is UTF-8.
fn readable(mut value: Value) -> Value {
    if let Some(Value::Array(bytes)) = value.get("body") {
        let bytes: Option<Vec<u8>> = bytes.iter().map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok())).collect();
        if let Some(text) = bytes.and_then(|b| String::from_utf8(b).ok()) {
            value.as_object_mut().map(|object: &mut Map<String, Value>| object.insert("body".to_owned(), Value::String(text)));
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_needs_only_the_fields_that_differ_from_a_plain_get() {
        let bytes = encode("HandleRequest", r#"{"method": "POST", "path": "/hits", "body": "21.5"}"#).unwrap();
        let request: Request = codec::deserialize(&bytes).unwrap();
        assert_eq!((request.method.as_str(), request.path.as_str(), request.body.as_slice()), ("POST", "/hits", &b"21.5"[..]));
        assert_eq!(request.query_string, "");
    }

    #[test]
    fn a_field_the_message_lacks_is_refused_with_the_one_meant() {
        let err = encode("HandleRequest", r#"{"pth": "/hits"}"#).unwrap_err().to_string();
        assert!(err.contains("HandleRequest has no field `pth` (did you mean `path`?)"), "{err}");
    }

    #[test]
    fn an_operation_without_a_known_type_is_refused_naming_those_with_one() {
        let err = encode("HandleRequst", "{}").unwrap_err().to_string();
        assert!(err.contains("(did you mean `HandleRequest`?)") && err.contains("DeliverMessage"), "{err}");
    }

    #[test]
    fn a_response_is_shown_with_its_body_as_text() {
        let reply = codec::serialize(&Response::ok().with_json(r#"{"counter":3}"#)).unwrap();
        let json = decode_reply("HandleRequest", &reply).unwrap().unwrap();
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["statusCode"], 200);
        assert_eq!(value["body"], r#"{"counter":3}"#);
        assert_eq!(decode_reply("Echo", b"x").unwrap(), None);
    }
}
