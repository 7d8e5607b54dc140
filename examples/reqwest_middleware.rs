//! Retries in a reqwest client: `stamina::reqwest_middleware::RetryMiddleware` in a
//! `reqwest-middleware` `ClientWithMiddleware`.
//!
//! - HTTP defaults: connection failures, timeouts, resets and 408, 429, 500, 502, 503, 504 are
//!   retried, after the server's `Retry-After`; other 4xx come back at once;
//! - the attempt timeout and the deadline cut an attempt still waiting for its response, so a
//!   hung server cannot hold the call past them; a response's body is the caller's to read;
//! - a request with a streaming body is sent once: its response comes back as it is;
//! - every retry reaches the hooks: here, the `log` records printed by `env_logger` and the
//!   `metrics` counters rendered by the Prometheus exporter, which report a response by its
//!   status code and an error by its class (`reset`, `timeout`).
//!
//! `cargo run --example reqwest_middleware --features reqwest-middleware` (against a flaky
//! server on 127.0.0.1)

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use http_body_util::StreamBody;
use hyper::body::{Bytes, Frame};
use reqwest_middleware::ClientBuilder;
use stamina::reqwest_middleware::RetryMiddleware;
use support::{FlakyServer, Reply};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), reqwest_middleware::Error> {
    // stamina's warn records (target `stamina`), printed by a logger, and its counters.
    env_logger::Builder::new()
        .parse_filters("stamina=warn")
        .format_timestamp(None)
        .target(env_logger::Target::Stdout)
        .init();
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("a metrics recorder");
    let server = FlakyServer::start([
        // GET /orders
        Reply::status(503),
        Reply::Reset,
        Reply::status(429).retry_after("1"),
        Reply::ok("[order 1, order 2]"),
        // GET /missing
        Reply::status(404),
        // GET /report: two attempts fit in its 500 ms
        Reply::Hang,
        Reply::Hang,
        // POST /upload, with a streaming body
        Reply::status(503),
    ]);

    let client = ClientBuilder::new(reqwest::Client::new())
        .with(
            RetryMiddleware::new()
                .name("orders.client")
                .attempts(5)
                .timeout(Duration::from_secs(5))
                .wait_initial(Duration::from_millis(50))
                .wait_jitter(Duration::from_millis(50))
                .attempt_timeout(Duration::from_secs(2)),
        )
        .build();

    for path in ["/orders", "/missing"] {
        let response = client.get(server.url(path)).send().await?;
        println!(
            "GET {path}: {} {}",
            response.status(),
            response.text().await?
        );
    }

    // The report hangs: each attempt is cut at the least of the attempt timeout (200 ms) and
    // the time left; the call ends with the last cut attempt's error after the attempts that
    // fit in 500 ms.
    let started = std::time::Instant::now();
    let short = ClientBuilder::new(reqwest::Client::new())
        .with(
            RetryMiddleware::new()
                .timeout(Duration::from_millis(500))
                .wait_jitter(Duration::ZERO)
                .attempt_timeout(Duration::from_millis(200)),
        )
        .build();
    let report = short.get(server.url("/report")).send().await;
    println!(
        "GET /report: {} after {:.1?}",
        report.map_or_else(|e| e.to_string(), |r| r.status().to_string()),
        started.elapsed()
    );

    // A streaming body cannot be sent twice: the first answer is the call's.
    let chunks =
        ["part 1, ", "part 2"].map(|c| Ok::<_, std::io::Error>(Frame::data(Bytes::from(c))));
    let body = reqwest::Body::wrap(StreamBody::new(futures::stream::iter(chunks)));
    let response = client.post(server.url("/upload")).body(body).send().await?;
    println!("POST /upload (streaming): {}", response.status());

    println!("requests served: {}", server.hits());
    print!("{}", prometheus.render());
    Ok(())
}
