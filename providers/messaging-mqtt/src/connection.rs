//! One broker connection, shared by every actor linked with the same
//! connection values: its outbox, its subscriptions and the actors routed
//! through it. Its two threads live in [`crate::eventloop`] (network) and
//! [`crate::delivery`] (handing messages to actors).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::v5::{Filter, PublishProperties};
use rumqttc::v5::AsyncClient;

use provider_sdk::{ErrorKind, Host, Level, ProviderError};

use crate::config::{ConnectionConfig, OnFailure, Qos};
use crate::outbox::{Outbox, OutboxError};
use crate::requests::{ReplyRoute, ReplyTokens, Requests};
use crate::session::{Sent, Session};
use crate::topic::{self, Subjects};

/// Most outbox entries sent ahead of their PUBACKs.
const OUTBOX_WINDOW: usize = 32;

/// Most inbound messages waiting for the actors (with `INBOUND_BUFFER`
/// bytes); beyond, the connection pauses until they catch up.
const INBOUND_QUEUE: usize = 4096;

/// How long after the connection starts a message that no bound actor
/// subscribes to is held (unacknowledged) in case its actor is still
/// being bound; after that it is acknowledged and dropped with a warning.
pub const GRACE: Duration = Duration::from_secs(10);

/// An actor's route through a connection.
#[derive(Debug)]
pub struct Route {
    /// Its module key.
    pub actor: String,
    /// The name in its claims, for log lines.
    pub name: String,
    /// The MQTT filters it subscribes to.
    pub filters: Vec<String>,
    /// How its subjects map to topics.
    pub subjects: Subjects,
    /// What happens when its handler fails.
    pub on_failure: OnFailure,
    /// QoS of its publishes and subscriptions.
    pub qos: Qos,
}

/// The actors routed through a connection.
#[derive(Default)]
pub struct Routes {
    by_actor: BTreeMap<String, Arc<Route>>,
    /// Bumped on every change, so parked messages are routed again.
    pub version: u64,
}

/// What the connection's threads and the provider's callers share.
pub struct Shared {
    /// The connection values.
    pub config: ConnectionConfig,
    /// The host's services.
    pub host: Host,
    /// rumqttc's request side.
    pub client: AsyncClient,
    /// Packet ids and the send window.
    pub session: Mutex<Session>,
    /// The durable outbox.
    pub outbox: Outbox,
    /// Who is routed here.
    pub routes: RwLock<Routes>,
    /// The filters subscribed (or to subscribe on connecting), with QoS.
    pub subscribed: Mutex<Vec<(String, Qos)>>,
    /// Requests waiting for replies.
    pub requests: Requests,
    /// Reply topics handed to actors.
    pub replies: ReplyTokens,
    /// Where replies to this connection's requests arrive.
    pub reply_topic: String,
    /// Set when the connection is closing.
    pub stopping: AtomicBool,
    /// Wakes the network thread to close.
    pub stop: tokio::sync::Notify,
    /// Counts CONNACKs: an acknowledgement is sent only in the connection
    /// its message arrived on, where its packet id means that message.
    pub generation: AtomicU64,
    /// Why the broker cannot be reached, while it cannot.
    pub last_error: Mutex<Option<String>>,
    /// When the connection was opened.
    pub started: Instant,
    /// Set when a message did not fit the delivery channel: later ones
    /// are left unacknowledged until the connection has been reopened.
    pub paused: AtomicBool,
    /// Messages handed to the delivery thread and not yet finished.
    pub delivering: AtomicUsize,
    /// Their payload bytes, bounded by `INBOUND_BUFFER`.
    pub delivering_bytes: AtomicUsize,
    /// Set on CONNACK: stale subscriptions are to be removed once the
    /// routes have settled.
    pub cleanup_due: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// The session bookkeeping.
    pub fn session(&self) -> MutexGuard<'_, Session> {
        lock(&self.session)
    }

    /// Logs `message` under the provider's name, with the connection.
    pub fn log(&self, level: Level, message: &str) {
        self.host.log(level, &format!("[{} as {}] {message}", self.config.broker.url, self.config.client_id));
    }

    /// The routes whose filters match `topic`.
    pub fn routes_for(&self, topic: &str) -> Vec<Arc<Route>> {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        routes.by_actor.values().filter(|r| r.filters.iter().any(|f| topic::matches(f, topic))).cloned().collect()
    }

    /// The route of `actor`, if it is still routed here.
    pub fn route(&self, actor: &str) -> Option<Arc<Route>> {
        self.routes.read().unwrap_or_else(|e| e.into_inner()).by_actor.get(actor).cloned()
    }

    /// The routes' version.
    pub fn routes_version(&self) -> u64 {
        self.routes.read().unwrap_or_else(|e| e.into_inner()).version
    }

    /// During a pause, once the delivery thread has finished every message
    /// it held (and acknowledged them), asks for the clean disconnect that
    /// ends the pause; the network thread reconnects when it has gone out.
    pub fn resume_when_idle(&self) {
        if self.paused.load(Ordering::SeqCst) && self.delivering.load(Ordering::SeqCst) == 0 {
            let _ = self.client.try_disconnect();
        }
    }

    /// Sends outbox entries while the window has room. Called after a
    /// publish is stored, after a PUBACK and after CONNACK.
    pub fn pump(&self) {
        let mut session = self.session();
        let room = session.room();
        if room == 0 {
            return;
        }
        let entries = match self.outbox.after(session.cursor(), room) {
            Ok(entries) => entries,
            Err(e) => {
                self.log(Level::Error, &format!("cannot read the outbox: {e}"));
                return;
            }
        };
        for entry in entries {
            let properties = PublishProperties { response_topic: entry.response_topic, ..Default::default() };
            session.sent(Sent::Outbox(entry.id));
            let sent = self.client.try_publish_with_properties(
                entry.topic,
                Qos::AtLeastOnce.mqtt(),
                false,
                entry.payload,
                properties,
            );
            if sent.is_err() {
                // The request channel is full; the next PUBACK pumps again.
                session.unsent();
                break;
            }
        }
    }

    /// Sends a publish that does not go through the outbox (QoS 0, a
    /// request, a reply): refused when the broker is not connected.
    fn send_direct(&self, topic: &str, qos: Qos, payload: &[u8], properties: PublishProperties) -> Result<(), ProviderError> {
        let mut session = self.session();
        if !session.is_connected() {
            return Err(self.not_connected());
        }
        session.sent(Sent::Direct);
        match self.client.try_publish_with_properties(topic, qos.mqtt(), false, payload.to_vec(), properties) {
            Ok(()) => Ok(()),
            Err(e) => {
                session.unsent();
                Err(ProviderError::unavailable(format!("cannot hand the message for `{topic}` to the MQTT client: {e}")))
            }
        }
    }

    fn not_connected(&self) -> ProviderError {
        let why = lock(&self.last_error).clone().unwrap_or_else(|| "not connected yet".to_owned());
        ProviderError::unavailable(format!(
            "the broker {} is not connected ({why}); only QoS 1 publishes are queued in the outbox",
            self.config.broker.url
        ))
    }

    /// Subscribes what the routes need and the broker does not have yet.
    /// Offline, only the set changes; it is subscribed after CONNACK.
    ///
    /// Filters no route needs any more are not unsubscribed here: the host
    /// unbinds every actor when it shuts down, and the persistent session
    /// must keep its subscriptions then, so the broker queues what arrives
    /// while the host is away. [`Shared::unsubscribe_stale`] removes them
    /// once the routes have settled after a (re)connect.
    pub fn sync_subscriptions(&self) {
        let wanted = {
            let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
            let all = routes.by_actor.values().flat_map(|r| r.filters.iter().cloned());
            topic::minimal(all)
                .into_iter()
                .map(|filter| {
                    let qos = routes
                        .by_actor
                        .values()
                        .filter(|r| r.filters.iter().any(|f| topic::covers(&filter, f)))
                        .map(|r| r.qos)
                        .max_by_key(|q| *q == Qos::AtLeastOnce)
                        .unwrap_or(Qos::AtLeastOnce);
                    (filter, qos)
                })
                .collect::<Vec<_>>()
        };
        let mut subscribed = lock(&self.subscribed);
        if self.session().is_connected() {
            let added: Vec<Filter> = wanted
                .iter()
                .filter(|w| !subscribed.contains(w))
                .map(|(f, q)| Filter::new(f.clone(), q.mqtt()))
                .collect();
            if !added.is_empty() {
                if let Err(e) = self.client.try_subscribe_many(added) {
                    self.log(Level::Warn, &format!("cannot subscribe now ({e}); the filters are subscribed on reconnecting"));
                }
            }
        }
        let mut remembered = self.outbox.remembered_filters().unwrap_or_default();
        remembered.extend(wanted.iter().map(|(f, _)| f.clone()));
        remembered.sort();
        remembered.dedup();
        if let Err(e) = self.outbox.remember_filters(&remembered) {
            self.log(Level::Warn, &format!("cannot remember the subscriptions: {e}"));
        }
        *subscribed = wanted;
    }

    /// Unsubscribes the filters the session holds from earlier runs or
    /// unlinked actors that no route needs now. Run once per connection,
    /// [`GRACE`] after it opened, when the host has bound its actors.
    pub fn unsubscribe_stale(&self) {
        let subscribed = lock(&self.subscribed).clone();
        let remembered = match self.outbox.remembered_filters() {
            Ok(remembered) => remembered,
            Err(e) => {
                self.log(Level::Warn, &format!("cannot read the remembered subscriptions: {e}"));
                return;
            }
        };
        for stale in remembered.iter().filter(|f| !subscribed.iter().any(|(s, _)| s == *f)) {
            self.log(Level::Info, &format!("unsubscribing `{stale}`: no linked actor subscribes to it any more"));
            let _ = self.client.try_unsubscribe(stale.clone());
        }
        let current: Vec<String> = subscribed.into_iter().map(|(f, _)| f).collect();
        if let Err(e) = self.outbox.remember_filters(&current) {
            self.log(Level::Warn, &format!("cannot remember the subscriptions: {e}"));
        }
    }
}

/// A broker connection and its threads.
pub struct Connection {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Connection {
    /// Opens the outbox and starts connecting. Never waits for the broker:
    /// a host that boots with no broker reachable starts, queues QoS 1
    /// publishes, and sends them when the broker appears.
    pub fn open(config: ConnectionConfig, host: Host) -> Result<Connection, ProviderError> {
        let outbox = Outbox::open(&config.outbox, config.outbox_max_entries, config.outbox_max_bytes)
            .map_err(|e| ProviderError::of(ErrorKind::Failed, e.to_string()))?;
        let options = crate::eventloop::options(&config)?;
        let (client, eventloop) = AsyncClient::new(options, OUTBOX_WINDOW + 1024);
        let reply_topic = format!("host-edge/reply/{}", config.client_id);
        let (deliveries, inbox) = crossbeam_channel::bounded(INBOUND_QUEUE);
        let shared = Arc::new(Shared {
            config,
            host,
            client,
            session: Mutex::new(Session::new(OUTBOX_WINDOW)),
            outbox,
            routes: RwLock::default(),
            subscribed: Mutex::default(),
            requests: Requests::default(),
            replies: ReplyTokens::default(),
            reply_topic,
            stopping: AtomicBool::new(false),
            stop: tokio::sync::Notify::new(),
            generation: AtomicU64::new(0),
            last_error: Mutex::new(None),
            started: Instant::now(),
            cleanup_due: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            delivering: AtomicUsize::new(0),
            delivering_bytes: AtomicUsize::new(0),
        });
        let spawn = |name: &str, run: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(run)
                .map_err(|e| ProviderError::new(format!("cannot start the {name} thread: {e}")))
        };
        let io = {
            let shared = Arc::clone(&shared);
            spawn("mqtt-network", Box::new(move || crate::eventloop::run(shared, eventloop, deliveries)))?
        };
        let delivery = {
            let shared = Arc::clone(&shared);
            spawn("mqtt-delivery", Box::new(move || crate::delivery::run(shared, inbox)))
        };
        let delivery = match delivery {
            Ok(handle) => handle,
            Err(e) => {
                shared.stopping.store(true, Ordering::SeqCst);
                shared.stop.notify_one();
                let _ = io.join();
                return Err(e);
            }
        };
        Ok(Connection { shared, threads: Mutex::new(vec![io, delivery]) })
    }

    /// The connection values.
    pub fn config(&self) -> &ConnectionConfig {
        &self.shared.config
    }

    /// Routes `route.actor` through this connection (or updates its route)
    /// and subscribes what it needs.
    pub fn set_route(&self, route: Arc<Route>) {
        {
            let mut routes = self.shared.routes.write().unwrap_or_else(|e| e.into_inner());
            routes.by_actor.insert(route.actor.clone(), route);
            routes.version += 1;
        }
        self.shared.sync_subscriptions();
    }

    /// Stops routing `actor` here; true when no actor is left.
    pub fn remove_route(&self, actor: &str) -> bool {
        let empty = {
            let mut routes = self.shared.routes.write().unwrap_or_else(|e| e.into_inner());
            routes.by_actor.remove(actor);
            routes.version += 1;
            routes.by_actor.is_empty()
        };
        self.shared.sync_subscriptions();
        empty
    }

    /// Publishes for an actor. QoS 1 returns once the message is durably in
    /// the outbox; QoS 0 is handed to the broker at once, or refused when
    /// it is not connected.
    pub fn publish(&self, qos: Qos, topic: &str, payload: &[u8], response_topic: Option<&str>) -> Result<(), ProviderError> {
        match qos {
            Qos::AtLeastOnce => {
                self.shared.outbox.push(topic, payload, response_topic).map_err(|e| match e {
                    full @ OutboxError::Full { .. } => ProviderError::unavailable(format!("publish to `{topic}` refused: {full}")),
                    other => ProviderError::new(format!("publish to `{topic}` failed: {other}")),
                })?;
                self.shared.pump();
                Ok(())
            }
            Qos::AtMostOnce => {
                let properties = PublishProperties { response_topic: response_topic.map(str::to_owned), ..Default::default() };
                self.shared.send_direct(topic, qos, payload, properties)
            }
        }
    }

    /// Publishes an actor's answer to a request it received.
    pub fn reply(&self, qos: Qos, route: ReplyRoute, payload: &[u8]) -> Result<(), ProviderError> {
        let properties = PublishProperties { correlation_data: route.correlation.map(Into::into), ..Default::default() };
        self.shared.send_direct(&route.topic, qos, payload, properties)
    }

    /// Publishes a request and waits up to `timeout` for its reply.
    pub fn request(&self, qos: Qos, topic: &str, payload: &[u8], timeout: Duration) -> Result<Vec<u8>, ProviderError> {
        let (id, reply) = self.shared.requests.open().map_err(|e| ProviderError::new(e.to_string()))?;
        let properties = PublishProperties {
            response_topic: Some(self.shared.reply_topic.clone()),
            correlation_data: Some(id.to_vec().into()),
            ..Default::default()
        };
        let outcome = self.shared.send_direct(topic, qos, payload, properties).and_then(|()| {
            match reply.recv_timeout(timeout) {
                Ok(Ok(body)) => Ok(body),
                Ok(Err(why)) => Err(ProviderError::unavailable(format!("request on `{topic}` failed: {why}"))),
                Err(_) => Err(ProviderError::of(
                    ErrorKind::TimedOut,
                    format!("no reply to the request on `{topic}` within {} ms", timeout.as_millis()),
                )),
            }
        });
        self.shared.requests.close(id);
        outcome
    }

    /// The `replyTo` an actor is shown for a request it receives.
    pub fn replies(&self) -> &ReplyTokens {
        &self.shared.replies
    }

    /// Ok while the broker is connected; otherwise why not, and how much
    /// waits in the outbox.
    pub fn health(&self) -> Result<(), ProviderError> {
        if self.shared.session().is_connected() {
            return Ok(());
        }
        let (entries, bytes) = self.shared.outbox.len();
        Err(ProviderError::unavailable(format!(
            "{}; {entries} messages ({bytes} bytes) wait in the outbox",
            self.shared.not_connected().message()
        )))
    }

    /// Disconnects and joins the threads. The outbox stays on disk.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.stop.notify_one();
        for thread in lock(&self.threads).drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.stop();
    }
}
