//! One open port's frames on their way to its actor: a bounded queue and
//! the thread that delivers from it. A device that talks faster than the
//! actor handles cannot grow memory (the queue drops its oldest frame and
//! the next delivered one says how many went), nor stall the reader (it
//! only pushes); the handler runs on the delivery thread, one frame at a
//! time, in order.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use provider_sdk::codec::serial::{Frame, OP_RECEIVE};
use provider_sdk::{Host, Level};

#[derive(Default)]
struct State {
    frames: VecDeque<Frame>,
    /// Dropped since the last frame taken.
    dropped: u64,
    closed: bool,
}

/// A bounded queue of frames.
pub(crate) struct Queue {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
}

impl Queue {
    /// An open queue holding at most `capacity` frames.
    pub(crate) fn new(capacity: usize) -> Queue {
        Queue { state: Mutex::default(), ready: Condvar::new(), capacity: capacity.max(1) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a frame; when full, the oldest goes and is counted. Never
    /// blocks.
    pub(crate) fn push(&self, frame: Frame) {
        let mut state = self.state();
        if state.closed {
            return;
        }
        if state.frames.len() == self.capacity {
            state.frames.pop_front();
            state.dropped += 1;
        }
        state.frames.push_back(frame);
        self.ready.notify_one();
    }

    /// The next frame, with the count of those dropped before it; waits
    /// for one; `None` once closed.
    pub(crate) fn pop(&self) -> Option<Frame> {
        let mut state = self.state();
        loop {
            if state.closed {
                return None;
            }
            if let Some(mut frame) = state.frames.pop_front() {
                frame.dropped = std::mem::take(&mut state.dropped);
                return Some(frame);
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Ends delivery: what waits is dropped, nothing more is taken.
    pub(crate) fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.frames.clear();
        self.ready.notify_all();
    }
}

/// Delivers `queue`'s frames to `actor` until it is closed.
pub(crate) fn deliver(host: Host, actor: String, queue: Arc<Queue>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("serial-deliver".into()).spawn(move || {
        let mut failing = false;
        while let Some(frame) = queue.pop() {
            let payload = provider_sdk::codec::serialize(&frame).unwrap_or_default();
            match host.dispatch(&actor, OP_RECEIVE, &payload) {
                Ok(_) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    host.log(Level::Warn, &format!("actor={actor}: a Receive call failed (said once until one succeeds): {e}"));
                }
                Err(_) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(sequence: u64) -> Frame {
        Frame { port: "ttyUSB0".into(), data: vec![], sequence, dropped: 0, cut: false }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_the_next_frame_says_how_many() {
        let queue = Queue::new(2);
        for sequence in 1..=5 {
            queue.push(frame(sequence));
        }
        let next = queue.pop().unwrap();
        assert_eq!((next.sequence, next.dropped), (4, 3));
        assert_eq!(queue.pop().unwrap().dropped, 0);
    }

    #[test]
    fn a_closed_queue_ends_delivery_and_takes_nothing_more() {
        let queue = Queue::new(4);
        queue.push(frame(1));
        queue.close();
        queue.push(frame(2));
        assert_eq!(queue.pop(), None);
    }
}
