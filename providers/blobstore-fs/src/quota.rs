//! An actor's quota: bytes and objects, counted once at bind and kept up
//! to date by every change, with uploads in progress reserving what they
//! announced.

use provider_sdk::ProviderError;

/// What an actor may store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes, objects of every container together.
    pub max_bytes: u64,
    /// Objects, every container together.
    pub max_objects: u64,
}

/// What an actor stores now, and what its uploads in progress reserve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes stored.
    pub bytes: u64,
    /// Objects stored.
    pub objects: u64,
    /// Bytes reserved by uploads in progress.
    pub reserved_bytes: u64,
    /// Objects reserved by uploads in progress (new objects only).
    pub reserved_objects: u64,
}

impl Usage {
    /// Reserves room for an upload of `bytes` that replaces an object of
    /// `replaced` bytes (`None`: a new object); refused, naming the limit,
    /// when it would not fit. The sums are checked: an announced size near
    /// `u64::MAX` is refused, never wrapped into a small number.
    pub fn reserve(&mut self, limits: Limits, bytes: u64, replaced: Option<u64>) -> Result<(), ProviderError> {
        let freed = replaced.unwrap_or(0);
        let after = self
            .bytes
            .checked_add(self.reserved_bytes)
            .map(|held| held.saturating_sub(freed))
            .and_then(|held| held.checked_add(bytes));
        if after.is_none_or(|after| after > limits.max_bytes) {
            let after = after.map_or_else(|| "more than 2^64".to_owned(), |after| after.to_string());
            return Err(ProviderError::of(
                provider_sdk::ErrorKind::Denied,
                format!(
                    "quota: {bytes} more bytes would make {after}, over MAX_BYTES ({}); {} bytes are stored and {} reserved \
                     by uploads in progress",
                    limits.max_bytes, self.bytes, self.reserved_bytes
                ),
            ));
        }
        let new_object = u64::from(replaced.is_none());
        let objects = self.objects.checked_add(self.reserved_objects).and_then(|n| n.checked_add(new_object));
        if objects.is_none_or(|objects| objects > limits.max_objects) {
            return Err(ProviderError::of(
                provider_sdk::ErrorKind::Denied,
                format!("quota: one more object would be over MAX_OBJECTS ({}); {} are stored", limits.max_objects, self.objects),
            ));
        }
        // Both fit: `after` and `objects` bound these sums.
        self.reserved_bytes = self.reserved_bytes.saturating_add(bytes);
        self.reserved_objects = self.reserved_objects.saturating_add(new_object);
        Ok(())
    }

    /// Gives back a reservation (an upload abandoned or replaced).
    pub fn release(&mut self, bytes: u64, new_object: bool) {
        self.reserved_bytes = self.reserved_bytes.saturating_sub(bytes);
        self.reserved_objects = self.reserved_objects.saturating_sub(u64::from(new_object));
    }

    /// Turns a reservation into a stored object that replaced `replaced`
    /// bytes (`None`: it is new).
    pub fn commit(&mut self, bytes: u64, replaced: Option<u64>) {
        self.release(bytes, replaced.is_none());
        self.bytes = self.bytes.saturating_sub(replaced.unwrap_or(0)).saturating_add(bytes);
        self.objects = self.objects.saturating_add(u64::from(replaced.is_none()));
    }

    /// Forgets a removed object of `bytes`.
    pub fn remove(&mut self, bytes: u64) {
        self.bytes = self.bytes.saturating_sub(bytes);
        self.objects = self.objects.saturating_sub(1);
    }

    /// The object an upload in progress was to replace has been removed:
    /// the upload now makes a new object, so it reserves one (the removed
    /// object's place, so the count does not grow) and, when it commits,
    /// frees nothing.
    pub fn replaced_object_removed(&mut self) {
        self.reserved_objects = self.reserved_objects.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_bytes: 100, max_objects: 2 };

    #[test]
    fn uploads_in_progress_count_against_the_quota() {
        let mut usage = Usage::default();
        usage.reserve(LIMITS, 60, None).unwrap();
        let err = usage.reserve(LIMITS, 50, None).unwrap_err();
        assert!(err.message().contains("over MAX_BYTES (100)"), "{err}");
        usage.commit(60, None);
        assert_eq!((usage.bytes, usage.objects, usage.reserved_bytes), (60, 1, 0));
    }

    #[test]
    fn replacing_an_object_frees_its_bytes_and_adds_no_object() {
        let mut usage = Usage { bytes: 90, objects: 2, ..Usage::default() };
        usage.reserve(LIMITS, 95, Some(90)).unwrap();
        usage.commit(95, Some(90));
        assert_eq!((usage.bytes, usage.objects), (95, 2));
        let err = usage.reserve(LIMITS, 1, None).unwrap_err();
        assert!(err.message().contains("MAX_OBJECTS (2)") || err.message().contains("MAX_BYTES"), "{err}");
    }

    #[test]
    fn a_total_bytes_near_u64_max_is_refused_not_wrapped() {
        // 10 bytes stored: 10 + (u64::MAX - 5) wraps to 4 in a release
        // build, under MAX_BYTES, and the upload would be let in.
        let mut usage = Usage { bytes: 10, objects: 1, ..Usage::default() };
        let err = usage.reserve(LIMITS, u64::MAX - 5, None).unwrap_err();
        assert_eq!(err.kind(), provider_sdk::ErrorKind::Denied);
        assert!(err.message().contains("more than 2^64, over MAX_BYTES (100)"), "{err}");
        assert_eq!(usage, Usage { bytes: 10, objects: 1, ..Usage::default() }, "nothing reserved");
        let err = usage.reserve(Limits { max_bytes: u64::MAX, max_objects: 2 }, u64::MAX, None).unwrap_err();
        assert!(err.message().contains("more than 2^64"), "{err}");
    }

    #[test]
    fn an_object_count_near_u64_max_is_refused_not_wrapped() {
        let mut usage = Usage { objects: u64::MAX, ..Usage::default() };
        let err = usage.reserve(Limits { max_bytes: 100, max_objects: u64::MAX }, 1, None).unwrap_err();
        assert!(err.message().contains("MAX_OBJECTS"), "{err}");
    }
}
