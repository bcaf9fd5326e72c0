//! `wascc:messaging`: publish, request/reply, and messages delivered to
//! the actor, served by the MQTT provider.
//!
//! ```no_run
//! use host_edge_actor::prelude::*;
//!
//! actor_handlers! { messaging::DELIVER_MESSAGE => on_message }
//!
//! fn on_message(message: messaging::BrokerMessage) -> HandlerResult<()> {
//!     let bus = messaging::default();
//!     bus.publish("sensors/seen", &message.body)?;
//!     if !message.reply_to.is_empty() {
//!         bus.reply(&message, b"thanks")?;
//!     }
//!     Ok(())
//! }
//! ```

use std::time::Duration;

use codec::messaging::{RequestMessage, OP_PERFORM_REQUEST, OP_PUBLISH_MESSAGE};

use crate::guest::call_raw;
use crate::Error;

pub use codec::messaging::BrokerMessage;

/// The capability id.
pub const CAPABILITY: &str = "wascc:messaging";
/// Provider -> actor: a message arrived; carries a [`BrokerMessage`],
/// replies `()`. Failing it makes the provider retry or drop it, as its
/// link says.
pub const DELIVER_MESSAGE: &str = codec::messaging::OP_DELIVER_MESSAGE;

/// The broker linked as `default`.
pub fn default() -> Messaging {
    host("default")
}

/// The broker linked under `binding`.
pub fn host(binding: &str) -> Messaging {
    Messaging { binding: binding.to_owned() }
}

/// A client for one messaging link.
#[derive(Debug, Clone)]
pub struct Messaging {
    binding: String,
}

impl Messaging {
    /// Publishes `body` to `subject`; with QoS 1 it returns once the
    /// message is stored in the provider's outbox.
    pub fn publish(&self, subject: &str, body: impl AsRef<[u8]>) -> Result<(), Error> {
        self.send(subject, "", body.as_ref())
    }

    /// Publishes `body` to `subject` asking for replies on `reply_to`.
    pub fn publish_with_reply(&self, subject: &str, reply_to: &str, body: impl AsRef<[u8]>) -> Result<(), Error> {
        self.send(subject, reply_to, body.as_ref())
    }

    /// Answers a delivered `message` on its `reply_to`; the grant for the
    /// reply topic is not needed.
    pub fn reply(&self, message: &BrokerMessage, body: impl AsRef<[u8]>) -> Result<(), Error> {
        if message.reply_to.is_empty() {
            return Err(Error::Invalid(format!("the message on `{}` asks for no reply", message.subject)));
        }
        self.send(&message.reply_to, "", body.as_ref())
    }

    /// Sends `body` to `subject` as a request and waits up to `timeout`
    /// for the reply's body.
    pub fn request(&self, subject: &str, body: impl AsRef<[u8]>, timeout: Duration) -> Result<Vec<u8>, Error> {
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let request = RequestMessage { subject: subject.to_owned(), body: body.as_ref().to_vec(), timeout_ms };
        call_raw(&self.binding, CAPABILITY, OP_PERFORM_REQUEST, &request)
    }

    fn send(&self, subject: &str, reply_to: &str, body: &[u8]) -> Result<(), Error> {
        let message = BrokerMessage { subject: subject.to_owned(), reply_to: reply_to.to_owned(), body: body.to_vec() };
        call_raw(&self.binding, CAPABILITY, OP_PUBLISH_MESSAGE, &message).map(drop)
    }
}
