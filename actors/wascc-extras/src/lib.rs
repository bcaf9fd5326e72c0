//! `wascc-extras`: an actor written as a waSCC user wrote one in 2020,
//! against waSCC's own SDK (`wascc-actor` 0.7) and the `log` facade, with
//! nothing from host-edge. waSCC served `wascc:extras` and `wascc:logging`
//! to every actor that claimed them without any configuration; this actor
//! proves host-edge does too.
//!
//! Over HTTP (`wascc:http_server`):
//! - `GET /generate`: a GUID, the next number of the default sequence and a
//!   random number in 1..=6, one per line (`guid=…`, `sequence=…`,
//!   `random=…`), and an info log line saying so;
//! - `GET /sequence/NAME`: the next number of the sequence of the binding
//!   `NAME`;
//! - `GET /random/MIN/MAX`: a random number in `MIN..=MAX`;
//! - `GET /log/COUNT`: logs `COUNT` info lines (`chatty line i of COUNT`)
//!   and answers when done, so a test can flood the log;
//! - `GET /levels`: one line at each level, error to trace.
//!
//! A failed host call answers 500 with the host's message.

extern crate wascc_actor as actor;

use actor::prelude::*;
use codec::core::HealthRequest;
use codec::http::{Request, Response};
use log::{debug, error, info, trace, warn};

actor_handlers! {
    codec::http::OP_HANDLE_REQUEST => handle,
    codec::core::OP_HEALTH_REQUEST => health
}

fn handle(request: Request) -> HandlerResult<Response> {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let answer = match segments.as_slice() {
        ["generate"] => generate(),
        ["sequence", name] => extras::host(name).get_sequence_number().map(|n| n.to_string()),
        ["random", min, max] => match (min.parse(), max.parse()) {
            (Ok(min), Ok(max)) => extras::default().get_random(min, max).map(|n| n.to_string()),
            _ => return Ok(Response::bad_request()),
        },
        ["log", count] => match count.parse::<u32>() {
            Ok(count) => {
                for i in 1..=count {
                    info!("chatty line {} of {}", i, count);
                }
                Ok(format!("logged {}", count))
            }
            Err(_) => return Ok(Response::bad_request()),
        },
        ["levels"] => {
            error!("an error line");
            warn!("a warn line");
            info!("an info line");
            debug!("a debug line");
            trace!("a trace line");
            Ok("logged 5 levels".to_string())
        }
        _ => return Ok(Response::not_found()),
    };
    Ok(match answer {
        Ok(body) => Response { body: body.into_bytes(), ..Response::ok() },
        Err(e) => Response::internal_server_error(&e.to_string()),
    })
}

fn generate() -> HandlerResult<String> {
    let generator = extras::default();
    let guid = generator.get_guid()?;
    let sequence = generator.get_sequence_number()?;
    let random = generator.get_random(1, 6)?;
    info!("handed out sequence {} and guid {}", sequence, guid);
    Ok(format!("guid={}\nsequence={}\nrandom={}\n", guid, sequence, random))
}

fn health(_req: HealthRequest) -> HandlerResult<()> {
    Ok(())
}
