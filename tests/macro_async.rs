//! `#[stamina::retry]` on `async fn`: every function shape, exact call counts.
//!
//! It needs `stamina::AsyncRetryingCaller` and tokio.
#![cfg(all(feature = "macros", feature = "tokio"))]

#[path = "support/retries.rs"]
mod retries;

use std::cell::Cell;
use std::fmt::Display;
use std::future::Future;
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

/// Waits zero and attempts forced to 3, for this test's thread (a current-thread runtime).
fn three_quick_attempts() -> ThreadGuard {
    thread_testing(Testing::new().attempts(3))
}

/// `call` within a minute (of paused time, in the tests that pause it): a call whose limits the
/// attribute lost fails the test instead of waiting forever.
async fn within_a_minute<F: Future>(call: F) -> F::Output {
    let minute = Duration::from_secs(60);
    let output = tokio::time::timeout(minute, call).await;
    output.expect("the call should have ended within a minute")
}

/// Fails with `Transient(n)` for call n while `fail_first` calls remain, then succeeds. No test
/// here makes more than 100 calls: one that would (a limit the attribute lost) fails instead of
/// spinning, which paused time would not stop.
async fn step(calls: &Cell<u32>, fail_first: u32) -> Result<u32, Error> {
    tokio::task::yield_now().await;
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
async fn free(calls: &Cell<u32>, fail_first: u32) -> Result<u32, Error> {
    step(calls, fail_first).await
}

#[tokio::test]
async fn free_async_fn_retries_until_success() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    assert_eq!(free(&calls, 2).await, Ok(3));
    assert_eq!(calls.get(), 3);
}

#[tokio::test]
async fn exhaustion_returns_the_last_error() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    assert_eq!(free(&calls, 10).await, Err(Error::Transient(3)));
    assert_eq!(calls.get(), 3);
}

#[stamina::retry(on = is_transient, attempts = 5, wait_initial = "0s", wait_jitter = "0s")]
async fn fatal_after(calls: &Cell<u32>, transient: u32) -> Result<(), Error> {
    step(calls, transient).await?;
    Err(Error::Fatal)
}

#[tokio::test]
async fn non_matching_error_runs_once() {
    let calls = Cell::new(0);
    assert_eq!(fatal_after(&calls, 0).await, Err(Error::Fatal));
    assert_eq!(calls.get(), 1);

    let calls = Cell::new(0);
    assert_eq!(fatal_after(&calls, 2).await, Err(Error::Fatal));
    assert_eq!(calls.get(), 3);
}

#[stamina::retry(on = is_transient, attempts = 4, wait_initial = "0s", wait_jitter = "0s")]
async fn four_attempts(calls: &Cell<u32>) -> Result<u32, Error> {
    step(calls, u32::MAX).await
}

#[tokio::test(start_paused = true)]
async fn attempts_key_is_applied() {
    let calls = Cell::new(0);
    let result = within_a_minute(four_attempts(&calls)).await;
    assert_eq!(result, Err(Error::Transient(4)));
    assert_eq!(calls.get(), 4);
}

struct Service {
    calls: Cell<u32>,
    prefix: String,
}

impl Service {
    /// Borrows from `self` in its result; consumes an owned argument.
    #[stamina::retry(on = |e| matches!(e, Error::Transient(_)))]
    async fn get(&self, words: Vec<String>) -> Result<(&str, usize), Error> {
        let n = step(&self.calls, 2).await?;
        let count = words.into_iter().filter(|w| !w.is_empty()).count();
        Ok((&self.prefix, count + n as usize))
    }
}

#[tokio::test]
async fn shared_self_method_with_consumed_argument() {
    let _t = three_quick_attempts();
    let service = Service {
        calls: Cell::new(0),
        prefix: "p".into(),
    };
    let words = vec!["a".to_owned(), "b".to_owned()];
    assert_eq!(service.get(words).await, Ok(("p", 5)));
    assert_eq!(service.calls.get(), 3);
}

#[stamina::retry(on = |_: &E| true)]
async fn generic<'a, T: Clone, E: std::fmt::Debug>(
    value: T,
    label: &'a str,
    calls: &Cell<u32>,
    error: fn(u32) -> E,
) -> Result<(T, &'a str), E> {
    let n = calls.get() + 1;
    calls.set(n);
    if n < 3 {
        return Err(error(n));
    }
    Ok((value, label))
}

#[tokio::test]
async fn generic_async_fn_with_lifetimes() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    assert_eq!(
        generic(7u8, "l", &calls, Error::Transient).await,
        Ok((7, "l"))
    );
    assert_eq!(calls.get(), 3);
}

#[stamina::retry(on = is_transient)]
async fn impl_trait_arg(label: impl Display + Clone, calls: &Cell<u32>) -> Result<String, Error> {
    step(calls, 1).await?;
    Ok(label.to_string())
}

#[tokio::test]
async fn impl_trait_argument() {
    let _t = three_quick_attempts();
    let calls = Cell::new(0);
    assert_eq!(impl_trait_arg(42, &calls).await, Ok("42".to_owned()));
    assert_eq!(calls.get(), 2);
}

#[derive(Debug, PartialEq)]
enum Slow {
    TimedOut,
}

impl From<stamina::AttemptTimedOut> for Slow {
    fn from(_: stamina::AttemptTimedOut) -> Self {
        Self::TimedOut
    }
}

thread_local! {
    static NAMES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn record_name(details: &stamina::RetryDetails<'_>) {
    NAMES.with_borrow_mut(|names| names.push(details.name().to_owned()));
}

struct Backend {
    budget: stamina::RetryBudget,
    hung: Cell<u32>,
}

impl Backend {
    /// Hangs: each attempt is cut after 10 ms.
    #[stamina::retry(
        on = |_| true,
        attempts = 3,
        wait_initial = "0s",
        wait_jitter = "0s",
        attempt_timeout = "10ms",
        budget = &self.budget,
        on_retry = record_name,
    )]
    async fn hangs(&self) -> Result<(), Slow> {
        self.hung.set(self.hung.get() + 1);
        std::future::pending::<()>().await;
        Ok(())
    }

    #[stamina::retry(on = is_transient, policy = stamina::RetryPolicy::new().attempts(3), wait_initial = "0s", wait_jitter = "0s")]
    async fn opaque(&self, calls: &Cell<u32>) -> Result<impl Display + use<>, Error> {
        step(calls, 2).await.map(|n| format!("call {n}"))
    }
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_cuts_each_hung_attempt_of_a_method() {
    let service = Backend {
        budget: stamina::RetryBudget::retry_quota(),
        hung: Cell::new(0),
    };
    let start = tokio::time::Instant::now();
    assert_eq!(within_a_minute(service.hangs()).await, Err(Slow::TimedOut));
    assert_eq!(service.hung.get(), 3);
    assert_eq!(start.elapsed(), std::time::Duration::from_millis(30));
    // The method is named with its type, and each retry after a timeout paid 10 tokens.
    assert_eq!(
        NAMES.take(),
        ["macro_async::Backend::hangs", "macro_async::Backend::hangs"]
    );
    assert_eq!(service.budget.available(), 480.0);
}

#[tokio::test]
async fn an_async_fn_may_return_an_opaque_ok_type() {
    let service = Backend {
        budget: stamina::RetryBudget::retry_quota(),
        hung: Cell::new(0),
    };
    let calls = Cell::new(0);
    assert_eq!(service.opaque(&calls).await.unwrap().to_string(), "call 3");
}

/// Waits of 1 s, 3 s, then 5 s (9 s capped), in paused time: the keys show in the waits and the
/// name, and the deadline (20 s) lets the three waits through.
#[stamina::retry(
    on = is_transient,
    attempts = 4,
    timeout = "20s",
    wait_initial = "1s",
    wait_exp_base = 3,
    wait_max = "5s",
    wait_jitter = "0s",
    name = "custom",
)]
async fn keyed(calls: &Cell<u32>) -> Result<u32, Error> {
    step(calls, 3).await
}

#[stamina::retry(on = is_transient, attempts = 2, wait_initial = "0s", wait_jitter = "0s")]
async fn named_by_default(calls: &Cell<u32>) -> Result<u32, Error> {
    step(calls, u32::MAX).await
}

#[tokio::test(start_paused = true)]
async fn the_name_and_wait_keys_apply_at_run_time() {
    let start = tokio::time::Instant::now();
    let calls = Cell::new(0);
    let (result, retries) = retries_of(keyed(&calls)).await;
    assert_eq!((result, calls.get()), (Ok(4), 4));
    assert_eq!(start.elapsed(), Duration::from_secs(1 + 3 + 5));
    let custom = |n, secs| ("custom".to_owned(), n, Duration::from_secs(secs));
    assert_eq!(retries, [custom(1, 1), custom(2, 3), custom(3, 5)]);

    let calls = Cell::new(0);
    let (result, retries) = retries_of(named_by_default(&calls)).await;
    assert_eq!(result, Err(Error::Transient(2)));
    assert_eq!(
        retries,
        [(
            "macro_async::named_by_default".to_owned(),
            1,
            Duration::ZERO
        )]
    );
}

/// Awaits `f` and returns the retries it scheduled on this thread.
async fn retries_of<T>(f: impl Future<Output = T>) -> (T, retries::Retries) {
    retries::start();
    let value = f.await;
    (value, retries::take())
}

/// A client that needs `&mut self` across an `.await`, as connection-holding clients do.
struct Connection {
    calls: u32,
    log: Vec<u32>,
}

impl Connection {
    async fn query(&mut self, fail_first: u32) -> Result<u32, Error> {
        tokio::task::yield_now().await;
        self.calls += 1;
        self.log.push(self.calls);
        if self.calls <= fail_first {
            Err(Error::Transient(self.calls))
        } else {
            Ok(self.calls)
        }
    }

    #[stamina::retry(on = is_transient, attempts = 3)]
    async fn fetch(&mut self, fail_first: u32) -> Result<u32, Error> {
        let n = self.query(fail_first).await?;
        Ok(n * 10)
    }
}

#[tokio::test]
async fn mut_self_async_method_is_retried() {
    let _t = three_quick_attempts();
    let mut conn = Connection {
        calls: 0,
        log: Vec::new(),
    };
    assert_eq!(conn.fetch(2).await, Ok(30));
    assert_eq!(conn.log, [1, 2, 3]);
    assert_eq!(conn.fetch(10).await, Err(Error::Transient(6)));
    assert_eq!(conn.calls, 6);
}

#[stamina::retry(on = is_transient, attempts = 3)]
async fn append(buffer: &mut Vec<u8>, byte: u8) -> Result<usize, Error> {
    tokio::task::yield_now().await;
    buffer.push(byte);
    if buffer.len() < 3 {
        return Err(Error::Transient(buffer.len() as u32));
    }
    Ok(buffer.len())
}

#[tokio::test]
async fn mut_reference_argument_is_reborrowed_per_attempt() {
    let _t = three_quick_attempts();
    let mut buffer = Vec::new();
    assert_eq!(append(&mut buffer, 7).await, Ok(3));
    assert_eq!(buffer, [7, 7, 7]);
}

/// Arguments named as the locals of the generated code are still the arguments: those locals
/// are out of the body's sight.
#[stamina::retry(on = is_transient, attempts = 3)]
async fn named_as_locals(
    attempts: &mut Vec<u32>,
    attempt: u32,
    (ret, outcome): (u32, u32),
    result: &Cell<u32>,
) -> Result<usize, Error> {
    attempts.push(attempt + ret + outcome);
    result.set(result.get() + 1);
    if attempts.len() < 3 {
        return Err(Error::Transient(result.get()));
    }
    Ok(attempts.len())
}

#[stamina::retry(on = is_transient, attempts = 3)]
async fn named_as_locals_shared(ret: u32, result: &Cell<u32>) -> Result<u32, Error> {
    result.set(result.get() + ret);
    if result.get() < 3 * ret {
        return Err(Error::Transient(result.get()));
    }
    Ok(result.get())
}

#[tokio::test]
async fn arguments_may_be_named_as_the_generated_locals() {
    let _t = three_quick_attempts();
    let (mut attempts, result) = (Vec::new(), Cell::new(0));
    assert_eq!(
        named_as_locals(&mut attempts, 1, (10, 100), &result).await,
        Ok(3)
    );
    assert_eq!(attempts, [111, 111, 111]);
    assert_eq!(result.get(), 3);
    assert_eq!(named_as_locals_shared(2, &Cell::new(0)).await, Ok(6));
}

/// A `&mut` argument written as a pattern is reborrowed for each attempt too.
#[stamina::retry(on = is_transient, attempts = 3)]
async fn pair((count, log): &mut (u32, Vec<u32>)) -> Result<u32, Error> {
    *count += 1;
    log.push(*count);
    if *count < 3 {
        return Err(Error::Transient(*count));
    }
    Ok(*count)
}

#[tokio::test]
async fn mut_reference_pattern_is_reborrowed_per_attempt() {
    let _t = three_quick_attempts();
    let mut state = (0, Vec::new());
    assert_eq!(pair(&mut state).await, Ok(3));
    assert_eq!(state, (3, vec![1, 2, 3]));
}

/// A `Send` client: its attributed methods' futures can be spawned on a multi-thread runtime.
struct SendClient {
    calls: std::sync::atomic::AtomicU32,
    state: u32,
}

impl SendClient {
    #[stamina::retry(on = is_transient, attempts = 3, wait_initial = "0s", wait_jitter = "0s")]
    async fn get(&self) -> Result<u32, Error> {
        tokio::task::yield_now().await;
        let n = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if n < 2 {
            Err(Error::Transient(n))
        } else {
            Ok(n)
        }
    }

    #[stamina::retry(on = is_transient, attempts = 3, wait_initial = "0s", wait_jitter = "0s")]
    async fn bump(&mut self) -> Result<u32, Error> {
        tokio::task::yield_now().await;
        self.state += 1;
        if self.state < 2 {
            Err(Error::Transient(self.state))
        } else {
            Ok(self.state)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributed_futures_are_send() {
    let client = std::sync::Arc::new(SendClient {
        calls: std::sync::atomic::AtomicU32::new(0),
        state: 0,
    });
    let shared = std::sync::Arc::clone(&client);
    let got = tokio::spawn(async move { shared.get().await })
        .await
        .unwrap();
    assert_eq!(got, Ok(2));
    let mut owned = SendClient {
        calls: std::sync::atomic::AtomicU32::new(0),
        state: 0,
    };
    let bumped = tokio::spawn(async move { owned.bump().await })
        .await
        .unwrap();
    assert_eq!(bumped, Ok(2));
}

struct MutBackend {
    budget: stamina::RetryBudget,
    hung: u32,
}

impl MutBackend {
    /// The keys of a `&mut self` method, which runs on an attempt stream: each attempt is cut
    /// after 10 ms, pays from the budget, reports to its own hook under the method's name.
    #[stamina::retry(
        on = |_| true,
        attempts = 3,
        wait_initial = "0s",
        wait_jitter = "0s",
        attempt_timeout = "10ms",
        budget = &self.budget,
        on_retry = record_name,
        suppress_nested = true,
    )]
    async fn hangs_mut(&mut self) -> Result<(), Slow> {
        self.hung += 1;
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_mut_self_method_takes_every_key() {
    let mut service = MutBackend {
        budget: stamina::RetryBudget::retry_quota(),
        hung: 0,
    };
    let start = tokio::time::Instant::now();
    let result = within_a_minute(service.hangs_mut()).await;
    assert_eq!(result, Err(Slow::TimedOut));
    assert_eq!(service.hung, 3);
    assert_eq!(start.elapsed(), std::time::Duration::from_millis(30));
    assert_eq!(
        NAMES.take(),
        [
            "macro_async::MutBackend::hangs_mut",
            "macro_async::MutBackend::hangs_mut"
        ]
    );
    assert_eq!(service.budget.available(), 480.0);
}

mod hedged {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    static CALLS: AtomicU32 = AtomicU32::new(0);

    /// The first attempt takes a second, every later one 10 ms.
    #[stamina::retry(on = |_| true, hedge = "50ms")]
    async fn fetch(_id: u32) -> Result<u32, std::io::Error> {
        let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        let took = if n == 1 { 1000 } else { 10 };
        tokio::time::sleep(Duration::from_millis(took)).await;
        Ok(n)
    }

    /// A hedged `async fn`: the hedge sent after 50 ms answers at 60 ms and wins.
    #[tokio::test(start_paused = true)]
    async fn an_attributed_async_fn_hedges() {
        let started = tokio::time::Instant::now();
        assert_eq!(fetch(7).await.unwrap(), 2);
        assert_eq!(started.elapsed(), Duration::from_millis(60));
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    }
}
