//! One actor's edge events on their way to it: a bounded queue and the
//! thread that delivers from it. A chattering input cannot grow memory (the
//! queue drops its oldest event and counts it, so the latest level always
//! arrives) nor stall the board's threads (they only push); the actor's
//! handler runs on the delivery thread, one event at a time, in order.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use provider_sdk::codec::gpio::{EdgeEvent, OP_HANDLE_EDGE};
use provider_sdk::{Host, Level as LogLevel};

#[derive(Default)]
struct State {
    events: VecDeque<EdgeEvent>,
    /// Dropped per pin since that pin's last delivered event.
    dropped: BTreeMap<u8, u64>,
    dropped_total: u64,
    delivered_total: u64,
    closed: bool,
}

/// An actor's bounded queue of edge events.
pub(crate) struct Queue {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
}

/// Counts of a queue, for the log and the simulator's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) struct QueueStats {
    /// Events waiting.
    pub(crate) queued: usize,
    /// Events handed to the actor so far.
    pub(crate) delivered: u64,
    /// Events dropped so far because the queue was full.
    pub(crate) dropped: u64,
}

impl Queue {
    /// An open queue holding at most `capacity` events.
    pub(crate) fn new(capacity: usize) -> Queue {
        Queue { state: Mutex::default(), ready: Condvar::new(), capacity: capacity.max(1) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an event; when full, the oldest is dropped and counted against
    /// its pin. Never blocks.
    pub(crate) fn push(&self, event: EdgeEvent) {
        let mut state = self.state();
        if state.closed {
            return;
        }
        if state.events.len() == self.capacity {
            if let Some(old) = state.events.pop_front() {
                *state.dropped.entry(old.pin).or_default() += 1;
                state.dropped_total += 1;
            }
        }
        state.events.push_back(event);
        self.ready.notify_one();
    }

    /// The next event, with the drops of its pin since the last one
    /// delivered; waits for one, `None` once closed.
    pub(crate) fn pop(&self) -> Option<EdgeEvent> {
        let mut state = self.state();
        loop {
            if state.closed {
                return None;
            }
            if let Some(mut event) = state.events.pop_front() {
                event.dropped = state.dropped.remove(&event.pin).unwrap_or(0);
                state.delivered_total += 1;
                return Some(event);
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Stops delivery; queued events are discarded.
    pub(crate) fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.events.clear();
        self.ready.notify_all();
    }

    /// The counts so far.
    pub(crate) fn stats(&self) -> QueueStats {
        let state = self.state();
        QueueStats { queued: state.events.len(), delivered: state.delivered_total, dropped: state.dropped_total }
    }
}

/// Starts the thread that hands `queue`'s events to `actor` until the queue
/// is closed. A failing handler is logged with the actor's key, and the
/// next event is delivered. The provider joins the thread before it stops:
/// the host's services are valid only until then.
pub(crate) fn deliver(host: Host, actor: String, queue: Arc<Queue>) -> std::io::Result<JoinHandle<()>> {
    let name = format!("gpio-edges-{}", actor.get(..8).unwrap_or(&actor));
    std::thread::Builder::new().name(name).spawn(move || {
        while let Some(event) = queue.pop() {
            let payload = match provider_sdk::codec::serialize(&event) {
                Ok(payload) => payload,
                Err(e) => {
                    host.log(LogLevel::Error, &format!("actor={actor}: cannot encode an edge event: {e}"));
                    continue;
                }
            };
            if let Err(e) = host.dispatch(&actor, OP_HANDLE_EDGE, &payload) {
                host.log(
                    LogLevel::Warn,
                    &format!(
                        "actor={actor} pin={} sequence={}: the edge handler failed ({}): {}",
                        event.pin,
                        event.sequence,
                        e.kind().tag(),
                        e.message()
                    ),
                );
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(pin: u8, sequence: u64) -> EdgeEvent {
        EdgeEvent { pin, sequence, ..EdgeEvent::default() }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_the_next_event_of_that_pin_says_how_many() {
        let queue = Queue::new(2);
        for sequence in 1..=5 {
            queue.push(event(27, sequence));
        }
        let first = queue.pop().unwrap();
        assert_eq!((first.sequence, first.dropped), (4, 3));
        let second = queue.pop().unwrap();
        assert_eq!((second.sequence, second.dropped), (5, 0));
        assert_eq!(queue.stats(), QueueStats { queued: 0, delivered: 2, dropped: 3 });
    }

    #[test]
    fn drops_are_counted_per_pin() {
        let queue = Queue::new(1);
        queue.push(event(5, 1));
        queue.push(event(6, 1));
        let next = queue.pop().unwrap();
        assert_eq!((next.pin, next.dropped), (6, 0), "the dropped event was pin 5's");
        queue.push(event(5, 2));
        assert_eq!(queue.pop().unwrap().dropped, 1);
    }

    #[test]
    fn a_closed_queue_ends_delivery_and_takes_nothing_more() {
        let queue = Arc::new(Queue::new(4));
        let waiting = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || queue.pop())
        };
        queue.close();
        assert_eq!(waiting.join().unwrap(), None);
        queue.push(event(1, 1));
        assert_eq!(queue.stats().queued, 0);
    }
}
