//! Per-instance resource limits: fuel for each call, a ceiling on memory.
//!
//! An actor is untrusted code on a small board. Fuel bounds the work one call
//! may do (an endless loop ends with an error, not a hung host) and the memory
//! limit bounds what one instance may take from a device with little RAM.
//! Both are on by default. Tables are bounded too ([`MAX_TABLE_ELEMENTS`]):
//! a table lives outside linear memory, so without its own bound a module
//! could declare or grow gigabytes of table under a 16 MiB memory limit.

use serde::{Deserialize, Serialize};

/// Fuel one call may burn by default: about a second of interpretation on a
/// Raspberry Pi 4, far more than any request handler should need.
pub const DEFAULT_FUEL_PER_CALL: u64 = 200_000_000;

/// Linear memory one instance may grow to by default (16 MiB).
pub const DEFAULT_MAX_MEMORY_BYTES: u64 = 16 * 1024 * 1024;

/// The most elements all tables of one instance may hold together, each
/// table counted on its own against it. A Rust or AssemblyScript actor's
/// function table holds hundreds to a few thousand entries; 65,536 (well
/// under a MiB of host memory) leaves room for any of them and takes little
/// from a board.
pub const MAX_TABLE_ELEMENTS: usize = 65_536;

/// The most tables one instance may have: waPC actors have one (two with
/// reference types in use); a handful is plenty.
pub const MAX_TABLES: usize = 4;

/// Limits applied to each actor instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Fuel (roughly, wasm instructions) one guest call may consume,
    /// host calls excluded. The same budget applies to start-up
    /// (`_start`, `wapc_init`). `0` disables the limit.
    #[serde(default = "default_fuel")]
    pub fuel_per_call: u64,
    /// The most linear memory one instance may have, in bytes. A module
    /// that declares more, or grows past it, gets an error. `0` disables
    /// the limit.
    #[serde(default = "default_memory")]
    pub max_memory_bytes: u64,
}

fn default_fuel() -> u64 {
    DEFAULT_FUEL_PER_CALL
}

fn default_memory() -> u64 {
    DEFAULT_MAX_MEMORY_BYTES
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_per_call: DEFAULT_FUEL_PER_CALL,
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
        }
    }
}

impl Limits {
    /// The fuel to load before each call (`u64::MAX` when unlimited).
    pub(crate) fn fuel(&self) -> u64 {
        if self.fuel_per_call == 0 {
            u64::MAX
        } else {
            self.fuel_per_call
        }
    }

    /// wasmi's store limits for these settings.
    pub(crate) fn store_limits(&self) -> wasmi::StoreLimits {
        let mut builder = wasmi::StoreLimitsBuilder::new()
            .instances(1)
            .memories(1)
            .tables(MAX_TABLES)
            .table_elements(MAX_TABLE_ELEMENTS)
            // Trap instead of returning -1 from memory.grow, so the caller
            // learns the limit was hit rather than seeing an allocator abort.
            .trap_on_grow_failure(true);
        if self.max_memory_bytes != 0 {
            builder = builder.memory_size(usize::try_from(self.max_memory_bytes).unwrap_or(usize::MAX));
        }
        builder.build()
    }
}
