//! The health probe that decides whether a deployment is kept.
//!
//! After a deployment is applied, the device asks, again and again until
//! everything answers or the probe's time is up: every actor of the
//! deployment its health (`HealthRequest`, which waSCC's SDK and
//! host-edge's answer), every provider its health check, and every HTTP
//! check of the deployment its status. One pass that finds everything
//! healthy commits the deployment; time running out rolls it back, with the
//! last reasons.

use std::time::{Duration, Instant};

use codec::core::{HealthRequest, OP_HEALTH_REQUEST};

use super::deployment::{Deployment, HttpCheck};
use super::http;
use host_edge_runtime::Host;

/// Pause between probe passes.
const PASS_INTERVAL: Duration = Duration::from_millis(250);

/// One pass: every reason the deployment is not healthy now.
pub fn pass(host: &Host, deployment: &Deployment, checks: &[HttpCheck], timeout: Duration) -> Vec<String> {
    let mut reasons = Vec::new();
    let health = codec::serialize(&HealthRequest { placeholder: true }).unwrap_or_default();
    for actor in &deployment.actors {
        if let Err(e) = host.call(&actor.key, OP_HEALTH_REQUEST, &health) {
            reasons.push(format!("actor {} does not answer its health request: {e}", actor.name));
        }
    }
    for provider in host.status().providers {
        if let Err(why) = provider.health {
            reasons.push(format!("provider {} is unhealthy: {why}", provider.name));
        }
    }
    for check in checks {
        // The status is what is checked: a redirect is reported, not
        // followed, and the body is not read.
        match http::status(&check.url, timeout) {
            Ok(status) if status.as_u16() == check.status => {}
            Ok(status) => reasons.push(format!("{} answered {}, not {}", check.url, status.as_u16(), check.status)),
            Err(e) => reasons.push(format!("{} does not answer: {e}", check.url)),
        }
    }
    reasons
}

/// Probes until a pass finds everything healthy (`Ok`) or `timeout` passes
/// (`Err` with the last pass's reasons). `checks` are the deployment's,
/// with the device's values in them. Gives up early when `stopped` says
/// the host is stopping.
pub fn until_healthy(
    host: &Host,
    deployment: &Deployment,
    checks: &[HttpCheck],
    timeout: Duration,
    stopped: &dyn Fn() -> bool,
) -> Result<Duration, Vec<String>> {
    let started = Instant::now();
    let each_check = Duration::from_secs(5).min(timeout);
    loop {
        let reasons = pass(host, deployment, checks, each_check);
        if reasons.is_empty() {
            return Ok(started.elapsed());
        }
        if started.elapsed() + PASS_INTERVAL > timeout || stopped() {
            return Err(reasons);
        }
        std::thread::sleep(PASS_INTERVAL);
    }
}
