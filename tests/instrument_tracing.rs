//! The built-in `tracing` hook, observed through a capturing `tracing-subscriber` layer set as
//! the default subscriber of the test's own thread.
#![cfg(feature = "tracing")]

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stamina::testing::{FakeClock, Testing, thread_active, thread_testing};
use stamina::{Clock, RetryingCaller, retry_context};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry};

#[derive(Debug, PartialEq)]
struct Flaky;

/// Writes what it is shown as `name=value` pairs.
struct Fields(String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

/// Writes every span opening and closing and every event, in order, as one line each.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let meta = attrs.metadata();
        let mut fields = Fields(String::new());
        attrs.record(&mut fields);
        self.0.lock().unwrap().push(format!(
            "open {} {} {}:{}",
            meta.level(),
            meta.target(),
            meta.name(),
            fields.0
        ));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let parent = ctx
            .event_span(event)
            .map_or_else(|| "-".to_owned(), |span| span.name().to_owned());
        self.0.lock().unwrap().push(format!(
            "event {} {} in {parent}:{}",
            meta.level(),
            meta.target(),
            fields.0
        ));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let name = ctx.span(&id).map(|s| s.name()).unwrap_or("?");
        self.0.lock().unwrap().push(format!("close {name}"));
    }
}

/// What the thread traced while `f` ran.
fn traced(f: impl FnOnce()) -> Vec<String> {
    let capture = Capture::default();
    tracing::subscriber::with_default(Registry::default().with(capture.clone()), f);
    capture.0.lock().unwrap().clone()
}

/// A fake clock that traces its sleeps, to show where the wait falls.
#[derive(Clone, Default)]
struct TracedClock(FakeClock);

impl Clock for TracedClock {
    fn now(&self) -> Instant {
        self.0.now()
    }

    fn sleep(&self, duration: Duration) {
        tracing::info!(target: "test", "sleep {duration:?}");
        self.0.sleep(duration);
    }
}

fn attempt(num: u32) -> Result<(), Flaky> {
    tracing::info!(target: "test", "attempt {num}");
    Err(Flaky)
}

const FLAKY: &str = "instrument_tracing::Flaky";

/// What the `tracing` hook traces at `level` for the loop `name`, allowed 2 attempts without a
/// deadline, that failed twice with a wait of `wait` between: the wait's span, the retry's
/// event in it, and the give-up's event, each event with `extra` fields at its end.
fn two_failures(level: &str, name: &str, wait: &str, extra: &str) -> [String; 4] {
    [
        format!(
            "open {level} stamina stamina.retry_wait: callable={name} retry_num=1 wait_for={wait}"
        ),
        format!(
            "event {level} stamina in stamina.retry_wait: message=retrying waited_so_far=0s \
             max_attempts=2 remaining=none error_type={FLAKY}{extra}"
        ),
        "close stamina.retry_wait".to_owned(),
        format!(
            "event {level} stamina in -: message=gave up callable={name} \
             reason=attempts_exhausted attempts=2 waited={wait} error_type={FLAKY}{extra}"
        ),
    ]
}

#[test]
fn a_span_covers_each_wait_and_closes_before_the_next_attempt() {
    let lines = traced(|| {
        let mut num = 0;
        let result = RetryingCaller::new()
            .attempts(3)
            .wait_jitter(Duration::ZERO)
            .no_timeout()
            .clock(TracedClock::default())
            .name("fetch")
            .call(
                |_: &Flaky| true,
                || {
                    num += 1;
                    attempt(num)
                },
            );
        assert_eq!(result, Err(Flaky));
    });
    assert_eq!(
        lines,
        [
            "event INFO test in -: message=attempt 1".to_owned(),
            "open WARN stamina stamina.retry_wait: callable=fetch retry_num=1 wait_for=100ms"
                .to_owned(),
            format!(
                "event WARN stamina in stamina.retry_wait: message=retrying waited_so_far=0s \
                 max_attempts=3 remaining=none error_type={FLAKY}"
            ),
            "event INFO test in -: message=sleep 100ms".to_owned(),
            "close stamina.retry_wait".to_owned(),
            "event INFO test in -: message=attempt 2".to_owned(),
            "open WARN stamina stamina.retry_wait: callable=fetch retry_num=2 wait_for=200ms"
                .to_owned(),
            format!(
                "event WARN stamina in stamina.retry_wait: message=retrying waited_so_far=100ms \
                 max_attempts=3 remaining=none error_type={FLAKY}"
            ),
            "event INFO test in -: message=sleep 200ms".to_owned(),
            "close stamina.retry_wait".to_owned(),
            "event INFO test in -: message=attempt 3".to_owned(),
            format!(
                "event WARN stamina in -: message=gave up callable=fetch reason=attempts_exhausted \
                 attempts=3 waited=300ms error_type={FLAKY}"
            ),
        ]
    );
}

#[test]
fn attempt_guards_keep_the_span_open_until_the_next_attempt() {
    let lines = traced(|| {
        let mut attempts = retry_context(|_: &Flaky| true)
            .name("guarded")
            .clock(TracedClock::default())
            .wait_jitter(Duration::ZERO)
            .into_iter();
        let first = attempts.next().unwrap();
        assert_eq!(first.run(|| attempt(1)), Ok(None));
        tracing::info!(target: "test", "between");
        // Dropping the loop during its wait closes the span, once.
        drop(attempts);
        tracing::info!(target: "test", "dropped");
    });
    let kinds: Vec<&str> = lines.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "event INFO test in -",
            "open WARN stamina stamina.retry_wait",
            "event WARN stamina in stamina.retry_wait",
            "event INFO test in -",
            "close stamina.retry_wait",
            "event INFO test in -",
        ]
    );
    assert!(lines[3].ends_with("message=between"));
    assert!(lines[5].ends_with("message=dropped"));
}

#[test]
fn testing_mode_traces_zero_waits() {
    let _testing = thread_testing(Testing::new().attempts(2));
    let lines = traced(|| {
        let _ = RetryingCaller::new()
            .name("tested")
            .call(|_: &Flaky| true, || attempt(1));
    });
    let [open, retry, close, give_up] = two_failures("WARN", "tested", "0s", "");
    let attempt = "event INFO test in -: message=attempt 1".to_owned();
    assert_eq!(
        lines,
        [attempt.clone(), open, retry, close, attempt, give_up]
    );
}

#[test]
fn nothing_is_traced_without_a_retry() {
    let lines = traced(|| {
        let caller = RetryingCaller::new().clock(FakeClock::new());
        assert_eq!(caller.call(|_: &Flaky| true, || Ok::<_, Flaky>(1)), Ok(1));
        assert_eq!(
            caller.call(|_: &Flaky| false, || Err::<(), _>(Flaky)),
            Err(Flaky)
        );
        let _off = thread_active(false);
        assert_eq!(
            caller.call(|_: &Flaky| true, || Err::<(), _>(Flaky)),
            Err(Flaky)
        );
    });
    assert_eq!(lines, Vec::<String>::new());
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

/// The lines a `tracing_subscriber::fmt` subscriber (its default format, without colours)
/// writes while `f` runs on this thread.
fn formatted(f: impl FnOnce()) -> Vec<String> {
    let output = Output::default();
    let writer = output.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = std::mem::take(&mut *output.0.lock().unwrap());
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_retry_is_one_short_line_under_fmt_with_each_fact_once() {
    let lines = formatted(|| {
        let result = RetryingCaller::new()
            .attempts(2)
            .clock(FakeClock::new())
            .name("fetch")
            .call(|_: &Flaky| true, || Err::<(), _>(Flaky));
        assert_eq!(result, Err(Flaky));
    });
    let retry = &lines[0];
    assert!(retry.contains(" WARN stamina.retry_wait{"), "{retry}");
    assert!(retry.len() <= 200, "{} characters: {retry}", retry.len());
    for fact in ["callable=", "retry_num=", "wait_for=", "error_type="] {
        assert_eq!(retry.matches(fact).count(), 1, "{fact} in {retry}");
    }
    // The error's type is shown once: `caused_by` would say the same under `ShowError::Type`.
    assert_eq!(retry.matches(FLAKY).count(), 1, "{retry}");
}

#[test]
fn the_tracing_hook_alone_traces_retries_and_give_ups() {
    // The other tests here trace the same with the defaults, which hold this hook too.
    stamina::set_on_retry_hooks([stamina::instrument::tracing_hook()]);
    let lines = traced(|| {
        let result = RetryingCaller::new()
            .attempts(2)
            .wait_jitter(Duration::ZERO)
            .no_timeout()
            .clock(FakeClock::new())
            .name("alone")
            .call(|_: &Flaky| true, || Err::<(), _>(Flaky));
        assert_eq!(result, Err(Flaky));
    });
    stamina::instrument::reset_on_retry_hooks();
    assert_eq!(lines, two_failures("WARN", "alone", "100ms", ""));
}

#[test]
fn the_error_is_shown_where_it_says_more_than_its_type_at_the_loops_level() {
    use stamina::instrument::{Level, ShowError};
    let caller = RetryingCaller::new()
        .attempts(2)
        .wait_jitter(Duration::ZERO)
        .no_timeout()
        .clock(FakeClock::new())
        .name("shown");
    let lines = traced(|| {
        let debug = caller
            .clone()
            .show_error(ShowError::Debug)
            .log_level(Level::Info);
        assert_eq!(debug.call(|_: &Flaky| true, || attempt(1)), Err(Flaky));
        // `Display` needs the error itself, which a plain predicate does not show: its type.
        let display = caller.clone().show_error(ShowError::Display);
        assert_eq!(display.call(|_: &Flaky| true, || attempt(1)), Err(Flaky));
    });
    let stamina: Vec<String> = lines
        .into_iter()
        .filter(|l| !l.contains(" test "))
        .collect();
    let debug = two_failures("INFO", "shown", "100ms", " caused_by=Flaky");
    assert_eq!(
        stamina,
        [debug, two_failures("WARN", "shown", "100ms", "")].concat()
    );
}

/// Each attempt of a hedged call runs in a span of its own, so that what it traces says which
/// attempt it belongs to; the hedge and the win are events.
#[cfg(feature = "tokio")]
#[test]
fn each_attempt_of_a_hedged_call_runs_in_its_own_span() {
    let lines = traced(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let caller = stamina::AsyncRetryingCaller::new()
            .name("fetch")
            .hedge(stamina::Hedging::after(Duration::from_millis(50)));
        let mut calls = 0;
        let result = runtime.block_on(caller.call(
            |_: &Flaky| true,
            || {
                calls += 1;
                let took = if calls == 1 { 1000 } else { 10 };
                async move {
                    tokio::time::sleep(Duration::from_millis(took)).await;
                    tracing::info!(target: "test", "answer after {took} ms");
                    Ok::<_, Flaky>(took)
                }
            },
        ));
        assert_eq!(result, Ok(10));
    });
    let ours: Vec<&String> = lines
        .iter()
        .filter(|line| !line.starts_with("close") || line.contains("stamina.attempt"))
        .collect();
    assert_eq!(
        ours,
        [
            "open INFO stamina stamina.attempt: callable=fetch attempt=1",
            "event WARN stamina in -: message=hedge callable=fetch attempt=2 in_flight=2 outcome=sent",
            "open INFO stamina stamina.attempt: callable=fetch attempt=2",
            "event INFO test in stamina.attempt: message=answer after 10 ms",
            "event WARN stamina in -: message=hedge callable=fetch attempt=2 in_flight=2 outcome=won",
            "close stamina.attempt",
            "close stamina.attempt",
        ]
    );
}
