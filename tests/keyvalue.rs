//! One conformance suite for every `wascc:keyvalue` provider, run through
//! the loaded shared library exactly as the host calls it: SQLite on a
//! fresh database file, Redis against a real redis-server.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codec::core::CapabilityConfiguration;
use codec::keyvalue::*;
use host_edge_runtime::provider::{Deliver, NativeProvider};
use host_edge_runtime::{ErrorKind, Failure};
use serde::{de::DeserializeOwned, Serialize};
use testkit::{provider_library, redis_url, PrivateRedis};

const ACTOR: &str = "MBCFOPM6JW2APJLXJD3Z5O4CN7CPYJ2B4FTKLJUR5YR5MITIU7HD3WD5";

/// A key-value provider bound to one actor, with typed calls.
struct Kv {
    provider: NativeProvider,
    prefix: String,
    _dir: Option<tempfile::TempDir>,
    _state: tempfile::TempDir,
}

fn no_delivery() -> Deliver {
    Arc::new(|_: &str, _: &str, _: &[u8]| Err(Failure::new(ErrorKind::NotLinked, "key-value providers call no actors")))
}

fn load(library: &str, state: &std::path::Path) -> NativeProvider {
    NativeProvider::load("kv", &provider_library(library), no_delivery(), state).unwrap()
}

/// A prefix no other test run uses, so tests can share one Redis.
fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("host-edge-test:{}:{nanos}:{}:", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Kv {
    fn bind(library: &str, values: BTreeMap<String, String>, dir: Option<tempfile::TempDir>) -> Kv {
        let state = tempfile::tempdir().unwrap();
        let provider = load(library, state.path());
        let config = codec::serialize(&CapabilityConfiguration { module: ACTOR.into(), values }).unwrap();
        provider.bind_actor(&config).unwrap();
        Kv { provider, prefix: unique_prefix(), _dir: dir, _state: state }
    }

    /// Binds again with `values`: for a bound actor, an update.
    fn rebind(&self, values: BTreeMap<String, String>) {
        let config = codec::serialize(&CapabilityConfiguration { module: ACTOR.into(), values }).unwrap();
        self.provider.bind_actor(&config).unwrap();
    }

    fn sqlite_values() -> (BTreeMap<String, String>, Option<tempfile::TempDir>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db").display().to_string();
        (BTreeMap::from([("PATH".to_owned(), path)]), Some(dir))
    }

    fn redis_values() -> (BTreeMap<String, String>, Option<tempfile::TempDir>) {
        (BTreeMap::from([("URL".to_owned(), redis_url())]), None)
    }

    fn sqlite() -> Kv {
        let (values, dir) = Kv::sqlite_values();
        Kv::bind("keyvalue_sqlite", values, dir)
    }

    fn redis() -> Kv {
        let (values, dir) = Kv::redis_values();
        Kv::bind("keyvalue_redis", values, dir)
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn try_call<R: DeserializeOwned>(&self, operation: &str, request: &impl Serialize) -> Result<R, String> {
        let reply = self
            .provider
            .call(ACTOR, operation, &codec::serialize(request).unwrap())
            .map_err(|e| e.to_string())?;
        Ok(codec::deserialize(&reply).unwrap())
    }

    fn call<R: DeserializeOwned>(&self, operation: &str, request: &impl Serialize) -> R {
        self.try_call(operation, request).unwrap_or_else(|e| panic!("{operation}: {e}"))
    }

    fn get(&self, key: &str) -> GetResponse {
        self.call(OP_GET, &GetRequest { key: self.key(key) })
    }

    fn set(&self, key: &str, value: &str, expires: i32) {
        let _: SetResponse = self.call(OP_SET, &SetRequest { key: self.key(key), value: value.into(), expires });
    }

    fn add(&self, key: &str, value: i32) -> Result<i32, String> {
        self.try_call(OP_ADD, &AddRequest { key: self.key(key), value }).map(|r: AddResponse| r.value)
    }

    fn push(&self, key: &str, value: &str) -> Result<i32, String> {
        self.try_call(OP_PUSH, &ListPushRequest { key: self.key(key), value: value.into() })
            .map(|r: ListResponse| r.new_count)
    }

    fn range(&self, key: &str, start: i32, stop: i32) -> Vec<String> {
        self.call::<ListRangeResponse>(OP_RANGE, &ListRangeRequest { key: self.key(key), start, stop }).values
    }

    fn set_add(&self, key: &str, value: &str) -> i32 {
        self.call::<SetOperationResponse>(OP_SET_ADD, &SetAddRequest { key: self.key(key), value: value.into() })
            .new_count
    }

    fn exists(&self, key: &str) -> bool {
        self.call::<GetResponse>(OP_KEY_EXISTS, &KeyExistsQuery { key: self.key(key) }).exists
    }

    fn keys(&self, names: &[&str]) -> Vec<String> {
        names.iter().map(|n| self.key(n)).collect()
    }
}

impl Drop for Kv {
    fn drop(&mut self) {
        self.provider.stop();
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// The suite every key-value provider passes.
macro_rules! conformance {
    ($backend:ident) => {
        mod $backend {
            use super::*;

            fn kv() -> Kv {
                Kv::$backend()
            }

            /// The values of this backend with a grant of `layers`, as the
            /// host writes it under `__host_edge_grant`.
            fn granted(kv: &Kv, layers: &str) -> BTreeMap<String, String> {
                let (mut values, _) = paste_values();
                if let Some(path) = kv._dir.as_ref() {
                    values.insert("PATH".into(), path.path().join("kv.db").display().to_string());
                }
                values.insert("__host_edge_grant".into(), layers.replace("{p}", &kv.prefix));
                values
            }

            fn paste_values() -> (BTreeMap<String, String>, Option<tempfile::TempDir>) {
                match stringify!($backend) {
                    "sqlite" => Kv::sqlite_values(),
                    _ => Kv::redis_values(),
                }
            }

            #[test]
            fn a_key_outside_the_grant_is_refused_as_denied_naming_the_grant() {
                let kv = kv();
                kv.rebind(granted(&kv, r#"[{"source":"signed","rules":["prefix:{p}sensors:"]}]"#));
                let _: SetResponse = kv.call(OP_SET, &SetRequest { key: kv.key("sensors:t1"), value: "21".into(), expires: 0 });
                assert_eq!(kv.get("sensors:t1").value, "21");
                let request = codec::serialize(&SetRequest { key: kv.key("admin:x"), value: "1".into(), expires: 0 }).unwrap();
                let err = kv.provider.call(ACTOR, OP_SET, &request).unwrap_err();
                assert_eq!(err.failure().kind, ErrorKind::Denied);
                let text = err.to_string();
                assert!(text.contains(&format!("key `{}admin:x` is outside the grant for wascc:keyvalue", kv.prefix)), "{text}");
                assert!(text.contains(&format!("signed: prefix:{}sensors:", kv.prefix)), "{text}");
                // Nothing was written, and a multi-key operation with one key outside is refused whole.
                kv.rebind(granted(&kv, "[]"));
                assert!(!kv.exists("admin:x"));
                kv.rebind(granted(&kv, r#"[{"source":"signed","rules":["prefix:{p}sensors:"]}]"#));
                let union = SetUnionRequest { keys: kv.keys(&["sensors:a", "admin:b"]) };
                assert!(kv.try_call::<SetQueryResponse>(OP_SET_UNION, &union).unwrap_err().contains("admin:b"));
            }

            #[test]
            fn a_prefix_grant_without_a_trailing_separator_does_not_reach_a_longer_key() {
                // `prefix:sensors` names the `sensors` keys; as a string
                // prefix it also reached `sensorsadmin`.
                let kv = kv();
                kv.rebind(granted(&kv, r#"[{"source":"signed","rules":["prefix:{p}sensors"]}]"#));
                let err = kv.add("sensorsadmin", 1).unwrap_err();
                assert!(err.contains(&format!("key `{}sensorsadmin` is outside the grant", kv.prefix)), "{err}");
                assert_eq!(kv.add("sensors:t1", 1), Ok(1));
                assert_eq!(kv.add("sensors", 1), Ok(1));
                kv.rebind(granted(&kv, "[]"));
                assert!(!kv.exists("sensorsadmin"), "nothing was written");
            }

            #[test]
            fn a_link_narrows_a_signed_grant_and_both_must_permit() {
                let kv = kv();
                kv.rebind(granted(
                    &kv,
                    r#"[{"source":"signed","rules":["prefix:{p}sensors:"]},{"source":"link","rules":["prefix:{p}sensors:t:"]}]"#,
                ));
                assert_eq!(kv.add("sensors:t:1", 1), Ok(1));
                let err = kv.add("sensors:h:1", 1).unwrap_err();
                assert!(err.contains("link: prefix:"), "{err}");
                let err = kv.add("admin:x", 1).unwrap_err();
                assert!(err.contains("outside the grant"), "{err}");
            }

            #[test]
            fn get_of_a_missing_key_is_empty_and_not_existing() {
                assert_eq!(kv().get("nothing"), GetResponse { value: String::new(), exists: false });
            }

            #[test]
            fn set_stores_a_string_and_replaces_the_old_one() {
                let kv = kv();
                kv.set("s", "one", 0);
                assert_eq!(kv.get("s"), GetResponse { value: "one".into(), exists: true });
                kv.set("s", "two", 0);
                assert_eq!(kv.get("s").value, "two");
            }

            #[test]
            fn set_replies_with_the_value_set() {
                let kv = kv();
                let reply: SetResponse = kv.call(OP_SET, &SetRequest { key: kv.key("s"), value: "v".into(), expires: 0 });
                assert_eq!(reply.value, "v");
            }

            #[test]
            fn add_counts_from_zero_and_takes_negative_amounts() {
                let kv = kv();
                assert_eq!(kv.add("n", 1), Ok(1));
                assert_eq!(kv.add("n", 41), Ok(42));
                assert_eq!(kv.add("n", -50), Ok(-8));
                assert_eq!(kv.get("n").value, "-8");
            }

            #[test]
            fn add_to_a_string_that_is_not_a_number_fails() {
                let kv = kv();
                kv.set("word", "hello", 0);
                assert!(kv.add("word", 1).is_err());
                assert_eq!(kv.get("word").value, "hello");
            }

            #[test]
            fn concurrent_adds_are_atomic() {
                let kv = kv();
                std::thread::scope(|s| {
                    for _ in 0..8 {
                        s.spawn(|| {
                            for _ in 0..50 {
                                kv.add("hits", 1).unwrap();
                            }
                        });
                    }
                });
                assert_eq!(kv.get("hits").value, "400");
            }

            #[test]
            fn del_removes_a_key_of_any_kind_and_replies_with_it() {
                let kv = kv();
                kv.set("s", "v", 0);
                kv.push("l", "a").unwrap();
                kv.set_add("t", "m");
                for name in ["s", "l", "t"] {
                    let reply: DelResponse = kv.call(OP_DEL, &DelRequest { key: kv.key(name) });
                    assert_eq!(reply.key, kv.key(name));
                    assert!(!kv.exists(name), "{name} still exists");
                }
            }

            #[test]
            fn push_appends_and_replies_with_the_length() {
                let kv = kv();
                assert_eq!(kv.push("l", "a"), Ok(1));
                assert_eq!(kv.push("l", "b"), Ok(2));
                assert_eq!(kv.push("l", "c"), Ok(3));
                assert_eq!(kv.range("l", 0, -1), strings(&["a", "b", "c"]));
            }

            #[test]
            fn range_is_inclusive_and_counts_negative_indexes_from_the_end() {
                let kv = kv();
                for v in ["a", "b", "c", "d", "e"] {
                    kv.push("l", v).unwrap();
                }
                assert_eq!(kv.range("l", 1, 2), strings(&["b", "c"]));
                assert_eq!(kv.range("l", -2, -1), strings(&["d", "e"]));
                assert_eq!(kv.range("l", 3, 100), strings(&["d", "e"]));
                assert_eq!(kv.range("l", 4, 2), Vec::<String>::new());
                assert_eq!(kv.range("missing", 0, -1), Vec::<String>::new());
            }

            #[test]
            fn list_item_delete_removes_every_occurrence_and_counts_them() {
                let kv = kv();
                for v in ["a", "b", "a", "c", "a"] {
                    kv.push("l", v).unwrap();
                }
                let reply: ListResponse =
                    kv.call(OP_LIST_DEL, &ListDelItemRequest { key: kv.key("l"), value: "a".into() });
                assert_eq!(reply.new_count, 3);
                assert_eq!(kv.range("l", 0, -1), strings(&["b", "c"]));
            }

            #[test]
            fn clear_empties_a_list() {
                let kv = kv();
                kv.push("l", "a").unwrap();
                let reply: DelResponse = kv.call(OP_CLEAR, &ListClearRequest { key: kv.key("l") });
                assert_eq!(reply.key, kv.key("l"));
                assert_eq!(kv.range("l", 0, -1), Vec::<String>::new());
                assert!(!kv.exists("l"));
            }

            #[test]
            fn set_add_and_remove_count_what_changed() {
                let kv = kv();
                assert_eq!(kv.set_add("t", "x"), 1);
                assert_eq!(kv.set_add("t", "x"), 0);
                assert_eq!(kv.set_add("t", "y"), 1);
                let removed: SetOperationResponse =
                    kv.call(OP_SET_REMOVE, &SetRemoveRequest { key: kv.key("t"), value: "x".into() });
                assert_eq!(removed.new_count, 1);
                let removed: SetOperationResponse =
                    kv.call(OP_SET_REMOVE, &SetRemoveRequest { key: kv.key("t"), value: "x".into() });
                assert_eq!(removed.new_count, 0);
                let members: SetQueryResponse = kv.call(OP_SET_QUERY, &SetQueryRequest { key: kv.key("t") });
                assert_eq!(members.values, strings(&["y"]));
            }

            #[test]
            fn set_union_and_intersection_answer_sorted() {
                let kv = kv();
                for m in ["c", "a", "b"] {
                    kv.set_add("one", m);
                }
                for m in ["d", "b", "c"] {
                    kv.set_add("two", m);
                }
                let union: SetQueryResponse =
                    kv.call(OP_SET_UNION, &SetUnionRequest { keys: kv.keys(&["one", "two", "missing"]) });
                assert_eq!(union.values, strings(&["a", "b", "c", "d"]));
                let common: SetQueryResponse =
                    kv.call(OP_SET_INTERSECT, &SetIntersectionRequest { keys: kv.keys(&["one", "two"]) });
                assert_eq!(common.values, strings(&["b", "c"]));
                let none: SetQueryResponse =
                    kv.call(OP_SET_INTERSECT, &SetIntersectionRequest { keys: kv.keys(&["one", "missing"]) });
                assert_eq!(none.values, Vec::<String>::new());
                let empty: SetQueryResponse = kv.call(OP_SET_UNION, &SetUnionRequest { keys: Vec::new() });
                assert_eq!(empty.values, Vec::<String>::new());
            }

            #[test]
            fn key_exists_sees_every_kind() {
                let kv = kv();
                assert!(!kv.exists("k"));
                kv.set("k", "v", 0);
                assert!(kv.exists("k"));
                kv.push("l", "v").unwrap();
                assert!(kv.exists("l"));
                kv.set_add("t", "v");
                assert!(kv.exists("t"));
            }

            #[test]
            fn an_operation_on_a_key_of_another_kind_fails() {
                let kv = kv();
                kv.set("s", "v", 0);
                let err = kv.push("s", "x").unwrap_err();
                assert!(err.contains("WRONGTYPE"), "{err}");
                assert_eq!(kv.get("s").value, "v");
            }

            #[test]
            fn an_expiring_key_disappears_after_its_time() {
                let kv = kv();
                let set_at = Instant::now();
                kv.set("short", "v", 1);
                kv.set("long", "v", 3600);
                // It is there until its second is up: gone sooner would be
                // wrong, gone later only means this machine was slow.
                assert!(kv.exists("short") || set_at.elapsed() >= Duration::from_secs(1), "the key expired early");
                let deadline = Instant::now() + Duration::from_secs(5);
                while kv.exists("short") {
                    assert!(Instant::now() < deadline, "the key did not expire");
                    std::thread::sleep(Duration::from_millis(100));
                }
                assert_eq!(kv.get("short").exists, false);
                assert!(kv.exists("long"));
            }

            #[test]
            fn an_unknown_operation_is_refused_by_name() {
                let kv = kv();
                let err = kv.try_call::<GetResponse>("Frobnicate", &GetRequest { key: kv.key("k") }).unwrap_err();
                assert!(err.contains("no operation `Frobnicate`"), "{err}");
            }

            #[test]
            fn a_malformed_payload_is_an_error_not_a_crash() {
                let kv = kv();
                let err = kv.provider.call(ACTOR, OP_GET, b"\xff\x00garbage").unwrap_err().to_string();
                assert!(err.contains("GetRequest"), "{err}");
                assert_eq!(kv.get("k").exists, false);
            }

            #[test]
            fn an_actor_that_is_not_bound_is_refused() {
                let kv = kv();
                let request = codec::serialize(&GetRequest { key: kv.key("k") }).unwrap();
                let err = kv.provider.call("MOTHER", OP_GET, &request).unwrap_err().to_string();
                assert!(err.contains("not bound"), "{err}");
            }
        }
    };
}

conformance!(sqlite);
conformance!(redis);

#[test]
fn sqlite_writes_persist_across_provider_instances() {
    let dir = tempfile::tempdir().unwrap();
    let values = BTreeMap::from([("PATH".to_owned(), dir.path().join("kv.db").display().to_string())]);
    let first = Kv::bind("keyvalue_sqlite", values.clone(), None);
    assert_eq!(first.add("n", 5), Ok(5));
    let prefix = first.prefix.clone();
    drop(first);
    let mut second = Kv::bind("keyvalue_sqlite", values, None);
    second.prefix = prefix;
    assert_eq!(second.add("n", 1), Ok(6));
}

#[test]
fn sqlite_refuses_a_bad_sync_setting_by_name() {
    let state = tempfile::tempdir().unwrap();
    let provider = load("keyvalue_sqlite", state.path());
    let values = BTreeMap::from([("SYNC".to_owned(), "sometimes".to_owned())]);
    let config = codec::serialize(&CapabilityConfiguration { module: ACTOR.into(), values }).unwrap();
    let err = provider.bind_actor(&config).unwrap_err().to_string();
    assert!(err.contains("SYNC must be `full` or `normal`"), "{err}");
    provider.stop();
}

#[test]
fn redis_calls_fail_cleanly_while_it_is_down_and_succeed_once_it_is_back() {
    let mut redis = PrivateRedis::start();
    let kv = Kv::bind("keyvalue_redis", BTreeMap::from([("URL".to_owned(), redis.url())]), None);
    assert_eq!(kv.add("n", 1), Ok(1));

    redis.stop();
    let err = kv.add("n", 1).unwrap_err();
    assert!(err.contains("Redis"), "{err}");

    redis.restart();
    // The server kept nothing (--save ""), so the counter starts again.
    assert_eq!(kv.add("n", 1), Ok(1));
    assert_eq!(kv.add("n", 1), Ok(2));
}
