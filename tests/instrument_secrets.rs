//! What the built-in hooks show of an error, end to end: a reqwest client on tokio calls a
//! server on 127.0.0.1 with a secret in the URL's query string, and the test reads every log
//! record and metric label the retries produce.
//!
//! The setting is process-wide, so this binary holds one test that walks through the cases.
#![cfg(all(feature = "tokio", feature = "log", feature = "metrics"))]

mod support;

use std::sync::{Mutex, PoisonError};
use std::thread::{self, ThreadId};

use log::kv::{Error, Key, Value, VisitSource};
use log::{Log, Metadata, Record};
use metrics_util::debugging::DebuggingRecorder;
use stamina::AsyncRetryingCaller;
use stamina::instrument::{self, ShowError};
use stamina::testing::FakeSleeper;
use support::{FlakyServer, Reply};

const SECRET: &str = "SECRET-TOKEN";

/// Every record as one line of text: the message and every key-value.
struct Capture(Mutex<Vec<(ThreadId, String)>>);

struct Line(String);

impl<'kvs> VisitSource<'kvs> for Line {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), Error> {
        self.0.push_str(&format!(" {key}={value}"));
        Ok(())
    }
}

impl Log for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "stamina"
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = Line(record.args().to_string());
        record.key_values().visit(&mut line).unwrap();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((thread::current().id(), line.0));
    }

    fn flush(&self) {}
}

static LOGGER: Capture = Capture(Mutex::new(Vec::new()));

/// The log lines and metric label values of a call that fails twice (two 503s, each a
/// `reqwest::Error` carrying the URL) with `caller`, whose predicate shows hooks the error.
fn output(caller: &AsyncRetryingCaller<FakeSleeper>) -> Vec<String> {
    let server = FlakyServer::start([Reply::status(503), Reply::status(503)]);
    let url = server.url(&format!("/orders?api_key={SECRET}"));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let result = caller
                .call(stamina::typed(|_: &reqwest::Error| true), || async {
                    client.get(&url).send().await?.error_for_status()?;
                    Ok(())
                })
                .await;
            let error = result.unwrap_err();
            // The error the caller gets back does carry the secret: the hooks must not copy it.
            assert!(format!("{error:?}").contains(SECRET));
        });
    });
    let me = thread::current().id();
    let mut lines: Vec<String> = LOGGER
        .0
        .lock()
        .unwrap()
        .drain(..)
        .filter(|(thread, _)| *thread == me)
        .map(|(_, line)| line)
        .collect();
    for (key, _, _, _) in snapshotter.snapshot().into_vec() {
        lines.extend(
            key.key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value())),
        );
    }
    lines
}

fn leaks(lines: &[String]) -> bool {
    lines.iter().any(|line| line.contains(SECRET))
}

#[test]
fn a_secret_in_an_error_never_reaches_the_logs_or_labels_with_the_safe_setting() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let caller = AsyncRetryingCaller::new()
        .attempts(2)
        .name("orders")
        .sleeper(FakeSleeper::new());

    // The default shows the error's type only.
    let lines = output(&caller);
    assert!(!leaks(&lines), "{lines:#?}");
    assert_eq!(lines.len(), 2 + 3 + 3, "{lines:#?}"); // a retry and a give-up, 2 counters
    assert!(
        lines[0].ends_with(" caused_by=reqwest::Error"),
        "{lines:#?}"
    );

    // `Debug` (and `Display`: reqwest writes the URL in both) shows what the error carries.
    instrument::set_show_error(ShowError::Debug);
    assert!(leaks(&output(&caller)));

    // A loop's own setting wins over the process-wide one.
    let safe = caller.clone().show_error(ShowError::Type);
    let lines = output(&safe);
    assert!(!leaks(&lines), "{lines:#?}");

    // A function of the error can show what is safe of it, here the status only.
    fn status(
        cause: stamina::instrument::Cause<'_>,
        f: &mut std::fmt::Formatter<'_>,
    ) -> std::fmt::Result {
        match cause
            .downcast_ref::<reqwest::Error>()
            .and_then(reqwest::Error::status)
        {
            Some(status) => write!(f, "HTTP {}", status.as_u16()),
            None => f.write_str(cause.type_name()),
        }
    }
    let shown = caller.clone().show_error(ShowError::With(status));
    let lines = output(&shown);
    assert!(!leaks(&lines), "{lines:#?}");
    assert!(lines[0].ends_with(" caused_by=HTTP 503"), "{lines:#?}");
    instrument::set_show_error(ShowError::Type);
}
