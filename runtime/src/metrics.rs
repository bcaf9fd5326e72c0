//! What the host counts while it serves: calls, errors, latency, fuel and
//! memory per actor, and per actor and capability for its host calls.
//!
//! The figures are kept in one Prometheus registry per process (the
//! `prometheus` crate), so `/metrics` is the registry's text encoding and
//! `promtool` reads it. The call path holds pre-resolved handles
//! ([`ActorMetrics`]) so that counting a call is a few atomic additions,
//! not a label lookup. The fleet status reads the same counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use provider_abi::ErrorKind;

/// Latency buckets, seconds: 50 µs to 10 s. An actor call on a Pi is
/// typically 0.1 to 10 ms; a host call to a remote store can take seconds.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5, 10.0,
];

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    actor_calls: IntCounterVec,
    actor_errors: IntCounterVec,
    actor_seconds: HistogramVec,
    actor_fuel: IntCounterVec,
    actor_memory: IntGaugeVec,
    actor_instances: IntGaugeVec,
    host_calls: IntCounterVec,
    host_errors: IntCounterVec,
    host_seconds: HistogramVec,
    provider_healthy: IntGaugeVec,
    resident: IntGauge,
    deployment: IntGauge,
    /// Handles by module key, shared by every pool of that actor.
    actors: Mutex<HashMap<String, Arc<ActorMetrics>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The counters of one actor, resolved once.
#[derive(Debug)]
pub struct ActorMetrics {
    name: String,
    key: String,
    calls: IntCounter,
    seconds: Histogram,
    fuel: IntCounter,
    memory: IntGauge,
    instances: IntGauge,
    errors: IntCounterVec,
    host_calls: IntCounterVec,
    host_errors: IntCounterVec,
    host_seconds: HistogramVec,
}

/// Registers `metric` with `registry`; names are fixed here, so a clash is
/// a bug in this file.
fn registered<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry.register(Box::new(metric.clone())).expect("metric names are unique");
    metric
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    registered(registry, IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
    registered(registry, HistogramVec::new(opts, labels).expect("valid metric"))
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        let actor = ["actor", "key"];
        let host = ["actor", "key", "capability"];
        let build = registered(
            &r,
            IntGaugeVec::new(Opts::new("host_edge_build_info", "The host-edge build; always 1."), &["version"])
                .expect("valid metric"),
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        Metrics {
            actor_calls: counter(&r, "host_edge_actor_calls_total", "Calls into an actor (HTTP requests, messages, edges, probes).", &actor),
            actor_errors: counter(&r, "host_edge_actor_call_errors_total", "Calls into an actor that failed, by kind.", &["actor", "key", "kind"]),
            actor_seconds: histogram(&r, "host_edge_actor_call_duration_seconds", "Time an actor took to answer a call, host calls included.", &actor),
            actor_fuel: counter(&r, "host_edge_actor_fuel_consumed_total", "Interpreter fuel the actor's calls used.", &actor),
            actor_memory: gauge(&r, "host_edge_actor_memory_bytes", "Linear memory of the actor's instances.", &actor),
            actor_instances: gauge(&r, "host_edge_actor_instances", "Instances serving the actor.", &actor),
            host_calls: counter(&r, "host_edge_host_calls_total", "Calls an actor made to a capability (or another actor).", &host),
            host_errors: counter(&r, "host_edge_host_call_errors_total", "Host calls that failed, by kind.", &["actor", "key", "capability", "kind"]),
            host_seconds: histogram(&r, "host_edge_host_call_duration_seconds", "Time a host call took.", &host),
            provider_healthy: gauge(&r, "host_edge_provider_healthy", "1 while the provider's health check passes, else 0.", &["provider", "capability"]),
            resident: registered(&r, IntGauge::new("host_edge_resident_memory_bytes", "Resident memory of the host process.").expect("valid metric")),
            deployment: registered(&r, IntGauge::new("host_edge_fleet_deployment", "Sequence number of the fleet deployment the host runs; 0 for none.").expect("valid metric")),
            registry: r,
            actors: Mutex::new(HashMap::new()),
        }
    }

    /// The handles of the actor `key` named `name`, made on first use.
    pub fn actor(&self, key: &str, name: &str) -> Arc<ActorMetrics> {
        let mut actors = self.actors.lock().unwrap_or_else(|e| e.into_inner());
        let entry = actors.entry(key.to_owned()).or_insert_with(|| {
            let labels = [name, key];
            Arc::new(ActorMetrics {
                name: name.to_owned(),
                key: key.to_owned(),
                calls: self.actor_calls.with_label_values(&labels),
                seconds: self.actor_seconds.with_label_values(&labels),
                fuel: self.actor_fuel.with_label_values(&labels),
                memory: self.actor_memory.with_label_values(&labels),
                instances: self.actor_instances.with_label_values(&labels),
                errors: self.actor_errors.clone(),
                host_calls: self.host_calls.clone(),
                host_errors: self.host_errors.clone(),
                host_seconds: self.host_seconds.clone(),
            })
        });
        Arc::clone(entry)
    }

    /// Calls and failed calls of the actor `key` so far.
    pub fn actor_totals(&self, key: &str) -> (u64, u64) {
        let actors = self.actors.lock().unwrap_or_else(|e| e.into_inner());
        actors.get(key).map_or((0, 0), |actor| (actor.calls.get(), actor.errors_total()))
    }

    /// Records a provider's health.
    pub fn provider_health(&self, provider: &str, capability: &str, healthy: bool) {
        self.provider_healthy.with_label_values(&[provider, capability]).set(i64::from(healthy));
    }

    /// Records the fleet deployment the host runs.
    pub fn deployment(&self, seq: u64) {
        self.deployment.set(i64::try_from(seq).unwrap_or(i64::MAX));
    }

    /// The text exposition of every metric, as `/metrics` serves it.
    pub fn encode(&self) -> String {
        self.resident.set(resident_bytes().map_or(0, |b| i64::try_from(b).unwrap_or(i64::MAX)));
        let mut text = String::new();
        if let Err(e) = prometheus::TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text) {
            tracing::error!("encoding the metrics failed: {e}");
        }
        text
    }
}

impl ActorMetrics {
    /// Records one call into the actor: how long, how much fuel, and how
    /// it failed when it did.
    pub fn call(&self, elapsed: Duration, fuel: u64, failure: Option<ErrorKind>) {
        self.calls.inc();
        self.seconds.observe(elapsed.as_secs_f64());
        self.fuel.inc_by(fuel);
        if let Some(kind) = failure {
            self.errors.with_label_values(&[&self.name, &self.key, kind.tag()]).inc();
        }
    }

    /// The counters of the actor's host calls to `capability`, resolved
    /// once; [`HostCallMetrics::record`] counts one.
    pub fn host_calls(&self, capability: &str) -> HostCallMetrics {
        let labels = [self.name.as_str(), self.key.as_str(), capability];
        HostCallMetrics {
            labels: [self.name.clone(), self.key.clone(), capability.to_owned()],
            calls: self.host_calls.with_label_values(&labels),
            seconds: self.host_seconds.with_label_values(&labels),
            errors: self.host_errors.clone(),
        }
    }

    /// Adds `delta` bytes to the actor's memory (an instance grew, started
    /// or stopped).
    pub fn memory(&self, delta: i64) {
        self.memory.add(delta);
    }

    /// Adds `delta` to the actor's instance count.
    pub fn instances(&self, delta: i64) {
        self.instances.add(delta);
    }

    /// Linear memory of the actor's instances now, bytes.
    pub fn memory_bytes(&self) -> u64 {
        u64::try_from(self.memory.get()).unwrap_or(0)
    }

    fn errors_total(&self) -> u64 {
        ErrorKind::ALL
            .iter()
            .map(|kind| self.errors.with_label_values(&[&self.name, &self.key, kind.tag()]).get())
            .sum()
    }
}

/// The counters of one actor's host calls to one capability.
#[derive(Debug, Clone)]
pub struct HostCallMetrics {
    labels: [String; 3],
    calls: IntCounter,
    seconds: Histogram,
    errors: IntCounterVec,
}

impl HostCallMetrics {
    /// Records one host call: how long, and how it failed when it did.
    pub fn record(&self, elapsed: Duration, failure: Option<ErrorKind>) {
        self.calls.inc();
        self.seconds.observe(elapsed.as_secs_f64());
        if let Some(kind) = failure {
            let [name, key, capability] = &self.labels;
            self.errors.with_label_values(&[name, key, capability, kind.tag()]).inc();
        }
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Resident memory of this process, from `/proc/self/statm`.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_and_a_failed_call_are_counted_and_exposed_with_the_actors_name_and_key() {
        let metrics = global();
        let actor = metrics.actor("MTESTKEY", "tester");
        actor.call(Duration::from_micros(300), 1_000, None);
        actor.call(Duration::from_millis(2), 5_000, Some(ErrorKind::Trapped));
        actor.host_calls("wascc:keyvalue").record(Duration::from_micros(80), Some(ErrorKind::Denied));
        assert_eq!(metrics.actor_totals("MTESTKEY"), (2, 1));
        let text = metrics.encode();
        assert!(text.contains(r#"host_edge_actor_calls_total{actor="tester",key="MTESTKEY"} 2"#), "{text}");
        assert!(text.contains(r#"host_edge_actor_fuel_consumed_total{actor="tester",key="MTESTKEY"} 6000"#));
        assert!(text.contains(r#"host_edge_host_call_errors_total{actor="tester",capability="wascc:keyvalue",key="MTESTKEY",kind="denied"} 1"#), "{text}");
        assert!(text.contains("# TYPE host_edge_actor_call_duration_seconds histogram"));
    }
}
