//! The `host-edge` binary's own library: what the command line serves
//! besides the runtime (`host-edge-runtime`) and fleet control
//! (`host-edge-fleet`): the control socket a running host is driven
//! through ([`control`]) and, with the `metrics` feature (on by default),
//! the liveness, readiness and metrics endpoint ([`endpoint`]).
//!
//! A library rather than modules of the binary so that the fuzz targets
//! reach the control socket's parser.

pub mod control;
#[cfg(feature = "metrics")]
pub mod endpoint;
#[doc(hidden)]
pub mod fuzzing;
