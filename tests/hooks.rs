//! On-retry hooks: order, lazy factories, guards, give-up handlers, the process-wide registry
//! and the switches.
//!
//! The registry is process-wide, so every test here holds `SERIAL` and leaves the registry at
//! its defaults when it ends (panics included).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use stamina::instrument::{
    self, GiveUpDetails, GiveUpReason, OnRetryHook, default_on_retry_hooks, reset_on_retry_hooks,
};
use stamina::testing::{FakeClock, Testing, thread_active, thread_testing};
use stamina::{
    RetryDetails, RetryGuard, RetryingCaller, get_on_retry_hooks, retry_context, set_on_retry_hooks,
};

#[derive(Debug, PartialEq)]
struct Flaky;

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the registry for one test and restores the defaults afterwards.
struct Registry(#[allow(dead_code)] MutexGuard<'static, ()>);

impl Drop for Registry {
    fn drop(&mut self) {
        reset_on_retry_hooks();
    }
}

fn registry() -> Registry {
    let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    reset_on_retry_hooks();
    Registry(guard)
}

type Log = Arc<Mutex<Vec<String>>>;

/// A hook that writes `tag` and the retry number into `log`.
fn tagged(log: &Log, tag: &'static str) -> OnRetryHook {
    let log = Arc::clone(log);
    OnRetryHook::new(move |d: &RetryDetails<'_>| {
        log.lock().unwrap().push(format!("{tag}{}", d.retry_num()));
    })
}

fn fails(times: u32) -> impl FnMut() -> Result<u32, Flaky> {
    let mut left = times;
    move || {
        if left > 0 {
            left -= 1;
            return Err(Flaky);
        }
        Ok(left)
    }
}

#[test]
fn process_hooks_run_first_then_the_loops_own_in_order() {
    let _r = registry();
    let log = Log::default();
    set_on_retry_hooks([tagged(&log, "a"), tagged(&log, "b")]);
    let caller = RetryingCaller::new()
        .clock(FakeClock::new())
        .on_retry_hook(tagged(&log, "c"))
        .on(|_: &Flaky| true)
        .on_retry_hook(tagged(&log, "d"));
    assert_eq!(caller.call(fails(2)), Ok(0));
    assert_eq!(
        *log.lock().unwrap(),
        ["a1", "b1", "c1", "d1", "a2", "b2", "c2", "d2"]
    );

    log.lock().unwrap().clear();
    let mut body = fails(1);
    for attempt in retry_context(|_: &Flaky| true)
        .clock(FakeClock::new())
        .on_retry_hook(tagged(&log, "x"))
        .on_retry_hook(tagged(&log, "y"))
    {
        attempt.run(&mut body).unwrap();
    }
    assert_eq!(*log.lock().unwrap(), ["a1", "b1", "x1", "y1"]);
}

#[test]
fn details_describe_the_retry() {
    let _r = registry();
    set_on_retry_hooks([]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let clock = FakeClock::new();
    let result = RetryingCaller::new()
        .attempts(3)
        .wait_jitter(Duration::ZERO)
        .timeout(Duration::from_secs(2))
        .clock(clock.clone())
        .name("details")
        .on_retry(move |d: &RetryDetails<'_>| {
            record.lock().unwrap().push(format!(
                "{} #{} wait {:?} after {:?} of {:?} left {:?} {} {:?}",
                d.name(),
                d.retry_num(),
                d.wait_for(),
                d.waited_so_far(),
                d.attempts_limit(),
                d.remaining(),
                d.error_type(),
                d.caused_by(),
            ));
        })
        .call(
            |_: &Flaky| true,
            || {
                clock.advance(Duration::from_millis(500));
                Err::<(), _>(Flaky)
            },
        );
    assert_eq!(result, Err(Flaky));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "details #1 wait 100ms after 0ns of Some(3) left Some(1.5s) hooks::Flaky Flaky",
            "details #2 wait 200ms after 100ms of Some(3) left Some(900ms) hooks::Flaky Flaky",
        ]
    );
}

#[test]
fn a_lazy_factory_runs_once_on_first_use() {
    let _r = registry();
    static MADE: AtomicU32 = AtomicU32::new(0);
    static CALLED: AtomicU32 = AtomicU32::new(0);
    let lazy = OnRetryHook::lazy(|| {
        MADE.fetch_add(1, Ordering::SeqCst);
        OnRetryHook::new(|_: &RetryDetails<'_>| {
            CALLED.fetch_add(1, Ordering::SeqCst);
        })
    });
    set_on_retry_hooks([lazy]);
    assert_eq!(MADE.load(Ordering::SeqCst), 0);

    // No retry, no factory call.
    let caller = RetryingCaller::new()
        .clock(FakeClock::new())
        .on(|_: &Flaky| true);
    assert_eq!(caller.call(fails(0)), Ok(0));
    assert_eq!(MADE.load(Ordering::SeqCst), 0);
    // Ten failed attempts: nine retries, one factory call.
    assert_eq!(caller.call(|| Err::<(), _>(Flaky)), Err(Flaky));
    assert_eq!(MADE.load(Ordering::SeqCst), 1);
    assert_eq!(CALLED.load(Ordering::SeqCst), 9);

    // Later loops, on other threads too, share the one hook.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let caller = RetryingCaller::new()
                    .clock(FakeClock::new())
                    .on(|_: &Flaky| true);
                assert_eq!(caller.call(fails(2)), Ok(0));
            });
        }
    });
    assert_eq!(MADE.load(Ordering::SeqCst), 1);
    assert_eq!(CALLED.load(Ordering::SeqCst), 9 + 4 * 2);
}

/// Counts guards made and dropped, and checks at each attempt that every guard made so far was
/// dropped before it.
#[derive(Default)]
struct GuardCounts {
    made: AtomicU32,
    dropped: AtomicU32,
}

struct Counted(Arc<GuardCounts>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

fn guard_hook(counts: &Arc<GuardCounts>) -> impl Fn(&RetryDetails<'_>) -> RetryGuard + use<> {
    let counts = Arc::clone(counts);
    move |_: &RetryDetails<'_>| {
        counts.made.fetch_add(1, Ordering::SeqCst);
        RetryGuard::new(Counted(Arc::clone(&counts)))
    }
}

impl GuardCounts {
    fn get(&self) -> (u32, u32) {
        (
            self.made.load(Ordering::SeqCst),
            self.dropped.load(Ordering::SeqCst),
        )
    }
}

#[test]
fn caller_guards_are_dropped_once_right_before_the_next_attempt() {
    let _r = registry();
    set_on_retry_hooks([]);
    let counts = Arc::new(GuardCounts::default());
    let caller = RetryingCaller::new()
        .attempts(4)
        .clock(FakeClock::new())
        .on_retry(guard_hook(&counts))
        .on(|_: &Flaky| true);
    let mut at_each_attempt = Vec::new();
    for call in 0..3 {
        let mut attempt = 0;
        let result = caller.call(|| {
            at_each_attempt.push(counts.get());
            attempt += 1;
            if call == 2 || attempt < 3 {
                Err(Flaky)
            } else {
                Ok(attempt)
            }
        });
        assert_eq!(result, if call == 2 { Err(Flaky) } else { Ok(3) });
    }
    // Calls 1 and 2 retry twice, call 3 three times (the fourth failure gives up: no guard).
    assert_eq!(
        at_each_attempt,
        [
            (0, 0),
            (1, 1),
            (2, 2),
            (2, 2),
            (3, 3),
            (4, 4),
            (4, 4),
            (5, 5),
            (6, 6),
            (7, 7),
        ]
    );
    assert_eq!(counts.get(), (7, 7));
}

#[test]
fn loop_guards_are_dropped_once_right_before_the_next_attempt() {
    let _r = registry();
    set_on_retry_hooks([]);
    let counts = Arc::new(GuardCounts::default());
    let mut at_each_attempt = Vec::new();
    for _ in 0..2 {
        let mut body = fails(3);
        for attempt in retry_context(|_: &Flaky| true)
            .clock(FakeClock::new())
            .on_retry(guard_hook(&counts))
        {
            at_each_attempt.push(counts.get());
            let outcome = attempt.run(&mut body).unwrap();
            // Until the next attempt starts, the guard of a retry is alive.
            if outcome.is_none() {
                let (made, dropped) = counts.get();
                assert_eq!(made, dropped + 1);
            }
        }
    }
    assert_eq!(
        at_each_attempt,
        [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (3, 3),
            (4, 4),
            (5, 5),
            (6, 6)
        ]
    );
    assert_eq!(counts.get(), (6, 6));
}

#[test]
fn a_loop_dropped_during_its_wait_drops_the_guards_once() {
    let _r = registry();
    set_on_retry_hooks([]);
    let counts = Arc::new(GuardCounts::default());
    let mut attempts = retry_context(|_: &Flaky| true)
        .clock(FakeClock::new())
        .on_retry(guard_hook(&counts))
        .into_iter();
    let first = attempts.next().unwrap();
    assert_eq!(first.run(|| Err::<(), _>(Flaky)), Ok(None));
    assert_eq!(counts.get(), (1, 0));
    drop(attempts);
    assert_eq!(counts.get(), (1, 1));
}

#[test]
fn guards_of_one_retry_drop_in_reverse_order() {
    let _r = registry();
    set_on_retry_hooks([]);
    let log = Log::default();
    struct Logged(Log, &'static str);
    impl Drop for Logged {
        fn drop(&mut self) {
            self.0.lock().unwrap().push(format!("drop {}", self.1));
        }
    }
    let (a, b) = (Arc::clone(&log), Arc::clone(&log));
    let caller = RetryingCaller::new()
        .clock(FakeClock::new())
        .on_retry(move |_: &RetryDetails<'_>| RetryGuard::new(Logged(Arc::clone(&a), "a")))
        .on_retry(move |_: &RetryDetails<'_>| Some(RetryGuard::new(Logged(Arc::clone(&b), "b"))));
    let inner = Arc::clone(&log);
    let mut body = fails(1);
    assert_eq!(
        caller.call(
            |_: &Flaky| true,
            || {
                inner.lock().unwrap().push("attempt".to_owned());
                body()
            }
        ),
        Ok(0)
    );
    assert_eq!(
        *log.lock().unwrap(),
        ["attempt", "drop b", "drop a", "attempt"]
    );
}

#[test]
fn give_up_handlers_run_once_for_retryable_errors_only() {
    let _r = registry();
    let log = Log::default();
    let record = Arc::clone(&log);
    set_on_retry_hooks([OnRetryHook::new(|_: &RetryDetails<'_>| {}).on_give_up(
        move |d: &GiveUpDetails<'_>| {
            record.lock().unwrap().push(format!(
                "{} {} after {} attempts and {:?}: {} {:?}",
                d.name(),
                d.reason(),
                d.attempts(),
                d.waited(),
                d.error_type(),
                d.caused_by()
            ));
        },
    )]);
    let caller = RetryingCaller::new()
        .attempts(3)
        .wait_jitter(Duration::ZERO)
        .clock(FakeClock::new())
        .name("giving up");
    assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    // Not retryable, and deactivated: no give-up signal.
    assert_eq!(caller.call(|_: &Flaky| false, fails(5)), Err(Flaky));
    {
        let _off = thread_active(false);
        assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    }
    // A nested loop with suppression on hands its error to the enclosing loop: no signal.
    let nested = caller.clone().suppress_nested(true);
    let mut outer_attempts = 0;
    for attempt in retry_context(|_: &Flaky| false).clock(FakeClock::new()) {
        outer_attempts += 1;
        let inner = attempt.run(|| nested.call(|_: &Flaky| true, fails(5)));
        assert_eq!(inner, Err(Flaky));
    }
    assert_eq!(outer_attempts, 1);
    let deadline = caller.clone().timeout(Duration::from_millis(150));
    assert_eq!(deadline.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    // The server asks for 2 s, beyond the 1 s ceiling: the loop ends at once.
    let ceiling = caller.clone().retry_after_max(Duration::from_secs(1));
    assert_eq!(
        ceiling.call(|_: &Flaky| Duration::from_secs(2), fails(5)),
        Err(Flaky)
    );
    // The budget pays for one retry (5 of its 5 tokens), not for a second.
    let budget = stamina::RetryBudget::quota(5, 5, 10);
    let budgeted = caller.budget(&budget);
    assert_eq!(budgeted.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    assert_eq!(
        *log.lock().unwrap(),
        [
            "giving up attempts_exhausted after 3 attempts and 300ms: hooks::Flaky Flaky",
            "giving up deadline_exceeded after 2 attempts and 100ms: hooks::Flaky Flaky",
            "giving up retry_after_too_long after 1 attempts and 0ns: hooks::Flaky Flaky",
            "giving up budget_exhausted after 2 attempts and 100ms: hooks::Flaky Flaky",
        ]
    );
    assert_eq!(
        [
            GiveUpReason::AttemptsExhausted,
            GiveUpReason::DeadlineExceeded,
            GiveUpReason::RetryAfterTooLong,
            GiveUpReason::BudgetExhausted,
        ]
        .map(GiveUpReason::as_str),
        [
            "attempts_exhausted",
            "deadline_exceeded",
            "retry_after_too_long",
            "budget_exhausted"
        ]
    );
}

#[test]
fn give_up_handlers_add_up_in_order_lazy_hooks_included() {
    let _r = registry();
    set_on_retry_hooks([]);
    let log = Log::default();
    let handler = |tag: &'static str| {
        let log = Arc::clone(&log);
        move |d: &GiveUpDetails<'_>| log.lock().unwrap().push(format!("{tag} {}", d.attempts()))
    };
    let made = handler("made");
    let lazy =
        OnRetryHook::lazy(move || OnRetryHook::new(|_: &RetryDetails<'_>| {}).on_give_up(made))
            .on_give_up(handler("added"));
    let plain = OnRetryHook::new(|_: &RetryDetails<'_>| {})
        .on_give_up(handler("first"))
        .on_give_up(handler("second"));
    let caller = RetryingCaller::new()
        .attempts(2)
        .clock(FakeClock::new())
        .on_retry_hook(lazy)
        .on_retry_hook(plain);
    assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    assert_eq!(
        *log.lock().unwrap(),
        ["made 2", "added 2", "first 2", "second 2"]
    );
}

#[test]
fn a_lazy_hook_brings_its_give_up_handler() {
    let _r = registry();
    set_on_retry_hooks([]);
    static MADE: AtomicU32 = AtomicU32::new(0);
    let log = Log::default();
    let record = Arc::clone(&log);
    let lazy = OnRetryHook::lazy(move || {
        MADE.fetch_add(1, Ordering::SeqCst);
        let record = Arc::clone(&record);
        OnRetryHook::new(|_: &RetryDetails<'_>| {}).on_give_up(move |d: &GiveUpDetails<'_>| {
            record
                .lock()
                .unwrap()
                .push(format!("{} {}", d.reason(), d.attempts()));
        })
    });
    let caller = RetryingCaller::new()
        .clock(FakeClock::new())
        .on_retry_hook(lazy)
        .on(|_: &Flaky| true);
    assert_eq!(caller.call(fails(0)), Ok(0));
    assert_eq!(MADE.load(Ordering::SeqCst), 0);
    // A server wait beyond the ceiling gives up without a retry: the give-up is the hook's
    // first use.
    assert_eq!(
        caller
            .clone()
            .retry_after_max(Duration::from_secs(1))
            .on(|_: &Flaky| Duration::from_secs(2))
            .call(fails(1)),
        Err(Flaky)
    );
    assert_eq!(MADE.load(Ordering::SeqCst), 1);
    assert_eq!(
        caller
            .clone()
            .attempts(2)
            .on(|_: &Flaky| true)
            .call(fails(5)),
        Err(Flaky)
    );
    assert_eq!(MADE.load(Ordering::SeqCst), 1);
    assert_eq!(
        *log.lock().unwrap(),
        ["retry_after_too_long 1", "attempts_exhausted 2"]
    );
}

#[test]
fn loops_allowed_a_single_attempt_report_no_give_up_for_running_out_of_it() {
    let _r = registry();
    let log = Log::default();
    let record = Arc::clone(&log);
    set_on_retry_hooks([OnRetryHook::new(|_: &RetryDetails<'_>| {}).on_give_up(
        move |d: &GiveUpDetails<'_>| {
            record.lock().unwrap().push(format!(
                "{} {} after {}",
                d.name(),
                d.reason(),
                d.attempts()
            ));
        },
    )]);
    let single = RetryingCaller::new()
        .attempts(1)
        .clock(FakeClock::new())
        .name("single");
    assert_eq!(single.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    for attempt in retry_context(|_: &Flaky| true)
        .attempts(1)
        .clock(FakeClock::new())
    {
        assert_eq!(attempt.run(fails(5)), Err(Flaky));
    }
    {
        // Testing mode's default of one attempt: a failing test writes no give-up.
        let _testing = thread_testing(Testing::new());
        let caller = RetryingCaller::new().name("tested");
        assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    }
    assert_eq!(*log.lock().unwrap(), Vec::<String>::new());

    // A loop that was allowed to retry but could not still reports why, after one attempt too.
    let three = RetryingCaller::new()
        .attempts(3)
        .wait_jitter(Duration::ZERO)
        .clock(FakeClock::new())
        .name("three");
    let short = three.clone().timeout(Duration::from_millis(50));
    assert_eq!(short.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    let pushed_back = three.clone().retry_after_max(Duration::from_secs(1));
    assert_eq!(
        pushed_back.call(|_: &Flaky| Duration::from_secs(10), fails(5)),
        Err(Flaky)
    );
    assert_eq!(three.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    assert_eq!(
        *log.lock().unwrap(),
        [
            "three deadline_exceeded after 1",
            "three retry_after_too_long after 1",
            "three attempts_exhausted after 3",
        ]
    );
}

#[test]
fn deactivated_loops_are_silent() {
    let _r = registry();
    let log = Log::default();
    set_on_retry_hooks([tagged(&log, "process")]);
    let _off = thread_active(false);
    let caller = RetryingCaller::new()
        .clock(FakeClock::new())
        .on_retry_hook(tagged(&log, "local"));
    assert_eq!(caller.call(|_: &Flaky| true, fails(3)), Err(Flaky));
    let mut attempts = 0;
    for attempt in retry_context(|_: &Flaky| true).on_retry_hook(tagged(&log, "loop")) {
        attempts += 1;
        assert_eq!(attempt.run(fails(3)), Err(Flaky));
    }
    assert_eq!(attempts, 1);
    assert!(log.lock().unwrap().is_empty());
}

#[test]
fn testing_mode_reports_zero_waits() {
    let _r = registry();
    set_on_retry_hooks([]);
    let _testing = thread_testing(Testing::new().attempts(3));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let result = RetryingCaller::new()
        .wait_initial(Duration::from_secs(1))
        .on_retry(move |d: &RetryDetails<'_>| {
            record.lock().unwrap().push((
                d.wait_for(),
                d.waited_so_far(),
                d.attempts_limit(),
                d.remaining(),
            ));
        })
        .call(|_: &Flaky| Duration::from_secs(60), fails(5));
    assert_eq!(result, Err(Flaky));
    assert_eq!(
        *seen.lock().unwrap(),
        [(Duration::ZERO, Duration::ZERO, Some(3), None); 2]
    );
}

#[test]
fn the_registry_sets_gets_resets_and_turns_off() {
    let _r = registry();
    let names = |hooks: Vec<OnRetryHook>| -> Vec<String> {
        hooks.iter().map(|h| h.name().to_owned()).collect()
    };
    let defaults = names(default_on_retry_hooks());
    assert_eq!(names(get_on_retry_hooks()), defaults);
    let mut expected = Vec::new();
    if cfg!(feature = "metrics") {
        expected.push("stamina::metrics");
    }
    if cfg!(feature = "log") {
        expected.push("stamina::log");
    }
    if cfg!(feature = "tracing") {
        expected.push("stamina::tracing");
    }
    assert_eq!(defaults, expected);

    let log = Log::default();
    set_on_retry_hooks([tagged(&log, "only").named("only")]);
    assert_eq!(names(get_on_retry_hooks()), ["only"]);

    // An empty list turns the process-wide hooks off; a loop's own hooks still run.
    set_on_retry_hooks([]);
    assert!(get_on_retry_hooks().is_empty());
    let caller = RetryingCaller::new()
        .clock(FakeClock::new())
        .on_retry_hook(tagged(&log, "own"));
    assert_eq!(caller.call(|_: &Flaky| true, fails(1)), Ok(0));
    assert_eq!(*log.lock().unwrap(), ["own1"]);

    instrument::reset_on_retry_hooks();
    assert_eq!(names(get_on_retry_hooks()), defaults);
}

#[test]
fn retries_call_the_hooks_in_force_across_sets_and_resets() {
    let _r = registry();
    let log = Log::default();
    let caller = RetryingCaller::new().clock(FakeClock::new());
    // The defaults are in force: a hook set later is not called before it is set.
    assert_eq!(caller.call(|_: &Flaky| true, fails(1)), Ok(0));
    assert!(log.lock().unwrap().is_empty());
    set_on_retry_hooks([tagged(&log, "set")]);
    assert_eq!(caller.call(|_: &Flaky| true, fails(2)), Ok(0));
    assert_eq!(*log.lock().unwrap(), ["set1", "set2"]);
    // Back to the defaults: the list set before is no longer called.
    reset_on_retry_hooks();
    assert_eq!(caller.call(|_: &Flaky| true, fails(1)), Ok(0));
    assert_eq!(log.lock().unwrap().len(), 2);
    // Set again, after retries ran with the defaults, on another thread too.
    set_on_retry_hooks([tagged(&log, "again")]);
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(caller.call(|_: &Flaky| true, fails(1)), Ok(0)));
    });
    assert_eq!(caller.call(|_: &Flaky| true, fails(1)), Ok(0));
    assert_eq!(log.lock().unwrap()[2..], ["again1", "again1"]);
}

#[test]
fn none_restores_the_default_hooks_as_in_python() {
    let _r = registry();
    let names = |hooks: Vec<OnRetryHook>| -> Vec<String> {
        hooks.iter().map(|h| h.name().to_owned()).collect()
    };
    let defaults = names(default_on_retry_hooks());
    set_on_retry_hooks([]);
    assert!(get_on_retry_hooks().is_empty());
    // Code ported from Python's `set_on_retry_hooks(None)` keeps its metrics and logs.
    set_on_retry_hooks(None);
    assert_eq!(names(get_on_retry_hooks()), defaults);
    // `Some(list)` sets the list, and a borrowed list is copied.
    let log = Log::default();
    set_on_retry_hooks(Some(vec![tagged(&log, "a").named("a")]));
    assert_eq!(names(get_on_retry_hooks()), ["a"]);
    let list = [tagged(&log, "b").named("b"), tagged(&log, "c").named("c")];
    set_on_retry_hooks(&list[..]);
    assert_eq!(names(get_on_retry_hooks()), ["b", "c"]);
}

/// The names of the counters a local debugging recorder holds after `f`, with their values.
#[cfg(feature = "metrics")]
fn counted(f: impl FnOnce()) -> Vec<(String, u64)> {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    let mut counted: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let DebugValue::Counter(count) = value else {
                panic!("{key:?} is not a counter");
            };
            let labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (
                format!("{}{{{}}}", key.key().name(), labels.join(",")),
                count,
            )
        })
        .collect();
    counted.sort();
    counted
}

#[cfg(feature = "metrics")]
#[test]
fn none_after_an_empty_list_runs_the_default_hooks_again() {
    let _r = registry();
    let call = || {
        let caller = RetryingCaller::new()
            .attempts(2)
            .clock(FakeClock::new())
            .name("restored");
        assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    };
    set_on_retry_hooks([]);
    assert_eq!(counted(call), []);
    set_on_retry_hooks(None);
    assert_eq!(
        counted(call),
        [
            (
                "stamina_retries_exhausted_total{callable=restored,error_type=hooks::Flaky,\
                 reason=attempts_exhausted}"
                    .to_owned(),
                1
            ),
            (
                "stamina_retries_total{callable=restored,retry_num=1,error_type=hooks::Flaky}"
                    .to_owned(),
                1
            ),
        ]
    );
}

#[cfg(feature = "metrics")]
#[test]
fn the_metrics_hook_alone_counts_retries_and_give_ups() {
    let _r = registry();
    set_on_retry_hooks([instrument::metrics_hook()]);
    let got = counted(|| {
        let caller = RetryingCaller::new()
            .attempts(3)
            .clock(FakeClock::new())
            .name("alone");
        assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    });
    assert_eq!(
        got,
        [
            (
                "stamina_retries_exhausted_total{callable=alone,error_type=hooks::Flaky,\
                 reason=attempts_exhausted}"
                    .to_owned(),
                1
            ),
            (
                "stamina_retries_total{callable=alone,retry_num=1,error_type=hooks::Flaky}"
                    .to_owned(),
                1
            ),
            (
                "stamina_retries_total{callable=alone,retry_num=2,error_type=hooks::Flaky}"
                    .to_owned(),
                1
            ),
        ]
    );
}

#[test]
fn details_carry_the_settings_of_the_built_in_hooks() {
    use stamina::instrument::{Level, ShowError};
    let _r = registry();
    let log = Log::default();
    let (retries, give_ups) = (Arc::clone(&log), Arc::clone(&log));
    let hook = OnRetryHook::new(move |d: &RetryDetails<'_>| {
        let line = format!("retry {:?} {:?}", d.show_error(), d.level());
        retries.lock().unwrap().push(line);
    })
    .on_give_up(move |d: &GiveUpDetails<'_>| {
        let line = format!("give-up {:?} {:?}", d.show_error(), d.level());
        give_ups.lock().unwrap().push(line);
    });
    set_on_retry_hooks([hook]);
    let caller = RetryingCaller::new().attempts(2).clock(FakeClock::new());
    // The process-wide settings, by default and once set.
    assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    instrument::set_show_error(ShowError::Display);
    instrument::set_level(Level::Error);
    assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    // The loop's own, over the process-wide ones.
    let own = caller.show_error(ShowError::Debug).log_level(Level::Info);
    assert_eq!(own.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    instrument::set_show_error(ShowError::Type);
    instrument::set_level(Level::Warn);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "retry Type Warn",
            "give-up Type Warn",
            "retry Display Error",
            "give-up Display Error",
            "retry Debug Info",
            "give-up Debug Info",
        ]
    );
}

/// An error type that is not an [`std::error::Error`], which wraps one.
#[derive(Debug)]
struct Status {
    code: u16,
    source: std::io::Error,
}

/// A predicate that shows hooks a [`Status`] as itself and its source as the error.
struct OnStatus;

impl stamina::RetryOn<Status> for OnStatus {
    fn decide(&self, status: &Status) -> stamina::Decision {
        (status.code == 503).into()
    }

    fn error_view<'e>(&self, status: &'e Status) -> instrument::ErrorView<'e> {
        instrument::ErrorView::of_any(status).with_error(&status.source)
    }
}

#[test]
fn a_predicate_shows_an_error_that_is_not_an_error_and_the_one_it_wraps() {
    let _r = registry();
    set_on_retry_hooks([]);
    let log = Log::default();
    let record = Arc::clone(&log);
    let caller = RetryingCaller::new()
        .attempts(2)
        .clock(FakeClock::new())
        .on_retry(move |d: &RetryDetails<'_>| {
            let cause = d.caused_by();
            record.lock().unwrap().push(format!(
                "debug={:?} code={:?} error={:?} type={} {}",
                cause.as_debug(),
                cause.downcast_ref::<Status>().map(|s| s.code),
                cause.as_error().map(ToString::to_string),
                cause.type_name(),
                d.error_type(),
            ));
        });
    let status = || Status {
        code: 503,
        source: std::io::Error::new(std::io::ErrorKind::TimedOut, "slow"),
    };
    assert!(caller.call(OnStatus, || Err::<(), _>(status())).is_err());
    // A plain predicate over the same error shows its `Debug` output only.
    assert!(
        caller
            .call(|_: &Status| true, || Err::<(), _>(status()))
            .is_err()
    );
    let debug = r#"Status { code: 503, source: Custom { kind: TimedOut, error: "slow" } }"#;
    assert_eq!(
        *log.lock().unwrap(),
        [
            format!(
                r#"debug={debug} code=Some(503) error=Some("slow") type=hooks::Status hooks::Status"#
            ),
            format!("debug={debug} code=None error=None type=hooks::Status hooks::Status"),
        ]
    );
}

#[cfg(feature = "metrics")]
#[test]
fn an_empty_registry_records_no_metrics() {
    let _r = registry();
    set_on_retry_hooks([]);
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let caller = RetryingCaller::new().clock(FakeClock::new()).attempts(3);
        assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    });
    assert!(snapshotter.snapshot().into_vec().is_empty());
    // With the defaults back, the same call is counted.
    reset_on_retry_hooks();
    metrics::with_local_recorder(&recorder, || {
        let caller = RetryingCaller::new().clock(FakeClock::new()).attempts(3);
        assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    });
    assert_eq!(snapshotter.snapshot().into_vec().len(), 3);
}

#[test]
fn a_panicking_hook_propagates_and_leaves_everything_usable() {
    let _r = registry();
    // A process-wide hook that makes a guard, then one that panics, then (per loop) another
    // guard-making hook that the panic keeps from running.
    let counts = Arc::new(GuardCounts::default());
    set_on_retry_hooks([
        OnRetryHook::new(guard_hook(&counts)),
        OnRetryHook::new(|d: &RetryDetails<'_>| {
            if d.name() == "panics" {
                panic!("hook failed");
            }
        }),
    ]);
    let panicking = RetryingCaller::new()
        .clock(FakeClock::new())
        .name("panics")
        .on_retry(guard_hook(&counts));
    let payload = catch_unwind(AssertUnwindSafe(|| {
        let _ = panicking.call(|_: &Flaky| true, fails(1));
    }))
    .unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"hook failed"));
    // The guard made before the panic was dropped once, while unwinding.
    assert_eq!(counts.get(), (1, 1));

    let mut attempts = 0;
    let payload = catch_unwind(AssertUnwindSafe(|| {
        for attempt in retry_context(|_: &Flaky| true)
            .name("panics")
            .clock(FakeClock::new())
            .on_retry(guard_hook(&counts))
        {
            attempts += 1;
            let _ = attempt.run(fails(1));
        }
    }))
    .unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"hook failed"));
    assert_eq!(attempts, 1);
    assert_eq!(counts.get(), (2, 2));

    // The registry and other loops are unaffected.
    let fine = RetryingCaller::new().clock(FakeClock::new()).name("fine");
    assert_eq!(fine.call(|_: &Flaky| true, fails(1)), Ok(0));
    assert_eq!(counts.get(), (3, 3));
    assert_eq!(get_on_retry_hooks().len(), 2);
}

#[test]
fn hooks_and_details_print_usefully() {
    let _r = registry();
    let hook = OnRetryHook::new(|_: &RetryDetails<'_>| {}).named("mine");
    assert_eq!(
        format!("{hook:?}"),
        r#"OnRetryHook { name: "mine", on_give_up: false, on_hedge: false }"#
    );
    let lazy = OnRetryHook::lazy(|| OnRetryHook::new(|_: &RetryDetails<'_>| {}));
    assert!(
        format!("{lazy:?}")
            .contains(r#"name: "hooks::hooks_and_details_print_usefully::{{closure}}""#)
    );
    assert_eq!(format!("{:?}", RetryGuard::new(5_u8)), "RetryGuard(u8)");
    fn shown(_: instrument::Cause<'_>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shown")
    }
    let show = instrument::ShowError::With(shown);
    assert_eq!(format!("{show:?}"), "With(..)");
    let caller = RetryingCaller::new().on_retry_hook(hook);
    assert!(format!("{caller:?}").contains(r#"hooks: [OnRetryHook { name: "mine""#));
}

/// What a hook saw of each error: its `Debug` output, whether it could downcast it and read its
/// `source()` chain, and its label.
fn seen_causes(log: &Log) -> impl Fn(&RetryDetails<'_>) + use<> {
    let log = Arc::clone(log);
    move |d: &RetryDetails<'_>| {
        let cause = d.caused_by();
        let io = cause
            .downcast_ref::<std::io::Error>()
            .map(|e| format!("{:?}", e.kind()));
        let chain: Vec<String> = std::iter::successors(cause.as_error(), |e| e.source())
            .map(ToString::to_string)
            .collect();
        log.lock().unwrap().push(format!(
            "{cause:?} io={io:?} chain={chain:?} type={}",
            d.error_type()
        ));
    }
}

#[derive(Debug)]
struct Wrapper(std::io::Error);

impl std::fmt::Display for Wrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wrapper")
    }
}

impl std::error::Error for Wrapper {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn hooks_see_the_error_itself_where_the_predicate_shows_it() {
    let _r = registry();
    set_on_retry_hooks([]);
    let log = Log::default();
    let caller = RetryingCaller::new()
        .attempts(2)
        .clock(FakeClock::new())
        .on_retry(seen_causes(&log));
    let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
    // A plain predicate: the `Debug` output only.
    let _ = caller.call(|_: &std::io::Error| true, || Err::<(), _>(timed_out()));
    // Wrapped in `typed`: the error itself, with its chain, and a label of our choosing.
    let on = stamina::typed(|_: &std::io::Error| true);
    let _ = caller.call(on, || Err::<(), _>(timed_out()));
    let on = stamina::typed(|_: &Wrapper| true).error_label(|_| "wrapped");
    let _ = caller.call(on, || Err::<(), _>(Wrapper(timed_out())));
    // A boxed error matched by `on_cause`: the error in the box.
    type Boxed = Box<dyn std::error::Error + Send + Sync>;
    let _ = caller.call(stamina::on_cause::<std::io::Error>(), || {
        Err::<(), Boxed>(timed_out().into())
    });
    // In a loop of attempt guards too.
    for attempt in retry_context(stamina::typed(|_: &std::io::Error| true))
        .attempts(2)
        .clock(FakeClock::new())
        .on_retry(seen_causes(&log))
    {
        let _ = attempt.run(|| Err::<(), _>(timed_out()));
    }
    let debug = r#"Custom { kind: TimedOut, error: "slow" }"#;
    assert_eq!(
        *log.lock().unwrap(),
        [
            format!("{debug} io=None chain=[] type=io::Error"),
            format!(r#"{debug} io=Some("TimedOut") chain=["slow"] type=io::Error"#),
            format!(r#"Wrapper({debug}) io=None chain=["wrapper", "slow"] type=wrapped"#),
            format!(r#"{debug} io=None chain=["slow"] type=Box<dyn Error + Send + Sync>"#),
            format!(r#"{debug} io=Some("TimedOut") chain=["slow"] type=io::Error"#),
        ]
    );
}

/// A hook that writes `tag`, the loop's name and the retry number into `log`, and `tag`, the
/// name and `gave up` for a give-up.
fn traced(log: &Log, tag: &'static str) -> OnRetryHook {
    let retries = Arc::clone(log);
    let give_ups = Arc::clone(log);
    OnRetryHook::new(move |d: &RetryDetails<'_>| {
        retries
            .lock()
            .unwrap()
            .push(format!("{tag} {} {}", d.name(), d.retry_num()));
    })
    .on_give_up(move |d: &GiveUpDetails<'_>| {
        give_ups
            .lock()
            .unwrap()
            .push(format!("{tag} {} gave up", d.name()));
    })
}

#[test]
fn hooks_set_on_another_thread_apply_from_the_next_retry_here() {
    let _r = registry();
    let log = Log::default();
    let elsewhere = |set: Box<dyn FnOnce() + Send>| std::thread::spawn(set).join().unwrap();
    let caller = RetryingCaller::new()
        .attempts(3)
        .clock(FakeClock::new())
        .name("here");
    let (a, b, c, d) = (
        traced(&log, "a"),
        traced(&log, "b"),
        traced(&log, "c"),
        traced(&log, "d"),
    );
    elsewhere(Box::new(move || set_on_retry_hooks([a])));
    // Two retries in a row: the second finds the hooks this thread saw at the first.
    assert_eq!(caller.call(|_: &Flaky| true, fails(2)), Ok(0));
    elsewhere(Box::new(move || set_on_retry_hooks([b])));
    assert_eq!(caller.call(|_: &Flaky| true, fails(1)), Ok(0));
    assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    // Back to the defaults (which write nothing here), then others again.
    elsewhere(Box::new(reset_on_retry_hooks));
    assert_eq!(caller.call(|_: &Flaky| true, fails(1)), Ok(0));
    elsewhere(Box::new(move || set_on_retry_hooks([c])));
    assert_eq!(caller.call(|_: &Flaky| true, fails(1)), Ok(0));
    // None at all, then some.
    elsewhere(Box::new(|| set_on_retry_hooks([])));
    assert_eq!(caller.call(|_: &Flaky| true, fails(1)), Ok(0));
    elsewhere(Box::new(move || set_on_retry_hooks([d])));
    assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    assert_eq!(
        *log.lock().unwrap(),
        [
            "a here 1",
            "a here 2",
            "b here 1",
            "b here 1",
            "b here 2",
            "b here gave up",
            "c here 1",
            "d here 1",
            "d here 2",
            "d here gave up",
        ]
    );
}

#[test]
fn a_hook_may_set_the_hooks_and_run_a_loop_of_its_own() {
    let _r = registry();
    let log = Log::default();
    let new = traced(&log, "new");
    let record = Arc::clone(&log);
    let reentrant = OnRetryHook::new(move |d: &RetryDetails<'_>| {
        if d.name() != "outer" || d.retry_num() != 1 {
            return;
        }
        // A loop of its own while the process-wide hooks are being called, which calls them
        // too.
        let inner = RetryingCaller::new()
            .attempts(2)
            .clock(FakeClock::new())
            .name("inner");
        assert_eq!(inner.call(|_: &Flaky| true, fails(5)), Err(Flaky));
        // New hooks: the rest of this retry's hooks still run, the next retry has the new ones.
        set_on_retry_hooks([new.clone()]);
        record.lock().unwrap().push("set".to_owned());
        // And a loop that sees them at once.
        let after = RetryingCaller::new().clock(FakeClock::new()).name("after");
        assert_eq!(after.call(|_: &Flaky| true, fails(1)), Ok(0));
    });
    set_on_retry_hooks([reentrant, traced(&log, "old")]);
    let caller = RetryingCaller::new()
        .attempts(4)
        .clock(FakeClock::new())
        .name("outer");
    assert_eq!(caller.call(|_: &Flaky| true, fails(5)), Err(Flaky));
    assert_eq!(
        *log.lock().unwrap(),
        [
            "old inner 1",
            "old inner gave up",
            "set",
            "new after 1",
            "old outer 1",
            "new outer 2",
            "new outer 3",
            "new outer gave up",
        ]
    );
}
