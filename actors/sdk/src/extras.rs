//! `wascc:extras`: GUIDs, random numbers and sequence numbers, built into
//! the host (no provider or manifest entry needed).
//!
//! ```no_run
//! use host_edge_actor::extras;
//!
//! # fn f() -> Result<(), host_edge_actor::Error> {
//! let id = extras::default().guid()?;
//! let roll = extras::default().random(1, 6)?;
//! let order = extras::host("orders").sequence()?; // the sequence named `orders`
//! # Ok(()) }
//! ```

use codec::extras::{GeneratorRequest, GeneratorResult, OP_REQUEST_GUID, OP_REQUEST_RANDOM, OP_REQUEST_SEQUENCE};

use crate::guest::call;
use crate::Error;

/// The capability id.
pub const CAPABILITY: &str = "wascc:extras";

/// Extras under the binding `default` (and its sequence).
pub fn default() -> Extras {
    host("default")
}

/// Extras under `binding`; the binding names the sequence.
pub fn host(binding: &str) -> Extras {
    Extras { binding: binding.to_owned() }
}

/// A client for `wascc:extras`.
#[derive(Debug, Clone)]
pub struct Extras {
    binding: String,
}

impl Extras {
    /// A new random (v4) UUID, in its hyphenated form.
    pub fn guid(&self) -> Result<String, Error> {
        let reply = self.generate(OP_REQUEST_GUID, GeneratorRequest { guid: true, ..GeneratorRequest::default() })?;
        reply.guid.ok_or_else(|| Error::Codec {
            capability: CAPABILITY,
            operation: OP_REQUEST_GUID,
            message: "the reply carries no guid".to_owned(),
        })
    }

    /// A random number in `min..=max`, from the host's OS generator.
    pub fn random(&self, min: u32, max: u32) -> Result<u32, Error> {
        let reply = self.generate(OP_REQUEST_RANDOM, GeneratorRequest { random: true, min, max, ..GeneratorRequest::default() })?;
        Ok(reply.random_number)
    }

    /// The next number of this binding's sequence: per actor, monotonic,
    /// kept across restarts (counting from 0).
    pub fn sequence(&self) -> Result<u64, Error> {
        let reply = self.generate(OP_REQUEST_SEQUENCE, GeneratorRequest { sequence: true, ..GeneratorRequest::default() })?;
        Ok(reply.sequence_number)
    }

    fn generate(&self, operation: &'static str, request: GeneratorRequest) -> Result<GeneratorResult, Error> {
        call(&self.binding, CAPABILITY, operation, &request)
    }
}
