//! `wascc-fetch`: an actor written as a waSCC user wrote one in 2020,
//! against waSCC's own SDK (`wascc-actor` 0.7) and nothing from host-edge,
//! using `wascc:http_client`.
//!
//! `GET /fetch?URL` fetches `URL` with the same method, and `POST
//! /fetch?URL` posts the request's body there. The answer is 200 with the
//! upstream status code on the first line and the upstream body after it;
//! a refused or failed request answers 500 with the host's message, so the
//! caller sees why.

extern crate wascc_actor as actor;

use std::collections::HashMap;

use actor::prelude::*;
use codec::core::HealthRequest;
use codec::http::{Request, Response};

actor_handlers! {
    codec::http::OP_HANDLE_REQUEST => handle,
    codec::core::OP_HEALTH_REQUEST => health
}

fn handle(request: Request) -> HandlerResult<Response> {
    if request.path != "/fetch" || request.query_string.is_empty() {
        return Ok(Response::not_found());
    }
    let outbound = Request {
        method: request.method.clone(),
        path: request.query_string.clone(),
        query_string: String::new(),
        header: HashMap::new(),
        body: request.body,
    };
    Ok(match actor::http_client::default().request(outbound) {
        Ok(upstream) => {
            let mut body = format!("{}\n", upstream.status_code).into_bytes();
            body.extend_from_slice(&upstream.body);
            Response { body, ..Response::ok() }
        }
        Err(e) => Response::internal_server_error(&e.to_string()),
    })
}

fn health(_req: HealthRequest) -> HandlerResult<()> {
    Ok(())
}
