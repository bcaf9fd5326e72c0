//! In-process capability handlers: what a program embedding the runtime
//! links in place of a native provider. Apart from the router so that the
//! registry, which holds links to them, and the router, which reads the
//! registry, do not import each other.

use provider_abi::Failure;

/// Something in the host's own process that serves a capability for actors
/// (an embedded store, a test double of a device); linked with
/// [`crate::Host::link_handler`]. Native providers are linked by name.
pub trait CapabilityHandler: Send + Sync {
    /// Handles `operation` with `payload` from the actor `actor` (its
    /// module key), returning the reply payload or a typed failure.
    fn handle(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, Failure>;
}
