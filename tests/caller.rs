//! `RetryingCaller` and the `RetryContext` it binds with `on`, on a fake clock (and one test on
//! the real one).

use std::cell::Cell;
use std::io;
use std::time::{Duration, Instant};

use stamina::testing::{FakeClock, Testing, thread_active, thread_testing};
use stamina::{Clock, RetryPolicy, RetryingCaller, SystemClock};

fn is_timeout(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut
}

fn caller(clock: &FakeClock) -> RetryingCaller<FakeClock> {
    RetryingCaller::new()
        .wait_jitter(Duration::ZERO)
        .clock(clock.clone())
}

/// A call that fails with `kind`, counted in `calls`. No test here makes more than 100 calls: one
/// that would (a broken limit) fails instead of spinning forever.
fn failing(calls: &Cell<u32>, kind: io::ErrorKind) -> impl FnMut() -> io::Result<u32> + '_ {
    move || {
        calls.set(calls.get() + 1);
        assert!(calls.get() <= 100, "the caller should have given up");
        Err(io::Error::new(kind, format!("call {}", calls.get())))
    }
}

#[test]
fn retries_until_success() {
    let clock = FakeClock::new();
    let mut calls = 0;
    let value = caller(&clock).call(is_timeout, || {
        calls += 1;
        if calls < 3 {
            Err(io::ErrorKind::TimedOut.into())
        } else {
            Ok(calls)
        }
    });
    assert_eq!(value.unwrap(), 3);
    assert_eq!(clock.sleeps(), [100, 200].map(Duration::from_millis));
}

#[test]
fn exhaustion_returns_the_last_error() {
    let clock = FakeClock::new();
    let calls = Cell::new(0);
    let err = caller(&clock)
        .attempts(4)
        .call(is_timeout, failing(&calls, io::ErrorKind::TimedOut))
        .unwrap_err();
    assert_eq!(err.to_string(), "call 4");
    assert_eq!(calls.get(), 4);
    assert_eq!(clock.sleeps(), [100, 200, 400].map(Duration::from_millis));
}

#[test]
fn a_non_matching_error_runs_once() {
    let clock = FakeClock::new();
    let calls = Cell::new(0);
    let err = caller(&clock)
        .call(is_timeout, failing(&calls, io::ErrorKind::NotFound))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert_eq!(calls.get(), 1);
    assert!(clock.sleeps().is_empty());
}

#[test]
fn bound_callers_are_reusable() {
    let clock = FakeClock::new();
    let bound = caller(&clock).attempts(2).on(is_timeout);
    let calls = Cell::new(0);
    for round in 1..=3 {
        let err = bound
            .call(failing(&calls, io::ErrorKind::TimedOut))
            .unwrap_err();
        assert_eq!(err.to_string(), format!("call {}", round * 2));
    }
    assert_eq!(calls.get(), 6);
    assert_eq!(clock.sleeps(), vec![Duration::from_millis(100); 3]);
    let cloned = bound.clone();
    assert_eq!(cloned.call(|| Ok::<_, io::Error>(1)).unwrap(), 1);
    assert_eq!(bound.get_policy().get_attempts(), Some(2));
}

#[test]
fn the_deadline_is_respected() {
    let clock = FakeClock::new();
    let slow = clock.clone();
    let calls = Cell::new(0);
    let err = caller(&clock)
        .unlimited_attempts()
        .timeout(Duration::from_secs(1))
        .call(is_timeout, || {
            slow.advance(Duration::from_millis(300));
            failing(&calls, io::ErrorKind::TimedOut)()
        })
        .unwrap_err();
    // .3 + .1 + .3 + .2 + .3 = 1.2 s: the third wait (.4 s, from 1.2 s) is never started.
    assert_eq!(err.to_string(), "call 3");
    assert_eq!(clock.sleeps(), [100, 200].map(Duration::from_millis));
    assert_eq!(clock.elapsed(), Duration::from_millis(1200));
}

#[test]
fn attempts_zero_and_one() {
    for attempts in [0, 1] {
        let clock = FakeClock::new();
        let calls = Cell::new(0);
        let _ = caller(&clock)
            .attempts(attempts)
            .call(is_timeout, failing(&calls, io::ErrorKind::TimedOut));
        assert_eq!(calls.get(), 1);
    }
}

#[test]
fn switches_apply_to_callers() {
    let clock = FakeClock::new();
    let calls = Cell::new(0);
    {
        let _off = thread_active(false);
        let _ = caller(&clock).call(is_timeout, failing(&calls, io::ErrorKind::TimedOut));
        assert_eq!(calls.get(), 1);
    }
    {
        let _testing = thread_testing(Testing::new().attempts(2));
        let _ = caller(&clock).call(
            |_: &io::Error| Duration::from_secs(60),
            failing(&calls, io::ErrorKind::TimedOut),
        );
        assert_eq!(calls.get(), 3);
    }
    assert_eq!(clock.sleeps(), [Duration::ZERO]);
}

#[test]
fn one_policy_many_callers() {
    const POLICY: RetryPolicy = RetryPolicy::new().attempts(2).wait_jitter(Duration::ZERO);
    let clock = FakeClock::new();
    let calls = Cell::new(0);
    let a = RetryingCaller::from_policy(POLICY).clock(clock.clone());
    let b = RetryingCaller::new().policy(POLICY).clock(clock.clone());
    let _ = a.call(is_timeout, failing(&calls, io::ErrorKind::TimedOut));
    let _ = b.call(is_timeout, failing(&calls, io::ErrorKind::TimedOut));
    assert_eq!(calls.get(), 4);
    assert_eq!(a.get_policy(), b.get_policy());
}

#[test]
fn debug_shows_the_configuration() {
    let caller = RetryingCaller::new()
        .unlimited_attempts()
        .no_timeout()
        .name("db");
    assert_eq!(
        format!("{caller:?}"),
        "RetryingCaller { name: \"db\", attempts: unlimited, timeout: none, \
         wait_initial: 100ms, wait_max: 5s, wait_jitter: 1s, wait_exp_base: 2, .. }"
    );
    let bound = RetryingCaller::new().seed(3).on(is_timeout);
    assert_eq!(
        format!("{bound:?}"),
        "RetryContext { attempts: 10, timeout: 45s, wait_initial: 100ms, wait_max: 5s, \
         wait_jitter: 1s, wait_exp_base: 2, seed: 3, on: caller::is_timeout, .. }"
    );
}

#[test]
fn invalid_configuration_is_an_error_not_a_wrong_wait() {
    let err = RetryingCaller::new()
        .try_wait_exp_base(f64::NAN)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "wait_exp_base must be a finite number >= 1, got NaN"
    );
    let result = std::panic::catch_unwind(|| RetryingCaller::new().wait_exp_base(0.5));
    let payload = result.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("stamina: wait_exp_base must be a finite number >= 1, got 0.5")
    );
}

#[test]
fn a_bound_caller_takes_every_setting_after_on() {
    let clock = FakeClock::new();
    let caller = stamina::RetryingCaller::new()
        .on(|_: &std::fmt::Error| true)
        .attempts(3)
        .wait_jitter(Duration::ZERO)
        .name("bound")
        .suppress_nested(false)
        .clock(clock.clone());
    assert_eq!(caller.get_policy().get_attempts(), Some(3));
    assert_eq!(
        caller.call(|| Err::<(), _>(std::fmt::Error)),
        Err(std::fmt::Error)
    );
    assert_eq!(clock.sleeps(), [100, 200].map(Duration::from_millis));
    assert!(format!("{caller:?}").starts_with(r#"RetryContext { name: "bound", attempts: 3"#));
}

/// The default clock sleeps the waits for real: a call takes at least their sum. Only a lower
/// bound is asserted (a busy machine makes a sleep longer, never shorter); three attempts, with
/// waits of 10 ms and 20 ms, bound the test.
#[test]
fn the_real_clock_sleeps_the_waits() {
    let calls = Cell::new(0);
    let started = Instant::now();
    let result = RetryingCaller::new()
        .attempts(3)
        .wait_initial(Duration::from_millis(10))
        .wait_jitter(Duration::ZERO)
        .call(is_timeout, failing(&calls, io::ErrorKind::TimedOut));
    assert_eq!(result.unwrap_err().to_string(), "call 3");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(30), "{took:?}");

    let started = Instant::now();
    SystemClock.sleep(Duration::from_millis(5));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(5), "{took:?}");
}
