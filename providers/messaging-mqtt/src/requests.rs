//! Request/reply in both directions, on MQTT 5's response topic and
//! correlation data.
//!
//! Outbound: an actor's `Request` is published with the connection's own
//! reply topic (`host-edge/reply/CLIENT_ID`) as its response topic and a
//! fresh number as correlation data; the reply is matched back by that
//! number. Inbound: a message that carries a response topic reaches the
//! actor with a `replyTo` the provider recognises when the actor publishes
//! to it, so the reply goes out with the requester's correlation data, and
//! the actor needs no publish grant for a topic it was asked to answer on.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crossbeam_channel::{Receiver, Sender};

/// A reply's body, or why none will come.
pub type Reply = Result<Vec<u8>, String>;

/// Outstanding requests of one connection.
#[derive(Default)]
pub struct Requests {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, Sender<Reply>>>,
}

impl Requests {
    /// A new request: its correlation data and where its reply arrives.
    pub fn open(&self) -> (u64, Receiver<Reply>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        (id, rx)
    }

    /// The request is over (answered, timed out or failed).
    pub fn close(&self, id: u64) {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    /// A reply arrived with `correlation`; false when no request waits for
    /// it (answered already, or timed out).
    pub fn answer(&self, correlation: &[u8], body: Vec<u8>) -> bool {
        let Ok(id) = <[u8; 8]>::try_from(correlation).map(u64::from_be_bytes) else {
            return false;
        };
        match self.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id) {
            Some(tx) => tx.try_send(Ok(body)).is_ok(),
            None => false,
        }
    }

    /// The connection dropped: every waiting request fails with `why`
    /// instead of waiting for its timeout.
    pub fn fail_all(&self, why: &str) {
        for (_, tx) in self.waiting.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            let _ = tx.try_send(Err(why.to_owned()));
        }
    }
}

/// Where a reply goes: the requester's response topic and correlation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRoute {
    /// The response topic.
    pub topic: String,
    /// The correlation data to send back.
    pub correlation: Option<Vec<u8>>,
}

/// The `replyTo` values handed to actors, most recent last, bounded: a
/// requester that waits longer than the last [`ReplyTokens::CAPACITY`]
/// requests is answered only through the actor's own publish grant.
#[derive(Default)]
pub struct ReplyTokens {
    tokens: Mutex<VecDeque<(String, String, ReplyRoute)>>,
}

impl ReplyTokens {
    /// How many unanswered requests are remembered per connection.
    pub const CAPACITY: usize = 4096;

    /// The `replyTo` to show `actor` for `route`, remembered until used.
    pub fn issue(&self, actor: &str, shown_topic: &str, route: ReplyRoute) -> String {
        let token = match &route.correlation {
            None => shown_topic.to_owned(),
            Some(data) => {
                let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
                format!("{shown_topic}#{hex}")
            }
        };
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.len() >= Self::CAPACITY {
            tokens.pop_front();
        }
        tokens.push_back((actor.to_owned(), token.clone(), route));
        token
    }

    /// The route for a publish by `actor` to `subject`, if it answers a
    /// request it received; used once.
    pub fn take(&self, actor: &str, subject: &str) -> Option<ReplyRoute> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let at = tokens.iter().position(|(a, t, _)| a == actor && t == subject)?;
        tokens.remove(at).map(|(_, _, route)| route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_reaches_the_request_with_its_correlation_once() {
        let requests = Requests::default();
        let (a, rx_a) = requests.open();
        let (b, rx_b) = requests.open();
        assert!(requests.answer(&b.to_be_bytes(), b"for b".to_vec()));
        assert!(!requests.answer(&b.to_be_bytes(), b"again".to_vec()));
        assert!(!requests.answer(b"short", Vec::new()));
        assert_eq!(rx_b.try_recv().unwrap().unwrap(), b"for b");
        requests.fail_all("broker gone");
        assert_eq!(rx_a.try_recv().unwrap().unwrap_err(), "broker gone");
        requests.close(a);
    }

    #[test]
    fn a_reply_token_belongs_to_one_actor_and_is_used_once() {
        let tokens = ReplyTokens::default();
        let route = ReplyRoute { topic: "rr/1".to_owned(), correlation: Some(vec![0xab, 1]) };
        let token = tokens.issue("MA", "rr/1", route.clone());
        assert_eq!(token, "rr/1#ab01");
        assert_eq!(tokens.take("MB", &token), None);
        assert_eq!(tokens.take("MA", &token), Some(route));
        assert_eq!(tokens.take("MA", &token), None);
    }
}
