//! `wasi-hello`: an actor built for `wasm32-wasip1` (not part of the
//! default build; `cargo build --release --target wasm32-wasip1 -p
//! wasi-hello`). It uses the WASI calls host-edge serves: `GET /hello`
//! prints a line to stdout and one to stderr, draws two random numbers,
//! reads the wall clock and the monotonic clock, counts the environment
//! and the arguments, and answers `random=A,B now=SECONDS ...` one per line.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use host_edge_actor::prelude::*;

actor_handlers! { http::HANDLE_REQUEST => hello }

fn hello(request: http::Request) -> HandlerResult<http::Response> {
    let started = Instant::now();
    println!("hello from wasi at {}", request.path);
    eprintln!("and a line on stderr");
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    let (a, b) = bytes.split_at(8);
    let random = [a, b].map(|half| u64::from_le_bytes(half.try_into().expect("8 bytes")));
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let (env, args) = (std::env::vars().count(), std::env::args().count());
    let elapsed = started.elapsed().as_nanos();
    let text = format!("random={},{}\nnow={now}\nelapsed_ns={elapsed}\nenv={env}\nargs={args}\n", random[0], random[1]);
    Ok(http::Response::ok().with_text(text))
}
