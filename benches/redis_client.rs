//! What one Redis command costs in CPU, the client's and the server's, when
//! callers block on their own connections (the Redis provider today: an
//! actor worker sends its command and sleeps until the answer comes) and
//! when they share one multiplexed connection (what asynchronous host calls
//! would let the provider do: many commands written and read per wake-up).
//!
//! The question it answers: how much of a request's CPU asynchronous host
//! calls could save on the Redis side, at the numbers of commands in flight
//! the actors benchmark has (4 instances; 16 HTTP clients).
//!
//! Three ways, each at 1, 4 and 16 callers, every caller sending `INCRBY` in
//! a loop, bounded by [`COMMANDS`] in all and [`MAX_TIME`]:
//! - **blocking**: a thread per caller, each with its own connection;
//! - **blocking on multiplexed**: a thread per caller, all blocking on one
//!   multiplexed connection driven by a one-thread tokio runtime (a provider
//!   made asynchronous inside, its callers still blocking);
//! - **async multiplexed**: tasks on that runtime, no caller thread at all
//!   (what the provider could do if host calls did not block).
//!
//! CPU is read from `/proc/self/stat` (this process: callers and runtime)
//! and from Redis's `INFO cpu` (the server), per command.
//!
//! Run with `cargo bench -p host-edge-benches --bench redis_client`.

use std::time::{Duration, Instant};

use testkit::redis_url;

const COMMANDS: usize = 80_000;
const MAX_TIME: Duration = Duration::from_secs(10);
const KEY: &str = "host-edge-bench:redis-client";

/// This process's CPU time (user + system), seconds.
fn own_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime, fields 14 and 15 of stat(5), counted after the ")".
    (ticks(11) + ticks(12)) / 100.0
}

/// The Redis server's CPU time (user + system), seconds, from `INFO cpu`.
fn server_cpu(connection: &mut redis::Connection) -> f64 {
    let info: String = redis::cmd("INFO").arg("cpu").query(connection).expect("INFO cpu");
    info.lines()
        .filter(|line| line.starts_with("used_cpu_sys:") || line.starts_with("used_cpu_user:"))
        .filter_map(|line| line.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum()
}

#[derive(Clone, Copy, PartialEq)]
enum Way {
    Blocking,
    BlockingOnMultiplexed,
    AsyncMultiplexed,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Blocking => "blocking, a connection each",
            Way::BlockingOnMultiplexed => "blocking on one multiplexed",
            Way::AsyncMultiplexed => "async tasks, one multiplexed",
        }
    }
}

/// Runs `callers` callers the `way` says, each sending `INCRBY` until
/// [`COMMANDS`] are sent in all or [`MAX_TIME`] is up; returns how many
/// commands were answered.
fn drive(client: &redis::Client, way: Way, callers: usize) -> usize {
    let each = COMMANDS / callers;
    let started = Instant::now();
    let in_time = move || started.elapsed() < MAX_TIME;
    // The runtime that drives the multiplexed connection; the blocking way
    // has none.
    let runtime = || tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a tokio runtime");
    match way {
        Way::Blocking => {
            let threads: Vec<_> = (0..callers)
                .map(|_| {
                    let mut connection = client.get_connection().expect("a Redis connection");
                    std::thread::spawn(move || {
                        let mut sent = 0;
                        while sent < each && in_time() {
                            let _: i64 = redis::cmd("INCRBY").arg(KEY).arg(1).query(&mut connection).expect("INCRBY");
                            sent += 1;
                        }
                        sent
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().expect("a caller")).sum()
        }
        Way::BlockingOnMultiplexed => {
            let runtime = runtime();
            let shared = runtime.block_on(client.get_multiplexed_async_connection()).expect("a multiplexed connection");
            let threads: Vec<_> = (0..callers)
                .map(|_| {
                    let handle = runtime.handle().clone();
                    let shared = shared.clone();
                    std::thread::spawn(move || {
                        let mut sent = 0;
                        while sent < each && in_time() {
                            let mut connection = shared.clone();
                            let _: i64 = handle
                                .block_on(async move { redis::cmd("INCRBY").arg(KEY).arg(1).query_async(&mut connection).await })
                                .expect("INCRBY");
                            sent += 1;
                        }
                        sent
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().expect("a caller")).sum()
        }
        Way::AsyncMultiplexed => runtime().block_on(async {
            let shared = client.get_multiplexed_async_connection().await.expect("a multiplexed connection");
            let tasks: Vec<_> = (0..callers)
                .map(|_| {
                    let mut connection = shared.clone();
                    tokio::spawn(async move {
                        let mut sent = 0;
                        while sent < each && in_time() {
                            let _: i64 = redis::cmd("INCRBY").arg(KEY).arg(1).query_async(&mut connection).await.expect("INCRBY");
                            sent += 1;
                        }
                        sent
                    })
                })
                .collect();
            let mut sent = 0;
            for task in tasks {
                sent += task.await.expect("a caller");
            }
            sent
        }),
    }
}

fn main() {
    let client = redis::Client::open(redis_url()).expect("the Redis URL");
    let mut info = client.get_connection().expect("Redis answers (bash .ci/setup starts one)");
    println!("CPU per INCRBY, this process (callers, runtime) and redis-server; {COMMANDS} commands or {MAX_TIME:?} per row");
    for round in 1..=2 {
        for callers in [1, 4, 16] {
            for way in [Way::Blocking, Way::BlockingOnMultiplexed, Way::AsyncMultiplexed] {
                let (client_before, server_before) = (own_cpu(), server_cpu(&mut info));
                let started = Instant::now();
                let sent = drive(&client, way, callers);
                let elapsed = started.elapsed();
                let (client_used, server_used) = (own_cpu() - client_before, server_cpu(&mut info) - server_before);
                let per = |seconds: f64| seconds * 1e6 / sent.max(1) as f64;
                println!(
                    "round {round}, {callers:>2} in flight, {:<30} {:>7.0} commands/s   client {:>5.1} µs   server {:>5.1} µs   both {:>5.1} µs",
                    way.name(),
                    sent as f64 / elapsed.as_secs_f64(),
                    per(client_used),
                    per(server_used),
                    per(client_used + server_used),
                );
            }
        }
    }
    let _: () = redis::cmd("DEL").arg(KEY).query(&mut info).expect("DEL");
}
