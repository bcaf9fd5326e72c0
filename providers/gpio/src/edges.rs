//! From raw level changes to edge events: which actor watches which input
//! for which edges, debouncing, and sequence numbers. Backends report every
//! change they see ([`Edges::raw`]); this module decides what each watcher
//! is told and pushes it onto the watcher's [`Queue`]. It never calls an
//! actor.
//!
//! Debouncing: after an edge is accepted, changes within the debounce time
//! are bounce and are not delivered; when the time is up, the level the
//! line settled at is compared with the last one delivered, and an edge is
//! delivered if they differ. So a bounce never hides the final state.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use provider_sdk::codec::gpio::{Edge, EdgeEvent, Level};

use crate::clock::now_us;
use crate::queue::Queue;

/// One actor watching one input.
struct Watch {
    actor: String,
    label: String,
    edge: Edge,
    debounce_us: u64,
    /// The level last accepted (delivered or not, by edge kind).
    last: Level,
    /// Changes before this time are bounce.
    quiet_until: u64,
    /// The latest level seen while bouncing.
    settled: Option<Level>,
    sequence: u64,
    queue: Arc<Queue>,
}

impl Watch {
    /// Accepts a change to `level` at `at`: counts and queues it if it is
    /// an edge of the kind watched, and starts the debounce time.
    fn accept(&mut self, pin: u8, level: Level, at: u64) {
        if level == self.last {
            return;
        }
        self.last = level;
        self.quiet_until = at.saturating_add(self.debounce_us);
        if self.edge.matches(level) {
            self.sequence += 1;
            self.queue.push(EdgeEvent {
                pin,
                label: self.label.clone(),
                level,
                edge: if level == Level::High { Edge::Rising } else { Edge::Falling },
                timestamp_us: at,
                sequence: self.sequence,
                dropped: 0,
            });
        }
    }
}

#[derive(Default)]
struct State {
    watches: BTreeMap<u8, Vec<Watch>>,
    stopped: bool,
}

/// Every watch on the board, and the timer that ends debounce times.
pub(crate) struct Edges {
    state: Mutex<State>,
    timer: Condvar,
}

impl Edges {
    /// No watches yet; call [`Edges::run_timer`] on a thread of its own.
    pub(crate) fn new() -> Edges {
        Edges { state: Mutex::default(), timer: Condvar::new() }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `actor` watches `pin` for `edge`, starting from `level`; replaces
    /// its earlier watch of the pin.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn watch(&self, actor: &str, pin: u8, label: &str, edge: Edge, debounce_ms: u32, level: Level, queue: Arc<Queue>) {
        let watch = Watch {
            actor: actor.to_owned(),
            label: label.to_owned(),
            edge,
            debounce_us: u64::from(debounce_ms) * 1000,
            last: level,
            quiet_until: 0,
            settled: None,
            sequence: 0,
            queue,
        };
        let mut state = self.state();
        let watches = state.watches.entry(pin).or_default();
        watches.retain(|w| w.actor != actor);
        watches.push(watch);
    }

    /// `actor` no longer watches `pin`.
    pub(crate) fn unwatch(&self, actor: &str, pin: u8) {
        let mut state = self.state();
        if let Some(watches) = state.watches.get_mut(&pin) {
            watches.retain(|w| w.actor != actor);
        }
    }

    /// `actor` no longer watches anything.
    pub(crate) fn unwatch_actor(&self, actor: &str) {
        let mut state = self.state();
        for watches in state.watches.values_mut() {
            watches.retain(|w| w.actor != actor);
        }
    }

    /// Whether anyone watches `pin`.
    #[cfg(test)]
    pub(crate) fn watched(&self, pin: u8) -> bool {
        self.state().watches.get(&pin).is_some_and(|w| !w.is_empty())
    }

    /// A backend saw `pin` change to `level` at `at` (microseconds).
    pub(crate) fn raw(&self, pin: u8, level: Level, at: u64) {
        let mut state = self.state();
        let mut debouncing = false;
        for watch in state.watches.get_mut(&pin).into_iter().flatten() {
            if at < watch.quiet_until {
                watch.settled = Some(level);
                debouncing = true;
            } else {
                watch.settled = None;
                watch.accept(pin, level, at);
                debouncing |= watch.debounce_us > 0;
            }
        }
        drop(state);
        if debouncing {
            self.timer.notify_one();
        }
    }

    /// Ends debounce times as they run out, until [`Edges::stop`].
    pub(crate) fn run_timer(&self) {
        let mut state = self.state();
        while !state.stopped {
            let now = now_us();
            let mut next: Option<u64> = None;
            for (pin, watches) in state.watches.iter_mut() {
                for watch in watches.iter_mut().filter(|w| w.settled.is_some()) {
                    if now >= watch.quiet_until {
                        let settled = watch.settled.take().expect("filtered on settled");
                        watch.accept(*pin, settled, watch.quiet_until);
                    }
                    if watch.settled.is_some() || now < watch.quiet_until {
                        next = Some(next.map_or(watch.quiet_until, |n| n.min(watch.quiet_until)));
                    }
                }
            }
            let wait = next.map_or(Duration::from_secs(3600), |n| Duration::from_micros(n.saturating_sub(now).max(50)));
            state = self.timer.wait_timeout(state, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Ends [`Edges::run_timer`].
    pub(crate) fn stop(&self) {
        self.state().stopped = true;
        self.timer.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watching(edge: Edge, debounce_ms: u32) -> (Edges, Arc<Queue>) {
        let edges = Edges::new();
        let queue = Arc::new(Queue::new(100));
        edges.watch("A", 27, "button", edge, debounce_ms, Level::High, Arc::clone(&queue));
        (edges, queue)
    }

    fn drain(queue: &Queue) -> Vec<(Level, u64)> {
        let mut seen = Vec::new();
        while queue.stats().queued > 0 {
            let event = queue.pop().unwrap();
            seen.push((event.level, event.sequence));
        }
        seen
    }

    #[test]
    fn only_the_edges_watched_are_delivered_and_numbered() {
        let (edges, queue) = watching(Edge::Falling, 0);
        edges.raw(27, Level::Low, 10);
        edges.raw(27, Level::Low, 11);
        edges.raw(27, Level::High, 12);
        edges.raw(27, Level::Low, 13);
        assert_eq!(drain(&queue), [(Level::Low, 1), (Level::Low, 2)]);
    }

    #[test]
    fn bounce_within_the_debounce_time_is_not_delivered() {
        let (edges, queue) = watching(Edge::Both, 5);
        edges.raw(27, Level::Low, 1_000);
        edges.raw(27, Level::High, 1_100);
        edges.raw(27, Level::Low, 1_200);
        assert_eq!(drain(&queue), [(Level::Low, 1)]);
        edges.raw(27, Level::High, 7_000);
        assert_eq!(drain(&queue), [(Level::High, 2)], "after the quiet time, edges count again");
    }

    #[test]
    fn the_level_a_bouncing_line_settles_at_is_delivered_when_the_time_is_up() {
        let edges = Arc::new(Edges::new());
        let queue = Arc::new(Queue::new(100));
        let now = now_us();
        edges.watch("A", 27, "button", Edge::Both, 20, Level::High, Arc::clone(&queue));
        let timer = {
            let edges = Arc::clone(&edges);
            std::thread::spawn(move || edges.run_timer())
        };
        edges.raw(27, Level::Low, now);
        edges.raw(27, Level::High, now + 100);
        edges.raw(27, Level::Low, now + 200);
        edges.raw(27, Level::High, now + 300);
        assert_eq!(queue.pop().map(|e| e.level), Some(Level::Low));
        let settled = queue.pop().unwrap();
        assert_eq!((settled.level, settled.sequence, settled.timestamp_us), (Level::High, 2, now + 20_000));
        edges.stop();
        timer.join().unwrap();
    }

    #[test]
    fn each_watcher_of_a_shared_input_gets_its_own_events() {
        let (edges, first) = watching(Edge::Both, 0);
        let second = Arc::new(Queue::new(100));
        edges.watch("B", 27, "button", Edge::Rising, 0, Level::High, Arc::clone(&second));
        edges.raw(27, Level::Low, 1);
        edges.raw(27, Level::High, 2);
        assert_eq!(drain(&first).len(), 2);
        assert_eq!(drain(&second), [(Level::High, 1)]);
        edges.unwatch_actor("B");
        assert!(edges.watched(27));
        edges.unwatch("A", 27);
        assert!(!edges.watched(27));
    }
}
