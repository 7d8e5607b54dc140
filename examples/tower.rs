//! Retries in a tower stack: a hyper client wrapped by `stamina::tower::RetryLayer`.
//!
//! - the predicate sees the response or the error: 5xx and 429 are retried, after the server's
//!   `Retry-After` when it sent one, other statuses are the answer;
//! - `http` requests are copied for each attempt with `clone_http_request`;
//! - a per-attempt timeout cuts a hung request (the errors are boxed first, so that a timed-out
//!   attempt can be one of them), and a total deadline bounds the whole call;
//! - every retry reaches the hooks: here, the `log` records printed by `env_logger`.
//!
//! `cargo run --example tower --features tower,tokio` (against a flaky server on 127.0.0.1)

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use stamina::Decision;
use stamina::tower::{RetryLayer, clone_http_request};
use support::{FlakyServer, Reply};
use tower::{BoxError, ServiceBuilder, ServiceExt};

/// What is worth retrying: 5xx and 429 (after `Retry-After`), and transport errors, timed-out
/// attempts included. Any other response is the answer, a 404 too.
fn on(outcome: &Result<Response<Incoming>, BoxError>) -> Decision {
    match outcome {
        Ok(response) if response.status().is_server_error() || response.status() == 429 => response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(stamina::retry_after)
            .map_or(Decision::Retry, Decision::RetryAfter),
        Ok(_) => Decision::DontRetry,
        Err(_) => Decision::Retry,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    // stamina's warn records (target `stamina`), printed by a logger.
    env_logger::Builder::new()
        .parse_filters("stamina=warn")
        .format_timestamp(None)
        .target(env_logger::Target::Stdout)
        .init();
    let server = FlakyServer::start([
        // GET /orders
        Reply::status(503),
        Reply::status(429).retry_after("1"),
        Reply::ok("[order 1, order 2]"),
        // GET /slow
        Reply::Hang,
        Reply::ok("finally"),
        // GET /missing
        Reply::status(404),
    ]);

    let retry = RetryLayer::new(on)
        .name("orders.client")
        .attempts(4)
        .timeout(Duration::from_secs(5))
        .wait_initial(Duration::from_millis(50))
        .wait_jitter(Duration::from_millis(50))
        .attempt_timeout(Duration::from_millis(500))
        .clone_requests_with(clone_http_request);
    let client = ServiceBuilder::new()
        .layer(retry)
        .map_err(BoxError::from)
        .service(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());

    for path in ["/orders", "/slow", "/missing"] {
        let request = Request::get(server.url(path)).body(Full::default())?;
        let response = client.clone().oneshot(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        println!("GET {path}: {status} {}", String::from_utf8_lossy(&body));
    }
    println!("requests served: {}", server.hits());
    Ok(())
}
