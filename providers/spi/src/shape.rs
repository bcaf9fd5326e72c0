//! The bounds of one transaction, checked before anything is allocated or
//! clocked: an actor's request is hostile input, a read length is a buffer
//! the provider would have to fill, and a wait inside a transaction holds
//! the chip select (and the bus) meanwhile.

use provider_sdk::codec::spi::{
    word_size, Operation, Transaction, MAX_DELAY_NS, MAX_OPERATIONS, MAX_OPERATION_BYTES, MAX_SPEED_HZ, MAX_TRANSACTION_BYTES,
};

/// Why a transaction is refused before it reaches the bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ShapeError {
    /// No operations at all.
    #[error("a transaction needs at least one operation")]
    Empty,
    /// More operations than one transaction may hold.
    #[error("a transaction holds at most {MAX_OPERATIONS} operations, not {0}")]
    TooManyOperations(usize),
    /// One operation moves too many bytes.
    #[error("operation {index} would move {bytes} bytes; one operation moves at most {MAX_OPERATION_BYTES}")]
    OperationTooLarge {
        /// Its position, from 0.
        index: usize,
        /// How many bytes it asked for.
        bytes: u64,
    },
    /// The whole transaction moves too many bytes.
    #[error("the transaction would move {0} bytes; one transaction moves at most {MAX_TRANSACTION_BYTES}")]
    TooLarge(u64),
    /// A wait longer than one transaction may hold the bus.
    #[error("operation {index} waits {ns} ns with the chip select held; at most {MAX_DELAY_NS} ns")]
    DelayTooLong {
        /// Its position, from 0.
        index: usize,
        /// The wait asked for.
        ns: u32,
    },
    /// A mode other than 0 to 3.
    #[error("SPI mode {0} does not exist: modes are 0 to 3")]
    Mode(u8),
    /// A clock of 0 Hz or above the limit.
    #[error("a clock of {0} Hz is outside 1 Hz to {MAX_SPEED_HZ} Hz")]
    Speed(u32),
    /// A word size outside 1 to 32 bits.
    #[error("a word of {0} bits does not exist: words are 1 to 32 bits")]
    Bits(u8),
    /// An operation's bytes are not whole words.
    #[error("operation {index} moves {bytes} bytes, not whole {bits}-bit words ({size} bytes each)")]
    PartWord {
        /// Its position, from 0.
        index: usize,
        /// How many bytes it moves.
        bytes: u64,
        /// The word size in bits.
        bits: u8,
        /// The word size in bytes.
        size: usize,
    },
}

/// Checks `transaction` against the limits.
pub(crate) fn check(transaction: &Transaction) -> Result<(), ShapeError> {
    if transaction.mode > 3 {
        return Err(ShapeError::Mode(transaction.mode));
    }
    if !(1..=MAX_SPEED_HZ).contains(&transaction.speed_hz) {
        return Err(ShapeError::Speed(transaction.speed_hz));
    }
    let bits = transaction.bits_per_word;
    let size = word_size(bits).ok_or(ShapeError::Bits(bits))?;
    let operations = &transaction.operations;
    if operations.is_empty() {
        return Err(ShapeError::Empty);
    }
    if operations.len() > MAX_OPERATIONS {
        return Err(ShapeError::TooManyOperations(operations.len()));
    }
    let mut total = 0u64;
    for (index, operation) in operations.iter().enumerate() {
        let bytes = match operation {
            Operation::Write(data) | Operation::Transfer(data) => data.len() as u64,
            Operation::Read(len) => u64::from(*len),
            Operation::DelayNs(ns) if *ns > MAX_DELAY_NS => return Err(ShapeError::DelayTooLong { index, ns: *ns }),
            Operation::DelayNs(_) => 0,
        };
        if bytes > MAX_OPERATION_BYTES as u64 {
            return Err(ShapeError::OperationTooLarge { index, bytes });
        }
        if !bytes.is_multiple_of(size as u64) {
            return Err(ShapeError::PartWord { index, bytes, bits, size });
        }
        total += bytes;
    }
    if total > MAX_TRANSACTION_BYTES as u64 {
        return Err(ShapeError::TooLarge(total));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn transaction(operations: Vec<Operation>) -> Transaction {
        Transaction { bus: 0, chip_select: 0, mode: 0, speed_hz: 1_000_000, bits_per_word: 8, operations }
    }

    #[test]
    fn a_read_larger_than_an_operation_may_move_is_refused_before_any_buffer_exists() {
        let err = check(&transaction(vec![Operation::Read(u32::MAX)])).unwrap_err();
        assert_eq!(err.to_string(), "operation 0 would move 4294967295 bytes; one operation moves at most 4096");
    }

    #[test]
    fn a_long_wait_a_bad_mode_or_a_bad_clock_is_refused() {
        let err = check(&transaction(vec![Operation::DelayNs(u32::MAX)])).unwrap_err();
        assert_eq!(err.to_string(), "operation 0 waits 4294967295 ns with the chip select held; at most 10000000 ns");
        let bad_mode = Transaction { mode: 4, ..transaction(vec![Operation::Read(1)]) };
        assert_eq!(check(&bad_mode), Err(ShapeError::Mode(4)));
        let stopped = Transaction { speed_hz: 0, ..transaction(vec![Operation::Read(1)]) };
        assert_eq!(check(&stopped), Err(ShapeError::Speed(0)));
        assert_eq!(check(&transaction(vec![])), Err(ShapeError::Empty));
    }

    #[test]
    fn words_are_1_to_32_bits_and_every_operation_moves_whole_ones() {
        let twelve_bit = |operations| Transaction { bits_per_word: 12, ..transaction(operations) };
        assert!(check(&twelve_bit(vec![Operation::Write(vec![0x34, 0x12]), Operation::Read(4)])).is_ok());
        let err = check(&twelve_bit(vec![Operation::Read(4), Operation::Write(vec![1, 2, 3])])).unwrap_err();
        assert_eq!(err.to_string(), "operation 1 moves 3 bytes, not whole 12-bit words (2 bytes each)");
        let wide = Transaction { bits_per_word: 24, ..transaction(vec![Operation::Transfer(vec![0; 6])]) };
        assert!(matches!(check(&wide), Err(ShapeError::PartWord { size: 4, .. })), "24-bit words take four bytes");
        for bits in [0, 33, 255] {
            assert_eq!(check(&Transaction { bits_per_word: bits, ..transaction(vec![Operation::Read(4)]) }), Err(ShapeError::Bits(bits)));
        }
    }

    proptest! {
        #[test]
        fn an_accepted_transaction_moves_no_more_than_the_limits(lengths in proptest::collection::vec(0u32..10_000, 0..40)) {
            let t = transaction(lengths.iter().map(|&len| Operation::Read(len)).collect());
            let total: u64 = lengths.iter().map(|&l| u64::from(l)).sum();
            let fits = !lengths.is_empty()
                && lengths.len() <= MAX_OPERATIONS
                && lengths.iter().all(|&l| l as usize <= MAX_OPERATION_BYTES)
                && total <= MAX_TRANSACTION_BYTES as u64;
            prop_assert_eq!(check(&t).is_ok(), fits);
        }
    }
}
