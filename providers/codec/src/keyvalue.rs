//! `wascc:keyvalue`: strings, counters, lists and sets, as waSCC defined them
//! (Redis semantics).

use serde::{Deserialize, Serialize};

/// Get a string; [`GetRequest`] -> [`GetResponse`].
pub const OP_GET: &str = "Get";
/// Set a string; [`SetRequest`] -> [`SetResponse`].
pub const OP_SET: &str = "Set";
/// Add to a counter; [`AddRequest`] -> [`AddResponse`].
pub const OP_ADD: &str = "Add";
/// Delete a key of any kind; [`DelRequest`] -> [`DelResponse`].
pub const OP_DEL: &str = "Del";
/// Append to a list; [`ListPushRequest`] -> [`ListResponse`].
pub const OP_PUSH: &str = "Push";
/// Remove a value from a list; [`ListDelItemRequest`] -> [`ListResponse`].
pub const OP_LIST_DEL: &str = "ListItemDelete";
/// Read a list range; [`ListRangeRequest`] -> [`ListRangeResponse`].
pub const OP_RANGE: &str = "Range";
/// Clear a list; [`ListClearRequest`] -> [`DelResponse`].
pub const OP_CLEAR: &str = "Clear";
/// Add to a set; [`SetAddRequest`] -> [`SetOperationResponse`].
pub const OP_SET_ADD: &str = "SetAdd";
/// Remove from a set; [`SetRemoveRequest`] -> [`SetOperationResponse`].
pub const OP_SET_REMOVE: &str = "SetRemove";
/// Union of sets; [`SetUnionRequest`] -> [`SetQueryResponse`].
pub const OP_SET_UNION: &str = "SetUnion";
/// Intersection of sets; [`SetIntersectionRequest`] -> [`SetQueryResponse`].
pub const OP_SET_INTERSECT: &str = "SetIntersection";
/// Members of a set; [`SetQueryRequest`] -> [`SetQueryResponse`].
pub const OP_SET_QUERY: &str = "SetQuery";
/// Whether a key exists; [`KeyExistsQuery`] -> [`GetResponse`].
pub const OP_KEY_EXISTS: &str = "KeyExists";

/// Every key-value operation, in waSCC's order.
pub const OPERATIONS: [&str; 14] = [
    OP_GET, OP_SET, OP_ADD, OP_DEL, OP_PUSH, OP_LIST_DEL, OP_RANGE, OP_CLEAR, OP_SET_ADD, OP_SET_REMOVE,
    OP_SET_UNION, OP_SET_INTERSECT, OP_SET_QUERY, OP_KEY_EXISTS,
];

macro_rules! message {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name { $($(#[$fdoc])* pub $field: $ty,)* }
    };
}

message!(
    /// Reads a string.
    GetRequest {
        /// The key.
        key: String
    }
);
message!(
    /// A string read, or a key-exists answer. A missing key is `""`, `exists: false`.
    GetResponse {
        /// The value.
        value: String,
        /// Whether the key exists.
        exists: bool,
    }
);
message!(
    /// Sets a string, optionally expiring.
    SetRequest {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Seconds until the key expires; 0 = never.
        expires: i32,
    }
);
message!(
    /// The value just set.
    SetResponse {
        /// The value.
        value: String
    }
);
message!(
    /// Adds `value` to the integer at `key` (missing = 0).
    AddRequest {
        /// The key.
        key: String,
        /// The amount, may be negative.
        value: i32,
    }
);
message!(
    /// The counter after the addition.
    AddResponse {
        /// The new value.
        value: i32
    }
);
message!(
    /// Deletes a key.
    DelRequest {
        /// The key.
        key: String
    }
);
message!(
    /// The key just deleted or cleared.
    DelResponse {
        /// The key.
        key: String
    }
);
message!(
    /// Appends a value to a list.
    ListPushRequest {
        /// The list's key.
        key: String,
        /// The value.
        value: String,
    }
);
message!(
    /// Removes every occurrence of a value from a list.
    ListDelItemRequest {
        /// The list's key.
        key: String,
        /// The value.
        value: String,
    }
);
message!(
    /// Clears a list.
    ListClearRequest {
        /// The list's key.
        key: String
    }
);
message!(
    /// Reads items `start..=stop` of a list; negative indexes count from the end.
    ListRangeRequest {
        /// The list's key.
        key: String,
        /// First index.
        start: i32,
        /// Last index, inclusive.
        stop: i32,
    }
);
message!(
    /// List items.
    ListRangeResponse {
        /// The items in order.
        #[serde(default)]
        values: Vec<String>
    }
);
message!(
    /// A count after a list change: the length after `Push`, the number
    /// removed after `ListItemDelete`.
    ListResponse {
        /// The count.
        new_count: i32
    }
);
message!(
    /// Adds a member to a set.
    SetAddRequest {
        /// The set's key.
        key: String,
        /// The member.
        value: String,
    }
);
message!(
    /// Removes a member from a set.
    SetRemoveRequest {
        /// The set's key.
        key: String,
        /// The member.
        value: String,
    }
);
message!(
    /// Reads a set's members.
    SetQueryRequest {
        /// The set's key.
        key: String
    }
);
message!(
    /// Set members (sorted by host-edge's providers).
    SetQueryResponse {
        /// The members.
        #[serde(default)]
        values: Vec<String>
    }
);
message!(
    /// Intersects sets.
    SetIntersectionRequest {
        /// The sets' keys.
        #[serde(default)]
        keys: Vec<String>
    }
);
message!(
    /// Unites sets.
    SetUnionRequest {
        /// The sets' keys.
        #[serde(default)]
        keys: Vec<String>
    }
);
message!(
    /// The number of members added or removed.
    SetOperationResponse {
        /// The count.
        new_count: i32
    }
);
message!(
    /// Asks whether a key exists.
    KeyExistsQuery {
        /// The key.
        key: String
    }
);
