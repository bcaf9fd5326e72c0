//! Actor claims: the signed JWT every actor carries, and its offline check.
//!
//! An actor module holds a wascap token in a `jwt` custom section: who signed
//! it (`iss`), which module it is (`sub`), the hash of the module, when it is
//! valid and which capabilities it may use. The host trusts an actor only
//! after [`verify`] has checked all of that against a [`Policy`] — with no
//! network round trip, because edge boards are often offline.
//!
//! - [`section`]: finding and cutting the claims section, the module hash;
//! - [`token`]: the token's metadata type, on wascap's JWT code;
//! - [`keys`]: nkeys and seed files;
//! - [`policy`]: trusted issuers, revocations, the clock rule;
//! - [`verify`]: the named checks;
//! - [`sign`]: embedding a new token;
//! - [`capability`]: capability ids and their spellings;
//! - [`clock`]: a clock that never runs back behind the latest signed time;
//! - [`jwt`]: host-edge's own signed tokens (fleet commands), on nkeys;
//! - [`archive`]: provider archives (PAR), the container native providers
//!   ship in;
//! - [`provider`]: a provider archive's claims and their offline check.
//!
//! The host, its CLI and fleet control all sign and check with this crate.

pub mod archive;
pub mod capability;
pub mod clock;
pub mod jwt;
pub mod keys;
pub mod policy;
pub mod provider;
pub mod section;
pub mod sign;
/// Target names of provider archives: which library of an archive a
/// machine loads.
pub mod target;
pub mod token;
pub mod verify;

pub use clock::{ClockError, TrustedClock};
pub use policy::{ClockRule, Policy};
pub use provider::{inspect_archive, sign_archive, verify_archive, ProviderReport, ProviderSignOptions, VerifiedProvider};
pub use sign::{sign_module, SignError, SignOptions};
pub use token::{ActorClaims, ActorMetadata};
pub use verify::{inspect, verify, Check, ClaimsError, Outcome, Report, VerifiedClaims};
