//! The `for attempt in retry_context(on)` loop, on a fake clock.

use std::cell::Cell;
use std::time::Duration;

use stamina::testing::{FakeClock, Testing, thread_active, thread_testing};
use stamina::{Decision, retry_context};

#[derive(Debug, PartialEq, Eq)]
enum Error {
    Transient(u32),
    Fatal,
}

fn is_transient(e: &Error) -> bool {
    matches!(e, Error::Transient(_))
}

/// More attempts than any loop here makes: loops are cut there, so that a broken limit fails
/// its test's counts instead of spinning forever.
const BOUND: usize = 100;

fn ms(v: &[u64]) -> Vec<Duration> {
    v.iter().copied().map(Duration::from_millis).collect()
}

/// Runs a loop whose attempt `n` returns `outcome(n)`; returns the result, the attempt numbers
/// seen and the clock.
fn drive(
    ctx: stamina::RetryContext<fn(&Error) -> bool>,
    clock: &FakeClock,
    outcome: impl Fn(u32) -> Result<&'static str, Error>,
) -> (Result<Option<&'static str>, Error>, Vec<u32>) {
    let mut seen = Vec::new();
    let mut last = Ok(None);
    for attempt in ctx.clock(clock.clone()).into_iter().take(BOUND) {
        seen.push(attempt.num());
        let n = attempt.num();
        match attempt.run(|| outcome(n)) {
            Ok(Some(v)) => last = Ok(Some(v)),
            Ok(None) => {}
            Err(e) => return (Err(e), seen),
        }
    }
    (last, seen)
}

fn ctx() -> stamina::RetryContext<fn(&Error) -> bool> {
    retry_context(is_transient as fn(&Error) -> bool).wait_jitter(Duration::ZERO)
}

#[test]
fn succeeds_after_transient_failures() {
    let clock = FakeClock::new();
    let (result, seen) = drive(ctx(), &clock, |n| {
        if n < 4 {
            Err(Error::Transient(n))
        } else {
            Ok("ok")
        }
    });
    assert_eq!(result, Ok(Some("ok")));
    assert_eq!(seen, [1, 2, 3, 4]);
    assert_eq!(clock.sleeps(), ms(&[100, 200, 400]));
}

#[test]
fn exhaustion_returns_the_last_error_unchanged() {
    let clock = FakeClock::new();
    let (result, seen) = drive(ctx(), &clock, |n| Err(Error::Transient(n)));
    assert_eq!(result, Err(Error::Transient(10)));
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    assert_eq!(
        clock.sleeps(),
        ms(&[100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000])
    );
}

#[test]
fn a_non_matching_error_runs_once_without_waiting() {
    let clock = FakeClock::new();
    let (result, seen) = drive(ctx(), &clock, |_| Err(Error::Fatal));
    assert_eq!(result, Err(Error::Fatal));
    assert_eq!(seen, [1]);
    assert!(clock.sleeps().is_empty());
}

#[test]
fn the_error_reaches_the_caller_through_question_mark() {
    fn fetch(calls: &mut u32) -> Result<u32, Error> {
        for attempt in retry_context(is_transient)
            .attempts(3)
            .clock(FakeClock::new())
        {
            if let Some(v) = attempt.run(|| {
                *calls += 1;
                Err::<u32, _>(Error::Transient(*calls))
            })? {
                return Ok(v);
            }
        }
        unreachable!()
    }
    let mut calls = 0;
    assert_eq!(fetch(&mut calls), Err(Error::Transient(3)));
    assert_eq!(calls, 3);
}

#[test]
fn the_body_may_borrow_mut_self() {
    struct Client {
        failures: u32,
        calls: u32,
    }
    impl Client {
        fn get(&mut self) -> Result<u32, Error> {
            self.calls += 1;
            if self.calls <= self.failures {
                Err(Error::Transient(self.calls))
            } else {
                Ok(self.calls)
            }
        }
        fn get_retrying(&mut self) -> Result<u32, Error> {
            let mut value = None;
            for attempt in retry_context(is_transient).clock(FakeClock::new()) {
                value = attempt.run(|| self.get())?;
            }
            Ok(value.expect("the loop ends with a value or an error"))
        }
    }
    let mut client = Client {
        failures: 2,
        calls: 0,
    };
    assert_eq!(client.get_retrying(), Ok(3));
    assert_eq!(client.calls, 3);
}

#[test]
fn attempts_none_zero_one() {
    for (ctx, expected) in [
        (ctx().attempts(0), 1),
        (ctx().attempts(1), 1),
        (ctx().attempts(2), 2),
        // Unlimited: ends at the 45 s deadline: 6.3 s of growing waits, then 7 waits of 5 s
        // (ending at 41.3 s); the next would end at 46.3 s.
        (ctx().unlimited_attempts(), 14),
    ] {
        let clock = FakeClock::new();
        let (result, seen) = drive(ctx, &clock, |n| Err(Error::Transient(n)));
        assert_eq!(result, Err(Error::Transient(expected)));
        assert_eq!(seen.len() as u32, expected);
    }
}

#[test]
fn the_deadline_is_never_overslept() {
    let clock = FakeClock::new();
    let slow = clock.clone();
    // Every attempt takes 2 s; the deadline is 10 s.
    let (result, seen) = drive(ctx().timeout(Duration::from_secs(10)), &clock, |n| {
        slow.advance(Duration::from_secs(2));
        Err(Error::Transient(n))
    });
    // 2 + .1 + 2 + .2 + 2 + .4 + 2 = 8.7 s; the next wait (.8 s) would end at 9.5 s < 10 s,
    // then attempt 5 ends at 11.5 s: past the deadline, so no wait is started after it.
    assert_eq!(result, Err(Error::Transient(5)));
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    assert_eq!(clock.sleeps(), ms(&[100, 200, 400, 800]));
    assert_eq!(clock.elapsed(), Duration::from_millis(11_500));
}

#[test]
fn zero_timeout_means_one_attempt() {
    let clock = FakeClock::new();
    let (result, seen) = drive(ctx().timeout(Duration::ZERO), &clock, |n| {
        Err(Error::Transient(n))
    });
    assert_eq!(result, Err(Error::Transient(1)));
    assert_eq!(seen, [1]);
}

#[test]
fn custom_waits_are_exact_and_uncapped() {
    let clock = FakeClock::new();
    let on = |_: &Error| Duration::from_secs(7);
    let mut calls = 0;
    for attempt in retry_context(on)
        .attempts(3)
        .no_timeout()
        .clock(clock.clone())
        .into_iter()
        .take(BOUND)
    {
        calls += 1;
        if attempt.run(|| Err::<(), _>(Error::Fatal)).is_err() {
            break;
        }
    }
    assert_eq!(calls, 3);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(7); 2]);
}

#[test]
fn explicit_decisions() {
    let clock = FakeClock::new();
    let on = |e: &Error| match e {
        Error::Transient(1) => Decision::RetryAfter(Duration::from_millis(1)),
        Error::Transient(_) => Decision::Retry,
        Error::Fatal => Decision::DontRetry,
    };
    let mut calls = 0;
    let mut last = None;
    for attempt in retry_context(on)
        .wait_jitter(Duration::ZERO)
        .clock(clock.clone())
    {
        calls += 1;
        let n = attempt.num();
        if let Err(e) = attempt.run(|| {
            Err::<(), _>(if n < 3 {
                Error::Transient(n)
            } else {
                Error::Fatal
            })
        }) {
            last = Some(e);
        }
    }
    assert_eq!(calls, 3);
    assert_eq!(last, Some(Error::Fatal));
    assert_eq!(clock.sleeps(), ms(&[1, 200]));
}

#[test]
fn next_wait_and_remaining() {
    let clock = FakeClock::new();
    let mut seen = Vec::new();
    for attempt in ctx()
        .attempts(4)
        .timeout(Duration::from_secs(30))
        .clock(clock.clone())
    {
        clock.advance(Duration::from_secs(1));
        seen.push((attempt.num(), attempt.next_wait(), attempt.remaining()));
        let _ = attempt.run(|| Err::<(), _>(Error::Transient(0)));
    }
    let s = Duration::from_secs;
    let m = Duration::from_millis;
    assert_eq!(
        seen,
        [
            (1, m(100), Some(s(29))),
            (2, m(200), Some(m(27_900))),
            (3, m(400), Some(m(26_700))),
            (4, m(800), Some(m(25_300))),
        ]
    );
    let no_timeout = ctx().no_timeout().into_iter().next().unwrap();
    assert_eq!(no_timeout.remaining(), None);
}

#[test]
fn a_guard_dropped_without_an_outcome_ends_the_loop() {
    let mut attempts = ctx().clock(FakeClock::new()).into_iter();
    let first = attempts.next().unwrap();
    drop(first);
    assert!(attempts.next().is_none());
    assert!(attempts.next().is_none(), "fused");
}

#[test]
fn the_iterator_is_fused_after_success_and_after_errors() {
    let mut attempts = ctx().clock(FakeClock::new()).into_iter();
    let a = attempts.next().unwrap();
    assert_eq!(a.run(|| Ok::<_, Error>(1)), Ok(Some(1)));
    assert!(attempts.next().is_none());
    assert!(attempts.next().is_none());

    let mut attempts = ctx().clock(FakeClock::new()).into_iter();
    let a = attempts.next().unwrap();
    assert_eq!(a.run(|| Err::<(), _>(Error::Fatal)), Err(Error::Fatal));
    assert!(attempts.next().is_none());
}

#[test]
fn a_stale_guard_cannot_retry() {
    let mut attempts = ctx().clock(FakeClock::new()).into_iter();
    let a = attempts.next().unwrap();
    assert!(attempts.next().is_none()); // `a` had no outcome: the loop is over
    assert_eq!(
        a.record(Err::<(), _>(Error::Transient(1))),
        Err(Error::Transient(1))
    );
}

#[test]
fn deactivated_runs_once_without_calling_on() {
    let _off = thread_active(false);
    let clock = FakeClock::new();
    let calls = Cell::new(0);
    let on = |_: &Error| -> bool { panic!("`on` is not consulted when retries are off") };
    for attempt in retry_context(on).clock(clock.clone()) {
        calls.set(calls.get() + 1);
        assert_eq!(
            attempt.run(|| Err::<(), _>(Error::Transient(1))),
            Err(Error::Transient(1))
        );
    }
    assert_eq!(calls.get(), 1);
    assert!(clock.sleeps().is_empty());
}

#[test]
fn testing_mode_forces_attempts_and_zeroes_waits() {
    let clock = FakeClock::new();
    let _testing = thread_testing(Testing::new().attempts(3));
    let (result, seen) = drive(ctx().attempts(10), &clock, |n| Err(Error::Transient(n)));
    assert_eq!(result, Err(Error::Transient(3)));
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(clock.sleeps(), vec![Duration::ZERO; 2]);
    // Forced, not capped: a loop configured for 1 attempt makes 3.
    let (_, seen) = drive(ctx().attempts(1), &clock, |n| Err(Error::Transient(n)));
    assert_eq!(seen, [1, 2, 3]);
    // The timeout is ignored in testing mode.
    let (_, seen) = drive(ctx().timeout(Duration::ZERO), &clock, |n| {
        Err(Error::Transient(n))
    });
    assert_eq!(seen, [1, 2, 3]);
}

#[test]
fn testing_mode_with_cap() {
    let clock = FakeClock::new();
    let _testing = thread_testing(Testing::new().attempts(3).cap(true));
    let (_, seen) = drive(ctx().attempts(2), &clock, |n| Err(Error::Transient(n)));
    assert_eq!(seen, [1, 2]);
    let (_, seen) = drive(ctx().unlimited_attempts(), &clock, |n| {
        Err(Error::Transient(n))
    });
    assert_eq!(seen, [1, 2, 3]);
}

#[test]
fn custom_waits_are_zero_in_testing_mode() {
    let clock = FakeClock::new();
    let _testing = thread_testing(Testing::new().attempts(3));
    let on = |_: &Error| Duration::from_secs(3600);
    for attempt in retry_context(on)
        .clock(clock.clone())
        .into_iter()
        .take(BOUND)
    {
        let _ = attempt.run(|| Err::<(), _>(Error::Fatal));
    }
    assert_eq!(clock.sleeps(), vec![Duration::ZERO; 2]);
    assert_eq!(clock.elapsed(), Duration::ZERO);
}

#[test]
fn a_panicking_body_propagates_and_leaves_no_state() {
    let clock = FakeClock::new();
    let result = std::panic::catch_unwind(|| {
        for attempt in retry_context(is_transient).clock(clock.clone()) {
            let _ = attempt.run(|| -> Result<(), Error> { panic!("boom") });
        }
    });
    let payload = result.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    // A new loop on the same thread behaves normally.
    let (result, seen) = drive(ctx().attempts(2), &clock, |n| Err(Error::Transient(n)));
    assert_eq!(result, Err(Error::Transient(2)));
    assert_eq!(seen, [1, 2]);
}

#[test]
fn a_panicking_predicate_propagates() {
    let clock = FakeClock::new();
    let on = |_: &Error| -> bool { panic!("predicate") };
    let result = std::panic::catch_unwind(|| {
        for attempt in retry_context(on).clock(clock.clone()) {
            let _ = attempt.run(|| Err::<(), _>(Error::Fatal));
        }
    });
    assert_eq!(
        result.unwrap_err().downcast_ref::<&str>(),
        Some(&"predicate")
    );
    assert!(clock.sleeps().is_empty());
}

#[test]
fn seeded_jitter_repeats_and_stays_in_bounds() {
    let waits = |seed| {
        let clock = FakeClock::new();
        let _ = drive(
            retry_context(is_transient as fn(&Error) -> bool)
                .seed(seed)
                .no_timeout(),
            &clock,
            |n| Err(Error::Transient(n)),
        );
        clock.sleeps()
    };
    let a = waits(1);
    assert_eq!(a, waits(1));
    assert_ne!(a, waits(2));
    let floors = ms(&[100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    for (w, floor) in a.iter().zip(&floors) {
        assert!(
            *w >= *floor && *w <= (*floor + Duration::from_secs(1)).min(Duration::from_secs(5))
        );
    }
}

#[test]
fn debug_output() {
    let ctx = retry_context(is_transient).attempts(3).name("fetch");
    assert_eq!(
        format!("{ctx:?}"),
        "RetryContext { name: \"fetch\", attempts: 3, timeout: 45s, wait_initial: 100ms, \
         wait_max: 5s, wait_jitter: 1s, wait_exp_base: 2, on: sync::is_transient, .. }"
    );
    let unnamed = format!("{:?}", retry_context(is_transient));
    assert!(unnamed.contains("name: \"tests/sync.rs\","), "{unnamed}");
    let attempt = retry_context(is_transient)
        .name("fetch")
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(attempt.name(), "fetch");
    assert_eq!(
        format!("{attempt:?}"),
        "Attempt { num: 1, name: \"fetch\", .. }"
    );
    // The iterator: its settings, then where the loop stands.
    let mut attempts = retry_context(is_transient)
        .name("listed")
        .attempts(2)
        .no_timeout()
        .into_iter();
    let settings = "name: \"listed\", attempts: 2, timeout: none, wait_initial: 100ms, \
                    wait_max: 5s, wait_jitter: 1s, wait_exp_base: 2";
    assert_eq!(
        format!("{attempts:?}"),
        format!("Attempts {{ {settings}, attempt: 0, phase: NotStarted, waited: 0ns, .. }}")
    );
    let first = attempts.next().unwrap();
    assert_eq!(
        format!("{attempts:?}"),
        format!("Attempts {{ {settings}, attempt: 1, phase: Running(1), waited: 0ns, .. }}")
    );
    drop(first);
    assert!(attempts.next().is_none());
    assert_eq!(format!("{attempts:?}"), "Attempts { ended: true, .. }");
}

/// Each jitter family, set on a context and on a caller, gives the same seeded waits through
/// both, within the family's bounds; the four families give four different sequences.
#[test]
fn jitter_families_through_contexts_and_callers() {
    use stamina::{Jitter, RetryPolicy, RetryingCaller};

    let initial = Duration::from_millis(100);
    let max = Duration::from_secs(5);
    let mut sequences = Vec::new();
    for jitter in [
        Jitter::Additive,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ] {
        let policy = RetryPolicy::new()
            .attempts(8)
            .no_timeout()
            .seed(3)
            .jitter(jitter);
        assert_eq!(policy.get_jitter(), jitter);
        let caller_clock = FakeClock::new();
        let caller = RetryingCaller::new()
            .attempts(8)
            .no_timeout()
            .seed(3)
            .jitter(jitter)
            .clock(caller_clock.clone());
        assert_eq!(caller.get_policy(), &policy);
        let calls = Cell::new(0);
        let fails = || {
            calls.set(calls.get() + 1);
            assert!(calls.get() <= BOUND, "the caller should have given up");
            Err::<(), _>(Error::Transient(0))
        };
        assert_eq!(caller.call(is_transient, fails), fails());
        assert_eq!(
            calls.get(),
            9,
            "8 attempts, and the call for the comparison"
        );

        let loop_clock = FakeClock::new();
        let mut attempts = 0;
        for attempt in retry_context(is_transient)
            .policy(policy)
            .clock(loop_clock.clone())
            .into_iter()
            .take(BOUND)
        {
            attempts += 1;
            let _ = attempt.run(fails);
        }
        assert_eq!(attempts, 8);
        let waits = caller_clock.sleeps();
        assert_eq!(loop_clock.sleeps(), waits, "{jitter}");
        assert_eq!(waits.len(), 7);

        let mut previous = initial;
        for (n, &wait) in (0u32..).zip(&waits) {
            let exp = (initial * 2u32.pow(n)).min(max);
            let (low, high) = match jitter {
                Jitter::Additive => (exp, (exp + Duration::from_secs(1)).min(max)),
                Jitter::Full => (Duration::ZERO, exp),
                Jitter::Equal => (exp / 2, exp),
                _ => (initial, (previous * 3).min(max)),
            };
            assert!(low <= wait && wait <= high, "{jitter} wait {n}: {wait:?}");
            previous = wait;
        }
        sequences.push(waits);
    }
    for (i, a) in sequences.iter().enumerate() {
        for b in &sequences[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

/// A server wait up to `retry_after_max` is waited exactly; one beyond it ends the loop at once.
#[test]
fn a_server_wait_beyond_the_ceiling_ends_the_loop() {
    use stamina::RetryPolicy;

    assert_eq!(RetryPolicy::new().get_retry_after_max(), None);
    let ceiling = Duration::from_secs(10);
    let policy = RetryPolicy::new().attempts(3).retry_after_max(ceiling);
    assert_eq!(policy.get_retry_after_max(), Some(ceiling));
    for (asked, sleeps, calls) in [(10, vec![ceiling; 2], 3), (11, vec![], 1)] {
        let clock = FakeClock::new();
        let on = move |_: &Error| Duration::from_secs(asked);
        let mut made = 0;
        for attempt in retry_context(on).policy(policy).clock(clock.clone()) {
            made += 1;
            let _ = attempt.run(|| Err::<(), _>(Error::Transient(made)));
        }
        assert_eq!((clock.sleeps(), made), (sleeps, calls));
    }
}

/// A clock behind a reference, an `Arc` or a `Box` is the clock itself: its time and sleeps.
#[test]
fn clocks_behind_references_arcs_and_boxes() {
    use stamina::{Clock, RetryingCaller};
    use std::sync::Arc;

    fn waits(clock: impl Clock) {
        // 100 ms, then a 200 ms wait would end at 300 ms, after the 250 ms deadline.
        let caller = RetryingCaller::new()
            .wait_jitter(Duration::ZERO)
            .timeout(Duration::from_millis(250))
            .clock(clock);
        let fails = || Err::<(), _>(Error::Transient(0));
        assert_eq!(caller.call(is_transient, fails), fails());
    }
    let clock = FakeClock::new();
    waits(&clock);
    waits(&clock as &dyn Clock);
    waits(Arc::new(clock.clone()));
    waits(Box::new(clock.clone()) as Box<dyn Clock>);
    assert_eq!(clock.sleeps(), ms(&[100; 4]));
}

/// Testing settings read back as set, and a cap keeps a loop's own smaller number of attempts.
#[test]
fn testing_settings_read_back_and_a_cap_keeps_fewer_attempts() {
    assert_eq!(Testing::default(), Testing::new());
    assert_eq!(
        (Testing::new().get_attempts(), Testing::new().get_cap()),
        (1, false)
    );
    assert_eq!(Testing::new().attempts(0).get_attempts(), 1);
    let capped = Testing::new().attempts(5).cap(true);
    assert_eq!((capped.get_attempts(), capped.get_cap()), (5, true));
    let _testing = thread_testing(capped);
    assert_eq!(stamina::testing::get_testing(), Some(capped));
    let clock = FakeClock::new();
    let (result, seen) = drive(ctx().attempts(2), &clock, |n| Err(Error::Transient(n)));
    assert_eq!((result, seen), (Err(Error::Transient(2)), vec![1, 2]));
    let (_, seen) = drive(ctx().attempts(9), &clock, |n| Err(Error::Transient(n)));
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    assert_eq!(clock.sleeps(), [Duration::ZERO; 5]);
}
