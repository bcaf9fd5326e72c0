//! The bounds of one transaction, checked before anything is allocated or
//! sent: an actor's request is hostile input, and a read length is a
//! buffer the provider would have to fill.

use provider_sdk::codec::i2c::{Operation, Transaction, MAX_OPERATIONS, MAX_OPERATION_BYTES, MAX_TRANSACTION_BYTES};

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
}

/// Checks `transaction` against the limits.
pub(crate) fn check(transaction: &Transaction) -> Result<(), ShapeError> {
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
            Operation::Write(data) => data.len() as u64,
            Operation::Read(len) => u64::from(*len),
        };
        if bytes > MAX_OPERATION_BYTES as u64 {
            return Err(ShapeError::OperationTooLarge { index, bytes });
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
        Transaction { bus: 1, address: 0x76, operations }
    }

    #[test]
    fn a_read_larger_than_an_operation_may_move_is_refused_before_any_buffer_exists() {
        let err = check(&transaction(vec![Operation::Write(vec![0xF7]), Operation::Read(u32::MAX)])).unwrap_err();
        assert_eq!(err.to_string(), "operation 1 would move 4294967295 bytes; one operation moves at most 4096");
    }

    #[test]
    fn empty_or_overlong_transactions_are_refused() {
        assert_eq!(check(&transaction(vec![])), Err(ShapeError::Empty));
        assert_eq!(check(&transaction(vec![Operation::Read(1); 43])), Err(ShapeError::TooManyOperations(43)));
        assert_eq!(check(&transaction(vec![Operation::Read(4096); 3])), Err(ShapeError::TooLarge(12288)));
        assert_eq!(check(&transaction(vec![Operation::Read(4096), Operation::Write(vec![0; 4096])])), Ok(()));
    }

    proptest! {
        #[test]
        fn an_accepted_transaction_moves_no_more_than_the_limits(
            lengths in proptest::collection::vec(0u32..10_000, 0..50),
        ) {
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
