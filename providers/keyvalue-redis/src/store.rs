//! One Redis server behind a pool of connections; each key-value operation
//! is one Redis command, and one round trip.
//!
//! A pooled connection is checked with a `PING` only when it has been idle
//! for [`IDLE_CHECK`]: one that served a call a moment ago is as good as a
//! check, and pinging it would double the round trips of every call. After a
//! Redis restart the idle connections are found dead by their `PING` and
//! replaced; a connection that dies under a call fails that call as
//! `unavailable` (the command may have run, so it is not sent again) and is
//! dropped from the pool.
//!
//! Errors name the server by its URL with the password hidden
//! (`redis://:***@host:6379/`): they reach the host's log, `host-edge ctl
//! status` and, through the actor, possibly an HTTP client.

use std::time::{Duration, Instant};

use provider_sdk::abi::redact::{redact_text, redact_url};
use provider_sdk::keyvalue::KeyValueStore;
use provider_sdk::ProviderError;
use redis::{Commands, Connection, ConnectionLike, RedisError};

/// How long a call waits for a connection before failing; short, so an actor
/// hears "Redis is unreachable" instead of hanging while the server is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one command may take on an established connection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection idle this long is checked with a `PING` before it is used.
pub const IDLE_CHECK: Duration = Duration::from_secs(1);

/// A connection and when it last answered.
struct Pooled {
    connection: Connection,
    answered: Instant,
}

/// Makes connections (with timeouts) and decides which need a check.
#[derive(Debug)]
struct Manager {
    client: redis::Client,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = RedisError;

    fn connect(&self) -> Result<Pooled, RedisError> {
        let connection = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        connection.set_read_timeout(Some(IO_TIMEOUT))?;
        connection.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Pooled { connection, answered: Instant::now() })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), RedisError> {
        if pooled.answered.elapsed() < IDLE_CHECK {
            return Ok(());
        }
        redis::cmd("PING").query::<String>(&mut pooled.connection)?;
        pooled.answered = Instant::now();
        Ok(())
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        !pooled.connection.is_open()
    }
}

/// A pool of connections to one Redis server.
pub struct Store {
    /// The server's URL as messages show it: credentials hidden.
    shown_url: String,
    pool: r2d2::Pool<Manager>,
}

impl Store {
    /// A pool for `url`. No connection is made yet, so an actor can be bound
    /// while Redis is still starting.
    pub fn open(url: &str, size: u32) -> Result<Store, ProviderError> {
        let client = redis::Client::open(url).map_err(|e| {
            ProviderError::bad_request(format!("bad Redis URL `{}`: {}", redact_url(url), redact_text(&e.to_string())))
        })?;
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(0))
            .connection_timeout(CONNECT_TIMEOUT)
            // `is_valid` pings only a connection that has been idle.
            .test_on_check_out(true)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager { client });
        Ok(Store { shown_url: redact_url(url).into_owned(), pool })
    }

    /// Confirms the server answers.
    pub fn check(&self) -> Result<(), ProviderError> {
        self.run(|c| redis::cmd("PING").query::<String>(c).map(drop))
    }

    fn run<T>(&self, command: impl FnOnce(&mut Connection) -> Result<T, RedisError>) -> Result<T, ProviderError> {
        let mut pooled = self
            .pool
            .get()
            .map_err(|e| self.unavailable("is unreachable", &e.to_string()))?;
        let outcome = command(&mut pooled.connection);
        if outcome.is_ok() {
            pooled.answered = Instant::now();
        }
        outcome.map_err(|e| {
            if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() || e.is_timeout() {
                self.unavailable("failed", &e.to_string())
            } else {
                ProviderError::new(format!("Redis: {}", redact_text(&e.to_string())))
            }
        })
    }

    /// "Redis at URL <what>: <why>", as unavailable, with credentials
    /// hidden in the URL and in whatever the client's error quotes.
    fn unavailable(&self, what: &str, why: &str) -> ProviderError {
        ProviderError::unavailable(format!("Redis at {} {what}: {}", self.shown_url, redact_text(why)))
    }
}

fn count(n: i64) -> i32 {
    n.clamp(0, i64::from(i32::MAX)) as i32
}

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values
}

impl KeyValueStore for Store {
    fn get(&self, key: &str) -> Result<Option<String>, ProviderError> {
        self.run(|c| c.get(key))
    }

    fn set(&self, key: &str, value: &str, expires_secs: u32) -> Result<(), ProviderError> {
        if expires_secs > 0 {
            self.run(|c| c.set_ex(key, value, u64::from(expires_secs)))
        } else {
            self.run(|c| c.set(key, value))
        }
    }

    fn add(&self, key: &str, delta: i32) -> Result<i32, ProviderError> {
        let value: i64 = self.run(|c| c.incr(key, delta))?;
        i32::try_from(value)
            .map_err(|_| ProviderError::new(format!("the value of `{key}` ({value}) does not fit a 32-bit integer")))
    }

    fn del(&self, key: &str) -> Result<(), ProviderError> {
        self.run(|c| c.del(key))
    }

    fn push(&self, key: &str, value: &str) -> Result<i32, ProviderError> {
        self.run(|c| c.rpush(key, value)).map(count)
    }

    fn list_remove(&self, key: &str, value: &str) -> Result<i32, ProviderError> {
        self.run(|c| c.lrem(key, 0, value)).map(count)
    }

    fn range(&self, key: &str, start: i32, stop: i32) -> Result<Vec<String>, ProviderError> {
        self.run(|c| c.lrange(key, start as isize, stop as isize))
    }

    fn set_add(&self, key: &str, value: &str) -> Result<i32, ProviderError> {
        self.run(|c| c.sadd(key, value)).map(count)
    }

    fn set_remove(&self, key: &str, value: &str) -> Result<i32, ProviderError> {
        self.run(|c| c.srem(key, value)).map(count)
    }

    fn set_union(&self, keys: &[String]) -> Result<Vec<String>, ProviderError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.run(|c| c.sunion(keys)).map(sorted)
    }

    fn set_intersection(&self, keys: &[String]) -> Result<Vec<String>, ProviderError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.run(|c| c.sinter(keys)).map(sorted)
    }

    fn set_members(&self, key: &str) -> Result<Vec<String>, ProviderError> {
        self.run(|c| c.smembers(key)).map(sorted)
    }

    fn exists(&self, key: &str) -> Result<bool, ProviderError> {
        self.run(|c| c.exists(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_server_is_named_by_its_url_with_the_password_hidden() {
        // Nothing listens on loopback port 1: every connection is refused.
        let store = Store::open("redis://:s3cretpass@127.0.0.1:1/", 1).unwrap();
        let err = store.check().unwrap_err();
        assert_eq!(err.kind(), provider_sdk::ErrorKind::Unavailable);
        assert!(err.message().starts_with("Redis at redis://:***@127.0.0.1:1/ is unreachable"), "{}", err.message());
        assert!(!err.message().contains("s3cretpass"), "{}", err.message());
        let err = store.get("k").unwrap_err();
        assert!(!err.message().contains("s3cretpass") && err.message().contains(":***@"), "{}", err.message());
    }

    #[test]
    fn a_url_that_does_not_parse_is_refused_with_the_password_hidden() {
        let err = Store::open("redis://app:s3cretpass@127.0.0.1:notaport/", 1).err().expect("refused");
        assert_eq!(err.kind(), provider_sdk::ErrorKind::BadRequest);
        assert!(err.message().starts_with("bad Redis URL `redis://app:***@127.0.0.1:notaport/`"), "{}", err.message());
        assert!(!err.message().contains("s3cretpass"), "{}", err.message());
    }
}
