//! The built-in `log` hook, observed through a capturing logger.
//!
//! A process has one logger, so this binary installs one that files every record under the
//! thread that emitted it: each test reads back only its own records, and the tests still run
//! in parallel.
#![cfg(feature = "log")]

use std::sync::{Mutex, Once, PoisonError};
use std::thread::{self, ThreadId};
use std::time::Duration;

use futures::executor::block_on;
use log::kv::{Error, Key, Value, VisitSource};
use log::{Level, Log, Metadata, Record};
use stamina::testing::{FakeClock, FakeSleeper, Testing, thread_active, thread_testing};
use stamina::{AsyncRetryingCaller, RetryingCaller, retry_context};

#[derive(Debug, PartialEq)]
struct Flaky;

/// A record as the tests compare it: level, target, message, key-values in order.
#[derive(Debug, PartialEq)]
struct Captured {
    level: Level,
    target: String,
    message: String,
    kvs: Vec<(String, String)>,
}

struct Capture {
    records: Mutex<Vec<(ThreadId, Captured)>>,
}

struct Pairs(Vec<(String, String)>);

impl<'kvs> VisitSource<'kvs> for Pairs {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), Error> {
        self.0.push((key.to_string(), value.to_string()));
        Ok(())
    }
}

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let mut kvs = Pairs(Vec::new());
        record.key_values().visit(&mut kvs).unwrap();
        let captured = Captured {
            level: record.level(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
            kvs: kvs.0,
        };
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((thread::current().id(), captured));
    }

    fn flush(&self) {}
}

static LOGGER: Capture = Capture {
    records: Mutex::new(Vec::new()),
};

/// The records this thread emits while `f` runs.
fn records(f: impl FnOnce()) -> Vec<Captured> {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        log::set_logger(&LOGGER).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    let id = thread::current().id();
    let take = || {
        let mut records = LOGGER.records.lock().unwrap();
        let (mine, others): (Vec<_>, Vec<_>) =
            records.drain(..).partition(|(thread, _)| *thread == id);
        *records = others;
        mine.into_iter().map(|(_, r)| r).collect::<Vec<_>>()
    };
    take();
    f();
    take()
}

fn scheduled(message: &str, kvs: &[(&str, &str)]) -> Captured {
    captured(&format!("stamina.retry_scheduled: {message}"), kvs)
}

fn exhausted(message: &str, kvs: &[(&str, &str)]) -> Captured {
    captured(&format!("stamina.retries_exhausted: {message}"), kvs)
}

fn captured(message: &str, kvs: &[(&str, &str)]) -> Captured {
    Captured {
        level: Level::Warn,
        target: "stamina".to_owned(),
        message: message.to_owned(),
        kvs: kvs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn always_fails() -> Result<(), Flaky> {
    Err(Flaky)
}

#[test]
fn every_retry_and_the_give_up_are_logged() {
    let clock = FakeClock::new();
    let got = records(|| {
        let result = RetryingCaller::new()
            .attempts(3)
            .wait_jitter(Duration::ZERO)
            .clock(clock.clone())
            .name("fetch")
            .call(
                |_: &Flaky| true,
                || {
                    // Each attempt takes a second of virtual time.
                    clock.advance(Duration::from_secs(1));
                    always_fails()
                },
            );
        assert_eq!(result, Err(Flaky));
    });
    let common = [
        ("error_type", "instrument_log::Flaky"),
        ("caused_by", "instrument_log::Flaky"),
    ];
    assert_eq!(
        got,
        [
            scheduled(
                "fetch: attempt 1 of 3 failed with instrument_log::Flaky, retrying in 100ms",
                &[
                    ("callable", "fetch"),
                    ("retry_num", "1"),
                    ("wait_for", "100ms"),
                    ("waited_so_far", "0s"),
                    ("max_attempts", "3"),
                    ("remaining", "44s"),
                    common[0],
                    common[1],
                ]
            ),
            scheduled(
                "fetch: attempt 2 of 3 failed with instrument_log::Flaky, retrying in 200ms",
                &[
                    ("callable", "fetch"),
                    ("retry_num", "2"),
                    ("wait_for", "200ms"),
                    ("waited_so_far", "100ms"),
                    ("max_attempts", "3"),
                    ("remaining", "42s900ms"),
                    common[0],
                    common[1],
                ]
            ),
            exhausted(
                "fetch: gave up after 3 attempts (attempts_exhausted) with instrument_log::Flaky",
                &[
                    ("callable", "fetch"),
                    ("reason", "attempts_exhausted"),
                    ("attempts", "3"),
                    ("waited", "300ms"),
                    common[0],
                    common[1],
                ]
            ),
        ]
    );
}

#[test]
fn loops_are_logged_with_their_name_and_the_deadline_reason() {
    let got = records(|| {
        for attempt in retry_context(|_: &Flaky| true)
            .name("deadline")
            .unlimited_attempts()
            .wait_jitter(Duration::ZERO)
            .timeout(Duration::from_millis(250))
            .clock(FakeClock::new())
        {
            let _ = attempt.run(always_fails);
        }
    });
    assert_eq!(
        got,
        [
            scheduled(
                "deadline: attempt 1 failed with instrument_log::Flaky, retrying in 100ms",
                &[
                    ("callable", "deadline"),
                    ("retry_num", "1"),
                    ("wait_for", "100ms"),
                    ("waited_so_far", "0s"),
                    ("max_attempts", "unlimited"),
                    ("remaining", "250ms"),
                    ("error_type", "instrument_log::Flaky"),
                    ("caused_by", "instrument_log::Flaky"),
                ]
            ),
            exhausted(
                "deadline: gave up after 2 attempts (deadline_exceeded) with instrument_log::Flaky",
                &[
                    ("callable", "deadline"),
                    ("reason", "deadline_exceeded"),
                    ("attempts", "2"),
                    ("waited", "100ms"),
                    ("error_type", "instrument_log::Flaky"),
                    ("caused_by", "instrument_log::Flaky"),
                ]
            ),
        ]
    );
}

#[test]
fn async_callers_log_their_give_ups_and_a_wait_beyond_the_ceiling_is_one() {
    let caller = AsyncRetryingCaller::new()
        .attempts(2)
        .wait_jitter(Duration::ZERO)
        .no_timeout()
        .sleeper(FakeSleeper::new())
        .name("async");
    let ceiling = caller
        .clone()
        .name("ceiling")
        .retry_after_max(Duration::from_secs(1));
    let got = records(|| {
        let fails = || async { always_fails() };
        assert_eq!(block_on(caller.call(|_: &Flaky| true, fails)), Err(Flaky));
        let too_long = |_: &Flaky| Duration::from_secs(2);
        assert_eq!(block_on(ceiling.call(too_long, fails)), Err(Flaky));
    });
    let tail = [
        ("error_type", "instrument_log::Flaky"),
        ("caused_by", "instrument_log::Flaky"),
    ];
    assert_eq!(
        got,
        [
            scheduled(
                "async: attempt 1 of 2 failed with instrument_log::Flaky, retrying in 100ms",
                &[
                    ("callable", "async"),
                    ("retry_num", "1"),
                    ("wait_for", "100ms"),
                    ("waited_so_far", "0s"),
                    ("max_attempts", "2"),
                    ("remaining", "none"),
                    tail[0],
                    tail[1],
                ]
            ),
            exhausted(
                "async: gave up after 2 attempts (attempts_exhausted) with instrument_log::Flaky",
                &[
                    ("callable", "async"),
                    ("reason", "attempts_exhausted"),
                    ("attempts", "2"),
                    ("waited", "100ms"),
                    tail[0],
                    tail[1],
                ]
            ),
            exhausted(
                "ceiling: gave up after 1 attempt (retry_after_too_long) with instrument_log::Flaky",
                &[
                    ("callable", "ceiling"),
                    ("reason", "retry_after_too_long"),
                    ("attempts", "1"),
                    ("waited", "0s"),
                    tail[0],
                    tail[1],
                ]
            ),
        ]
    );
}

#[test]
fn testing_mode_logs_zero_waits_and_no_deadline() {
    let _testing = thread_testing(Testing::new().attempts(2));
    let got = records(|| {
        let _ = RetryingCaller::new()
            .name("tested")
            .call(|_: &Flaky| true, always_fails);
    });
    assert_eq!(
        got,
        [
            scheduled(
                "tested: attempt 1 of 2 failed with instrument_log::Flaky, retrying in 0s",
                &[
                    ("callable", "tested"),
                    ("retry_num", "1"),
                    ("wait_for", "0s"),
                    ("waited_so_far", "0s"),
                    ("max_attempts", "2"),
                    ("remaining", "none"),
                    ("error_type", "instrument_log::Flaky"),
                    ("caused_by", "instrument_log::Flaky"),
                ]
            ),
            exhausted(
                "tested: gave up after 2 attempts (attempts_exhausted) with instrument_log::Flaky",
                &[
                    ("callable", "tested"),
                    ("reason", "attempts_exhausted"),
                    ("attempts", "2"),
                    ("waited", "0s"),
                    ("error_type", "instrument_log::Flaky"),
                    ("caused_by", "instrument_log::Flaky"),
                ]
            ),
        ]
    );
}

#[test]
fn nothing_is_logged_without_a_retry() {
    let got = records(|| {
        let caller = RetryingCaller::new().clock(FakeClock::new());
        assert_eq!(caller.call(|_: &Flaky| true, || Ok::<_, Flaky>(1)), Ok(1));
        assert_eq!(caller.call(|_: &Flaky| false, always_fails), Err(Flaky));
        let _off = thread_active(false);
        assert_eq!(caller.call(|_: &Flaky| true, always_fails), Err(Flaky));
        let mut attempts = 0;
        for attempt in retry_context(|_: &Flaky| true) {
            attempts += 1;
            assert_eq!(attempt.run(always_fails), Err(Flaky));
        }
        assert_eq!(attempts, 1);
    });
    assert_eq!(got, []);
    // A loop allowed one attempt never retries, so it does not give up either: testing mode's
    // default of one attempt keeps a failing test's log quiet.
    let got = records(|| {
        let one = RetryingCaller::new().attempts(1).clock(FakeClock::new());
        assert_eq!(one.call(|_: &Flaky| true, always_fails), Err(Flaky));
        let _testing = thread_testing(Testing::new());
        assert_eq!(
            RetryingCaller::new().call(|_: &Flaky| true, always_fails),
            Err(Flaky)
        );
    });
    assert_eq!(got, []);
}

#[test]
fn a_loop_sets_what_is_shown_of_its_errors_and_the_level() {
    use stamina::instrument::{Level as At, ShowError};
    let caller = RetryingCaller::new()
        .attempts(2)
        .wait_jitter(Duration::ZERO)
        .clock(FakeClock::new())
        .name("shown");
    let fields = |record: &Captured| -> (Level, String, String) {
        let caused_by = record.kvs.iter().find(|(k, _)| k == "caused_by").unwrap();
        (record.level, record.message.clone(), caused_by.1.clone())
    };
    let got = records(|| {
        let debug = caller
            .clone()
            .show_error(ShowError::Debug)
            .log_level(At::Info);
        let _ = debug.call(|_: &Flaky| true, always_fails);
        // `Display` needs the error itself: the type without `typed`, its text with it.
        let display = caller.clone().show_error(ShowError::Display);
        let _ = display.call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
        let on = stamina::typed(|_: &std::fmt::Error| true);
        let _ = display.call(on, || Err::<(), _>(std::fmt::Error));
    });
    let text = "an error occurred when formatting an argument";
    assert_eq!(
        got.iter().map(fields).collect::<Vec<_>>(),
        [
            (
                Level::Info,
                "stamina.retry_scheduled: shown: attempt 1 of 2 failed with Flaky, retrying in 100ms"
                    .to_owned(),
                "Flaky".to_owned()
            ),
            (
                Level::Info,
                "stamina.retries_exhausted: shown: gave up after 2 attempts (attempts_exhausted) \
                 with Flaky"
                    .to_owned(),
                "Flaky".to_owned()
            ),
            (
                Level::Warn,
                "stamina.retry_scheduled: shown: attempt 1 of 2 failed with fmt::Error, retrying \
                 in 100ms"
                    .to_owned(),
                "fmt::Error".to_owned()
            ),
            (
                Level::Warn,
                "stamina.retries_exhausted: shown: gave up after 2 attempts (attempts_exhausted) \
                 with fmt::Error"
                    .to_owned(),
                "fmt::Error".to_owned()
            ),
            (
                Level::Warn,
                format!("stamina.retry_scheduled: shown: attempt 1 of 2 failed with {text}, retrying in 100ms"),
                text.to_owned()
            ),
            (
                Level::Warn,
                format!("stamina.retries_exhausted: shown: gave up after 2 attempts (attempts_exhausted) with {text}"),
                text.to_owned()
            ),
        ]
    );
}
