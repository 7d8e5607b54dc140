//! The built-in `metrics` hook, observed through `metrics-util`'s debugging recorder.
//!
//! Each test installs its own recorder for its own thread (`metrics::with_local_recorder`), so
//! the tests run in parallel without seeing each other's counters.
#![cfg(feature = "metrics")]

use std::time::Duration;

use futures::executor::block_on;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use stamina::testing::{FakeClock, FakeSleeper, Testing, thread_active, thread_testing};
use stamina::{AsyncRetryingCaller, RetryingCaller, retry_context};

#[derive(Debug, PartialEq)]
struct Flaky;

const FLAKY: &str = "instrument_metrics::Flaky";

/// A counter as the tests compare it: name, labels sorted by key, value.
type Counter = (String, Vec<(String, String)>, u64);

/// Every counter recorded while `f` ran.
fn counters(f: impl FnOnce()) -> Vec<Counter> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    recorded(&snapshotter)
}

/// Every counter `snapshotter`'s recorder holds.
fn recorded(snapshotter: &Snapshotter) -> Vec<Counter> {
    let mut counters: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let DebugValue::Counter(count) = value else {
                panic!("{key:?} is not a counter: {value:?}");
            };
            let mut labels: Vec<_> = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            (key.key().name().to_owned(), labels, count)
        })
        .collect();
    counters.sort();
    counters
}

fn retries(callable: &str, retry_num: u32, error_type: &str, count: u64) -> Counter {
    (
        "stamina_retries_total".to_owned(),
        vec![
            ("callable".to_owned(), callable.to_owned()),
            ("error_type".to_owned(), error_type.to_owned()),
            ("retry_num".to_owned(), retry_num.to_string()),
        ],
        count,
    )
}

fn exhausted(callable: &str, reason: &str, count: u64) -> Counter {
    (
        "stamina_retries_exhausted_total".to_owned(),
        vec![
            ("callable".to_owned(), callable.to_owned()),
            ("error_type".to_owned(), FLAKY.to_owned()),
            ("reason".to_owned(), reason.to_owned()),
        ],
        count,
    )
}

fn always_fails() -> Result<(), Flaky> {
    Err(Flaky)
}

#[test]
fn every_retry_and_the_give_up_are_counted() {
    let caller = RetryingCaller::new()
        .attempts(3)
        .clock(FakeClock::new())
        .name("fetch")
        .on(|_: &Flaky| true);
    let got = counters(|| {
        assert_eq!(caller.call(always_fails), Err(Flaky));
        assert_eq!(caller.call(always_fails), Err(Flaky));
    });
    assert_eq!(
        got,
        vec![
            exhausted("fetch", "attempts_exhausted", 2),
            retries("fetch", 1, FLAKY, 2),
            retries("fetch", 2, FLAKY, 2),
        ]
    );
}

#[test]
fn the_deadline_is_a_give_up_reason() {
    let clock = FakeClock::new();
    let got = counters(|| {
        let mut attempts = 0;
        for attempt in retry_context(|_: &Flaky| true)
            .name("deadline")
            .wait_jitter(Duration::ZERO)
            .timeout(Duration::from_millis(250))
            .clock(clock.clone())
        {
            attempts += 1;
            if let Err(e) = attempt.run(always_fails) {
                assert_eq!(e, Flaky);
            }
        }
        // 100 ms, then a 200 ms wait would end at 300 ms, after the 250 ms deadline.
        assert_eq!(attempts, 2);
    });
    assert_eq!(clock.sleeps(), [Duration::from_millis(100)]);
    assert_eq!(
        got,
        vec![
            exhausted("deadline", "deadline_exceeded", 1),
            retries("deadline", 1, FLAKY, 1),
        ]
    );
}

#[test]
fn async_callers_count_their_give_ups_and_a_wait_beyond_the_ceiling_is_one() {
    let caller = AsyncRetryingCaller::new()
        .attempts(2)
        .sleeper(FakeSleeper::new())
        .name("async");
    let ceiling = caller
        .clone()
        .name("ceiling")
        .retry_after_max(Duration::from_secs(1));
    let got = counters(|| {
        let fails = || async { always_fails() };
        assert_eq!(block_on(caller.call(|_: &Flaky| true, fails)), Err(Flaky));
        let too_long = |_: &Flaky| Duration::from_secs(2);
        assert_eq!(block_on(ceiling.call(too_long, fails)), Err(Flaky));
    });
    assert_eq!(
        got,
        vec![
            exhausted("async", "attempts_exhausted", 1),
            exhausted("ceiling", "retry_after_too_long", 1),
            retries("async", 1, FLAKY, 1),
        ]
    );
}

#[test]
fn a_recovered_call_counts_its_retries_only() {
    let mut failures = 2;
    let got = counters(|| {
        let value = RetryingCaller::new()
            .clock(FakeClock::new())
            .name("recovers")
            .call(
                |_: &Flaky| true,
                || {
                    if failures > 0 {
                        failures -= 1;
                        return Err(Flaky);
                    }
                    Ok(7)
                },
            );
        assert_eq!(value, Ok(7));
    });
    assert_eq!(
        got,
        vec![
            retries("recovers", 1, FLAKY, 1),
            retries("recovers", 2, FLAKY, 1)
        ]
    );
}

#[test]
fn nothing_is_recorded_without_a_retry() {
    let got = counters(|| {
        let caller = RetryingCaller::new().clock(FakeClock::new()).name("quiet");
        // Success at once.
        assert_eq!(caller.call(|_: &Flaky| true, || Ok::<_, Flaky>(1)), Ok(1));
        // An error that is not worth retrying.
        assert_eq!(caller.call(|_: &Flaky| false, always_fails), Err(Flaky));
        // Retrying switched off on this thread.
        let _off = thread_active(false);
        assert_eq!(caller.call(|_: &Flaky| true, always_fails), Err(Flaky));
    });
    assert_eq!(got, vec![]);
}

#[test]
fn testing_mode_still_counts() {
    let _testing = thread_testing(Testing::new().attempts(2));
    let got = counters(|| {
        let result = RetryingCaller::new()
            .name("tested")
            .call(|_: &Flaky| true, always_fails);
        assert_eq!(result, Err(Flaky));
    });
    assert_eq!(
        got,
        vec![
            exhausted("tested", "attempts_exhausted", 1),
            retries("tested", 1, FLAKY, 1),
        ]
    );
}

fn transient(_: &Flaky) -> bool {
    true
}

#[test]
fn unnamed_loops_are_named_after_their_function_or_file_never_a_line() {
    let _testing = thread_testing(Testing::new().attempts(2));
    let got = counters(|| {
        // A closure predicate: the function that holds the loop.
        for attempt in retry_context(|_: &Flaky| true) {
            let _ = attempt.run(always_fails);
        }
        // A named predicate: the file, which edits above the loop do not change.
        for attempt in retry_context(transient) {
            let _ = attempt.run(always_fails);
        }
        // Callers: the called function, or the function that holds the called closure.
        let _ = RetryingCaller::new().call(transient, always_fails);
        #[allow(clippy::redundant_closure)] // the closure is the point
        let _ = RetryingCaller::new().call(transient, || always_fails());
    });
    let here =
        "instrument_metrics::unnamed_loops_are_named_after_their_function_or_file_never_a_line";
    let file = "tests/instrument_metrics.rs";
    let called = "instrument_metrics::always_fails";
    assert_eq!(
        got,
        vec![
            exhausted(called, "attempts_exhausted", 1),
            exhausted(here, "attempts_exhausted", 2),
            exhausted(file, "attempts_exhausted", 1),
            retries(called, 1, FLAKY, 1),
            retries(here, 1, FLAKY, 2),
            retries(file, 1, FLAKY, 1),
        ]
    );
}

mod deep {
    /// An error type in a nested module.
    #[derive(Debug)]
    pub(crate) struct Inner;
}

/// The `error_type` label of a loop whose error is an `E`.
fn error_type_label<E: std::fmt::Debug>(error: impl Fn() -> E) -> String {
    let _testing = thread_testing(Testing::new().attempts(2));
    let got = counters(|| {
        let _ = RetryingCaller::new()
            .name("labels")
            .call(|_: &E| true, || Err::<(), _>(error()));
    });
    let (_, labels, _) = &got[0];
    labels
        .iter()
        .find(|(key, _)| key == "error_type")
        .map(|(_, value)| value.clone())
        .unwrap()
}

#[test]
fn error_types_are_short_readable_labels() {
    type Boxed = Box<dyn std::error::Error + Send + Sync>;
    assert_eq!(
        error_type_label(|| std::io::Error::from(std::io::ErrorKind::TimedOut)),
        "io::Error"
    );
    assert_eq!(error_type_label(|| std::fmt::Error), "fmt::Error");
    assert_eq!(
        error_type_label(|| Boxed::from("down")),
        "Box<dyn Error + Send + Sync>"
    );
    assert_eq!(
        error_type_label(|| "x".parse::<u32>().unwrap_err()),
        "ParseIntError"
    );
    assert_eq!(error_type_label(|| Flaky), "instrument_metrics::Flaky");
    assert_eq!(
        error_type_label(|| deep::Inner),
        "instrument_metrics::Inner"
    );
}

#[test]
fn both_counters_are_described_for_the_exporter_help_lines() {
    // A recorder of its own, kept for the process: descriptions go to each recorder once.
    let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(recorder, || {
        let caller = RetryingCaller::new()
            .attempts(2)
            .clock(FakeClock::new())
            .name("described");
        assert_eq!(caller.call(|_: &Flaky| true, always_fails), Err(Flaky));
    });
    let mut described: Vec<(String, Option<String>)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, description, _)| {
            (
                key.key().name().to_owned(),
                description.map(|d| d.to_string()),
            )
        })
        .collect();
    described.sort();
    assert_eq!(
        described,
        [
            (
                "stamina_retries_exhausted_total".to_owned(),
                Some("Total number of retry loops that gave up.".to_owned())
            ),
            (
                "stamina_retries_total".to_owned(),
                Some("Total number of retries.".to_owned())
            ),
        ]
    );
}

#[test]
fn each_recorder_counts_the_events_made_while_it_is_in_use() {
    let (first, second) = (DebuggingRecorder::new(), DebuggingRecorder::new());
    let (first_counts, second_counts) = (first.snapshotter(), second.snapshotter());
    let caller = RetryingCaller::new()
        .attempts(3)
        .clock(FakeClock::new())
        .name("switching");
    // Two retries and a give-up per call, the same series every time.
    let call = || assert_eq!(caller.call(|_: &Flaky| true, always_fails), Err(Flaky));
    metrics::with_local_recorder(&first, call);
    metrics::with_local_recorder(&second, call);
    metrics::with_local_recorder(&first, call);
    // No recorder at all: counted nowhere.
    call();
    metrics::with_local_recorder(&second, || {
        call();
        call();
    });
    let expected = |calls| {
        vec![
            exhausted("switching", "attempts_exhausted", calls),
            retries("switching", 1, FLAKY, calls),
            retries("switching", 2, FLAKY, calls),
        ]
    };
    assert_eq!(recorded(&first_counts), expected(2));
    assert_eq!(recorded(&second_counts), expected(3));
    // Both recorders were told what the counters are.
    for snapshotter in [first_counts, second_counts] {
        let described = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(.., description, _)| description.is_some())
            .count();
        assert_eq!(described, 3);
    }
}

#[test]
fn loops_are_told_apart_by_their_names_text() {
    let counted = counters(|| {
        // A `'static` name and an owned one with the same text: one series.
        for caller in [
            RetryingCaller::new().name("same"),
            RetryingCaller::new().name(String::from("same")),
        ] {
            let caller = caller.attempts(2).clock(FakeClock::new());
            assert_eq!(caller.call(|_: &Flaky| true, always_fails), Err(Flaky));
        }
        // Owned names of one length made and dropped in turn (the memory of one may hold the
        // next): a series each.
        for i in 0..3 {
            let caller = RetryingCaller::new()
                .attempts(2)
                .clock(FakeClock::new())
                .name(format!("owned{i}"));
            assert_eq!(caller.call(|_: &Flaky| true, always_fails), Err(Flaky));
        }
    });
    let mut expected = Vec::new();
    for (name, count) in [("owned0", 1), ("owned1", 1), ("owned2", 1), ("same", 2)] {
        expected.push(exhausted(name, "attempts_exhausted", count));
    }
    for (name, count) in [("owned0", 1), ("owned1", 1), ("owned2", 1), ("same", 2)] {
        expected.push(retries(name, 1, FLAKY, count));
    }
    assert_eq!(counted, expected);
}

#[test]
fn a_prometheus_recorder_installed_after_the_first_retry_prints_help_lines() {
    let caller = RetryingCaller::new()
        .attempts(2)
        .clock(FakeClock::new())
        .name("late");
    // The first retry and give-up of the process, with no recorder to describe the counters to.
    assert_eq!(caller.call(|_: &Flaky| true, always_fails), Err(Flaky));
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        assert_eq!(caller.call(|_: &Flaky| true, always_fails), Err(Flaky));
    });
    let text = handle.render();
    let mut help: Vec<&str> = text.lines().filter(|l| l.starts_with("# HELP")).collect();
    // The exporter writes its metrics in no fixed order.
    help.sort_unstable();
    assert_eq!(
        help,
        [
            "# HELP stamina_retries_exhausted_total Total number of retry loops that gave up.",
            "# HELP stamina_retries_total Total number of retries.",
        ],
        "{text}"
    );
}

/// Each hedge sent is counted under its attempt's number; the answer, here the first
/// attempt's while two hedges are out, is not.
#[cfg(feature = "tokio")]
#[test]
fn hedges_sent_are_counted_by_number_and_the_win_is_not() {
    use std::sync::atomic::{AtomicU32, Ordering};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let hedging = stamina::Hedging::after(Duration::from_millis(50)).max_in_flight(3);
    let caller = AsyncRetryingCaller::new()
        .name("hedged")
        .sleeper(stamina::TokioSleeper)
        .hedge(hedging);
    let calls = AtomicU32::new(0);
    let attempt = || {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n > 1 {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok::<_, Flaky>(n)
        }
    };
    let counted = counters(|| {
        let call = caller.call(transient, attempt);
        let bounded = async { tokio::time::timeout(Duration::from_secs(60), call).await };
        let answer = runtime
            .block_on(bounded)
            .expect("the first attempt answers");
        assert_eq!(answer, Ok(1));
    });
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let hedges = |hedge_num: &str| {
        let labels = [("callable", "hedged"), ("hedge_num", hedge_num)];
        let labels = labels.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec();
        ("stamina_hedges_total".to_owned(), labels, 1)
    };
    assert_eq!(counted, [hedges("2"), hedges("3")]);
}
