//! `wascc-subscriber`: an actor written exactly as a waSCC user wrote one in
//! 2020, against waSCC's own SDK (`wascc-actor` 0.7, `wascc-codec` 0.8,
//! `wapc-guest` 0.3) and nothing from host-edge. It proves that waSCC actors
//! run on host-edge unmodified.
//!
//! Each message delivered over `wascc:messaging` is echoed as
//! `"{subject}: {body}"` to the message's `reply_to`, or to `wascc.echo`
//! when it has none. The actor needs the `wascc:messaging` claim.

extern crate wascc_actor as actor;

use actor::prelude::*;
use codec::core::HealthRequest;
use codec::messaging::BrokerMessage;

/// Where echoes go when a message names no reply subject.
const ECHO_SUBJECT: &str = "wascc.echo";

actor_handlers! {
    codec::messaging::OP_DELIVER_MESSAGE => handle_message,
    codec::core::OP_HEALTH_REQUEST => health
}

fn handle_message(msg: BrokerMessage) -> HandlerResult<()> {
    let echo = format!("{}: {}", msg.subject, String::from_utf8_lossy(&msg.body));
    let target = if msg.reply_to.is_empty() { ECHO_SUBJECT } else { &msg.reply_to };
    // A refused publish fails the delivery, so the provider sees the error.
    messaging::default().publish(target, None, echo.as_bytes())
}

fn health(_req: HealthRequest) -> HandlerResult<()> {
    Ok(())
}
