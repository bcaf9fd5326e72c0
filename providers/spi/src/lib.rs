//! `iot:spi`: actors run transactions with the devices on the board's SPI
//! buses, one chip select each, under signed per-bus, per-chip-select
//! grants.
//!
//! One provider instance drives one machine's buses: the kernel's
//! (`BACKEND = "linux"`, `/dev/spidevB.C` from the spidev module) or the
//! simulated ones (`BACKEND = "sim"`), whose parts (`SIM_DEVICES`: an
//! MCP3008 ADC) answer bit for bit like the real ones, so a driver runs
//! unchanged in an actor on a machine without SPI.
//!
//! Before a transaction reaches a bus, the provider checks, in this order:
//! its shape (a mode 0 to 3, a clock up to 125 MHz, at most 32 operations,
//! 4 KiB an operation, 8 KiB in all, waits of at most 10 ms with the chip
//! select held); and that the actor's effective grant (signed, narrowed by
//! the link) names the bus and chip select (`0:0`, or `0:*` for every chip
//! select of bus 0). Every refusal names the device and why. A transaction
//! the controller fails (a mode or clock the part cannot do, an I/O error)
//! is not a refusal: its reply carries the fault, in embedded-hal's kinds.
//!
//! Provider settings (defaults in brackets): `BACKEND` [linux],
//! `DEVICE_DIR` [/dev], `SIM_BUSES` [0], `SIM_DEVICES`. Link value:
//! `SAMPLE_EVERY`. See docs/spi.md.

mod backend;
mod config;
mod device;
mod shape;
mod sim;

use provider_sdk::bindings::{read_grant, Bindings};
use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::codec::spi::{self as contract, Operation, Transaction, TransferRequest, Transferred};
use provider_sdk::schedule::Schedules;
use provider_sdk::{export_provider, Host, Level, Provider, ProviderError, Setting, Settings};

use backend::{Backend, Clocking, Linux, Step};
use config::Buses;
use sim::Sim;

/// The SPI provider.
pub struct SpiProvider {
    host: Host,
    backend: Box<dyn Backend>,
    /// Each bound actor's effective grant (no resource of its own: the
    /// buses are the provider's).
    grants: Bindings<(), ()>,
    /// Their sampling calls (`SAMPLE_EVERY`).
    schedules: Schedules,
}

impl SpiProvider {
    /// Whether `actor`'s grant names chip select `cs` of `bus`.
    fn check_access(&self, actor: &str, bus: u8, cs: u8) -> Result<(), ProviderError> {
        let grant = self.grants.get(actor)?.1;
        grant
            .check_by(contract::CAPABILITY_ID, &device::describe(bus, cs), device::understood, |rule| {
                device::permits(rule.kind(), rule.value(), bus, cs)
            })
            .map_err(|refusal| ProviderError::denied(refusal.to_string()))
    }

    fn transact(&self, actor: &str, transaction: Transaction) -> Result<Vec<u8>, ProviderError> {
        shape::check(&transaction).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        let Transaction { bus, chip_select, mode, speed_hz, bits_per_word, mut operations } = transaction;
        self.check_access(actor, bus, chip_select)?;
        // Each read gets a zeroed buffer; each transfer clocks its own bytes
        // out and gets what came in in their place. Both come back, in order.
        let mut buffers: Vec<Vec<u8>> = operations
            .iter_mut()
            .filter_map(|op| match op {
                Operation::Read(len) => Some(vec![0; *len as usize]),
                Operation::Transfer(bytes) => Some(std::mem::take(bytes)),
                Operation::Write(_) | Operation::DelayNs(_) => None,
            })
            .collect();
        let mut filled = buffers.iter_mut();
        let mut steps: Vec<Step<'_>> = operations
            .iter()
            .map(|op| match op {
                Operation::Write(bytes) => Step::Write(bytes),
                Operation::Read(_) => Step::Read(filled.next().map(Vec::as_mut_slice).unwrap_or_default()),
                Operation::Transfer(_) => Step::Transfer(filled.next().map(Vec::as_mut_slice).unwrap_or_default()),
                Operation::DelayNs(ns) => Step::Delay(*ns),
            })
            .collect();
        let clocking = Clocking { mode, speed_hz, bits_per_word };
        let outcome = self
            .backend
            .transaction(bus, chip_select, clocking, &mut steps)
            .map_err(|e| ProviderError::bad_request(e.to_string()))?;
        drop(steps);
        let transferred = match outcome {
            Ok(()) => Transferred { reads: buffers.into_iter().map(serde_bytes::ByteBuf::from).collect(), fault: None },
            Err(fault) => Transferred { reads: Vec::new(), fault: Some(fault) },
        };
        Ok(provider_sdk::codec::serialize(&transferred)?)
    }
}

impl Provider for SpiProvider {
    const CAPABILITY_ID: &'static str = contract::CAPABILITY_ID;
    const NAME: &'static str = "SPI (Linux spidev or simulated buses)";

    fn settings() -> Vec<Setting> {
        // Enforces grants: see `Setting::enforced_grant`.
        config::declared().into_iter().chain([Setting::enforced_grant()]).collect()
    }

    fn start(host: Host, settings: Settings) -> Result<SpiProvider, ProviderError> {
        let backend: Box<dyn Backend> = match config::read(&settings).map_err(|e| ProviderError::bad_request(e.to_string()))? {
            Buses::Linux(dir) => Box::new(Linux::new(dir)),
            Buses::Sim { buses, devices } => Box::new(Sim::new(&buses, &devices)),
        };
        host.log(Level::Info, &format!("driving {}", backend.describe()));
        Ok(SpiProvider { host, backend, grants: Bindings::default(), schedules: Schedules::default() })
    }

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let grant = read_grant(&config.values)?;
        // An update (a replaced actor) starts afresh, with the new link's
        // grant and schedule.
        self.schedules.bind(&self.host, &config.module, &config.values)?;
        self.grants.bind(&config.module, (), grant, || Ok(()))?;
        Ok(())
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        self.grants.remove(&config.module);
        self.schedules.remove(&config.module);
        Ok(())
    }

    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        use provider_sdk::codec::deserialize;
        match operation {
            contract::OP_TRANSACTION => self.transact(actor, deserialize(payload)?),
            contract::OP_TRANSFER => self.transact(actor, deserialize::<TransferRequest>(payload)?.into()),
            other => Err(ProviderError::bad_request(format!(
                "iot:spi has no operation `{other}`; it has Transaction and Transfer"
            ))),
        }
    }

    fn stop(&self) {
        self.grants.clear();
        // Each schedule ends after the call in hand, whose handler may call
        // back in: nothing is locked meanwhile.
        self.schedules.stop();
    }
}

export_provider!(SpiProvider);
