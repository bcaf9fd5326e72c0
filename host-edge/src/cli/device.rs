//! What `run` and `check` do with a manifest's `[fleet]` table.
//!
//! With the `fleet` feature (on by default) the table joins the device to a
//! fleet: its checked configuration, the fleet store that decides what to
//! boot, and the agent (the `host-edge-fleet` crate). A build without the
//! feature has the same functions over types that cannot exist, and refuses
//! a manifest that has a `[fleet]` table, by name, rather than serving it
//! without the control it asked for.

use std::path::Path;

use host_edge_runtime::manifest::Problem;
use host_edge_runtime::{Host, Manifest};

pub use imp::{boot, Agent, Boot};

/// The `[fleet]` table's problem, when it has one, for `check` to list.
pub fn problem(manifest: &Manifest) -> Option<Problem> {
    let entry = manifest.fleet.as_ref()?;
    imp::problem(manifest).map(|message| Problem { line: entry.line, message })
}

/// Starts the fleet agent for `boot` on the serving `host`; `None` when it
/// cannot run (logged), the host serving on without it.
pub fn start_agent(host: &Host, boot: Boot, base: Manifest, running: Manifest) -> Option<Agent> {
    imp::start_agent(host, boot, base, running)
}

#[cfg(feature = "fleet")]
mod imp {
    use super::*;
    use anyhow::Context;
    use host_edge_fleet::{self as fleet, config, FleetConfig, Store};
    use host_edge_runtime::claims::TrustedClock;

    pub use host_edge_fleet::Agent;

    /// A fleet device at boot: its configuration and store, and the
    /// deployment interrupted by the last stop, if one was.
    pub struct Boot {
        config: FleetConfig,
        store: Store,
        recovered: Option<fleet::store::Outcome>,
    }

    impl Boot {
        /// The sequence number of the committed deployment, if any.
        pub fn committed(&self) -> Option<u64> {
            self.store.state().committed.as_ref().map(|c| c.seq)
        }

        /// The device's own manifest without any deployment over it.
        pub fn own_manifest(&self, base: &Manifest) -> Manifest {
            fleet::own_manifest(base, &self.store)
        }
    }

    /// What is wrong with the `[fleet]` table, if anything.
    pub fn problem(manifest: &Manifest) -> Option<String> {
        config::of_manifest(manifest)?.err().map(|e| e.to_string())
    }

    /// Opens the fleet store of a manifest with a `[fleet]` table, and the
    /// manifest to boot: the committed deployment over the device's own.
    pub fn boot(base: &Manifest, state_dir: &Path, clock: &TrustedClock) -> anyhow::Result<Option<(Boot, Manifest)>> {
        let Some(config) = config::of_manifest(base) else { return Ok(None) };
        let config = config.map_err(anyhow::Error::msg)?;
        let mut store = Store::open(&state_dir.join("fleet")).context("opening the fleet store")?;
        let recovered = store.recover(clock.now())?;
        if let Some(outcome) = &recovered {
            tracing::warn!(seq = outcome.seq, "fleet: deployment {} was interrupted: {}", outcome.label, outcome.detail);
        }
        let manifest = fleet::boot_manifest(base, &store, &config);
        Ok(Some((Boot { config, store, recovered }, manifest)))
    }

    pub fn start_agent(host: &Host, boot: Boot, base: Manifest, running: Manifest) -> Option<Agent> {
        Agent::start(host.clone(), boot.config, boot.store, base, running, boot.recovered)
            .inspect_err(|e| tracing::error!("fleet control is not available: {e}"))
            .ok()
    }
}

#[cfg(not(feature = "fleet"))]
mod imp {
    use super::*;
    use host_edge_runtime::claims::TrustedClock;

    /// What this build says of a `[fleet]` table.
    const WITHOUT_FLEET: &str = "[fleet]: this host-edge was built without fleet control (the `fleet` feature); \
                                 remove the table, or run a build with it (the default build has it)";

    /// Cannot exist: this build has no fleet control.
    pub enum Boot {}

    impl Boot {
        pub fn committed(&self) -> Option<u64> {
            match *self {}
        }

        pub fn own_manifest(&self, _: &Manifest) -> Manifest {
            match *self {}
        }
    }

    /// Cannot exist: this build has no fleet control.
    pub enum Agent {}

    impl Agent {
        #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
        pub fn busy_flag(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
            match *self {}
        }

        pub fn reload(&self, _: Manifest) {
            match *self {}
        }

        pub fn stop(self) {
            match self {}
        }
    }

    /// A `[fleet]` table is this build's problem, whatever it says.
    pub fn problem(_: &Manifest) -> Option<String> {
        Some(WITHOUT_FLEET.to_owned())
    }

    pub fn boot(base: &Manifest, _: &Path, _: &TrustedClock) -> anyhow::Result<Option<(Boot, Manifest)>> {
        match base.fleet {
            Some(_) => anyhow::bail!("{WITHOUT_FLEET}"),
            None => Ok(None),
        }
    }

    pub fn start_agent(_: &Host, boot: Boot, _: Manifest, _: Manifest) -> Option<Agent> {
        match boot {}
    }
}
