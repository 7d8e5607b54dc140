//! Panics in hooks, guards and clocks: a panicking hook ends the loop, and dropping hook guards
//! while a panic unwinds never aborts the process.
//!
//! The abort cases run in a child process (this test binary again, with an environment variable
//! naming the case), since an abort cannot be caught in-process: the parent checks that the
//! child exited normally.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use std::time::{Duration, Instant};

use stamina::instrument::RetryGuard;
use stamina::testing::{FakeClock, FakeSleeper};
use stamina::{Clock, RetryDetails, retry_context};

#[derive(Debug, PartialEq)]
struct Flaky;

fn retry_all(_: &Flaky) -> bool {
    true
}

fn panicking_hook(_: &RetryDetails<'_>) {
    panic!("hook failed");
}

#[test]
fn a_panicking_hook_caught_in_the_body_ends_the_sync_loop() {
    let mut iterations = 0;
    let mut caught = 0;
    for attempt in retry_context(retry_all)
        .attempts(5)
        .clock(FakeClock::new())
        .on_retry(panicking_hook)
    {
        iterations += 1;
        assert!(iterations <= 5, "the loop went on");
        match catch_unwind(AssertUnwindSafe(|| attempt.run(|| Err::<(), _>(Flaky)))) {
            Ok(result) => panic!("expected the hook's panic, got {result:?}"),
            Err(payload) => {
                assert_eq!(payload.downcast_ref::<&str>(), Some(&"hook failed"));
                caught += 1;
            }
        }
    }
    assert_eq!((iterations, caught), (1, 1));
}

#[test]
fn a_panicking_hook_caught_in_the_body_ends_the_attempt_stream() {
    let sleeper = FakeSleeper::new();
    let (iterations, caught) = futures::executor::block_on(async {
        let mut attempts = retry_context(retry_all)
            .attempts(5)
            .on_retry(panicking_hook)
            .into_stream_with(sleeper.clone());
        let (mut iterations, mut caught) = (0, 0);
        while let Some(attempt) = attempts.next().await {
            iterations += 1;
            assert!(iterations <= 5, "the loop went on");
            let result = catch_unwind(AssertUnwindSafe(|| attempt.record(Err::<(), _>(Flaky))));
            if result.is_err() {
                caught += 1;
            }
        }
        (iterations, caught)
    });
    assert_eq!((iterations, caught), (1, 1));
    assert!(sleeper.sleeps().is_empty());
}

/// A guard whose drop panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("guard drop failed");
    }
}

fn hook_with_a_panicking_guard(_: &RetryDetails<'_>) -> RetryGuard {
    RetryGuard::new(PanicsOnDrop)
}

/// A clock whose sleep panics.
#[derive(Clone, Copy, Debug)]
struct BrokenClock;

impl Clock for BrokenClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, _: Duration) {
        panic!("clock failed");
    }
}

const CASE: &str = "STAMINA_PANICS_CHILD_CASE";

/// The user's code panics while the loop holds a guard whose drop panics.
fn user_panics_while_guards_are_held() {
    let outcome = catch_unwind(|| {
        let mut attempts = retry_context(retry_all)
            .attempts(3)
            .clock(FakeClock::new())
            .on_retry(hook_with_a_panicking_guard)
            .into_iter();
        let attempt = attempts.next().unwrap();
        assert_eq!(attempt.run(|| Err::<(), _>(Flaky)), Ok(None));
        panic!("user code failed");
    });
    let payload = outcome.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"user code failed"));
}

/// The clock's sleep panics while the loop holds a guard whose drop panics.
fn clock_panics_while_guards_are_held() {
    let outcome = catch_unwind(|| {
        for attempt in retry_context(retry_all)
            .attempts(3)
            .clock(BrokenClock)
            .on_retry(hook_with_a_panicking_guard)
        {
            let _ = attempt.run(|| Err::<(), _>(Flaky));
        }
    });
    let payload = outcome.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"clock failed"));
}

/// Runs `case` in a child process and returns whether it exited normally.
fn in_child(case: &str, test_name: &str) -> std::process::ExitStatus {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CASE, case)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child {case}: {:?}\n{stderr}",
        output.status
    );
    // The child ran the case, not nothing: the guard's panic was reported by the panic hook.
    assert!(stderr.contains("guard drop failed"), "{stderr}");
    output.status
}

#[test]
fn dropping_a_panicking_guard_while_user_code_unwinds_does_not_abort() {
    match std::env::var(CASE).as_deref() {
        Ok("user") => user_panics_while_guards_are_held(),
        Ok(_) => {}
        Err(_) => {
            in_child(
                "user",
                "dropping_a_panicking_guard_while_user_code_unwinds_does_not_abort",
            );
        }
    }
}

#[test]
fn dropping_a_panicking_guard_while_a_clock_unwinds_does_not_abort() {
    match std::env::var(CASE).as_deref() {
        Ok("clock") => clock_panics_while_guards_are_held(),
        Ok(_) => {}
        Err(_) => {
            in_child(
                "clock",
                "dropping_a_panicking_guard_while_a_clock_unwinds_does_not_abort",
            );
        }
    }
}

#[test]
fn a_panicking_guard_drop_outside_unwinding_propagates() {
    let outcome = catch_unwind(|| {
        for attempt in retry_context(retry_all)
            .attempts(2)
            .clock(FakeClock::new())
            .on_retry(hook_with_a_panicking_guard)
        {
            let _ = attempt.run(|| Err::<(), _>(Flaky));
        }
    });
    let payload = outcome.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"guard drop failed"));
}
