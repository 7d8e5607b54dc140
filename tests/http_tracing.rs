//! A reqwest-middleware retry under `tracing_subscriber::fmt`, end to end against the flaky
//! server of `support` on 127.0.0.1. Alone in its binary: `tracing` caches per call site whether
//! anyone listens, and a test without a subscriber on another thread would race with it.
#![cfg(all(feature = "reqwest-middleware", feature = "tracing"))]

mod support;

use std::sync::{Arc, Mutex};

use reqwest_middleware::ClientBuilder;
use stamina::reqwest_middleware::RetryMiddleware;
use stamina::testing::FakeSleeper;
use support::{FlakyServer, Reply};

/// Under `tracing_subscriber::fmt`, a middleware's retry is one short line with each fact
/// once.
#[test]
fn a_middleware_retry_is_one_short_line_under_fmt() {
    let server = FlakyServer::start([Reply::status(503)]);
    let url = server.url("/items?api_key=secret");
    let output = Output::default();
    let writer = output.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let client = ClientBuilder::new(reqwest::Client::new())
                .with(
                    RetryMiddleware::new()
                        .name("inventory")
                        .sleeper(FakeSleeper::new()),
                )
                .build();
            assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
        });
    });
    let text = String::from_utf8(output.0.lock().unwrap().clone()).unwrap();
    let retries: Vec<&str> = text.lines().filter(|l| l.contains("retry_wait")).collect();
    assert_eq!(retries.len(), 1, "{text}");
    let line = retries[0];
    assert!(line.len() <= 200, "{} characters: {line}", line.len());
    for fact in [
        "callable=inventory",
        "retry_num=1",
        "wait_for=",
        "error_type=503",
    ] {
        assert_eq!(line.matches(fact).count(), 1, "{fact} in {line}");
    }
    assert!(!text.contains("secret"), "{text}");
}

/// Where a `tracing_subscriber::fmt` subscriber writes.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
