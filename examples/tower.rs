//! Retries in a tower stack: a hyper client wrapped by `stamina::tower::RetryLayer`.
//!
//! - `stamina::http::HttpOn`, the HTTP classification the reqwest middleware uses too, sees the
//!   response or the error: 408, 429, 500, 502, 503 and 504 are retried, after the server's
//!   `Retry-After` when it sent one, and so are connection failures, timeouts and resets;
//!   other statuses are the answer;
//! - `http` requests with a `Clone` body are `Clone`: each attempt sends a copy;
//! - a per-attempt timeout cuts a hung request (with one, the service's errors are
//!   `tower::BoxError`s, the hyper client's in the box), and a total deadline bounds the call;
//! - every retry reaches the hooks: here, the `log` records printed by `env_logger`, which
//!   report a response by its status code and an error by its class (`timeout`).
//!
//! `cargo run --example tower --features tower,tokio` (against a flaky server on 127.0.0.1)

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use stamina::http::HttpOn;
use stamina::tower::RetryLayer;
use support::{FlakyServer, Reply};
use tower::{BoxError, ServiceBuilder, ServiceExt};

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

    let retry = RetryLayer::new(HttpOn::new())
        .name("orders.client")
        .attempts(4)
        .timeout(Duration::from_secs(5))
        .wait_initial(Duration::from_millis(50))
        .wait_jitter(Duration::from_millis(50))
        .attempt_timeout(Duration::from_millis(500));
    let client = ServiceBuilder::new()
        .layer(retry)
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
