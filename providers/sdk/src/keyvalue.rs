//! The `wascc:keyvalue` contract as a typed trait, and the one place that
//! decodes its operations: every key-value provider implements
//! [`KeyValueStore`] and hands its calls to [`handle`], so all of them read
//! and answer the waSCC messages identically.
//!
//! Semantics follow Redis, which waSCC's contract was written against: a key
//! holds a string, a list or a set; `Push` appends; `ListItemDelete` removes
//! every occurrence; `Range` takes inclusive indexes, negative from the end;
//! set queries answer sorted; an operation on a key of another kind fails.
//!
//! [`handle`] also enforces the actor's [`Grant`]: every key an operation
//! names (each of the `keys` of `SetUnion` and `SetIntersection`) must be
//! permitted before the store is touched, or the call is refused as
//! [`ErrorKind::Denied`](crate::ErrorKind::Denied), naming the key and the
//! grant.

use codec::keyvalue::*;
use provider_abi::grant::Grant;

use crate::ProviderError;

/// The capability id a key-value grant is checked for, as refusals name it.
pub const CAPABILITY_ID: &str = "wascc:keyvalue";

/// A key-value store behind the `wascc:keyvalue` contract.
pub trait KeyValueStore {
    /// The string at `key`, if any.
    fn get(&self, key: &str) -> Result<Option<String>, ProviderError>;
    /// Stores a string, replacing whatever `key` held; expires after
    /// `expires_secs` seconds when it is above 0.
    fn set(&self, key: &str, value: &str, expires_secs: u32) -> Result<(), ProviderError>;
    /// Adds `delta` to the integer at `key` (missing = 0), atomically.
    fn add(&self, key: &str, delta: i32) -> Result<i32, ProviderError>;
    /// Deletes `key`, whatever it holds.
    fn del(&self, key: &str) -> Result<(), ProviderError>;
    /// Appends to the list at `key`; returns its new length.
    fn push(&self, key: &str, value: &str) -> Result<i32, ProviderError>;
    /// Removes every occurrence of `value` from the list; returns how many.
    fn list_remove(&self, key: &str, value: &str) -> Result<i32, ProviderError>;
    /// Items `start..=stop` of the list; negative indexes count from the end.
    fn range(&self, key: &str, start: i32, stop: i32) -> Result<Vec<String>, ProviderError>;
    /// Adds a member to the set; returns 1 if it was new, else 0.
    fn set_add(&self, key: &str, value: &str) -> Result<i32, ProviderError>;
    /// Removes a member from the set; returns 1 if it was there, else 0.
    fn set_remove(&self, key: &str, value: &str) -> Result<i32, ProviderError>;
    /// The union of the sets, sorted.
    fn set_union(&self, keys: &[String]) -> Result<Vec<String>, ProviderError>;
    /// The intersection of the sets, sorted.
    fn set_intersection(&self, keys: &[String]) -> Result<Vec<String>, ProviderError>;
    /// The members of the set, sorted.
    fn set_members(&self, key: &str) -> Result<Vec<String>, ProviderError>;
    /// Whether `key` holds anything.
    fn exists(&self, key: &str) -> Result<bool, ProviderError>;
}

/// Checks that `grant` permits `key`; a refusal is
/// [`ProviderError::denied`], naming the key and the grant.
pub fn check_key(grant: &Grant, key: &str) -> Result<(), ProviderError> {
    grant.check(CAPABILITY_ID, "key", key).map_err(|refusal| ProviderError::denied(refusal.to_string()))
}

/// Decodes `operation`'s payload, checks every key it names against the
/// actor's `grant`, runs it on `store` and encodes the reply. A key outside
/// the grant refuses the whole operation before the store is touched.
pub fn handle(
    store: &impl KeyValueStore,
    grant: &Grant,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, ProviderError> {
    let allow = |key: &str| check_key(grant, key);
    let allow_all = |keys: &[String]| keys.iter().try_for_each(|key| check_key(grant, key));
    let reply = match operation {
        OP_GET => {
            let r: GetRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            let value = store.get(&r.key)?;
            codec::serialize(&GetResponse { exists: value.is_some(), value: value.unwrap_or_default() })
        }
        OP_SET => {
            let r: SetRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            store.set(&r.key, &r.value, r.expires.max(0) as u32)?;
            codec::serialize(&SetResponse { value: r.value })
        }
        OP_ADD => {
            let r: AddRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            codec::serialize(&AddResponse { value: store.add(&r.key, r.value)? })
        }
        OP_DEL => {
            let r: DelRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            store.del(&r.key)?;
            codec::serialize(&DelResponse { key: r.key })
        }
        OP_CLEAR => {
            let r: ListClearRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            store.del(&r.key)?;
            codec::serialize(&DelResponse { key: r.key })
        }
        OP_PUSH => {
            let r: ListPushRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            codec::serialize(&ListResponse { new_count: store.push(&r.key, &r.value)? })
        }
        OP_LIST_DEL => {
            let r: ListDelItemRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            codec::serialize(&ListResponse { new_count: store.list_remove(&r.key, &r.value)? })
        }
        OP_RANGE => {
            let r: ListRangeRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            codec::serialize(&ListRangeResponse { values: store.range(&r.key, r.start, r.stop)? })
        }
        OP_SET_ADD => {
            let r: SetAddRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            codec::serialize(&SetOperationResponse { new_count: store.set_add(&r.key, &r.value)? })
        }
        OP_SET_REMOVE => {
            let r: SetRemoveRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            codec::serialize(&SetOperationResponse { new_count: store.set_remove(&r.key, &r.value)? })
        }
        OP_SET_UNION => {
            let r: SetUnionRequest = codec::deserialize(payload)?;
            allow_all(&r.keys)?;
            codec::serialize(&SetQueryResponse { values: store.set_union(&r.keys)? })
        }
        OP_SET_INTERSECT => {
            let r: SetIntersectionRequest = codec::deserialize(payload)?;
            allow_all(&r.keys)?;
            codec::serialize(&SetQueryResponse { values: store.set_intersection(&r.keys)? })
        }
        OP_SET_QUERY => {
            let r: SetQueryRequest = codec::deserialize(payload)?;
            allow(&r.key)?;
            codec::serialize(&SetQueryResponse { values: store.set_members(&r.key)? })
        }
        OP_KEY_EXISTS => {
            let r: KeyExistsQuery = codec::deserialize(payload)?;
            allow(&r.key)?;
            codec::serialize(&GetResponse { value: String::new(), exists: store.exists(&r.key)? })
        }
        other => return Err(ProviderError::bad_request(format!("wascc:keyvalue has no operation `{other}`"))),
    };
    Ok(reply?)
}

/// Resolves Redis-style inclusive `start..=stop` (negative from the end)
/// against a list of `len` items; `None` when the range is empty.
pub fn resolve_range(len: usize, start: i32, stop: i32) -> Option<(usize, usize)> {
    let len = len as i64;
    let clamp = |i: i32| if i < 0 { (len + i as i64).max(0) } else { i as i64 };
    let (start, stop) = (clamp(start), clamp(stop).min(len - 1));
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use provider_abi::grant::{Layer, Rule, Source};

    use super::*;
    use crate::ErrorKind;

    /// A store that records the keys each call touched and answers with
    /// defaults.
    #[derive(Default)]
    struct Recorder {
        touched: RefCell<Vec<String>>,
    }

    impl Recorder {
        fn touch(&self, key: &str) {
            self.touched.borrow_mut().push(key.to_owned());
        }
        fn touched(&self) -> Vec<String> {
            self.touched.borrow().clone()
        }
    }

    impl KeyValueStore for Recorder {
        fn get(&self, key: &str) -> Result<Option<String>, ProviderError> {
            self.touch(key);
            Ok(Some("v".into()))
        }
        fn set(&self, key: &str, _: &str, _: u32) -> Result<(), ProviderError> {
            self.touch(key);
            Ok(())
        }
        fn add(&self, key: &str, delta: i32) -> Result<i32, ProviderError> {
            self.touch(key);
            Ok(delta)
        }
        fn del(&self, key: &str) -> Result<(), ProviderError> {
            self.touch(key);
            Ok(())
        }
        fn push(&self, key: &str, _: &str) -> Result<i32, ProviderError> {
            self.touch(key);
            Ok(1)
        }
        fn list_remove(&self, key: &str, _: &str) -> Result<i32, ProviderError> {
            self.touch(key);
            Ok(0)
        }
        fn range(&self, key: &str, _: i32, _: i32) -> Result<Vec<String>, ProviderError> {
            self.touch(key);
            Ok(Vec::new())
        }
        fn set_add(&self, key: &str, _: &str) -> Result<i32, ProviderError> {
            self.touch(key);
            Ok(1)
        }
        fn set_remove(&self, key: &str, _: &str) -> Result<i32, ProviderError> {
            self.touch(key);
            Ok(1)
        }
        fn set_union(&self, keys: &[String]) -> Result<Vec<String>, ProviderError> {
            keys.iter().for_each(|k| self.touch(k));
            Ok(Vec::new())
        }
        fn set_intersection(&self, keys: &[String]) -> Result<Vec<String>, ProviderError> {
            keys.iter().for_each(|k| self.touch(k));
            Ok(Vec::new())
        }
        fn set_members(&self, key: &str) -> Result<Vec<String>, ProviderError> {
            self.touch(key);
            Ok(Vec::new())
        }
        fn exists(&self, key: &str) -> Result<bool, ProviderError> {
            self.touch(key);
            Ok(true)
        }
    }

    /// Every operation, naming `keys` (one for the single-key operations,
    /// all of them for the set queries), as (operation, payload).
    fn every_operation(keys: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
        let key = keys[0].to_owned();
        let all: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let value = "v".to_owned();
        let ops = vec![
            (OP_GET, codec::serialize(&GetRequest { key: key.clone() })),
            (OP_SET, codec::serialize(&SetRequest { key: key.clone(), value: value.clone(), expires: 0 })),
            (OP_ADD, codec::serialize(&AddRequest { key: key.clone(), value: 1 })),
            (OP_DEL, codec::serialize(&DelRequest { key: key.clone() })),
            (OP_PUSH, codec::serialize(&ListPushRequest { key: key.clone(), value: value.clone() })),
            (OP_LIST_DEL, codec::serialize(&ListDelItemRequest { key: key.clone(), value: value.clone() })),
            (OP_RANGE, codec::serialize(&ListRangeRequest { key: key.clone(), start: 0, stop: -1 })),
            (OP_CLEAR, codec::serialize(&ListClearRequest { key: key.clone() })),
            (OP_SET_ADD, codec::serialize(&SetAddRequest { key: key.clone(), value: value.clone() })),
            (OP_SET_REMOVE, codec::serialize(&SetRemoveRequest { key: key.clone(), value })),
            (OP_SET_UNION, codec::serialize(&SetUnionRequest { keys: all.clone() })),
            (OP_SET_INTERSECT, codec::serialize(&SetIntersectionRequest { keys: all })),
            (OP_SET_QUERY, codec::serialize(&SetQueryRequest { key: key.clone() })),
            (OP_KEY_EXISTS, codec::serialize(&KeyExistsQuery { key })),
        ];
        ops.into_iter().map(|(op, payload)| (op, payload.unwrap())).collect()
    }

    fn sensors_only() -> Grant {
        Grant::new(vec![Layer::new(Source::Signed, vec!["prefix:sensors:".parse::<Rule>().unwrap()])])
    }

    #[test]
    fn every_operation_is_covered_by_the_grant_tests() {
        let ops: Vec<&str> = every_operation(&["k"]).into_iter().map(|(op, _)| op).collect();
        assert_eq!(ops.len(), OPERATIONS.len());
        for op in OPERATIONS {
            assert!(ops.contains(&op), "{op}");
        }
    }

    #[test]
    fn every_operation_on_a_key_inside_the_grant_reaches_the_store() {
        for (op, payload) in every_operation(&["sensors:t1", "sensors:t2"]) {
            let store = Recorder::default();
            handle(&store, &sensors_only(), op, &payload).unwrap_or_else(|e| panic!("{op}: {e}"));
            assert!(store.touched().contains(&"sensors:t1".to_owned()), "{op}");
        }
    }

    #[test]
    fn every_operation_on_a_key_outside_the_grant_is_denied_before_the_store_is_touched() {
        for (op, payload) in every_operation(&["admin:x"]) {
            let store = Recorder::default();
            let err = handle(&store, &sensors_only(), op, &payload).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Denied, "{op}");
            assert_eq!(
                err.message(),
                "key `admin:x` is outside the grant for wascc:keyvalue (signed: prefix:sensors:)",
                "{op}"
            );
            assert!(store.touched().is_empty(), "{op} touched {:?}", store.touched());
        }
    }

    #[test]
    fn a_set_query_with_one_key_outside_the_grant_is_denied_as_a_whole() {
        for (op, payload) in every_operation(&["sensors:a", "admin:x", "sensors:b"]) {
            if op != OP_SET_UNION && op != OP_SET_INTERSECT {
                continue;
            }
            let store = Recorder::default();
            let err = handle(&store, &sensors_only(), op, &payload).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Denied, "{op}");
            assert!(err.message().contains("`admin:x`"), "{op}: {err}");
            assert!(store.touched().is_empty(), "{op}");
        }
    }

    #[test]
    fn an_unrestricted_grant_lets_every_key_through() {
        for (op, payload) in every_operation(&["admin:x"]) {
            let store = Recorder::default();
            handle(&store, &Grant::unrestricted(), op, &payload).unwrap_or_else(|e| panic!("{op}: {e}"));
            assert_eq!(store.touched(), ["admin:x"], "{op}");
        }
    }

    #[test]
    fn a_link_narrowing_the_signed_grant_is_enforced_too() {
        let grant = Grant::effective(
            Some(&["prefix:sensors:".parse().unwrap()]),
            &["prefix:sensors:temp:".parse().unwrap()],
        );
        let set = |key: &str| codec::serialize(&SetRequest { key: key.into(), value: "1".into(), expires: 0 }).unwrap();
        let store = Recorder::default();
        assert!(handle(&store, &grant, OP_SET, &set("sensors:temp:1")).is_ok());
        let err = handle(&store, &grant, OP_SET, &set("sensors:hum:1")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Denied);
        assert_eq!(
            err.message(),
            "key `sensors:hum:1` is outside the grant for wascc:keyvalue (signed: prefix:sensors:; link: prefix:sensors:temp:)"
        );
        assert_eq!(store.touched(), ["sensors:temp:1"]);
    }

    #[test]
    fn an_unknown_operation_is_a_bad_request() {
        let err = handle(&Recorder::default(), &Grant::unrestricted(), "Frobnicate", &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("no operation `Frobnicate`"));
    }

    #[test]
    fn ranges_follow_redis_lrange() {
        assert_eq!(resolve_range(5, 0, -1), Some((0, 4)));
        assert_eq!(resolve_range(5, 1, 2), Some((1, 2)));
        assert_eq!(resolve_range(5, -2, -1), Some((3, 4)));
        assert_eq!(resolve_range(5, 3, 100), Some((3, 4)));
        assert_eq!(resolve_range(5, -100, 0), Some((0, 0)));
        assert_eq!(resolve_range(5, 4, 2), None);
        assert_eq!(resolve_range(5, 7, 9), None);
        assert_eq!(resolve_range(0, 0, -1), None);
    }
}
