//! `#[stamina::retry]` on sync functions: every function shape, exact call counts.
#![cfg(feature = "macros")]

#[path = "support/retries.rs"]
mod retries;

use std::cell::Cell;
use std::fmt::Display;
use std::time::Duration;

use stamina::testing::{Testing, ThreadGuard, thread_testing};

#[derive(Clone, Debug, PartialEq)]
enum Error {
    Transient(u32),
    Fatal,
}

fn is_transient(error: &Error) -> bool {
    matches!(error, Error::Transient(_))
}

/// Waits zero and attempts forced to 3, for this test's thread only.
fn three_quick_attempts() -> ThreadGuard {
    thread_testing(Testing::new().attempts(3))
}

/// Fails with `Transient(n)` for call n while `fail_first` calls remain, then succeeds. No test
/// here makes more than 100 calls: one that would (a limit the attribute lost) fails instead of
/// spinning.
fn step(calls: &Cell<u32>, fail_first: u32) -> Result<u32, Error> {
    let n = calls.get() + 1;
    assert!(n <= 100, "the loop should have ended");
    calls.set(n);
    if n <= fail_first {
        Err(Error::Transient(n))
    } else {
        Ok(n)
    }
}

#[stamina::retry(on = is_transient, attempts = 3)]
fn free(calls: &Cell<u32>, fail_first: u32) -> Result<u32, Error> {
    step(calls, fail_first)
}

#[test]
fn free_fn_retries_until_success() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    assert_eq!(free(&calls, 2), Ok(3));
    assert_eq!(calls.get(), 3);
}

#[test]
fn success_first_time_calls_once() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    assert_eq!(free(&calls, 0), Ok(1));
    assert_eq!(calls.get(), 1);
}

#[test]
fn exhaustion_returns_the_last_error() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    assert_eq!(free(&calls, 10), Err(Error::Transient(3)));
    assert_eq!(calls.get(), 3);
}

#[stamina::retry(on = is_transient, attempts = 5, wait_initial = "0s", wait_jitter = "0s")]
fn fatal_after(calls: &Cell<u32>, transient: u32) -> Result<(), Error> {
    let n = calls.get() + 1;
    calls.set(n);
    if n <= transient {
        return Err(Error::Transient(n));
    }
    Err(Error::Fatal)
}

#[test]
fn non_matching_error_runs_once() {
    // No testing switch: the attribute's own settings, with zero waits.
    let calls = Cell::new(0);
    assert_eq!(fatal_after(&calls, 0), Err(Error::Fatal));
    assert_eq!(calls.get(), 1);

    let calls = Cell::new(0);
    assert_eq!(fatal_after(&calls, 2), Err(Error::Fatal));
    assert_eq!(calls.get(), 3);
}

#[stamina::retry(on = is_transient, attempts = 4, wait_initial = "0s", wait_jitter = "0s")]
fn four_attempts(calls: &Cell<u32>) -> Result<u32, Error> {
    step(calls, u32::MAX)
}

#[test]
fn attempts_key_is_applied() {
    let calls = Cell::new(0);
    assert_eq!(four_attempts(&calls), Err(Error::Transient(4)));
    assert_eq!(calls.get(), 4);
}

#[stamina::retry(on = is_transient, attempts = None, timeout = None, wait_initial = Duration::ZERO, wait_jitter = Duration::ZERO)]
fn unlimited(calls: &Cell<u32>, fail_first: u32) -> Result<u32, Error> {
    step(calls, fail_first)
}

#[stamina::retry(on = is_transient, attempts = "unlimited", wait_initial = "0s", wait_jitter = "0s")]
fn unlimited_str(calls: &Cell<u32>, fail_first: u32) -> Result<u32, Error> {
    step(calls, fail_first)
}

#[test]
fn unlimited_attempts() {
    let calls = Cell::new(0);
    assert_eq!(unlimited(&calls, 25), Ok(26));
    assert_eq!(calls.get(), 26);

    let calls = Cell::new(0);
    assert_eq!(unlimited_str(&calls, 25), Ok(26));
    assert_eq!(calls.get(), 26);
}

#[stamina::retry(on = is_transient, attempts = 10, timeout = "0s", wait_initial = "0s")]
fn zero_timeout(calls: &Cell<u32>) -> Result<u32, Error> {
    step(calls, u32::MAX)
}

#[test]
fn timeout_key_is_applied() {
    // A zero timeout means one attempt.
    let calls = Cell::new(0);
    assert_eq!(zero_timeout(&calls), Err(Error::Transient(1)));
    assert_eq!(calls.get(), 1);
}

struct Service {
    calls: Cell<u32>,
    fail_first: u32,
    prefix: String,
}

impl Service {
    #[stamina::retry(on = is_transient)]
    fn get(&self) -> Result<u32, Error> {
        step(&self.calls, self.fail_first)
    }

    /// Borrows from `self` and from an argument.
    #[stamina::retry(on = is_transient)]
    fn prefix_of<'a>(&'a self, other: &'a str) -> Result<(&'a str, &'a str), Error> {
        step(&self.calls, self.fail_first)?;
        Ok((&self.prefix, other))
    }

    /// An elided lifetime in the result, and an `on` closure without a parameter type.
    #[stamina::retry(on = |e| is_transient(e))]
    fn prefix(&self) -> Result<&str, Error> {
        step(&self.calls, self.fail_first)?;
        Ok(&self.prefix)
    }
}

#[test]
fn shared_self_method() {
    let _t = three_quick_attempts();
    let service = Service {
        calls: Cell::new(0),
        fail_first: 1,
        prefix: "p".into(),
    };
    assert_eq!(service.get(), Ok(2));
    assert_eq!(service.calls.get(), 2);
}

#[test]
fn lifetimes_and_borrowed_results() {
    let _t = three_quick_attempts();
    let service = Service {
        calls: Cell::new(0),
        fail_first: 2,
        prefix: "p".into(),
    };
    let other = String::from("o");
    assert_eq!(service.prefix_of(&other), Ok(("p", "o")));
    assert_eq!(service.calls.get(), 3);

    service.calls.set(0);
    assert_eq!(service.prefix(), Ok("p"));
    assert_eq!(service.calls.get(), 3);
}

struct Counter {
    calls: u32,
    fail_first: u32,
    log: Vec<u32>,
}

impl Counter {
    #[stamina::retry(on = |e| matches!(e, Error::Transient(_)))]
    fn bump(&mut self, log: &mut Vec<u32>) -> Result<u32, Error> {
        self.calls += 1;
        self.log.push(self.calls);
        // Moving the `&mut` argument out is fine: each attempt has its own reborrow.
        let moved = log;
        moved.push(self.calls);
        if self.calls <= self.fail_first {
            return Err(Error::Transient(self.calls));
        }
        Ok(self.calls)
    }
}

#[test]
fn mut_self_method_and_mut_argument() {
    let _t = three_quick_attempts();
    let mut counter = Counter {
        calls: 0,
        fail_first: 2,
        log: Vec::new(),
    };
    let mut log = Vec::new();
    assert_eq!(counter.bump(&mut log), Ok(3));
    assert_eq!(counter.calls, 3);
    assert_eq!(counter.log, [1, 2, 3]);
    assert_eq!(log, [1, 2, 3]);
}

#[stamina::retry(on = |_: &E| true)]
fn generic<T: Clone + PartialEq, E: std::fmt::Debug>(
    value: T,
    expected: &T,
    calls: &Cell<u32>,
    error: fn(u32) -> E,
) -> Result<T, E> {
    let n = calls.get() + 1;
    calls.set(n);
    if value != *expected || n < 3 {
        return Err(error(n));
    }
    Ok(value)
}

#[test]
fn generic_fn() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    assert_eq!(generic(7u8, &7, &calls, Error::Transient), Ok(7));
    assert_eq!(calls.get(), 3);

    let calls = Cell::new(0);
    assert_eq!(generic("a", &"b", &calls, |n| n), Err(3));
    assert_eq!(calls.get(), 3);
}

#[stamina::retry(on = is_transient)]
fn impl_trait_args(
    label: impl Display + Clone,
    calls: &Cell<u32>,
    mut make: impl FnMut() -> u32 + Clone,
) -> Result<String, Error> {
    // Called before the attempt can fail, so that a failed attempt's call would show.
    let made = make();
    step(calls, 1)?;
    Ok(format!("{label}={made}"))
}

#[test]
fn impl_trait_arguments() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    let mut counter = 0;
    let result = impl_trait_args("x", &calls, move || {
        counter += 1;
        counter
    });
    // Each attempt calls its own clone of `make`: the failed attempt's call is not seen.
    assert_eq!(result, Ok("x=1".to_owned()));
    assert_eq!(calls.get(), 2);
}

#[stamina::retry(on = is_transient)]
fn consume(mut words: Vec<String>, calls: &Cell<u32>) -> Result<String, Error> {
    words.push("!".into());
    let joined = words.join(" "); // not consuming yet
    drop(words); // consumed: the next attempt gets a fresh clone
    step(calls, 2)?;
    Ok(joined)
}

#[test]
fn consumed_owned_argument_is_cloned_per_attempt() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    let words = vec!["hello".to_owned(), "world".to_owned()];
    assert_eq!(consume(words, &calls), Ok("hello world !".to_owned()));
    assert_eq!(calls.get(), 3);
}

/// Not `Clone`: an argument bound to `_` is not copied for each attempt.
struct Unclonable;

#[stamina::retry(on = is_transient)]
fn patterns(
    (a, b): (u32, u32),
    [c, _]: [u32; 2],
    _: Unclonable,
    calls: &Cell<u32>,
) -> Result<u32, Error> {
    step(calls, 1)?;
    Ok(a + b + c)
}

#[test]
fn pattern_arguments() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    assert_eq!(patterns((1, 2), [3, 4], Unclonable, &calls), Ok(6));
    assert_eq!(calls.get(), 2);
}

#[derive(Debug, PartialEq)]
struct Wrapped(Error);

impl From<Error> for Wrapped {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

#[stamina::retry(on = |e: &Wrapped| is_transient(&e.0))]
fn question_mark_converts(calls: &Cell<u32>) -> Result<u32, Wrapped> {
    let n = step(calls, 2)?;
    Ok(n * 10)
}

#[test]
fn question_mark_and_return_end_one_attempt() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    assert_eq!(question_mark_converts(&calls), Ok(30));
    assert_eq!(calls.get(), 3);
}

type Alias<T> = Result<T, Error>;

/// Waits of 1 ms, 3 ms, then 5 ms (9 ms capped): the keys show in the waits and the name.
#[stamina::retry(
    on = is_transient,
    attempts = 4,
    timeout = None,
    wait_initial = "1ms",
    wait_exp_base = 3,
    wait_max = "5ms",
    wait_jitter = "0s",
    name = "custom",
)]
fn aliased(calls: &Cell<u32>) -> Alias<u32> {
    step(calls, 3)
}

#[test]
fn result_alias_and_other_keys() {
    let (result, retries) = retries_of(|| {
        let calls = Cell::new(0);
        (aliased(&calls), calls.get())
    });
    assert_eq!(result, (Ok(4), 4));
    assert_eq!(
        retries,
        [
            ("custom".to_owned(), 1, Duration::from_millis(1)),
            ("custom".to_owned(), 2, Duration::from_millis(3)),
            ("custom".to_owned(), 3, Duration::from_millis(5)),
        ]
    );
}

#[test]
fn deactivated_runs_once() {
    let _off = stamina::testing::thread_active(false);
    let calls = Cell::new(0);
    assert_eq!(free(&calls, 2), Err(Error::Transient(1)));
    assert_eq!(calls.get(), 1);
}

static BUDGET: std::sync::LazyLock<stamina::RetryBudget> =
    std::sync::LazyLock::new(|| stamina::RetryBudget::quota(5, 5, 10));

#[stamina::retry(on = is_transient, attempts = 10, wait_initial = "0s", wait_jitter = "0s", budget = *BUDGET)]
fn budgeted(calls: &Cell<u32>) -> Result<u32, Error> {
    step(calls, u32::MAX)
}

#[test]
fn a_budget_limits_the_retries_of_an_attributed_function() {
    let calls = Cell::new(0);
    assert_eq!(budgeted(&calls), Err(Error::Transient(2)));
    assert_eq!(BUDGET.available(), 0.0);
    assert_eq!(budgeted(&calls), Err(Error::Transient(3)));
}

#[stamina::retry(on = is_transient, attempts = 2, wait_initial = "0s", wait_jitter = "0s")]
fn named_by_default(calls: &Cell<u32>) -> Result<u32, Error> {
    step(calls, u32::MAX)
}

#[test]
fn the_instrumentation_name_is_the_function_path() {
    let calls = Cell::new(0);
    let (result, retries) = retries_of(|| named_by_default(&calls));
    assert_eq!(result, Err(Error::Transient(2)));
    assert_eq!(
        retries,
        [("macro_sync::named_by_default".to_owned(), 1, Duration::ZERO)]
    );
    // A method is named with its type.
    let calls = Cell::new(0);
    let (result, retries) = retries_of(|| Store.fetch(&calls));
    assert_eq!(result, Err(Error::Transient(2)));
    assert_eq!(
        retries,
        [("macro_sync::Store::fetch".to_owned(), 1, Duration::ZERO)]
    );
}

struct Store;

impl Store {
    #[stamina::retry(on = is_transient, attempts = 2, wait_initial = "0s", wait_jitter = "0s")]
    fn fetch(&self, calls: &Cell<u32>) -> Result<u32, Error> {
        step(calls, u32::MAX)
    }
}

/// Runs `f` and returns the retries it scheduled on this thread.
fn retries_of<T>(f: impl FnOnce() -> T) -> (T, retries::Retries) {
    retries::start();
    let value = f();
    (value, retries::take())
}
