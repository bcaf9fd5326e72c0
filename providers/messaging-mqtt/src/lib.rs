//! `wascc:messaging` over MQTT, on rumqttc.
//!
//! Actors publish, subscribe and make requests with waSCC's message types
//! (`Publish`, `Request`, `DeliverMessage`), so actors written for waSCC's
//! NATS provider run unmodified (with `SUBJECTS = nats`).
//!
//! - **One connection per broker and credentials**, shared by every actor
//!   linked with the same connection values; each message is routed to
//!   every actor whose SUBSCRIPTION matches.
//! - **Grants**: `pub:FILTER` rules name the topics an actor may publish
//!   to, `sub:FILTER` the filters it may subscribe to, signed into its
//!   claims and narrowed by the link. A publish outside them is refused
//!   naming the topic; a subscription outside them refuses the link.
//! - **Inbound, at least once**: a persistent session (stable client id,
//!   clean start off); a QoS 1 message is acknowledged to the broker only
//!   after the actor handled it; a failed handler is retried or dropped, as
//!   the link says, with a log line either way.
//! - **Outbound, durable**: a QoS 1 publish is acknowledged to the actor
//!   once it is fsynced into the connection's SQLite outbox, and removed
//!   only when the broker's PUBACK for it arrives. QoS 0 is never queued.
//! - **Request/reply** on MQTT 5 response topics and correlation data
//!   (128 random bits per outbound request); a reply to a request the
//!   actor received goes out only when its `pub:` grant covers the
//!   response topic the requester named.
//!
//! The link values are listed in [`config::declared`]; docs/messaging.md
//! describes them with examples.

mod config;
mod connection;
mod delivery;
mod eventloop;
mod outbox;
mod requests;
mod session;
mod topic;
#[cfg(test)]
mod topic_properties;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use provider_sdk::bindings::read_grant;
use provider_sdk::codec::core::{CapabilityConfiguration, CONFIG_CLAIMS_NAME};
use provider_sdk::codec::messaging::{BrokerMessage, RequestMessage, OP_PERFORM_REQUEST, OP_PUBLISH_MESSAGE};
use provider_sdk::grant::Grant;
use provider_sdk::{export_provider, ErrorKind, Host, Level, Provider, ProviderError, Setting, Settings};

use config::LinkConfig;
use connection::{Connection, Route};

/// The capability served.
const CAPABILITY_ID: &str = "wascc:messaging";

/// An actor bound to the provider.
#[derive(Clone)]
struct Bound {
    connection: Arc<Connection>,
    route: Arc<Route>,
    grant: Arc<Grant>,
}

#[derive(Default)]
struct Links {
    connections: Vec<Arc<Connection>>,
    actors: HashMap<String, Bound>,
}

impl Links {
    /// Takes out the connections no actor uses any more.
    fn unused(&mut self) -> Vec<Arc<Connection>> {
        let (kept, unused) = std::mem::take(&mut self.connections)
            .into_iter()
            .partition(|c| self.actors.values().any(|b| Arc::ptr_eq(&b.connection, c)));
        self.connections = kept;
        unused
    }
}

/// The MQTT messaging provider.
pub struct MqttMessaging {
    host: Host,
    links: Mutex<Links>,
}

impl MqttMessaging {
    fn links(&self) -> MutexGuard<'_, Links> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bound(&self, actor: &str) -> Result<Bound, ProviderError> {
        self.links().actors.get(actor).cloned().ok_or_else(|| {
            ProviderError::of(ErrorKind::NotLinked, format!("actor {actor} is not bound to this provider"))
        })
    }

    /// The MQTT topic for an actor's `subject`, checked against its grant.
    fn topic_to_publish(route: &Route, grant: &Grant, subject: &str) -> Result<String, ProviderError> {
        let topic = route.subjects.to_mqtt(subject).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        Self::check_publish(grant, &topic)?;
        Ok(topic)
    }

    /// `Ok` when `grant` lets the actor publish to the MQTT `topic`: a
    /// topic name, within a `pub:` rule. The one rule for every message an
    /// actor sends: publishes, requests, and replies to requests it got.
    fn check_publish(grant: &Grant, topic: &str) -> Result<(), ProviderError> {
        topic::check_name(topic).map_err(|e| ProviderError::bad_request(e.to_string()))?;
        grant
            .check_by(
                CAPABILITY_ID,
                &format!("publishing to topic `{topic}`"),
                |kind| matches!(kind, "pub" | "sub"),
                |rule| rule.kind() == "pub" && topic::matches(rule.value(), topic),
            )
            .map_err(|refusal| ProviderError::denied(refusal.to_string()))
    }

    fn publish(&self, actor: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let message: BrokerMessage = provider_sdk::codec::deserialize(payload)?;
        let Bound { connection, route, grant } = self.bound(actor)?;
        if let Some(reply) = connection.replies().take(actor, &message.subject) {
            // The response topic is the requester's choice: whoever may
            // publish a request to the actor could otherwise make it
            // publish anywhere. The actor's grant decides, as for any
            // publish.
            Self::check_publish(&grant, &reply.topic).map_err(|e| {
                ProviderError::of(e.kind(), format!("the reply to a request on its response topic: {}", e.message()))
            })?;
            connection.reply(route.qos, reply, &message.body)?;
        } else {
            let topic = Self::topic_to_publish(&route, &grant, &message.subject)?;
            let response_topic = match message.reply_to.as_str() {
                "" => None,
                reply_to => {
                    let response = route.subjects.to_mqtt(reply_to).map_err(|e| ProviderError::bad_request(e.to_string()))?;
                    topic::check_name(&response).map_err(|e| ProviderError::bad_request(format!("replyTo: {e}")))?;
                    Some(response)
                }
            };
            connection.publish(route.qos, &topic, &message.body, response_topic.as_deref())?;
        }
        Ok(provider_sdk::codec::serialize(&())?)
    }

    fn request(&self, actor: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let message: RequestMessage = provider_sdk::codec::deserialize(payload)?;
        let Bound { connection, route, grant } = self.bound(actor)?;
        let topic = Self::topic_to_publish(&route, &grant, &message.subject)?;
        let timeout = Duration::from_millis(message.timeout_ms.clamp(1, 600_000) as u64);
        connection.request(route.qos, &topic, &message.body, timeout)
    }

    /// The shared connection for `config`, opened if none is; a CLIENT_ID
    /// already used with other connection values is refused, since two
    /// connections with one id would take turns throwing each other off.
    fn connection_for(&self, links: &mut Links, config: &config::ConnectionConfig) -> Result<Arc<Connection>, ProviderError> {
        if let Some(existing) = links.connections.iter().find(|c| c.config() == config) {
            return Ok(Arc::clone(existing));
        }
        if let Some(clash) = links.connections.iter().find(|c| c.config().client_id == config.client_id) {
            return Err(ProviderError::bad_request(format!(
                "CLIENT_ID `{}` is already used by a connection to {} with other values; give this link its own CLIENT_ID",
                config.client_id,
                clash.config().broker.url
            )));
        }
        let connection = Arc::new(Connection::open(config.clone(), self.host.clone())?);
        links.connections.push(Arc::clone(&connection));
        Ok(connection)
    }
}

impl Provider for MqttMessaging {
    const CAPABILITY_ID: &'static str = CAPABILITY_ID;
    const NAME: &'static str = "MQTT messaging";

    fn settings() -> Vec<Setting> {
        // Enforces grants: see `Setting::enforced_grant`.
        config::declared().into_iter().chain([Setting::enforced_grant()]).collect()
    }

    fn start(host: Host, _settings: Settings) -> Result<MqttMessaging, ProviderError> {
        Ok(MqttMessaging { host, links: Mutex::default() })
    }

    fn bind_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let link = LinkConfig::parse(&config.values, self.host.state_dir())?;
        let outbox = &link.connection.outbox;
        match config::adopt_legacy_outbox(&config.values, self.host.state_dir(), outbox) {
            Ok(None) => {}
            Ok(Some(old)) => self.host.log(
                Level::Info,
                &format!(
                    "moved the outbox {} to {}: the default client id no longer takes in the password",
                    old.display(),
                    outbox.display()
                ),
            ),
            Err(e) => self.host.log(
                Level::Warn,
                &format!("cannot move the outbox of an earlier release to {}: {e}; it starts empty", outbox.display()),
            ),
        }
        let grant = read_grant(&config.values)?;
        for filter in &link.filters {
            grant
                .check_by(
                    CAPABILITY_ID,
                    &format!("subscribing to `{filter}`"),
                    |kind| matches!(kind, "pub" | "sub"),
                    |rule| rule.kind() == "sub" && topic::covers(rule.value(), filter),
                )
                .map_err(|refusal| ProviderError::denied(refusal.to_string()))?;
        }
        let name = config.values.get(CONFIG_CLAIMS_NAME).cloned().unwrap_or_else(|| config.module.clone());
        let route = Arc::new(Route {
            actor: config.module.clone(),
            name,
            filters: link.filters,
            subjects: link.subjects,
            on_failure: link.on_failure,
            qos: link.qos,
        });
        let closed = {
            let mut links = self.links();
            let connection = self.connection_for(&mut links, &link.connection)?;
            connection.set_route(Arc::clone(&route));
            let previous = links.actors.insert(
                config.module.clone(),
                Bound { connection: Arc::clone(&connection), route, grant: Arc::new(grant) },
            );
            if let Some(previous) = previous.filter(|p| !Arc::ptr_eq(&p.connection, &connection)) {
                previous.connection.remove_route(&config.module);
            }
            links.unused()
        };
        // Stopped outside the lock: a connection's delivery thread may be
        // inside an actor that is publishing through this provider.
        closed.iter().for_each(|c| c.stop());
        Ok(())
    }

    fn remove_actor(&self, config: CapabilityConfiguration) -> Result<(), ProviderError> {
        let closed = {
            let mut links = self.links();
            if let Some(bound) = links.actors.remove(&config.module) {
                bound.connection.remove_route(&config.module);
            }
            links.unused()
        };
        closed.iter().for_each(|c| c.stop());
        Ok(())
    }

    fn handle_call(&self, actor: &str, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ProviderError> {
        match operation {
            OP_PUBLISH_MESSAGE => self.publish(actor, payload),
            OP_PERFORM_REQUEST => self.request(actor, payload),
            other => Err(ProviderError::bad_request(format!(
                "{CAPABILITY_ID} has no operation `{other}`; it offers {OP_PUBLISH_MESSAGE} and {OP_PERFORM_REQUEST}"
            ))),
        }
    }

    fn health(&self) -> Result<(), ProviderError> {
        let connections = self.links().connections.clone();
        connections.iter().try_for_each(|c| c.health())
    }

    fn stop(&self) {
        let connections = {
            let mut links = self.links();
            links.actors.clear();
            std::mem::take(&mut links.connections)
        };
        connections.iter().for_each(|c| c.stop());
    }
}

export_provider!(MqttMessaging);
