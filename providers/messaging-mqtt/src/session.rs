//! Which outbox entry each packet id stands for: the bookkeeping rumqttc
//! leaves to its user, kept apart from the I/O.
//!
//! rumqttc assigns a packet id when its event loop takes a publish from
//! the request channel, and reports it as `Outgoing::Publish(pkid)` in the
//! order the publishes were sent; a PUBACK then names only the packet id.
//! So every publish this provider sends records a [`Sent`] marker, under
//! the same lock and in the same order as it enters the channel, and each
//! `Outgoing::Publish` takes the oldest marker. A PUBACK then maps through
//! the packet id to the outbox entry it acknowledges.
//!
//! A packet id rumqttc could not use yet (a collision, reported as
//! `AwaitAck`) keeps its marker until the publish really goes out.
//!
//! When the connection drops, everything in flight is forgotten and the
//! outbox is sent again from its oldest entry after the next CONNACK
//! (rumqttc's own retransmission is cleared, so each entry is sent by one
//! path only).

use std::collections::{HashMap, VecDeque};

/// What a publish handed to rumqttc was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The outbox entry with this id (QoS 1).
    Outbox(i64),
    /// Anything else: QoS 0, a request, a reply. Its acknowledgement, if
    /// any, completes nothing.
    Direct,
}

/// What a PUBACK meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acked {
    /// The broker took the outbox entry.
    Entry(i64),
    /// The broker refused the outbox entry (an MQTT 5 reason code).
    Refused(i64),
    /// Not an outbox entry.
    Other,
}

/// The connection's publish bookkeeping.
#[derive(Debug)]
pub struct Session {
    connected: bool,
    /// Publishes handed to rumqttc whose packet id is not known yet.
    sent: VecDeque<Sent>,
    /// Outbox entries waiting for their PUBACK, by packet id.
    in_flight: HashMap<u16, i64>,
    /// A publish rumqttc holds back on a packet id collision.
    collided: Option<(u16, Sent)>,
    /// The last outbox id handed to rumqttc in this connection.
    cursor: i64,
    /// Most outbox entries in flight at once.
    window: usize,
}

impl Session {
    /// A disconnected session sending at most `window` entries ahead.
    pub fn new(window: usize) -> Session {
        Session {
            connected: false,
            sent: VecDeque::new(),
            in_flight: HashMap::new(),
            collided: None,
            cursor: 0,
            window: window.max(1),
        }
    }

    /// Whether the broker has accepted the connection.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The broker accepted the connection: send the outbox from its start.
    pub fn connected(&mut self) {
        self.forget();
        self.connected = true;
    }

    /// The connection dropped: nothing is in flight any more.
    pub fn disconnected(&mut self) {
        self.forget();
        self.connected = false;
    }

    fn forget(&mut self) {
        self.sent.clear();
        self.in_flight.clear();
        self.collided = None;
        self.cursor = 0;
    }

    /// The id after which the next outbox entries are to be sent.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// How many more outbox entries may go out now.
    pub fn room(&self) -> usize {
        if !self.connected {
            return 0;
        }
        let pending = self.sent.iter().filter(|s| matches!(s, Sent::Outbox(_))).count();
        let collided = usize::from(matches!(self.collided, Some((_, Sent::Outbox(_)))));
        self.window.saturating_sub(self.in_flight.len() + pending + collided)
    }

    /// A publish was handed to rumqttc.
    pub fn sent(&mut self, what: Sent) {
        if let Sent::Outbox(id) = what {
            self.cursor = self.cursor.max(id);
        }
        self.sent.push_back(what);
    }

    /// The last publish could not be handed over after all.
    pub fn unsent(&mut self) {
        if let Some(Sent::Outbox(id)) = self.sent.pop_back() {
            self.cursor = id - 1;
        }
    }

    /// rumqttc wrote a publish with packet id `pkid` (0 for QoS 0).
    pub fn outgoing_publish(&mut self, pkid: u16) {
        let what = match self.collided {
            Some((held, _)) if held == pkid && pkid != 0 => self.collided.take().map(|(_, what)| what),
            _ => self.sent.pop_front(),
        };
        if let (Some(Sent::Outbox(id)), true) = (what, pkid != 0) {
            self.in_flight.insert(pkid, id);
        }
    }

    /// rumqttc holds a publish back until packet id `pkid` is free.
    pub fn await_ack(&mut self, pkid: u16) {
        if let Some(what) = self.sent.pop_front() {
            self.collided = Some((pkid, what));
        }
    }

    /// A PUBACK for `pkid` arrived; `success` unless its reason code says
    /// the broker refused the message.
    pub fn puback(&mut self, pkid: u16, success: bool) -> Acked {
        match self.in_flight.remove(&pkid) {
            Some(id) if success => Acked::Entry(id),
            Some(id) => Acked::Refused(id),
            None => Acked::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_puback_acknowledges_the_entry_whose_publish_got_its_packet_id() {
        let mut session = Session::new(8);
        session.connected();
        session.sent(Sent::Outbox(10));
        session.sent(Sent::Direct);
        session.sent(Sent::Outbox(11));
        session.outgoing_publish(1);
        session.outgoing_publish(0);
        session.outgoing_publish(2);
        assert_eq!(session.puback(2, true), Acked::Entry(11));
        assert_eq!(session.puback(1, false), Acked::Refused(10));
        assert_eq!(session.puback(1, true), Acked::Other);
        assert_eq!(session.cursor(), 11);
    }

    #[test]
    fn the_window_counts_entries_not_yet_numbered_and_in_flight() {
        let mut session = Session::new(2);
        assert_eq!(session.room(), 0, "nothing goes out before CONNACK");
        session.connected();
        session.sent(Sent::Outbox(1));
        session.sent(Sent::Direct);
        assert_eq!(session.room(), 1);
        session.sent(Sent::Outbox(2));
        session.outgoing_publish(5);
        assert_eq!(session.room(), 0);
        session.puback(5, true);
        assert_eq!(session.room(), 1);
    }

    #[test]
    fn a_collided_publish_keeps_its_entry_until_it_goes_out() {
        let mut session = Session::new(8);
        session.connected();
        session.sent(Sent::Outbox(1));
        session.sent(Sent::Outbox(2));
        session.outgoing_publish(1);
        session.await_ack(1);
        assert_eq!(session.puback(1, true), Acked::Entry(1));
        session.outgoing_publish(1);
        assert_eq!(session.puback(1, true), Acked::Entry(2));
    }

    #[test]
    fn a_dropped_connection_resends_from_the_start() {
        let mut session = Session::new(8);
        session.connected();
        session.sent(Sent::Outbox(7));
        session.outgoing_publish(1);
        session.disconnected();
        assert_eq!(session.puback(1, true), Acked::Other);
        session.connected();
        assert_eq!(session.cursor(), 0);
        session.sent(Sent::Outbox(7));
        session.unsent();
        assert_eq!(session.cursor(), 6);
    }
}
