//! A small HTTP/1.1 server on loopback for the HTTP client's tests: it
//! answers a few fixed routes, remembers every request it got, and can
//! hold a request without ever answering.
//!
//! Routes: `/hello` (200, `hello from upstream`), `/echo` (200, the method
//! and the body), `/bytes/N` (200, `N` bytes), `/redirect?URL` (302 to
//! `URL`), `/silent` (reads the request, answers nothing for up to a
//! minute), anything else 404.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The server; it stops accepting when dropped.
#[derive(Debug)]
pub struct Upstream {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stopping: Arc<AtomicBool>,
}

impl Upstream {
    /// Starts serving on a free loopback port.
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let (log, stop) = (Arc::clone(&seen), Arc::clone(&stopping));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Upstream { port, seen, stopping }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `path` on it.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The request lines it got (`GET /hello`), in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request and answers it (one request per connection).
fn serve(stream: TcpStream, seen: &Mutex<Vec<String>>) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    seen.lock().unwrap().push(format!("{method} {target}"));
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (status, headers, answer): (&str, String, Vec<u8>) = match path {
        "/hello" => ("200 OK", String::new(), b"hello from upstream".to_vec()),
        "/echo" => ("200 OK", String::new(), [method.as_bytes(), b" ", &body].concat()),
        "/redirect" => ("302 Found", format!("location: {query}\r\n"), Vec::new()),
        "/silent" => {
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
        _ => match path.strip_prefix("/bytes/").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => ("200 OK", String::new(), vec![b'x'; n]),
            None => ("404 Not Found", String::new(), b"no such route".to_vec()),
        },
    };
    let mut stream = stream;
    let head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n", answer.len());
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&answer);
    // Close gracefully: closing a socket with unread input sends a reset,
    // which can cut the answer short at the client.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = std::io::copy(&mut reader, &mut std::io::sink());
}
