//! Shared retry budgets attached to loops and callers.

use std::io;
use std::time::Duration;

use stamina::testing::{FakeClock, FakeSleeper, Testing, thread_testing};
use stamina::{RetryBudget, RetryingCaller, retry_context};

fn always(_: &io::Error) -> bool {
    true
}

/// Counts a call that fails. No loop here makes more than 10 calls: one that would (a broken
/// limit) fails its test instead of spinning forever.
fn failing_call(calls: &mut u32) -> io::Result<()> {
    *calls += 1;
    assert!(*calls <= 10, "call {calls}: the loop should have ended");
    Err(io::Error::other("down"))
}

#[test]
fn one_budget_limits_retries_across_callers_and_loops() {
    // Room for 4 retries of 5 tokens.
    let budget = RetryBudget::quota(20, 5, 10);
    let clock = FakeClock::new();
    let a = RetryingCaller::new().budget(&budget).clock(clock.clone());
    let b = a.clone().attempts(3);
    let mut calls = 0;
    assert!(a.call(always, || failing_call(&mut calls)).is_err());
    // a: 1 attempt + 4 paid retries = 5 calls, then the budget is empty.
    assert_eq!(calls, 5);
    assert_eq!(budget.available(), 0.0);
    assert!(b.call(always, || failing_call(&mut calls)).is_err());
    assert_eq!(
        calls, 6,
        "an empty budget still allows the first attempt, nothing more"
    );

    let mut loop_calls = 0;
    for attempt in retry_context(always).budget(&budget).clock(clock.clone()) {
        loop_calls += 1;
        let _ = attempt.run(|| Err::<(), _>(io::Error::other("down")));
    }
    assert_eq!(loop_calls, 1);
    assert_eq!(clock.sleeps().len(), 4);
}

#[test]
fn successes_refill_the_budget() {
    let budget = RetryBudget::quota(10, 5, 10);
    let caller = RetryingCaller::new()
        .budget(&budget)
        .clock(FakeClock::new());
    let mut left = 1;
    let result = caller.call(always, || {
        if left > 0 {
            left -= 1;
            return Err(io::Error::other("once"));
        }
        Ok(())
    });
    assert!(result.is_ok());
    // Paid 5 for the retry, got the 5 back when it succeeded.
    assert_eq!(budget.available(), 10.0);
    // A first-attempt success adds 1, up to the capacity.
    let _ = caller.call(always, || {
        let mut calls = 0;
        failing_call(&mut calls)
    });
    assert_eq!(budget.available(), 0.0);
    for _ in 0..3 {
        caller.call(always, || Ok::<_, io::Error>(())).unwrap();
    }
    assert_eq!(budget.available(), 3.0);
    let mut loop_ok = 0;
    for attempt in retry_context(always)
        .budget(&budget)
        .clock(FakeClock::new())
    {
        loop_ok += 1;
        attempt.run(|| Ok::<_, io::Error>(())).unwrap();
    }
    assert_eq!(loop_ok, 1);
    assert_eq!(budget.available(), 4.0);
}

#[test]
fn the_throttle_reacts_to_the_failure_ratio() {
    let budget = RetryBudget::throttle(10, 0.5);
    let caller = RetryingCaller::new()
        .wait_initial(Duration::ZERO)
        .budget(&budget)
        .clock(FakeClock::new());
    let mut calls = 0;
    let _ = caller.call(always, || failing_call(&mut calls));
    // Tokens after each failure: 9, 8, 7, 6 (retry allowed: > 5), 5 (refused).
    assert_eq!(calls, 5);
    assert_eq!(budget.available(), 5.0);
    caller.call(always, || Ok::<_, io::Error>(())).unwrap();
    assert_eq!(budget.available(), 5.5);
}

#[test]
fn budgets_are_not_charged_in_testing_mode() {
    let _t = thread_testing(Testing::new().attempts(4));
    let budget = RetryBudget::quota(0, 5, 10);
    let mut calls = 0;
    let _ = RetryingCaller::new()
        .budget(&budget)
        .call(always, || failing_call(&mut calls));
    assert_eq!(calls, 4);
}

/// Testing mode neither charges a throttle (every retryable failure would cost it a token) nor
/// asks it (a throttle at half its tokens or less refuses retries); successes still refill it.
#[test]
fn a_throttle_is_neither_charged_nor_consulted_in_testing_mode() {
    let budget = RetryBudget::throttle(10, 0.1);
    let caller = RetryingCaller::new()
        .attempts(10)
        .budget(&budget)
        .clock(FakeClock::new());
    {
        let _t = thread_testing(Testing::new().attempts(3));
        let mut calls = 0;
        let _ = caller.call(always, || failing_call(&mut calls));
        assert_eq!(calls, 3);
        assert_eq!(budget.available(), 10.0, "not charged");
    }
    // Outside testing mode the same failures cost a token each: 9, 8, 7, 6 allow a retry, 5
    // does not.
    let mut calls = 0;
    let _ = caller.call(always, || failing_call(&mut calls));
    assert_eq!(calls, 5);
    assert_eq!(budget.available(), 5.0);
    {
        let _t = thread_testing(Testing::new().attempts(3));
        let mut calls = 0;
        let _ = caller.call(always, || failing_call(&mut calls));
        assert_eq!(
            calls, 3,
            "not consulted: an exhausted throttle allows no retry"
        );
        assert_eq!(budget.available(), 5.0, "not charged");
        caller.call(always, || Ok::<_, io::Error>(())).unwrap();
        assert_eq!(budget.available(), 5.1, "refilled by the success");
    }
}

#[test]
fn debug_shows_the_budget() {
    let caller = RetryingCaller::new().budget(&RetryBudget::quota(7, 5, 10));
    let text = format!("{caller:?}");
    assert!(
        text.ends_with(
            "budget: RetryBudget { kind: quota, retry_cost: 5, timeout_cost: 10, \
             available: 7.0, capacity: 7.0 }, .. }"
        ),
        "{text}"
    );
}

#[test]
fn giving_up_for_the_budget_is_reported() {
    use stamina::instrument::{GiveUpDetails, GiveUpReason, OnRetryHook};
    use std::sync::{Arc, Mutex};

    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reasons);
    let hook = OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {})
        .on_give_up(move |details: &GiveUpDetails<'_>| seen.lock().unwrap().push(details.reason()));
    let budget = RetryBudget::quota(5, 5, 10);
    let caller = RetryingCaller::new()
        .budget(&budget)
        .clock(FakeClock::new())
        .on_retry_hook(hook);
    let mut calls = 0;
    let _ = caller.call(always, || failing_call(&mut calls));
    assert_eq!(calls, 2);
    assert_eq!(*reasons.lock().unwrap(), [GiveUpReason::BudgetExhausted]);
}

/// A guard dropped without an outcome ends its loop as a success does, and so refunds the retry
/// that led to it (or earns a first attempt's reward), exactly once; a guard dropped by a panic
/// ends its loop without counting as a success.
#[test]
fn a_guard_dropped_without_an_outcome_counts_as_a_success() {
    let budget = RetryBudget::quota(10, 5, 10);
    let mut attempts = 0;
    for attempt in retry_context(always)
        .budget(&budget)
        .clock(FakeClock::new())
    {
        attempts += 1;
        if attempt.num() == 1 {
            assert!(attempt.run(|| failing_call(&mut 0)).unwrap().is_none());
            assert_eq!(budget.available(), 5.0);
        } else {
            drop(attempt);
        }
    }
    assert_eq!(attempts, 2);
    assert_eq!(budget.available(), 10.0);

    // Spend 5, so that rewards show.
    let spend = RetryingCaller::new().attempts(2).budget(&budget);
    let _ = spend
        .clock(FakeClock::new())
        .call(always, || failing_call(&mut 0));
    assert_eq!(budget.available(), 5.0);

    // Leaving the loop with `break` drops the guard: a first attempt's reward of 1.
    for attempt in retry_context(always)
        .budget(&budget)
        .clock(FakeClock::new())
    {
        if attempt.num() == 1 {
            break;
        }
        let _ = attempt.run(|| failing_call(&mut 0));
    }
    assert_eq!(budget.available(), 6.0);

    // Asking for the next attempt while holding a guard ends the loop: rewarded once.
    let mut loop_ = retry_context(always)
        .budget(&budget)
        .clock(FakeClock::new())
        .into_iter();
    let held = loop_.next().unwrap();
    assert!(loop_.next().is_none());
    assert_eq!(budget.available(), 7.0);
    drop(held);
    assert_eq!(budget.available(), 7.0);

    // A panic is no success.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for attempt in retry_context(always)
            .budget(&budget)
            .clock(FakeClock::new())
        {
            let _ = attempt.run(|| -> io::Result<()> { panic!("boom") });
        }
    }));
    assert_eq!(panicked.unwrap_err().downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(budget.available(), 7.0);
    // Nor is a panic in the predicate, even when the loop's body catches it and goes on.
    let panicking_on = |_: &io::Error| -> bool { panic!("on") };
    let mut loop_ = retry_context(panicking_on)
        .budget(&budget)
        .clock(FakeClock::new())
        .into_iter();
    let attempt = loop_.next().unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        attempt.run(|| failing_call(&mut 0))
    }));
    assert_eq!(caught.unwrap_err().downcast_ref::<&str>(), Some(&"on"));
    assert!(loop_.next().is_none());
    assert_eq!(budget.available(), 7.0);

    // The same on the stream: a paid retry, then an attempt dropped without an outcome.
    let mut stream = retry_context(always)
        .budget(&budget)
        .into_stream_with(FakeSleeper::new());
    futures::executor::block_on(async {
        let first = stream.next().await.unwrap();
        assert!(first.record(failing_call(&mut 0)).unwrap().is_none());
        assert_eq!(budget.available(), 2.0);
        drop(stream.next().await.unwrap());
        assert!(stream.next().await.is_none());
    });
    assert_eq!(budget.available(), 7.0);
}

/// Fails once, then answers 7.
fn once_then_seven(failures_left: &mut u32) -> io::Result<u32> {
    if *failures_left > 0 {
        *failures_left -= 1;
        return Err(io::Error::other("once"));
    }
    Ok(7)
}

/// The usual shape of a loop: it returns from its body with a successful attempt's value, so the
/// iterator (or stream) is dropped with that success recorded and no next attempt asked for. The
/// success still refunds what the retry before it paid.
#[test]
fn returning_from_the_loop_with_a_success_refills_the_budget() {
    let budget = RetryBudget::quota(10, 5, 10);
    let fetch = || -> io::Result<u32> {
        let mut failures_left = 1;
        for attempt in retry_context(always)
            .budget(&budget)
            .clock(FakeClock::new())
        {
            if let Some(value) = attempt.run(|| once_then_seven(&mut failures_left))? {
                return Ok(value);
            }
        }
        Err(io::Error::other("no attempt answered"))
    };
    assert_eq!(fetch().unwrap(), 7);
    // Paid 5 for the retry, got the 5 back with the success.
    assert_eq!(budget.available(), 10.0);

    let fetch_async = async || -> io::Result<u32> {
        let mut failures_left = 1;
        let mut attempts = retry_context(always)
            .budget(&budget)
            .into_stream_with(FakeSleeper::new());
        while let Some(attempt) = attempts.next().await {
            if let Some(value) = attempt.record(once_then_seven(&mut failures_left))? {
                return Ok(value);
            }
            assert_eq!(budget.available(), 5.0);
        }
        Err(io::Error::other("no attempt answered"))
    };
    assert_eq!(futures::executor::block_on(fetch_async()).unwrap(), 7);
    assert_eq!(budget.available(), 10.0);
}

#[test]
fn clones_share_a_budget_and_equal_settings_do_not() {
    let budget = RetryBudget::quota(10, 5, 10);
    let clone = budget.clone();
    assert!(budget.same_as(&clone) && clone.same_as(&budget));
    assert!(!budget.same_as(&RetryBudget::quota(10, 5, 10)));
    // What one pays, the other sees.
    let caller = RetryingCaller::new().budget(&clone).clock(FakeClock::new());
    let _ = caller.attempts(2).call(always, || failing_call(&mut 0));
    assert_eq!((budget.available(), budget.capacity()), (5.0, 10.0));
}

/// `RetryState` driven by hand: waits add up, a retry after a timed-out attempt costs a quota
/// its timeout cost, a success refunds what the retry before it paid, and an empty budget ends
/// the loop.
#[test]
fn a_hand_driven_state_pays_from_its_budget() {
    use stamina::{RetryPolicy, RetryState};
    use std::time::Instant;

    let budget = RetryBudget::quota(15, 5, 10);
    let start = Instant::now();
    let policy = RetryPolicy::new().wait_jitter(Duration::ZERO).no_timeout();
    let mut state = RetryState::new(policy).budget(&budget);
    assert_eq!((state.attempt(), state.waited()), (0, Duration::ZERO));
    state.start(start);
    assert_eq!(
        state.on_failure(true, start),
        Some(Duration::from_millis(100))
    );
    assert_eq!(budget.available(), 10.0);
    state.next_attempt();
    state.mark_timed_out();
    assert_eq!(
        state.on_failure(true, start),
        Some(Duration::from_millis(200))
    );
    assert_eq!(budget.available(), 0.0);
    assert_eq!(state.waited(), Duration::from_millis(300));
    state.next_attempt();
    // The attempt after the timeout's retry succeeds: its 10 come back.
    state.on_success();
    assert_eq!(budget.available(), 10.0);
    assert_eq!(state.attempt(), 3);
    assert_eq!(
        format!("{state:?}"),
        "RetryState { attempt: 3, phase: Done, waited: 300ms, .. }"
    );

    let mut broke = RetryState::new(policy).budget(&RetryBudget::quota(4, 5, 10));
    broke.start(start);
    assert_eq!(broke.on_failure(true, start), None);
    assert_eq!(broke.waited(), Duration::ZERO);
}
