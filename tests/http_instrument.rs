//! What an operator reads of the adapters' retries, end to end: a reqwest client with the
//! middleware and a hyper client under the tower layer against the flaky server of `support` on
//! 127.0.0.1, reported by the default hooks to a real logger and the Prometheus exporter's
//! recorder (`tests/http_tracing.rs` has the `tracing_subscriber::fmt` line).
//!
//! The process has one logger: this binary installs one that files records under the thread
//! that emitted them, and each test runs its client on a current-thread runtime, so that it
//! reads back only its own records. The recorder is scoped to the thread.
#![cfg(all(
    feature = "reqwest-middleware",
    feature = "tower",
    feature = "log",
    feature = "metrics"
))]

mod support;

use std::future::Future;
use std::sync::{Mutex, Once, PoisonError};
use std::thread::{self, ThreadId};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use log::{Log, Metadata, Record};
use metrics_exporter_prometheus::PrometheusBuilder;
use reqwest_middleware::ClientBuilder;
use stamina::http::HttpOn;
use stamina::reqwest_middleware::RetryMiddleware;
use stamina::testing::FakeSleeper;
use stamina::tower::RetryLayer;
use support::{FlakyServer, Reply};
use tower::{BoxError, ServiceBuilder, ServiceExt};

struct Capture(Mutex<Vec<(ThreadId, String)>>);

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        if record.target() == "stamina" {
            let line = record.args().to_string();
            let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            lines.push((thread::current().id(), line));
        }
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// What `f` makes of the retries on this thread, run within 10 s: stamina's log messages and
/// the Prometheus text of its counters.
fn observed(f: impl Future<Output = ()>) -> (Vec<String>, String) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&CAPTURE).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Bounded, so that a call that never ends fails its test.
    let bounded = async {
        let ended = tokio::time::timeout(Duration::from_secs(10), f).await;
        ended.expect("the scenario ends within 10 s");
    };
    metrics::with_local_recorder(&recorder, || runtime.block_on(bounded));
    let me = thread::current().id();
    let lines = CAPTURE.0.lock().unwrap_or_else(PoisonError::into_inner);
    let mine = lines.iter().filter(|(id, _)| *id == me);
    let messages = mine.map(|(_, line)| line.clone()).collect();
    (messages, handle.render())
}

/// The counter lines of a Prometheus text, in order.
fn counters(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().filter(|l| l.starts_with("stamina_")).collect();
    lines.sort_unstable();
    lines
}

#[test]
fn the_middleware_reports_statuses_and_transport_classes_and_no_url() {
    let server = FlakyServer::start([Reply::status(503), Reply::Reset, Reply::ok("ok")]);
    let url = server.url("/items?api_key=secret");
    let (messages, text) = observed(async move {
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(
                RetryMiddleware::new()
                    .name("inventory")
                    .wait_jitter(Duration::ZERO)
                    .sleeper(FakeSleeper::new()),
            )
            .build();
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
    });
    assert_eq!(
        messages,
        [
            "stamina.retry_scheduled: inventory: attempt 1 of 10 failed with 503, retrying in 100ms",
            "stamina.retry_scheduled: inventory: attempt 2 of 10 failed with reset, retrying in 200ms",
        ]
    );
    assert_eq!(
        counters(&text),
        [
            r#"stamina_retries_total{callable="inventory",retry_num="1",error_type="503"} 1"#,
            r#"stamina_retries_total{callable="inventory",retry_num="2",error_type="reset"} 1"#,
        ]
    );
    assert!(!text.contains("secret") && !messages.concat().contains("secret"));
}

#[test]
fn unnamed_middlewares_are_named_after_the_method_only() {
    let server = FlakyServer::start([Reply::status(502)]);
    let url = server.url("/items/7?token=secret");
    let (messages, text) = observed(async move {
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(RetryMiddleware::new().sleeper(FakeSleeper::new()))
            .build();
        assert_eq!(client.delete(&url).send().await.unwrap().status(), 200);
    });
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].starts_with(
            "stamina.retry_scheduled: RetryMiddleware DELETE: attempt 1 of 10 failed with 502"
        ),
        "{}",
        messages[0]
    );
    assert_eq!(
        counters(&text),
        [
            r#"stamina_retries_total{callable="RetryMiddleware DELETE",retry_num="1",error_type="502"} 1"#
        ]
    );
}

#[test]
fn the_tower_layer_reports_statuses_and_transport_classes_under_a_short_name() {
    let server = FlakyServer::start([Reply::status(429), Reply::Reset, Reply::ok("ok")]);
    let url = server.url("/items?api_key=secret");
    let (messages, text) = observed(async move {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let service = ServiceBuilder::new()
            .layer(
                RetryLayer::new(HttpOn::new())
                    .wait_jitter(Duration::ZERO)
                    .sleeper(FakeSleeper::new()),
            )
            .map_err(BoxError::from)
            .service(client);
        let request = http::Request::get(url).body(Full::default()).unwrap();
        assert_eq!(service.oneshot(request).await.unwrap().status(), 200);
    });
    // Named after the service the layer wraps, here tower's `MapErr`, without its arguments.
    assert_eq!(
        messages,
        [
            "stamina.retry_scheduled: tower::MapErr: attempt 1 of 10 failed with 429, retrying in 100ms",
            "stamina.retry_scheduled: tower::MapErr: attempt 2 of 10 failed with reset, retrying in 200ms",
        ]
    );
    assert_eq!(
        counters(&text),
        [
            r#"stamina_retries_total{callable="tower::MapErr",retry_num="1",error_type="429"} 1"#,
            r#"stamina_retries_total{callable="tower::MapErr",retry_num="2",error_type="reset"} 1"#,
        ]
    );
    assert!(!text.contains("secret") && !messages.concat().contains("secret"));
}

#[test]
fn a_hedge_is_a_log_record_and_a_counter() {
    let slow = Reply::Slow {
        after: Duration::from_secs(5),
        body: "slow".to_owned(),
    };
    let server = FlakyServer::start([slow, Reply::ok("fast")]);
    let url = server.url("/items");
    let (messages, text) = observed(async move {
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(
                RetryMiddleware::new()
                    .name("inventory")
                    .hedge(stamina::Hedging::after(Duration::from_millis(20))),
            )
            .build();
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.text().await.unwrap(), "fast");
    });
    assert_eq!(
        messages,
        [
            "stamina.hedge_sent: inventory: attempt 2 sent, 2 in flight",
            "stamina.hedge_won: inventory: attempt 2 won, 2 in flight",
        ]
    );
    assert_eq!(
        counters(&text),
        [r#"stamina_hedges_total{callable="inventory",hedge_num="2"} 1"#]
    );
}
