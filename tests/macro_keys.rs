//! The keys of `#[stamina::retry]` beyond the limits: `policy`, `jitter`, `seed`,
//! `retry_after_max`, `suppress_nested`, `on_retry` and `name`, and `Result<impl Trait, E>`.
#![cfg(feature = "macros")]

use std::cell::{Cell, RefCell};
use std::fmt::Display;
use std::time::Duration;

use stamina::testing::FakeClock;
use stamina::{Jitter, RetryDetails, RetryPolicy, RetryingCaller};

#[derive(Clone, Debug, PartialEq)]
struct Flaky(u32);

thread_local! {
    /// What the hook saw on this thread: the loop's name, the attempt and the wait.
    static SEEN: RefCell<Vec<(String, u32, Duration)>> = const { RefCell::new(Vec::new()) };
}

/// The hook of the tests: none makes more than 10 retries, so one that would (a limit the
/// attribute lost) fails before its waits grow long.
fn record(details: &RetryDetails<'_>) {
    assert!(details.retry_num() <= 10, "the loop should have ended");
    SEEN.with_borrow_mut(|seen| {
        seen.push((
            details.name().to_owned(),
            details.retry_num(),
            details.wait_for(),
        ));
    });
}

fn seen() -> Vec<(String, u32, Duration)> {
    SEEN.take()
}

/// Fails, counted in `calls`. No test here makes more than 100 calls: one that would (a limit
/// the attribute lost) fails instead of spinning.
fn fails(calls: &Cell<u32>) -> Result<u32, Flaky> {
    assert!(calls.get() < 100, "the loop should have ended");
    calls.set(calls.get() + 1);
    Err(Flaky(calls.get()))
}

/// A policy read at run time, such as from an environment variable.
fn configured() -> RetryPolicy {
    "attempts=3 wait_initial=1ms wait_jitter=0s"
        .parse()
        .unwrap()
}

#[stamina::retry(on = |_| true, policy = configured(), on_retry = record)]
fn with_policy(calls: &Cell<u32>) -> Result<u32, Flaky> {
    fails(calls)
}

// Keys written after `policy` override it, wherever they are written.
#[stamina::retry(on = |_| true, attempts = 2, policy = configured(), on_retry = record, name = "overridden")]
fn with_policy_and_attempts(calls: &Cell<u32>) -> Result<u32, Flaky> {
    fails(calls)
}

#[test]
fn policy_is_an_expression_and_the_other_keys_override_it() {
    let calls = Cell::new(0);
    assert_eq!(with_policy(&calls), Err(Flaky(3)));
    let ms = Duration::from_millis;
    let here = "macro_keys::with_policy".to_owned();
    assert_eq!(seen(), [(here.clone(), 1, ms(1)), (here, 2, ms(2))]);
    let calls = Cell::new(0);
    assert_eq!(with_policy_and_attempts(&calls), Err(Flaky(2)));
    assert_eq!(seen(), [("overridden".to_owned(), 1, ms(1))]);
}

#[stamina::retry(
    on = |_| true,
    attempts = 5,
    wait_initial = "1ms",
    wait_max = "3ms",
    jitter = "full",
    seed = 7,
    on_retry = record,
)]
fn jittered(calls: &Cell<u32>) -> Result<u32, Flaky> {
    fails(calls)
}

#[test]
fn jitter_and_seed_are_those_of_the_policy() {
    let calls = Cell::new(0);
    assert_eq!(jittered(&calls), Err(Flaky(5)));
    let waits: Vec<Duration> = seen().into_iter().map(|(_, _, wait)| wait).collect();
    // The same policy in a caller on a fake clock waits exactly the same.
    let clock = FakeClock::new();
    let policy = RetryPolicy::new()
        .attempts(5)
        .wait_initial(Duration::from_millis(1))
        .wait_max(Duration::from_millis(3))
        .jitter(Jitter::Full)
        .seed(7);
    let _ = RetryingCaller::from_policy(policy)
        .clock(clock.clone())
        .call(|_: &Flaky| true, || Err::<(), _>(Flaky(0)));
    assert_eq!(waits, clock.sleeps());
    assert_eq!(waits.len(), 4);
}

#[stamina::retry(on = |_| Duration::from_secs(60), retry_after_max = "1s", on_retry = record)]
fn pushed_back(calls: &Cell<u32>) -> Result<u32, Flaky> {
    fails(calls)
}

#[test]
fn retry_after_max_ends_the_loop_on_a_longer_server_wait() {
    let calls = Cell::new(0);
    assert_eq!(pushed_back(&calls), Err(Flaky(1)));
    assert_eq!(seen(), []);
}

#[stamina::retry(on = |_| true, attempts = 4, wait_initial = "0s", wait_jitter = "0s", suppress_nested = true)]
fn inner(calls: &Cell<u32>) -> Result<u32, Flaky> {
    fails(calls)
}

#[test]
fn suppress_nested_makes_one_attempt_inside_another_loop() {
    let calls = Cell::new(0);
    let outer = RetryingCaller::new()
        .attempts(2)
        .clock(FakeClock::new())
        .suppress_nested(false);
    assert_eq!(
        outer.call(|_: &Flaky| true, || inner(&calls)),
        Err(Flaky(2))
    );
    // Two outer attempts of one inner attempt each.
    assert_eq!(calls.get(), 2);
    // Alone, it retries.
    let calls = Cell::new(0);
    assert_eq!(inner(&calls), Err(Flaky(4)));
}

struct Store;

impl Store {
    #[stamina::retry(on = |_| true, attempts = 2, wait_initial = "0s", wait_jitter = "0s", on_retry = record)]
    fn fetch(&self, calls: &Cell<u32>) -> Result<u32, Flaky> {
        fails(calls)
    }
}

#[test]
fn a_method_is_named_with_its_type() {
    let calls = Cell::new(0);
    assert_eq!(Store.fetch(&calls), Err(Flaky(2)));
    assert_eq!(
        seen(),
        [("macro_keys::Store::fetch".to_owned(), 1, Duration::ZERO)]
    );
}

#[stamina::retry(on = |_| true, attempts = 3, wait_initial = "0s", wait_jitter = "0s")]
fn opaque(calls: &Cell<u32>) -> Result<impl Display + use<>, Flaky> {
    if calls.get() < 2 {
        return fails(calls).map(|n| n.to_string());
    }
    Ok(format!("after {}", calls.get()))
}

#[test]
fn an_opaque_ok_type_is_inferred_from_the_body() {
    let calls = Cell::new(0);
    assert_eq!(opaque(&calls).unwrap().to_string(), "after 2");
}
