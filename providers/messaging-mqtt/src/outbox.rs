//! The durable outbox: QoS 1 publishes wait here, on disk, until the
//! broker acknowledges them.
//!
//! A publish is acknowledged to the actor only once its row is committed
//! with `synchronous = FULL` (the write-ahead log is fsynced), so neither a
//! host killed with -9 nor a power cut loses a publish the actor was told
//! succeeded. Rows are sent in id order and removed when the broker's
//! PUBACK for them arrives. A removal is committed without waiting for the
//! disk: if it is lost in a crash the message is sent again, a duplicate
//! that at-least-once allows, never a loss.
//!
//! The outbox is bounded in entries and bytes; a publish that does not fit
//! is refused with [`OutboxError::Full`], never dropped.
//!
//! It also remembers the filters the connection subscribed to, so a filter
//! that no actor wants any more is unsubscribed from the broker's
//! persistent session after a restart.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

/// Why the outbox refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The message does not fit.
    #[error("the outbox is full ({entries} messages, {bytes} bytes waiting; limits {max_entries} messages, {max_bytes} bytes): the broker has not taken messages fast enough or is unreachable; the publish was refused, not queued")]
    Full {
        /// Messages waiting.
        entries: u64,
        /// Bytes waiting.
        bytes: u64,
        /// OUTBOX_MAX_ENTRIES.
        max_entries: u64,
        /// OUTBOX_MAX_BYTES.
        max_bytes: u64,
    },
    /// The database failed.
    #[error("outbox {path}: {source}")]
    Database {
        /// The database file.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
}

/// A waiting message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its place in the send order.
    pub id: i64,
    /// The MQTT topic.
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// The MQTT 5 response topic, for a publish with a reply subject.
    pub response_topic: Option<String>,
}

impl Entry {
    fn size(topic: &str, payload: &[u8]) -> u64 {
        (topic.len() + payload.len()) as u64
    }
}

struct Inner {
    db: Connection,
    entries: u64,
    bytes: u64,
}

/// The outbox of one broker connection.
pub struct Outbox {
    inner: Mutex<Inner>,
    path: String,
    max_entries: u64,
    max_bytes: u64,
}

impl Outbox {
    /// Opens (or creates) the outbox at `path`.
    pub fn open(path: &Path, max_entries: u64, max_bytes: u64) -> Result<Outbox, OutboxError> {
        let shown = path.display().to_string();
        let fail = |source| OutboxError::Database { path: shown.clone(), source };
        let db = Connection::open(path).map_err(fail)?;
        db.busy_timeout(std::time::Duration::from_secs(5)).map_err(fail)?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS outbox (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 topic TEXT NOT NULL,
                 payload BLOB NOT NULL,
                 response_topic TEXT
             );
             CREATE TABLE IF NOT EXISTS subscriptions (filter TEXT PRIMARY KEY);",
        )
        .map_err(fail)?;
        let (entries, bytes): (i64, i64) = db
            .query_row("SELECT count(*), coalesce(sum(length(CAST(topic AS BLOB)) + length(payload)), 0) FROM outbox", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(fail)?;
        Ok(Outbox {
            inner: Mutex::new(Inner { db, entries: entries as u64, bytes: bytes as u64 }),
            path: shown,
            max_entries,
            max_bytes,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail(&self, source: rusqlite::Error) -> OutboxError {
        OutboxError::Database { path: self.path.clone(), source }
    }

    /// Stores a message durably and returns its id; refuses it when it
    /// does not fit.
    pub fn push(&self, topic: &str, payload: &[u8], response_topic: Option<&str>) -> Result<i64, OutboxError> {
        let mut inner = self.lock();
        let size = Entry::size(topic, payload);
        if inner.entries + 1 > self.max_entries || inner.bytes + size > self.max_bytes {
            return Err(OutboxError::Full {
                entries: inner.entries,
                bytes: inner.bytes,
                max_entries: self.max_entries,
                max_bytes: self.max_bytes,
            });
        }
        inner
            .db
            .execute_batch("PRAGMA synchronous = FULL")
            .and_then(|()| {
                inner.db.execute(
                    "INSERT INTO outbox (topic, payload, response_topic) VALUES (?1, ?2, ?3)",
                    params![topic, payload, response_topic],
                )
            })
            .map_err(|e| self.fail(e))?;
        let id = inner.db.last_insert_rowid();
        inner.entries += 1;
        inner.bytes += size;
        Ok(id)
    }

    /// Up to `limit` messages after `id`, in order.
    pub fn after(&self, id: i64, limit: usize) -> Result<Vec<Entry>, OutboxError> {
        let inner = self.lock();
        let mut statement = inner
            .db
            .prepare_cached("SELECT id, topic, payload, response_topic FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2")
            .map_err(|e| self.fail(e))?;
        let rows = statement
            .query_map(params![id, limit as i64], |r| {
                Ok(Entry { id: r.get(0)?, topic: r.get(1)?, payload: r.get(2)?, response_topic: r.get(3)? })
            })
            .map_err(|e| self.fail(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(e))
    }

    /// Removes an acknowledged message.
    pub fn remove(&self, id: i64) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        let removed: Option<(String, Vec<u8>)> = inner
            .db
            .execute_batch("PRAGMA synchronous = NORMAL")
            .and_then(|()| {
                inner
                    .db
                    .query_row("DELETE FROM outbox WHERE id = ?1 RETURNING topic, payload", [id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.fail(e))?;
        if let Some((topic, payload)) = removed {
            inner.entries -= 1;
            inner.bytes -= Entry::size(&topic, &payload);
        }
        Ok(())
    }

    /// Messages and bytes waiting.
    pub fn len(&self) -> (u64, u64) {
        let inner = self.lock();
        (inner.entries, inner.bytes)
    }

    /// The filters remembered by [`Outbox::remember_filters`].
    pub fn remembered_filters(&self) -> Result<Vec<String>, OutboxError> {
        let inner = self.lock();
        let mut statement = inner.db.prepare("SELECT filter FROM subscriptions ORDER BY filter").map_err(|e| self.fail(e))?;
        let rows = statement.query_map([], |r| r.get(0)).map_err(|e| self.fail(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(e))
    }

    /// Remembers the filters the connection is subscribed to now.
    pub fn remember_filters(&self, filters: &[String]) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        let tx = inner.db.transaction().map_err(|e| self.fail(e))?;
        tx.execute("DELETE FROM subscriptions", []).map_err(|e| self.fail(e))?;
        for filter in filters {
            tx.execute("INSERT INTO subscriptions (filter) VALUES (?1)", [filter]).map_err(|e| self.fail(e))?;
        }
        tx.commit().map_err(|e| self.fail(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_out_in_order_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let outbox = Outbox::open(&path, 10, 1 << 20).unwrap();
        let a = outbox.push("t/a", b"1", None).unwrap();
        let b = outbox.push("t/b", b"22", Some("r/1")).unwrap();
        assert!(a < b);
        drop(outbox);
        let outbox = Outbox::open(&path, 10, 1 << 20).unwrap();
        assert_eq!(outbox.len(), (2, 3 + 1 + 3 + 2));
        let all = outbox.after(0, 10).unwrap();
        assert_eq!(all.iter().map(|e| e.topic.as_str()).collect::<Vec<_>>(), ["t/a", "t/b"]);
        assert_eq!(all[1].response_topic.as_deref(), Some("r/1"));
        assert_eq!(outbox.after(a, 10).unwrap()[0].id, b);
        outbox.remove(a).unwrap();
        outbox.remove(a).unwrap();
        assert_eq!(outbox.len(), (1, 5));
    }

    #[test]
    fn a_full_outbox_refuses_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("o.db"), 2, 1 << 20).unwrap();
        outbox.push("t", b"1", None).unwrap();
        outbox.push("t", b"2", None).unwrap();
        let err = outbox.push("t", b"3", None).unwrap_err();
        assert!(err.to_string().contains("outbox is full (2 messages"), "{err}");
        let small = Outbox::open(&dir.path().join("p.db"), 100, 1024).unwrap();
        assert!(matches!(small.push("t", &[0; 2000], None), Err(OutboxError::Full { .. })));
        assert_eq!(small.len(), (0, 0));
    }

    #[test]
    fn remembered_filters_replace_the_previous_set() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("o.db"), 2, 1 << 20).unwrap();
        outbox.remember_filters(&["a/#".to_owned(), "b".to_owned()]).unwrap();
        outbox.remember_filters(&["b".to_owned()]).unwrap();
        assert_eq!(outbox.remembered_filters().unwrap(), vec!["b".to_owned()]);
    }
}
