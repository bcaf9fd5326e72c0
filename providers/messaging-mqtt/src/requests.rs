//! Request/reply in both directions, on MQTT 5's response topic and
//! correlation data.
//!
//! Outbound: an actor's `Request` is published with the connection's own
//! reply topic (`host-edge/reply/CLIENT_ID`) as its response topic and 128
//! random bits from the operating system's CSPRNG as correlation data; a
//! message on the reply topic is taken as the reply only when its
//! correlation data is that of a request still waiting. Anyone who may
//! publish to the reply topic cannot guess one, so cannot answer in the
//! responder's place. Inbound: a message that carries a response topic
//! reaches the actor with a `replyTo` the provider recognises when the
//! actor publishes to it, so the reply goes out with the requester's
//! correlation data; it goes out only when the actor's grant lets it
//! publish to that response topic, as any publish of the actor.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crossbeam_channel::{Receiver, Sender};

/// A reply's body, or why none will come.
pub type Reply = Result<Vec<u8>, ConnectionDropped>;

/// Why a request's reply will not come: the connection to the broker
/// dropped while it waited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the connection to {broker} dropped: {why}")]
pub struct ConnectionDropped {
    /// The broker's URL.
    pub broker: String,
    /// Why it dropped.
    pub why: String,
}

/// The correlation data of an outbound request: 128 random bits.
pub type CorrelationId = [u8; 16];

/// Why a request cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("no random correlation id for the request: the operating system's random source failed: {0}")]
pub struct NoRandomness(getrandom::Error);

/// Outstanding requests of one connection.
#[derive(Default)]
pub struct Requests {
    waiting: Mutex<HashMap<CorrelationId, Sender<Reply>>>,
}

impl Requests {
    /// A new request: its correlation data (fresh random bits) and where
    /// its reply arrives.
    pub fn open(&self) -> Result<(CorrelationId, Receiver<Reply>), NoRandomness> {
        let mut id = CorrelationId::default();
        getrandom::fill(&mut id).map_err(NoRandomness)?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        Ok((id, rx))
    }

    /// The request is over (answered, timed out or failed).
    pub fn close(&self, id: CorrelationId) {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    /// A reply arrived with `correlation`; false when no request waits for
    /// it (answered already, timed out, or never asked).
    pub fn answer(&self, correlation: &[u8], body: Vec<u8>) -> bool {
        let Ok(id) = CorrelationId::try_from(correlation) else {
            return false;
        };
        match self.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id) {
            Some(tx) => tx.try_send(Ok(body)).is_ok(),
            None => false,
        }
    }

    /// The connection dropped: every waiting request fails with `dropped`
    /// instead of waiting for its timeout.
    pub fn fail_all(&self, dropped: &ConnectionDropped) {
        for (_, tx) in self.waiting.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            let _ = tx.try_send(Err(dropped.clone()));
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
        let (a, rx_a) = requests.open().unwrap();
        let (b, rx_b) = requests.open().unwrap();
        assert!(requests.answer(&b, b"for b".to_vec()));
        assert!(!requests.answer(&b, b"again".to_vec()));
        assert!(!requests.answer(b"short", Vec::new()));
        assert_eq!(rx_b.try_recv().unwrap().unwrap(), b"for b");
        let dropped = ConnectionDropped { broker: "mqtt://broker:1883".to_owned(), why: "broker gone".to_owned() };
        requests.fail_all(&dropped);
        assert_eq!(rx_a.try_recv().unwrap().unwrap_err(), dropped);
        assert_eq!(dropped.to_string(), "the connection to mqtt://broker:1883 dropped: broker gone");
        requests.close(a);
    }

    #[test]
    fn a_forged_reply_with_a_guessed_correlation_id_is_not_accepted() {
        // Correlation ids counted from 0: anyone who could publish to the
        // reply topic answered the first requests by guessing 0, 1, 2...
        let requests = Requests::default();
        let (id, reply) = requests.open().unwrap();
        let (other, _) = requests.open().unwrap();
        assert_ne!(id, other);
        for guess in 0u64..10_000 {
            assert!(!requests.answer(&guess.to_be_bytes(), b"forged".to_vec()), "{guess} was taken as a reply");
            let mut wide = [0u8; 16];
            wide[8..].copy_from_slice(&guess.to_be_bytes());
            assert!(!requests.answer(&wide, b"forged".to_vec()), "{guess} (128 bits) was taken as a reply");
        }
        assert!(reply.try_recv().is_err(), "nothing reached the request");
        assert!(requests.answer(&id, b"real".to_vec()));
        assert_eq!(reply.try_recv().unwrap().unwrap(), b"real");
    }

    #[test]
    fn correlation_ids_are_128_random_bits_never_repeated() {
        let requests = Requests::default();
        let ids: std::collections::HashSet<CorrelationId> = (0..1000).map(|_| requests.open().unwrap().0).collect();
        assert_eq!(ids.len(), 1000);
        // Random bits: every byte position takes many values, which a
        // counter's high bytes would not.
        for position in 0..16 {
            let values: std::collections::HashSet<u8> = ids.iter().map(|id| id[position]).collect();
            assert!(values.len() > 100, "byte {position} took {} values", values.len());
        }
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
