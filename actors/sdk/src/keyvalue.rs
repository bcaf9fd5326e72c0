//! `wascc:keyvalue`: strings, counters, lists and sets (Redis semantics),
//! served by the SQLite or the Redis provider.
//!
//! ```no_run
//! use host_edge_actor::keyvalue;
//!
//! # fn f() -> Result<(), host_edge_actor::Error> {
//! let store = keyvalue::default();
//! let visits = store.atomic_add("visits", 1)?;
//! store.set("last-visit", &visits.to_string(), None)?;
//! keyvalue::host("cache").list_add("recent", "/hello")?;
//! # Ok(()) }
//! ```

use codec::keyvalue::*;

use crate::guest::call;
use crate::Error;

/// The capability id.
pub const CAPABILITY: &str = "wascc:keyvalue";

/// The store linked as `default`.
pub fn default() -> KeyValue {
    host("default")
}

/// The store linked under `binding` (the link's `binding` in the manifest).
pub fn host(binding: &str) -> KeyValue {
    KeyValue { binding: binding.to_owned() }
}

/// A client for one key-value link. Method names are waSCC's.
#[derive(Debug, Clone)]
pub struct KeyValue {
    binding: String,
}

impl KeyValue {
    fn call<Q: serde::Serialize + 'static, R: serde::de::DeserializeOwned + 'static>(&self, operation: &'static str, request: &Q) -> Result<R, Error> {
        call(&self.binding, CAPABILITY, operation, request)
    }

    /// The string at `key`, or `None` when there is none.
    pub fn get(&self, key: &str) -> Result<Option<String>, Error> {
        let reply: GetResponse = self.call(OP_GET, &GetRequest { key: key.to_owned() })?;
        Ok(reply.exists.then_some(reply.value))
    }

    /// Sets `key` to `value`, expiring after `expires` seconds when given.
    pub fn set(&self, key: &str, value: &str, expires: Option<u32>) -> Result<(), Error> {
        let expires = expires.map_or(0, |seconds| i32::try_from(seconds).unwrap_or(i32::MAX));
        let _: SetResponse = self.call(OP_SET, &SetRequest { key: key.to_owned(), value: value.to_owned(), expires })?;
        Ok(())
    }

    /// Adds `value` to the counter at `key` (missing counts as 0) and
    /// returns the new count, atomically.
    pub fn atomic_add(&self, key: &str, value: i32) -> Result<i32, Error> {
        let reply: AddResponse = self.call(OP_ADD, &AddRequest { key: key.to_owned(), value })?;
        Ok(reply.value)
    }

    /// Deletes `key`, whatever it holds.
    pub fn del_key(&self, key: &str) -> Result<(), Error> {
        let _: DelResponse = self.call(OP_DEL, &DelRequest { key: key.to_owned() })?;
        Ok(())
    }

    /// Whether `key` exists.
    pub fn exists(&self, key: &str) -> Result<bool, Error> {
        let reply: GetResponse = self.call(OP_KEY_EXISTS, &KeyExistsQuery { key: key.to_owned() })?;
        Ok(reply.exists)
    }

    /// Appends `value` to the list at `key`; returns the list's length.
    pub fn list_add(&self, key: &str, value: &str) -> Result<i32, Error> {
        let reply: ListResponse = self.call(OP_PUSH, &ListPushRequest { key: key.to_owned(), value: value.to_owned() })?;
        Ok(reply.new_count)
    }

    /// Removes every `value` from the list at `key`; returns how many were
    /// removed (Redis's `LREM`).
    pub fn list_del_item(&self, key: &str, value: &str) -> Result<i32, Error> {
        let reply: ListResponse = self.call(OP_LIST_DEL, &ListDelItemRequest { key: key.to_owned(), value: value.to_owned() })?;
        Ok(reply.new_count)
    }

    /// The items `start..=stop` of the list at `key` (negative counts
    /// from the end: `0, -1` is the whole list).
    pub fn list_range(&self, key: &str, start: i32, stop: i32) -> Result<Vec<String>, Error> {
        let reply: ListRangeResponse = self.call(OP_RANGE, &ListRangeRequest { key: key.to_owned(), start, stop })?;
        Ok(reply.values)
    }

    /// Empties the list at `key`.
    pub fn list_clear(&self, key: &str) -> Result<(), Error> {
        let _: DelResponse = self.call(OP_CLEAR, &ListClearRequest { key: key.to_owned() })?;
        Ok(())
    }

    /// Adds `value` to the set at `key`; returns how many were added (0 or 1).
    pub fn set_add(&self, key: &str, value: &str) -> Result<i32, Error> {
        let reply: SetOperationResponse = self.call(OP_SET_ADD, &SetAddRequest { key: key.to_owned(), value: value.to_owned() })?;
        Ok(reply.new_count)
    }

    /// Removes `value` from the set at `key`; returns how many were removed.
    pub fn set_remove(&self, key: &str, value: &str) -> Result<i32, Error> {
        let reply: SetOperationResponse = self.call(OP_SET_REMOVE, &SetRemoveRequest { key: key.to_owned(), value: value.to_owned() })?;
        Ok(reply.new_count)
    }

    /// The members of the set at `key`.
    pub fn set_members(&self, key: &str) -> Result<Vec<String>, Error> {
        let reply: SetQueryResponse = self.call(OP_SET_QUERY, &SetQueryRequest { key: key.to_owned() })?;
        Ok(reply.values)
    }

    /// The union of the sets at `keys`.
    pub fn set_union(&self, keys: &[&str]) -> Result<Vec<String>, Error> {
        let keys = keys.iter().map(|k| (*k).to_owned()).collect();
        let reply: SetQueryResponse = self.call(OP_SET_UNION, &SetUnionRequest { keys })?;
        Ok(reply.values)
    }

    /// The intersection of the sets at `keys`.
    pub fn set_intersect(&self, keys: &[&str]) -> Result<Vec<String>, Error> {
        let keys = keys.iter().map(|k| (*k).to_owned()).collect();
        let reply: SetQueryResponse = self.call(OP_SET_INTERSECT, &SetIntersectionRequest { keys })?;
        Ok(reply.values)
    }
}
