//! `iot:i2c`: actors run transactions with the devices on the board's I2C
//! buses, under signed per-bus, per-address grants, and drivers wait on
//! the host instead of spinning the interpreter.
//!
//! One provider instance drives one machine's buses: the kernel's
//! (`BACKEND = "linux"`, `/dev/i2c-N` from the i2c-dev module) or the
//! simulated ones (`BACKEND = "sim"`), whose parts (`SIM_DEVICES`: a BME280,
//! a 24C02 EEPROM) behave like the real ones, so a driver from crates.io
//! runs unchanged in an actor on a machine without I2C.
//!
//! Before a transaction reaches a bus, the provider checks, in this order:
//! its shape (at most 42 operations, 4 KiB an operation, 8 KiB in all);
//! that the address is a device's (never the general call 0x00, which
//! every device would act on, nor another reserved one); and that the
//! actor's effective grant (signed, narrowed by the link) names the bus
//! and address (`1:0x76`, or `1:*` for any device on bus 1). Every refusal
//! names the device and why. A transaction that reaches the bus and fails
//! there (no acknowledge, a lost arbitration, a timeout) is not a refusal:
//! its reply carries the bus's fault, so a driver sees embedded-hal's
//! error kinds, and the host serves on.
//!
//! Provider settings (defaults in brackets): `BACKEND` [linux],
//! `DEVICE_DIR` [/dev], `SIM_BUSES` [1], `SIM_DEVICES`, `MAX_DELAY_MS`
//! [1000]. Link value: `SAMPLE_EVERY`. See docs/i2c.md.

mod address;
mod backend;
mod config;
mod segments;
mod shape;
mod sim;

use provider_sdk::bindings::{read_grant, Bindings};
use provider_sdk::codec::core::CapabilityConfiguration;
use provider_sdk::codec::i2c::{
    self as contract, DelayRequest, ReadRequest, Transaction, Transfer, WriteReadRequest, WriteRequest,
};
use provider_sdk::schedule::Schedules;
use provider_sdk::{export_provider, Host, Level, Provider, ProviderError, Setting, Settings};

use backend::{Backend, Linux, Step};
use config::{Buses, Config};
use segments::Segment;
use sim::Sim;

/// The I2C provider.
pub struct I2cProvider {
    host: Host,
    config: Config,
    backend: Box<dyn Backend>,
    /// Each bound actor's effective grant (no resource of its own: the
    /// buses are the provider's).
    grants: Bindings<(), ()>,
    /// Their sampling calls (`SAMPLE_EVERY`).
    schedules: Schedules,
}

impl I2cProvider {
    /// Whether `actor` may reach `address` on `bus`: a device's address,
    /// and inside the grant.
    fn check_access(&self, actor: &str, bus: u8, address: u8) -> Result<(), ProviderError> {
        address::check(address).map_err(|e| ProviderError::denied(e.to_string()))?;
        let grant = self.grants.get(actor)?.1;
        grant
            .check_by(contract::CAPABILITY_ID, &address::describe(bus, address), address::understood, |rule| {
                address::permits(rule.kind(), rule.value(), bus, address)
            })
            .map_err(|refusal| ProviderError::denied(refusal.to_string()))
    }

    fn transact(&self, actor: &str, transaction: Transaction) -> Result<Vec<u8>, ProviderError> {
        shape::check(&transaction).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        let Transaction { bus, address, operations } = transaction;
        self.check_access(actor, bus, address)?;
        // Adjacent operations of one kind are one message (embedded-hal's
        // transaction contract).
        let segments = segments::merge(operations);
        let mut buffers: Vec<Vec<u8>> = segments.iter().map(Segment::buffer).collect();
        let mut steps: Vec<Step<'_>> = segments
            .iter()
            .zip(buffers.iter_mut())
            .map(|(segment, buffer)| match segment {
                Segment::Write(_) => Step::Write(buffer),
                Segment::Read(_) => Step::Read(buffer),
            })
            .collect();
        let outcome = self.backend.transaction(bus, address, &mut steps).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        drop(steps);
        let transfer = match outcome {
            Ok(()) => {
                let reads = segments::split(&segments, buffers);
                Transfer { reads: reads.into_iter().map(serde_bytes::ByteBuf::from).collect(), fault: None }
            }
            Err(fault) => Transfer { reads: Vec::new(), fault: Some(fault) },
        };
        Ok(provider_sdk::codec::serialize(&transfer)?)
    }

    fn delay(&self, actor: &str, request: DelayRequest) -> Result<Vec<u8>, ProviderError> {
        self.grants.get(actor)?;
        let wait = std::time::Duration::from_nanos(request.ns);
        if wait > self.config.max_delay {
            return Err(ProviderError::bad_request(format!(
                "a delay of {wait:?} is longer than one Delay call may wait ({:?}, the provider setting MAX_DELAY_MS); \
                 wait in shorter steps",
                self.config.max_delay
            )));
        }
        std::thread::sleep(wait);
        Ok(provider_sdk::codec::serialize(&())?)
    }

}

impl Provider for I2cProvider {
    const CAPABILITY_ID: &'static str = contract::CAPABILITY_ID;
    const NAME: &'static str = "I2C (Linux i2c-dev or simulated buses)";

    fn settings() -> Vec<Setting> {
        // Enforces grants: see `Setting::enforced_grant`.
        config::declared().into_iter().chain([Setting::enforced_grant()]).collect()
    }

    fn start(host: Host, settings: Settings) -> Result<I2cProvider, ProviderError> {
        let config = Config::read(&settings).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        let backend: Box<dyn Backend> = match &config.buses {
            Buses::Linux(dir) => Box::new(Linux::new(dir.clone())),
            Buses::Sim { buses, devices } => Box::new(Sim::new(buses, devices)),
        };
        host.log(Level::Info, &format!("driving {}", backend.describe()));
        Ok(I2cProvider { host, config, backend, grants: Bindings::default(), schedules: Schedules::default() })
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
            contract::OP_WRITE => self.transact(actor, deserialize::<WriteRequest>(payload)?.into()),
            contract::OP_READ => self.transact(actor, deserialize::<ReadRequest>(payload)?.into()),
            contract::OP_WRITE_READ => self.transact(actor, deserialize::<WriteReadRequest>(payload)?.into()),
            contract::OP_DELAY => self.delay(actor, deserialize(payload)?),
            other => Err(ProviderError::bad_request(format!(
                "iot:i2c has no operation `{other}`; it has Transaction, Write, Read, WriteRead and Delay"
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

export_provider!(I2cProvider);
