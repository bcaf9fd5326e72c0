//! What the host keeps in its state directory, and which names a provider
//! may take: a provider's name is also its folder there, so a name must
//! neither leave the directory nor take the host's own files.

/// The file in the state directory that keeps the clock's mark.
pub const CLOCK_FILE: &str = "clock";

/// The names of what the host itself keeps in the state directory: the
/// clock's mark, the fleet store, the built-in extras' sequences.
const RESERVED_STATE_NAMES: [&str; 3] = [CLOCK_FILE, "fleet", "extras"];

/// Whether `name` may name a provider: it names the provider's state folder
/// too, so nothing that could leave the state directory or hide in it
/// (`..`, `/`, a leading dot), nor the name of what the host keeps there.
pub fn is_provider_name(name: &str) -> bool {
    !RESERVED_STATE_NAMES.contains(&name)
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A name that cannot name a provider (see [`is_provider_name`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` cannot name a provider: use letters, digits, `_` and `-`, starting with a letter or digit, \
     at most 64 characters, and none of clock, fleet, extras (the host's own files)"
)]
pub struct ProviderNameError(pub String);

/// `name` as a provider's name, or why it cannot be one.
pub fn provider_name(name: &str) -> Result<&str, ProviderNameError> {
    match is_provider_name(name) {
        true => Ok(name),
        false => Err(ProviderNameError(name.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_cannot_leave_the_state_directory_or_take_the_hosts_files() {
        for good in ["kv", "http-server", "kv_2", "9"] {
            assert!(is_provider_name(good), "{good}");
        }
        for bad in ["", "..", "../etc", "a/b", ".libraries", "-x", "kv.so", "k v", "fleet", "clock", "extras", &"x".repeat(65)] {
            assert!(!is_provider_name(bad), "{bad}");
            assert_eq!(provider_name(bad), Err(ProviderNameError(bad.to_owned())));
        }
    }
}
