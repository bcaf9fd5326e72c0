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
    /// when it would not fit.
    pub fn reserve(&mut self, limits: Limits, bytes: u64, replaced: Option<u64>) -> Result<(), ProviderError> {
        let freed = replaced.unwrap_or(0);
        let after = (self.bytes + self.reserved_bytes).saturating_sub(freed) + bytes;
        if after > limits.max_bytes {
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
        if self.objects + self.reserved_objects + new_object > limits.max_objects {
            return Err(ProviderError::of(
                provider_sdk::ErrorKind::Denied,
                format!("quota: one more object would be over MAX_OBJECTS ({}); {} are stored", limits.max_objects, self.objects),
            ));
        }
        self.reserved_bytes += bytes;
        self.reserved_objects += new_object;
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
        self.bytes = self.bytes.saturating_sub(replaced.unwrap_or(0)) + bytes;
        self.objects += u64::from(replaced.is_none());
    }

    /// Forgets a removed object of `bytes`.
    pub fn remove(&mut self, bytes: u64) {
        self.bytes = self.bytes.saturating_sub(bytes);
        self.objects = self.objects.saturating_sub(1);
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
}
