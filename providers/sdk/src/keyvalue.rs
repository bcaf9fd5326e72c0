//! The `wascc:keyvalue` contract as a typed trait, and the one place that
//! decodes its operations: every key-value provider implements
//! [`KeyValueStore`] and hands its calls to [`handle`], so all of them read
//! and answer the waSCC messages identically.
//!
//! Semantics follow Redis, which waSCC's contract was written against: a key
//! holds a string, a list or a set; `Push` appends; `ListItemDelete` removes
//! every occurrence; `Range` takes inclusive indexes, negative from the end;
//! set queries answer sorted; an operation on a key of another kind fails.

use codec::keyvalue::*;

use crate::ProviderError;

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

/// Decodes `operation`'s payload, runs it on `store` and encodes the reply.
pub fn handle(store: &impl KeyValueStore, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
    let reply = match operation {
        OP_GET => {
            let r: GetRequest = codec::deserialize(payload)?;
            let value = store.get(&r.key)?;
            codec::serialize(&GetResponse { exists: value.is_some(), value: value.unwrap_or_default() })
        }
        OP_SET => {
            let r: SetRequest = codec::deserialize(payload)?;
            store.set(&r.key, &r.value, r.expires.max(0) as u32)?;
            codec::serialize(&SetResponse { value: r.value })
        }
        OP_ADD => {
            let r: AddRequest = codec::deserialize(payload)?;
            codec::serialize(&AddResponse { value: store.add(&r.key, r.value)? })
        }
        OP_DEL => {
            let r: DelRequest = codec::deserialize(payload)?;
            store.del(&r.key)?;
            codec::serialize(&DelResponse { key: r.key })
        }
        OP_CLEAR => {
            let r: ListClearRequest = codec::deserialize(payload)?;
            store.del(&r.key)?;
            codec::serialize(&DelResponse { key: r.key })
        }
        OP_PUSH => {
            let r: ListPushRequest = codec::deserialize(payload)?;
            codec::serialize(&ListResponse { new_count: store.push(&r.key, &r.value)? })
        }
        OP_LIST_DEL => {
            let r: ListDelItemRequest = codec::deserialize(payload)?;
            codec::serialize(&ListResponse { new_count: store.list_remove(&r.key, &r.value)? })
        }
        OP_RANGE => {
            let r: ListRangeRequest = codec::deserialize(payload)?;
            codec::serialize(&ListRangeResponse { values: store.range(&r.key, r.start, r.stop)? })
        }
        OP_SET_ADD => {
            let r: SetAddRequest = codec::deserialize(payload)?;
            codec::serialize(&SetOperationResponse { new_count: store.set_add(&r.key, &r.value)? })
        }
        OP_SET_REMOVE => {
            let r: SetRemoveRequest = codec::deserialize(payload)?;
            codec::serialize(&SetOperationResponse { new_count: store.set_remove(&r.key, &r.value)? })
        }
        OP_SET_UNION => {
            let r: SetUnionRequest = codec::deserialize(payload)?;
            codec::serialize(&SetQueryResponse { values: store.set_union(&r.keys)? })
        }
        OP_SET_INTERSECT => {
            let r: SetIntersectionRequest = codec::deserialize(payload)?;
            codec::serialize(&SetQueryResponse { values: store.set_intersection(&r.keys)? })
        }
        OP_SET_QUERY => {
            let r: SetQueryRequest = codec::deserialize(payload)?;
            codec::serialize(&SetQueryResponse { values: store.set_members(&r.key)? })
        }
        OP_KEY_EXISTS => {
            let r: KeyExistsQuery = codec::deserialize(payload)?;
            codec::serialize(&GetResponse { value: String::new(), exists: store.exists(&r.key)? })
        }
        other => return Err(ProviderError::new(format!("wascc:keyvalue has no operation `{other}`"))),
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
    use super::resolve_range;

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
