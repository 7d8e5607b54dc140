//! `RetryState` driven by hand, in order and out of order.

use std::time::{Duration, Instant};

use stamina::{Hedging, RetryBudget, RetryPolicy, RetryState};

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn quiet() -> RetryPolicy {
    RetryPolicy::new().wait_jitter(Duration::ZERO)
}

#[test]
fn on_failure_before_start_starts_the_loop_at_now() {
    let t0 = Instant::now();
    let mut state = RetryState::new(quiet().attempts(3).timeout(Duration::from_secs(1)));
    assert_eq!(state.attempt(), 0);
    // Started at t0 + 900 ms: the deadline is 1 s later, so a 100 ms wait fits.
    assert_eq!(state.on_failure(true, t0 + ms(900)), Some(ms(100)));
    assert_eq!(state.attempt(), 1);
    state.next_attempt();
    assert_eq!(state.attempt(), 2);
    // 1.9 s after t0 is 1 s after the start: a 200 ms wait would cross the deadline.
    assert_eq!(state.on_failure(true, t0 + ms(1800)), None);
}

#[test]
fn a_failure_while_waiting_is_the_next_attempts() {
    let t0 = Instant::now();
    let mut state = RetryState::new(quiet().attempts(3));
    state.start(t0);
    assert_eq!(state.on_failure(true, t0), Some(ms(100)));
    // No next_attempt: this is attempt 2's failure.
    assert_eq!(state.on_failure(true, t0), Some(ms(200)));
    assert_eq!(state.attempt(), 2);
    assert_eq!(state.waited(), ms(300));
    assert_eq!(state.on_failure(true, t0), None);
    assert_eq!(state.attempt(), 3);
    // Over: more failures change nothing.
    assert_eq!(state.on_failure(true, t0), None);
    state.next_attempt();
    assert_eq!(state.attempt(), 3);
}

#[test]
fn a_second_start_and_a_stray_next_attempt_do_nothing() {
    let t0 = Instant::now();
    let mut state = RetryState::new(quiet().timeout(Duration::from_secs(1)));
    state.start(t0);
    state.start(t0 + Duration::from_secs(10)); // would move the deadline
    state.next_attempt(); // no wait pending
    assert_eq!(state.attempt(), 1);
    assert_eq!(
        state.on_failure(true, t0 + ms(950)),
        None,
        "deadline from the first start"
    );
}

#[test]
fn only_the_first_success_refills_the_budget() {
    let budget = RetryBudget::retry_quota(); // 500 tokens, a retry costs 5, a success gives 5 back
    let t0 = Instant::now();
    let mut state = RetryState::new(quiet()).budget(&budget);
    state.start(t0);
    assert_eq!(state.on_failure(true, t0), Some(ms(100)));
    assert_eq!(budget.available(), 495.0);
    state.next_attempt();
    state.on_success();
    assert_eq!(budget.available(), 500.0);
    // A second success of the same loop refunds nothing, and the loop stays over.
    let mut other = RetryState::new(quiet()).budget(&budget);
    assert_eq!(other.on_failure(true, t0), Some(ms(100)));
    assert_eq!(budget.available(), 495.0);
    state.on_success();
    assert_eq!(budget.available(), 495.0);
    assert_eq!(state.on_failure(true, t0), None);
}

#[test]
fn a_timed_out_attempt_costs_the_quotas_timeout_price() {
    let budget = RetryBudget::retry_quota(); // a retry after a timeout costs 10
    let t0 = Instant::now();
    let mut state = RetryState::new(quiet()).budget(&budget);
    state.start(t0);
    state.mark_timed_out();
    assert_eq!(state.on_failure(true, t0), Some(ms(100)));
    assert_eq!(budget.available(), 490.0);
    state.next_attempt();
    assert_eq!(state.on_failure(true, t0), Some(ms(200)));
    assert_eq!(budget.available(), 485.0, "the mark lasts one attempt");
}

#[test]
fn debug_shows_the_phase() {
    let mut state = RetryState::new(quiet());
    assert_eq!(
        format!("{state:?}"),
        "RetryState { attempt: 0, phase: NotStarted, waited: 0ns, .. }"
    );
    state.start(Instant::now());
    assert_eq!(state.on_failure(true, Instant::now()), Some(ms(100)));
    assert_eq!(
        format!("{state:?}"),
        "RetryState { attempt: 1, phase: Waiting, waited: 100ms, .. }"
    );
}

#[test]
fn testing_mode_keeps_the_retry_after_ceiling() {
    use stamina::testing::{Testing, thread_testing};

    let _testing = thread_testing(Testing::new().attempts(3));
    let mut calls = 0;
    let result = stamina::RetryingCaller::new()
        .retry_after_max(Duration::from_secs(30))
        .call(
            |_: &std::io::Error| Duration::from_secs(60),
            || {
                calls += 1;
                Err::<(), _>(std::io::Error::other("503, come back in a minute"))
            },
        );
    assert!(result.is_err());
    assert_eq!(calls, 1, "production gives up at once, and so must a test");
}

#[test]
fn hedges_go_only_from_a_running_hedged_loop_within_its_limits() {
    let t0 = Instant::now();
    // A loop without hedging sends none.
    let mut plain = RetryState::new(quiet().attempts(3));
    plain.start(t0);
    assert!(!plain.hedge(t0 + ms(50)));
    assert_eq!(plain.attempt(), 1);

    let budget = RetryBudget::retry_quota();
    let mut state = RetryState::new(quiet().attempts(4))
        .hedging(Hedging::after(ms(50)))
        .budget(&budget);
    assert!(!state.hedge(t0), "not started");
    assert_eq!(state.attempt(), 0);
    state.start(t0);
    assert!(state.hedge(t0 + ms(50)));
    assert_eq!(state.attempt(), 2);
    assert_eq!(budget.available(), 495.0, "a hedge pays as a retry does");
    assert_eq!(state.on_failure(true, t0 + ms(60)), Some(Duration::ZERO));
    assert!(!state.hedge(t0 + ms(70)), "waiting");
    assert_eq!(state.attempt(), 2);
    state.next_attempt();
    assert_eq!(state.attempt(), 3);
    assert!(state.hedge(t0 + ms(120)));
    assert_eq!(state.attempt(), 4);
    assert!(!state.hedge(t0 + ms(170)), "4 attempts at most");
    state.on_success();
    assert!(!state.hedge(t0 + ms(200)), "over");
    assert_eq!(state.attempt(), 4);
}
