//! Received bytes cut into frames, as the port's framing asks: lines, runs
//! up to a delimiter, or fixed lengths. State apart from I/O: the reader
//! thread pushes what the port gave, and takes whole frames out; a frame
//! never grows past the longest one (it is handed on cut instead), so a
//! device that never sends its delimiter cannot grow memory.

use provider_sdk::codec::serial::{Framing, MAX_FRAME_BYTES};

/// One frame, as cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cut {
    /// Its bytes.
    pub(crate) data: Vec<u8>,
    /// Whether it reached the longest frame before its end came.
    pub(crate) cut: bool,
}

/// Cuts a stream into frames.
#[derive(Debug)]
pub(crate) struct Framer {
    framing: Framing,
    pending: Vec<u8>,
    longest: usize,
}

impl Framer {
    /// A framer for `framing`; frames at most `longest` bytes (at most
    /// [`MAX_FRAME_BYTES`]).
    pub(crate) fn new(framing: Framing, longest: usize) -> Framer {
        Framer { framing, pending: Vec::new(), longest: longest.clamp(1, MAX_FRAME_BYTES) }
    }

    /// Takes `bytes` in; returns the frames they completed, in order.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<Cut> {
        let mut frames = Vec::new();
        for &byte in bytes {
            self.pending.push(byte);
            let end = match self.framing {
                Framing::None => false,
                Framing::Line => byte == b'\n',
                Framing::Delimiter(delimiter) => byte == delimiter,
                Framing::Length(len) => self.pending.len() >= (len as usize).clamp(1, self.longest),
            };
            if end {
                let mut data = std::mem::take(&mut self.pending);
                if self.framing == Framing::Line {
                    data.pop();
                    if data.last() == Some(&b'\r') {
                        data.pop();
                    }
                }
                frames.push(Cut { data, cut: false });
            } else if self.pending.len() >= self.longest {
                frames.push(Cut { data: std::mem::take(&mut self.pending), cut: true });
            }
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn whole(data: &[u8]) -> Cut {
        Cut { data: data.to_vec(), cut: false }
    }

    #[test]
    fn lines_lose_their_line_ending_and_may_arrive_in_pieces() {
        let mut framer = Framer::new(Framing::Line, 4096);
        assert_eq!(framer.push(b"$GPGGA,1"), []);
        assert_eq!(framer.push(b"23\r\n$GPRMC\n"), [whole(b"$GPGGA,123"), whole(b"$GPRMC")]);
    }

    #[test]
    fn a_delimiter_is_kept_and_a_length_cuts_exactly() {
        let mut framer = Framer::new(Framing::Delimiter(b';'), 4096);
        assert_eq!(framer.push(b"a;bc;d"), [whole(b"a;"), whole(b"bc;")]);
        let mut framer = Framer::new(Framing::Length(3), 4096);
        assert_eq!(framer.push(b"12345678"), [whole(b"123"), whole(b"456")]);
    }

    #[test]
    fn a_line_that_never_ends_is_handed_on_cut_at_the_longest_frame() {
        let mut framer = Framer::new(Framing::Line, 4);
        assert_eq!(framer.push(b"abcdef\n"), [Cut { data: b"abcd".to_vec(), cut: true }, whole(b"ef")]);
    }

    proptest! {
        #[test]
        fn no_byte_is_lost_or_added_by_a_delimiter_framing(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..20), longest in 1usize..64) {
            let mut framer = Framer::new(Framing::Delimiter(0), longest);
            let mut out = Vec::new();
            for chunk in &chunks {
                for frame in framer.push(chunk) {
                    prop_assert!(frame.data.len() <= longest);
                    out.extend(frame.data);
                }
            }
            out.extend(&framer.pending);
            prop_assert_eq!(out, chunks.concat());
        }
    }
}
