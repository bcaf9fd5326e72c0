//! A minimal, bounded benchmark runner: every measurement stops at a count
//! or a time limit, whichever comes first, and reports the median.

use std::time::{Duration, Instant};

/// Runs `f` for up to `max_iterations` or `max_time` (after `warmup`
/// untimed runs) and prints the median, 10th and 90th percentile.
pub fn measure(name: &str, warmup: u32, max_iterations: u32, max_time: Duration, mut f: impl FnMut()) -> Duration {
    for _ in 0..warmup {
        f();
    }
    let mut samples = Vec::with_capacity(max_iterations as usize);
    let start = Instant::now();
    while samples.len() < max_iterations as usize && start.elapsed() < max_time {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    let median = at(0.5);
    println!(
        "{name:<44} median {:>10.2?}   p10 {:>10.2?}   p90 {:>10.2?}   n={}",
        median,
        at(0.1),
        at(0.9),
        samples.len()
    );
    median
}

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// One keep-alive HTTP/1.1 GET that must answer 200; returns the body.
pub fn get(stream: &mut BufReader<TcpStream>, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nhost: bench\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).unwrap();
    let mut length = 0;
    let mut status = String::new();
    stream.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

/// A keep-alive connection with Nagle off, as HTTP clients use.
pub fn connect(port: u16) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nodelay(true).unwrap();
    BufReader::new(stream)
}

/// What a load run measured.
#[derive(Debug)]
pub struct LoadReport {
    /// Requests answered.
    pub requests: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// Median latency.
    pub median: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// The body of one more request after the load.
    pub last: String,
}

impl LoadReport {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Prints one line: rate, median, p99, count, memory `(rss, peak)` KiB.
    pub fn print(name: &str, load: &LoadReport, memory: Option<(u64, u64)>) {
        let memory = memory.map_or(String::new(), |(rss, hwm)| format!("   RSS {rss} KiB (peak {hwm} KiB)"));
        println!(
            "{name:<40} {:>8.0} req/s   median {:>9.2?}   p99 {:>9.2?}   n={}{memory}   last={}",
            load.rate(),
            load.median,
            load.p99,
            load.requests,
            load.last
        );
    }
}

/// `clients` keep-alive clients GET `path` on loopback `port` until they
/// made `max_requests` between them or `max_time` passed (after 50
/// warm-up requests).
pub fn load(port: u16, path: &str, clients: usize, max_requests: usize, max_time: Duration) -> LoadReport {
    let mut warm = connect(port);
    for _ in 0..50 {
        get(&mut warm, path);
    }
    let per_client = max_requests / clients;
    let started = Instant::now();
    let results: Vec<Vec<Duration>> = std::thread::scope(|s| {
        let running: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(move || {
                    let mut stream = connect(port);
                    let mut samples = Vec::with_capacity(per_client);
                    while samples.len() < per_client && started.elapsed() < max_time {
                        let t = Instant::now();
                        get(&mut stream, path);
                        samples.push(t.elapsed());
                    }
                    samples
                })
            })
            .collect();
        running.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let mut samples: Vec<Duration> = results.into_iter().flatten().collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    // On a new connection: the warm-up one sat idle through the load, past
    // the server's header-read timeout.
    drop(warm);
    LoadReport { requests: samples.len(), elapsed, median: at(0.5), p99: at(0.99), last: get(&mut connect(port), path) }
}

/// VmRSS and VmHWM of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `module` with a custom section `pad` of incompressible bytes making it
/// `size` bytes in all (a large module with the module's own code).
pub fn padded(module: &[u8], size: usize, seed: u8) -> Vec<u8> {
    let name = b"pad";
    // id, size (5-byte LEB128), name length, name, data
    let data_len = size - module.len() - 1 - 5 - 1 - name.len();
    let content = 1 + name.len() + data_len;
    let mut out = module.to_vec();
    out.push(0);
    let mut n = content as u32;
    for i in 0..5 {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        out.push(if i < 4 { byte | 0x80 } else { byte });
    }
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    out.extend((0..data_len).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    out
}

/// A native counter server: hyper (HTTP/1.1, Nagle off) on two tokio
/// workers on loopback `port`, answering each GET with `{"counter":N}`,
/// N from `increment` of the path as a key (`/a/b` is `:a:b`).
pub fn native_counter<F, Fut>(port: u16, runtime: tokio::runtime::Runtime, increment: F) -> tokio::runtime::Runtime
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = i64> + Send + 'static,
{
    use http_body_util::Full;
    use hyper::body::Bytes;
    let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).unwrap();
    runtime.spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            let increment = increment.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let n = increment(request.uri().path().replace('/', ":"));
                    async move {
                        let body = format!("{{\"counter\":{}}}", n.await);
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    runtime
}

/// The runtime [`native_counter`] runs on: two worker threads.
pub fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Stops a `host-edge run` child with SIGTERM, as systemd does, and waits.
pub fn stop(mut child: std::process::Child) {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// The release build's provider library `name`.
pub fn library(name: &str) -> String {
    testkit::release_build().join(format!("lib{name}.so")).display().to_string()
}

/// The release build of the provider `name` as a signed provider archive
/// (issued by `testkit::provider_issuer`), as a board loads it.
pub fn archive(name: &str) -> String {
    let release = testkit::release_build();
    let output = release.join(format!("{name}.par"));
    let capability = testkit::provider_capability(name);
    testkit::sign_provider(&release.join(format!("lib{name}.so")), capability, &output).display().to_string()
}

/// Manifest entries for `actor` (signed, at `file`) with `instances`,
/// linked to the provider `kv` with `kv_values` (an inline table) and to
/// HTTP on `port`: the demo's actor and links (demo/counter.toml).
pub fn actor_entries(file: &str, name: &str, instances: usize, kv_values: &str, port: u16) -> String {
    let unused = std::path::Path::new("");
    let mut manifest = testkit::host::demo_manifest(unused, unused, &port.to_string());
    manifest["actor"][0]["path"] = file.into();
    manifest["actor"][0]["instances"] = i64::try_from(instances).expect("a sane instance count").into();
    for link in manifest["link"].as_array_mut().expect("the demo has links") {
        link["actor"] = name.into();
    }
    testkit::host::link_mut(&mut manifest, "wascc:keyvalue")["values"] = testkit::host::toml_value(kv_values);
    testkit::host::entries_text(manifest, &["actor", "link"])
}

/// `[[provider]]` entries: `kv` (a provider library name such as
/// `keyvalue_sqlite`) and `http`, from the release build, as the demo names
/// them.
pub fn providers(kv: &str) -> String {
    let (kv, http) = (archive(kv), archive("http_server"));
    let manifest = testkit::host::demo_manifest(std::path::Path::new(&kv), std::path::Path::new(&http), "0");
    testkit::host::entries_text(manifest, &["provider"])
}

/// `host-edge run` for `manifest` in `dir`.
pub fn run_host(dir: &std::path::Path, manifest: &str) -> std::process::Child {
    std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
    std::process::Command::new(testkit::release_build().join("host-edge"))
        .current_dir(dir)
        .args(["run", "manifest.toml", "--control", "control.sock"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}
