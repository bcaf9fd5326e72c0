//! One SQLite database holding strings, lists and sets.
//!
//! `kv_keys` says what each key holds (and when a string expires); list items
//! and set members live in their own tables. Every operation is one
//! transaction on the one connection, so `Add` is atomic however many actor
//! instances call at once.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use provider_sdk::keyvalue::{resolve_range, KeyValueStore};
use provider_sdk::ProviderError;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv_keys (
    key TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('string', 'list', 'set')),
    value TEXT,
    expires_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_keys_expiry ON kv_keys (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS kv_list (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_list_key ON kv_list (key, id);
CREATE TABLE IF NOT EXISTS kv_set (
    key TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (key, member)
) WITHOUT ROWID;
";

/// How often expired strings no one reads are swept away.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On the storage (`synchronous=FULL`).
    Full,
    /// Handed to the OS (`synchronous=NORMAL`).
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    List,
    Set,
}

impl Kind {
    fn parse(text: &str) -> Kind {
        match text {
            "list" => Kind::List,
            "set" => Kind::Set,
            _ => Kind::String,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Set => "set",
        }
    }
}

struct Connected {
    connection: Connection,
    last_sweep: Instant,
}

/// A database file opened for key-value use.
pub struct Store {
    inner: Mutex<Connected>,
}

/// A database error, typed: a busy, locked, full or failing disk is the
/// store being unavailable; anything else is a failure of the request.
fn db_error(e: rusqlite::Error) -> ProviderError {
    use rusqlite::ErrorCode::{CannotOpen, DatabaseBusy, DatabaseLocked, DiskFull, SystemIoFailure};
    match e.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked | DiskFull | SystemIoFailure | CannotOpen) => {
            ProviderError::unavailable(format!("SQLite: {e}"))
        }
        _ => ProviderError::new(format!("SQLite: {e}")),
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn wrong_type(key: &str, found: Kind, wanted: Kind) -> ProviderError {
    ProviderError::bad_request(format!(
        "WRONGTYPE: key `{key}` holds a {}, not a {}",
        found.as_str(),
        wanted.as_str()
    ))
}

/// The kind of `key`, after dropping it if it has expired.
fn kind_of(tx: &Transaction<'_>, key: &str) -> Result<Option<Kind>, ProviderError> {
    tx.execute(
        "DELETE FROM kv_keys WHERE key = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2",
        params![key, now_ms()],
    )
    .map_err(db_error)?;
    tx.query_row("SELECT kind FROM kv_keys WHERE key = ?1", [key], |row| row.get::<_, String>(0))
        .optional()
        .map(|kind| kind.as_deref().map(Kind::parse))
        .map_err(db_error)
}

/// Checks that `key` is missing or holds `wanted`; true when it exists.
fn expect_kind(tx: &Transaction<'_>, key: &str, wanted: Kind) -> Result<bool, ProviderError> {
    match kind_of(tx, key)? {
        None => Ok(false),
        Some(kind) if kind == wanted => Ok(true),
        Some(kind) => Err(wrong_type(key, kind, wanted)),
    }
}

fn delete_key(tx: &Transaction<'_>, key: &str) -> Result<(), ProviderError> {
    for sql in ["DELETE FROM kv_keys WHERE key = ?1", "DELETE FROM kv_list WHERE key = ?1", "DELETE FROM kv_set WHERE key = ?1"] {
        tx.execute(sql, [key]).map_err(db_error)?;
    }
    Ok(())
}

fn create_key(tx: &Transaction<'_>, key: &str, kind: Kind) -> Result<(), ProviderError> {
    tx.execute("INSERT INTO kv_keys (key, kind) VALUES (?1, ?2)", params![key, kind.as_str()])
        .map_err(db_error)
        .map(drop)
}

fn count(tx: &Transaction<'_>, sql: &str, key: &str) -> Result<i64, ProviderError> {
    tx.query_row(sql, [key], |row| row.get(0)).map_err(db_error)
}

fn members(tx: &Transaction<'_>, key: &str) -> Result<Vec<String>, ProviderError> {
    if !expect_kind(tx, key, Kind::Set)? {
        return Ok(Vec::new());
    }
    let mut statement = tx.prepare_cached("SELECT member FROM kv_set WHERE key = ?1 ORDER BY member").map_err(db_error)?;
    let rows = statement.query_map([key], |row| row.get(0)).map_err(db_error)?;
    rows.collect::<Result<_, _>>().map_err(db_error)
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path, sync: Durability) -> Result<Store, ProviderError> {
        let connection = Connection::open(path)
            .map_err(|e| ProviderError::unavailable(format!("cannot open the database {}: {e}", path.display())))?;
        connection.busy_timeout(Duration::from_secs(5)).map_err(db_error)?;
        let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(db_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ProviderError::new(format!("{} cannot use WAL (journal mode {mode})", path.display())));
        }
        let synchronous = match sync {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        connection.pragma_update(None, "synchronous", synchronous).map_err(db_error)?;
        connection.execute_batch(SCHEMA).map_err(db_error)?;
        let store = Store { inner: Mutex::new(Connected { connection, last_sweep: Instant::now() }) };
        store.sweep()?;
        Ok(store)
    }

    /// Confirms the database answers.
    pub fn check(&self) -> Result<(), ProviderError> {
        self.write(|tx| tx.query_row("SELECT 1", [], |_| Ok(())).map_err(db_error))
    }

    fn sweep(&self) -> Result<(), ProviderError> {
        self.write(|tx| {
            tx.execute("DELETE FROM kv_keys WHERE expires_at IS NOT NULL AND expires_at <= ?1", [now_ms()])
                .map_err(db_error)
                .map(drop)
        })
    }

    /// Runs `work` in one immediate transaction and commits it.
    fn write<T>(&self, work: impl FnOnce(&Transaction<'_>) -> Result<T, ProviderError>) -> Result<T, ProviderError> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let sweep_due = inner.last_sweep.elapsed() >= SWEEP_EVERY;
        if sweep_due {
            inner.last_sweep = Instant::now();
        }
        let tx = inner
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_error)?;
        if sweep_due {
            tx.execute("DELETE FROM kv_keys WHERE expires_at IS NOT NULL AND expires_at <= ?1", [now_ms()])
                .map_err(db_error)?;
        }
        let value = work(&tx)?;
        tx.commit().map_err(db_error)?;
        Ok(value)
    }
}

impl KeyValueStore for Store {
    fn get(&self, key: &str) -> Result<Option<String>, ProviderError> {
        self.write(|tx| {
            if !expect_kind(tx, key, Kind::String)? {
                return Ok(None);
            }
            tx.query_row("SELECT value FROM kv_keys WHERE key = ?1", [key], |row| row.get(0)).map_err(db_error)
        })
    }

    fn set(&self, key: &str, value: &str, expires_secs: u32) -> Result<(), ProviderError> {
        self.write(|tx| {
            delete_key(tx, key)?;
            let expires_at = (expires_secs > 0).then(|| now_ms() + i64::from(expires_secs) * 1000);
            tx.execute(
                "INSERT INTO kv_keys (key, kind, value, expires_at) VALUES (?1, 'string', ?2, ?3)",
                params![key, value, expires_at],
            )
            .map_err(db_error)
            .map(drop)
        })
    }

    fn add(&self, key: &str, delta: i32) -> Result<i32, ProviderError> {
        self.write(|tx| {
            let current: i64 = if expect_kind(tx, key, Kind::String)? {
                let text: String =
                    tx.query_row("SELECT value FROM kv_keys WHERE key = ?1", [key], |row| row.get(0)).map_err(db_error)?;
                text.trim()
                    .parse()
                    .map_err(|_| ProviderError::new(format!("the value of `{key}` is not an integer")))?
            } else {
                0
            };
            let next = i32::try_from(current + i64::from(delta))
                .map_err(|_| ProviderError::new(format!("adding {delta} to `{key}` overflows a 32-bit integer")))?;
            tx.execute(
                "INSERT INTO kv_keys (key, kind, value) VALUES (?1, 'string', ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, next.to_string()],
            )
            .map_err(db_error)?;
            Ok(next)
        })
    }

    fn del(&self, key: &str) -> Result<(), ProviderError> {
        self.write(|tx| delete_key(tx, key))
    }

    fn push(&self, key: &str, value: &str) -> Result<i32, ProviderError> {
        self.write(|tx| {
            if !expect_kind(tx, key, Kind::List)? {
                create_key(tx, key, Kind::List)?;
            }
            tx.execute("INSERT INTO kv_list (key, value) VALUES (?1, ?2)", params![key, value]).map_err(db_error)?;
            Ok(count(tx, "SELECT count(*) FROM kv_list WHERE key = ?1", key)? as i32)
        })
    }

    fn list_remove(&self, key: &str, value: &str) -> Result<i32, ProviderError> {
        self.write(|tx| {
            if !expect_kind(tx, key, Kind::List)? {
                return Ok(0);
            }
            let removed =
                tx.execute("DELETE FROM kv_list WHERE key = ?1 AND value = ?2", params![key, value]).map_err(db_error)?;
            if count(tx, "SELECT count(*) FROM kv_list WHERE key = ?1", key)? == 0 {
                delete_key(tx, key)?;
            }
            Ok(removed as i32)
        })
    }

    fn range(&self, key: &str, start: i32, stop: i32) -> Result<Vec<String>, ProviderError> {
        self.write(|tx| {
            if !expect_kind(tx, key, Kind::List)? {
                return Ok(Vec::new());
            }
            let len = count(tx, "SELECT count(*) FROM kv_list WHERE key = ?1", key)? as usize;
            let Some((first, last)) = resolve_range(len, start, stop) else {
                return Ok(Vec::new());
            };
            let mut statement = tx
                .prepare_cached("SELECT value FROM kv_list WHERE key = ?1 ORDER BY id LIMIT ?2 OFFSET ?3")
                .map_err(db_error)?;
            let rows = statement
                .query_map(params![key, (last - first + 1) as i64, first as i64], |row| row.get(0))
                .map_err(db_error)?;
            rows.collect::<Result<_, _>>().map_err(db_error)
        })
    }

    fn set_add(&self, key: &str, value: &str) -> Result<i32, ProviderError> {
        self.write(|tx| {
            if !expect_kind(tx, key, Kind::Set)? {
                create_key(tx, key, Kind::Set)?;
            }
            let added = tx
                .execute("INSERT OR IGNORE INTO kv_set (key, member) VALUES (?1, ?2)", params![key, value])
                .map_err(db_error)?;
            Ok(added as i32)
        })
    }

    fn set_remove(&self, key: &str, value: &str) -> Result<i32, ProviderError> {
        self.write(|tx| {
            if !expect_kind(tx, key, Kind::Set)? {
                return Ok(0);
            }
            let removed =
                tx.execute("DELETE FROM kv_set WHERE key = ?1 AND member = ?2", params![key, value]).map_err(db_error)?;
            if count(tx, "SELECT count(*) FROM kv_set WHERE key = ?1", key)? == 0 {
                delete_key(tx, key)?;
            }
            Ok(removed as i32)
        })
    }

    fn set_union(&self, keys: &[String]) -> Result<Vec<String>, ProviderError> {
        self.write(|tx| {
            let mut union = std::collections::BTreeSet::new();
            for key in keys {
                union.extend(members(tx, key)?);
            }
            Ok(union.into_iter().collect())
        })
    }

    fn set_intersection(&self, keys: &[String]) -> Result<Vec<String>, ProviderError> {
        self.write(|tx| {
            let mut sets = keys.iter().map(|key| members(tx, key));
            let Some(first) = sets.next() else { return Ok(Vec::new()) };
            let mut common: std::collections::BTreeSet<String> = first?.into_iter().collect();
            for set in sets {
                let set: std::collections::BTreeSet<String> = set?.into_iter().collect();
                common.retain(|m| set.contains(m));
            }
            Ok(common.into_iter().collect())
        })
    }

    fn set_members(&self, key: &str) -> Result<Vec<String>, ProviderError> {
        self.write(|tx| members(tx, key))
    }

    fn exists(&self, key: &str) -> Result<bool, ProviderError> {
        self.write(|tx| Ok(kind_of(tx, key)?.is_some()))
    }
}
