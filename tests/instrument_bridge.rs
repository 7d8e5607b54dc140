//! With both the `log` and `tracing` features, under a `tracing_subscriber::fmt()` subscriber
//! installed as applications do (`init()`, which also bridges `log` records into `tracing`):
//! one line per retry and per give-up, not two.
//!
//! The subscriber and the bridge are process-wide, so this binary holds a single test.
#![cfg(all(feature = "log", feature = "tracing"))]

use std::io;
use std::sync::{Arc, Mutex};

use stamina::RetryingCaller;
use stamina::instrument::{self, Level};
use stamina::testing::FakeClock;

#[derive(Debug)]
struct Flaky;

/// Where the subscriber writes.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<u8>>>);

impl io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Output {
    fn take(&self) -> Vec<String> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|line| line.contains(needle)).count()
}

#[test]
fn one_line_per_retry_with_log_bridged_into_tracing() {
    let output = Output::default();
    let writer = output.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .without_time()
        .with_max_level(tracing::Level::TRACE)
        .init();
    // A library that logs through `log` still reaches the subscriber (the bridge is on).
    log::warn!(target: "other", "bridged");
    assert_eq!(count(&output.take(), "bridged"), 1);

    let caller = RetryingCaller::new()
        .attempts(3)
        .clock(FakeClock::new())
        .name("fetch")
        .on(|_: &Flaky| true);
    assert!(caller.call(|| Err::<(), _>(Flaky)).is_err());
    let lines = output.take();
    // The `tracing` hook's lines; the `log` hook's records (whose message starts with their
    // name) are left to it.
    assert_eq!(count(&lines, "stamina.retry_wait{"), 2, "{lines:#?}");
    assert_eq!(count(&lines, "stamina: gave up "), 1, "{lines:#?}");
    assert_eq!(count(&lines, "stamina.retr"), 2, "{lines:#?}");
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines
            .iter()
            .all(|line| line.trim_start().starts_with("WARN ")),
        "{lines:#?}"
    );

    // The level is settable, process-wide and per loop.
    instrument::set_level(Level::Info);
    assert!(caller.call(|| Err::<(), _>(Flaky)).is_err());
    let lines = output.take();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines
            .iter()
            .all(|line| line.trim_start().starts_with("INFO ")),
        "{lines:#?}"
    );
    let debug = caller.clone().log_level(Level::Debug).on(|_: &Flaky| true);
    assert!(debug.call(|| Err::<(), _>(Flaky)).is_err());
    let lines = output.take();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines
            .iter()
            .all(|line| line.trim_start().starts_with("DEBUG ")),
        "{lines:#?}"
    );
    instrument::set_level(Level::Warn);

    // Without the tracing hook, the log hook's records come through the bridge, once.
    stamina::set_on_retry_hooks([instrument::log_hook()]);
    assert!(caller.call(|| Err::<(), _>(Flaky)).is_err());
    let lines = output.take();
    assert_eq!(
        count(&lines, "stamina.retry_scheduled: fetch: "),
        2,
        "{lines:#?}"
    );
    assert_eq!(
        count(&lines, "stamina.retries_exhausted: fetch: "),
        1,
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 3, "{lines:#?}");

    // A renamed `tracing` hook still traces, and the `log` hook still leaves the events to it.
    stamina::set_on_retry_hooks([
        instrument::log_hook(),
        instrument::tracing_hook().named("traces"),
    ]);
    assert!(caller.call(|| Err::<(), _>(Flaky)).is_err());
    let lines = output.take();
    assert_eq!(count(&lines, "stamina.retry_wait{"), 2, "{lines:#?}");
    assert_eq!(count(&lines, "stamina.retr"), 2, "{lines:#?}");
    assert_eq!(lines.len(), 3, "{lines:#?}");
    stamina::set_on_retry_hooks(None);
}
