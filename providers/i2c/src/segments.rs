//! What reaches the bus: embedded-hal 1.0's transaction contract sends the
//! data of adjacent operations of one kind after each other, with no
//! repeated start between them, and a repeated start only where a write
//! meets a read. So `[Write([reg]), Write(data)]` is one write of
//! `[reg, data..]` (an EEPROM's word address, then its bytes), and two
//! adjacent reads are one read split in two. The provider merges runs of
//! one kind into one message here, so every client, the SDK or not, gets
//! that meaning, and each read gets back exactly its own bytes.

use provider_sdk::codec::i2c::Operation;

/// One message on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// These bytes, written in one message.
    Write(Vec<u8>),
    /// One read message as long as these reads together, in order.
    Read(Vec<usize>),
}

impl Segment {
    /// The buffer the message needs: the bytes to write, or zeros to read
    /// into.
    pub(crate) fn buffer(&self) -> Vec<u8> {
        match self {
            Segment::Write(bytes) => bytes.clone(),
            Segment::Read(lens) => vec![0; lens.iter().sum()],
        }
    }
}

/// The messages `operations` make.
pub(crate) fn merge(operations: Vec<Operation>) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    for operation in operations {
        match (segments.last_mut(), operation) {
            (Some(Segment::Write(bytes)), Operation::Write(more)) => bytes.extend(more),
            (Some(Segment::Read(lens)), Operation::Read(len)) => lens.push(len as usize),
            (_, Operation::Write(bytes)) => segments.push(Segment::Write(bytes)),
            (_, Operation::Read(len)) => segments.push(Segment::Read(vec![len as usize])),
        }
    }
    segments
}

/// Each read operation's bytes, in order, from the buffers the messages of
/// `segments` filled.
pub(crate) fn split(segments: &[Segment], buffers: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut reads = Vec::new();
    for (segment, buffer) in segments.iter().zip(buffers) {
        if let Segment::Read(lens) = segment {
            let mut rest = buffer.as_slice();
            for &len in lens {
                let (this, after) = rest.split_at(len.min(rest.len()));
                reads.push(this.to_vec());
                rest = after;
            }
        }
    }
    reads
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn adjacent_writes_are_one_message_and_a_read_after_them_starts_again() {
        let segments = merge(vec![Operation::Write(vec![0x10]), Operation::Write(vec![0xCA, 0xFE]), Operation::Read(2)]);
        assert_eq!(segments, [Segment::Write(vec![0x10, 0xCA, 0xFE]), Segment::Read(vec![2])]);
    }

    #[test]
    fn adjacent_reads_are_one_message_split_back_into_each_reads_bytes() {
        let segments = merge(vec![Operation::Write(vec![0xF7]), Operation::Read(3), Operation::Read(5)]);
        assert_eq!(segments, [Segment::Write(vec![0xF7]), Segment::Read(vec![3, 5])]);
        let filled = vec![vec![0xF7], (1..=8).collect()];
        assert_eq!(split(&segments, filled), [vec![1, 2, 3], vec![4, 5, 6, 7, 8]]);
    }

    fn operation() -> impl Strategy<Value = Operation> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(Operation::Write),
            (0u32..6).prop_map(Operation::Read),
        ]
    }

    proptest! {
        #[test]
        fn merging_keeps_every_byte_and_gives_each_read_its_own_length(operations in proptest::collection::vec(operation(), 0..12)) {
            let written: Vec<u8> = operations.iter().filter_map(|op| match op { Operation::Write(b) => Some(b.clone()), _ => None }).flatten().collect();
            let asked: Vec<usize> = operations.iter().filter_map(|op| match op { Operation::Read(n) => Some(*n as usize), _ => None }).collect();
            let segments = merge(operations);
            for pair in segments.windows(2) {
                prop_assert!(std::mem::discriminant(&pair[0]) != std::mem::discriminant(&pair[1]), "two messages of one kind in a row");
            }
            let merged: Vec<u8> = segments.iter().filter_map(|s| match s { Segment::Write(b) => Some(b.clone()), _ => None }).flatten().collect();
            prop_assert_eq!(merged, written);
            let buffers: Vec<Vec<u8>> = segments.iter().map(Segment::buffer).collect();
            let reads = split(&segments, buffers);
            prop_assert_eq!(reads.iter().map(Vec::len).collect::<Vec<_>>(), asked);
        }
    }
}
