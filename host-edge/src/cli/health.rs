//! Watching the providers while the host serves: a provider that stops
//! being healthy (a listener gone, a store unreachable) is reported when it
//! happens and when it recovers, and one still unhealthy when the host stops
//! makes the exit status 1, so systemd records the failure.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Sender};
use host_edge_runtime::Host;

/// The watcher thread and what it has seen.
pub struct Watch {
    stop: Sender<()>,
    thread: JoinHandle<()>,
    unhealthy: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Watch {
    /// Starts asking `host`'s providers for their health every `interval`.
    pub fn start(host: Host, interval: Duration) -> Watch {
        let (stop, stopped) = bounded::<()>(1);
        let unhealthy = Arc::new(Mutex::new(BTreeMap::new()));
        let seen = Arc::clone(&unhealthy);
        let thread = std::thread::Builder::new()
            .name("health".into())
            .spawn(move || {
                while stopped.recv_timeout(interval).is_err() {
                    let now: BTreeMap<String, String> = host
                        .status()
                        .providers
                        .into_iter()
                        .filter_map(|p| p.health.err().map(|why| (p.name, why)))
                        .collect();
                    let mut before = seen.lock().unwrap_or_else(|e| e.into_inner());
                    for (name, why) in &now {
                        if before.get(name) != Some(why) {
                            tracing::error!(provider = %name, "provider unhealthy: {why}");
                        }
                    }
                    for name in before.keys().filter(|n| !now.contains_key(*n)) {
                        tracing::info!(provider = %name, "provider healthy again");
                    }
                    *before = now;
                }
            })
            .expect("spawning the health thread");
        Watch { stop, thread, unhealthy }
    }

    /// Stops watching; returns the providers unhealthy at the last look.
    pub fn stop(self) -> BTreeMap<String, String> {
        let _ = self.stop.send(());
        let _ = self.thread.join();
        let unhealthy = self.unhealthy.lock().unwrap_or_else(|e| e.into_inner());
        unhealthy.clone()
    }
}
