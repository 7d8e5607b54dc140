//! The async callers on any executor, with the recording fake sleeper: exact waits in virtual
//! time, call counts, switches, configuration and `Debug` output.

use std::future::pending;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::executor::block_on;
use stamina::testing::{FakeSleeper, Testing, thread_active, thread_testing};
use stamina::{AsyncRetryingCaller, AttemptTimedOut, Decision, RetryPolicy};

#[derive(Debug, PartialEq)]
enum Error {
    Transient(u32),
    Fatal,
    TimedOut(AttemptTimedOut),
}

impl From<AttemptTimedOut> for Error {
    fn from(error: AttemptTimedOut) -> Self {
        Self::TimedOut(error)
    }
}

fn transient(error: &Error) -> bool {
    matches!(error, Error::Transient(_) | Error::TimedOut(_))
}

fn ms(v: &[u64]) -> Vec<Duration> {
    v.iter().copied().map(Duration::from_millis).collect()
}

/// Polls `future` to its end. On a `FakeSleeper` a loop ends without waiting, so one still
/// pending after 1,000 polls never would (an attempt timeout that does not cut): the test
/// fails instead of hanging.
fn within_polls<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1000 {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("still pending after 1,000 polls");
}

fn caller(sleeper: &FakeSleeper) -> AsyncRetryingCaller<FakeSleeper> {
    AsyncRetryingCaller::new()
        .wait_jitter(Duration::ZERO)
        .sleeper(sleeper.clone())
}

/// Calls through `caller`, failing with `Transient(n)` while `n <= fail`; returns the result
/// and the number of calls.
fn run<M>(caller: &AsyncRetryingCaller<FakeSleeper, M>, fail: u32) -> (Result<u32, Error>, u32)
where
    M: stamina::AttemptTimeoutMode<Error>,
{
    let calls = AtomicU32::new(0);
    let result = block_on(caller.call(transient, || {
        let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
        async move {
            if n <= fail {
                Err(Error::Transient(n))
            } else {
                Ok(n)
            }
        }
    }));
    (result, calls.load(Ordering::Relaxed))
}

#[test]
fn success_first_time_does_not_wait() {
    let sleeper = FakeSleeper::new();
    assert_eq!(run(&caller(&sleeper), 0), (Ok(1), 1));
    assert!(sleeper.sleeps().is_empty());
}

#[test]
fn waits_follow_the_backoff_exactly() {
    let sleeper = FakeSleeper::new();
    let (result, calls) = run(&caller(&sleeper).no_timeout(), u32::MAX);
    assert_eq!((result, calls), (Err(Error::Transient(10)), 10));
    assert_eq!(
        sleeper.sleeps(),
        ms(&[100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000])
    );
}

#[test]
fn exhaustion_returns_the_last_error_unchanged() {
    let sleeper = FakeSleeper::new();
    assert_eq!(
        run(&caller(&sleeper).attempts(3), u32::MAX),
        (Err(Error::Transient(3)), 3)
    );
}

#[test]
fn a_non_matching_error_runs_once_without_waiting() {
    let sleeper = FakeSleeper::new();
    let calls = AtomicU32::new(0);
    let result = block_on(caller(&sleeper).call(transient, || {
        calls.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), _>(Error::Fatal) }
    }));
    assert_eq!(result, Err(Error::Fatal));
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert!(sleeper.sleeps().is_empty());
}

#[test]
fn attempts_zero_one_and_unlimited() {
    let sleeper = FakeSleeper::new();
    for attempts in [0, 1] {
        assert_eq!(run(&caller(&sleeper).attempts(attempts), u32::MAX).1, 1);
    }
    // Unlimited attempts stop at the deadline: 6.3 s then 5 s waits up to 41.3 s < 45 s.
    let (_, calls) = run(&caller(&sleeper).unlimited_attempts(), u32::MAX);
    assert_eq!(calls, 14);
    assert_eq!(sleeper.elapsed(), Duration::from_millis(41_300));
}

#[test]
fn deactivated_runs_once() {
    let _off = thread_active(false);
    let sleeper = FakeSleeper::new();
    assert_eq!(
        run(&caller(&sleeper), u32::MAX),
        (Err(Error::Transient(1)), 1)
    );
    assert!(sleeper.sleeps().is_empty());
}

#[test]
fn testing_mode_forces_or_caps_with_zero_waits() {
    let sleeper = FakeSleeper::new();
    {
        let _t = thread_testing(Testing::new().attempts(3));
        assert_eq!(run(&caller(&sleeper).attempts(10), u32::MAX).1, 3);
        assert_eq!(run(&caller(&sleeper).attempts(1), u32::MAX).1, 3);
    }
    {
        let _t = thread_testing(Testing::new().attempts(3).cap(true));
        assert_eq!(run(&caller(&sleeper).attempts(2), u32::MAX).1, 2);
        assert_eq!(run(&caller(&sleeper).unlimited_attempts(), u32::MAX).1, 3);
    }
    {
        // Custom waits are zero too.
        let _t = thread_testing(Testing::new().attempts(2));
        let result = block_on(caller(&sleeper).call(
            |_: &Error| Duration::from_secs(30),
            || async { Err::<(), _>(Error::Fatal) },
        ));
        assert_eq!(result, Err(Error::Fatal));
    }
    assert_eq!(sleeper.sleeps(), vec![Duration::ZERO; 2 + 2 + 1 + 2 + 1]);
}

#[test]
fn custom_waits_are_exact_and_bounded_by_the_deadline() {
    let sleeper = FakeSleeper::new();
    let result = block_on(caller(&sleeper).timeout(Duration::from_secs(20)).call(
        |_: &Error| Decision::RetryAfter(Duration::from_secs(7)),
        || async { Err::<(), _>(Error::Fatal) },
    ));
    assert_eq!(result, Err(Error::Fatal));
    // 7 + 7 = 14 s; a third 7 s wait would end at 21 s, past the 20 s deadline.
    assert_eq!(sleeper.sleeps(), [Duration::from_secs(7); 2]);
}

#[test]
fn the_deadline_is_never_crossed_when_attempts_take_time() {
    let sleeper = FakeSleeper::new();
    let result = block_on(caller(&sleeper).timeout(Duration::from_secs(10)).call(
        transient,
        || {
            sleeper.advance(Duration::from_secs(3));
            async { Err::<(), _>(Error::Transient(0)) }
        },
    ));
    assert_eq!(result, Err(Error::Transient(0)));
    assert_eq!(sleeper.sleeps(), ms(&[100, 200, 400]));
    assert_eq!(sleeper.elapsed(), Duration::from_millis(12_700));
}

#[test]
fn a_hung_attempt_times_out_in_virtual_time() {
    let sleeper = FakeSleeper::new();
    let timed = caller(&sleeper)
        .attempts(2)
        .attempt_timeout(Duration::from_secs(2));
    let result = within_polls(timed.call(transient, pending::<Result<(), Error>>));
    let Err(Error::TimedOut(timed_out)) = result else {
        panic!("expected a timeout, got {result:?}");
    };
    assert_eq!(timed_out.after(), Duration::from_secs(2));
    assert_eq!(timed_out.to_string(), "attempt timed out after 2s");
    // Attempt timeouts and the backoff wait, in order.
    assert_eq!(sleeper.sleeps(), ms(&[2000, 100, 2000]));
}

#[test]
fn seeded_callers_repeat_their_jitter() {
    let policy = |seed| RetryPolicy::new().seed(seed).attempts(4);
    let waits = |seed| {
        let sleeper = FakeSleeper::new();
        let caller = AsyncRetryingCaller::from_policy(policy(seed)).sleeper(sleeper.clone());
        let _ = run(&caller, u32::MAX);
        sleeper.sleeps()
    };
    let seven = waits(7);
    // 100, 200 and 400 ms plus the seed's draws from U(0, 1 s).
    assert_eq!(
        seven,
        [155_360_436, 372_115_854, 1_117_576_129].map(Duration::from_nanos)
    );
    assert_eq!(seven, waits(7));
    assert_ne!(seven, waits(8));
    // The sync caller draws the same waits from the same seed.
    let clock = stamina::testing::FakeClock::new();
    let sync = stamina::RetryingCaller::from_policy(policy(7)).clock(clock.clone());
    assert_eq!(
        sync.call(transient, || Err::<(), _>(Error::Transient(0))),
        Err(Error::Transient(0))
    );
    assert_eq!(clock.sleeps(), seven);
}

#[test]
fn bound_callers_and_async_closures() {
    let sleeper = FakeSleeper::new();
    let bound = caller(&sleeper).attempts(3).on(transient);
    let calls = AtomicU32::new(0);
    let result = block_on(bound.clone().call(async || {
        let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
        if n < 2 {
            Err(Error::Transient(n))
        } else {
            Ok(n)
        }
    }));
    assert_eq!(result, Ok(2));
    assert_eq!(bound.get_policy().get_attempts(), Some(3));
}

#[test]
fn debug_shows_the_configuration() {
    let caller = AsyncRetryingCaller::new()
        .name("fetch")
        .attempts(3)
        .sleeper(FakeSleeper::new());
    assert_eq!(
        format!("{caller:?}"),
        "AsyncRetryingCaller { name: \"fetch\", attempts: 3, timeout: 45s, wait_initial: 100ms, \
         wait_max: 5s, wait_jitter: 1s, wait_exp_base: 2, .. }"
    );
    let timed = caller.attempt_timeout(Duration::from_millis(1500));
    assert!(format!("{timed:?}").contains("attempt_timeout: 1s500ms"));
    let bound = timed.on(transient);
    let debug = format!("{bound:?}");
    assert!(debug.starts_with("AsyncRetryContext { name: \"fetch\", attempts: 3"));
    assert!(
        debug.ends_with("on: async_caller::transient, .. }"),
        "{debug}"
    );
}

#[test]
fn a_bound_async_caller_takes_every_setting_after_on() {
    let sleeper = FakeSleeper::new();
    let caller = stamina::AsyncRetryingCaller::new()
        .on(|_: &Hung| true)
        .attempts(2)
        .wait_jitter(Duration::ZERO)
        .name("bound")
        .sleeper(sleeper.clone())
        .attempt_timeout(Duration::from_millis(5));
    let result = within_polls(caller.call(pending::<Result<(), Hung>>));
    assert_eq!(result, Err(Hung::TimedOut));
    assert_eq!(sleeper.sleeps(), [5, 100, 5].map(Duration::from_millis));
}

#[derive(Debug, PartialEq)]
enum Hung {
    TimedOut,
}

impl From<stamina::AttemptTimedOut> for Hung {
    fn from(_: stamina::AttemptTimedOut) -> Self {
        Self::TimedOut
    }
}

/// The async callers' own hooks, plain and prepared, bound or not, with a give-up handler.
#[test]
fn async_callers_and_bound_callers_call_their_own_hooks() {
    use stamina::instrument::{GiveUpDetails, OnRetryHook};
    use std::sync::{Arc, Mutex};

    let log = Arc::new(Mutex::new(Vec::new()));
    let tagged = |tag: &'static str| {
        let log = Arc::clone(&log);
        move |d: &stamina::RetryDetails<'_>| {
            log.lock().unwrap().push(format!("{tag}{}", d.retry_num()));
        }
    };
    let give_up = {
        let log = Arc::clone(&log);
        move |d: &GiveUpDetails<'_>| {
            log.lock()
                .unwrap()
                .push(format!("{} {} {}", d.name(), d.reason(), d.attempts()));
        }
    };
    let sleeper = FakeSleeper::new();
    let caller = caller(&sleeper)
        .attempts(3)
        .name("async")
        .on_retry(tagged("a"))
        .on_retry_hook(OnRetryHook::new(tagged("b")).on_give_up(give_up));
    assert_eq!(run(&caller, u32::MAX), (Err(Error::Transient(3)), 3));
    let bound = caller
        .on(transient)
        .on_retry(tagged("c"))
        .on_retry_hook(OnRetryHook::new(tagged("d")));
    let calls = AtomicU32::new(0);
    let result = block_on(bound.call(|| {
        let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
        async move {
            if n < 2 {
                Err(Error::Transient(n))
            } else {
                Ok(n)
            }
        }
    }));
    assert_eq!(result, Ok(2));
    assert_eq!(
        *log.lock().unwrap(),
        [
            "a1",
            "b1",
            "a2",
            "b2",
            "async attempts_exhausted 3",
            "a1",
            "b1",
            "c1",
            "d1"
        ]
    );
    assert_eq!(sleeper.sleeps(), ms(&[100, 200, 100]));
    assert_eq!(sleeper.slept(), Duration::from_millis(400));
    assert_eq!(sleeper.elapsed(), Duration::from_millis(400));
}

/// A sleeper behind a reference or an `Arc` is the sleeper itself: its time and sleeps.
#[test]
fn sleepers_behind_references_and_arcs() {
    use stamina::Sleeper;
    use std::sync::Arc;

    fn waits(sleeper: impl Sleeper) {
        // 100 ms, then a 200 ms wait would end at 300 ms, after the 250 ms deadline.
        let caller = AsyncRetryingCaller::new()
            .wait_jitter(Duration::ZERO)
            .timeout(Duration::from_millis(250))
            .sleeper(sleeper);
        let fails = || async { Err::<(), _>(Error::Fatal) };
        assert_eq!(
            block_on(caller.call(|_: &Error| true, fails)),
            Err(Error::Fatal)
        );
    }
    let sleeper = FakeSleeper::new();
    waits(&sleeper);
    waits(Arc::new(sleeper.clone()));
    assert_eq!(sleeper.sleeps(), ms(&[100, 100]));
}

/// A client whose calls need `&mut self` across an `.await`, as connection-holding clients do.
struct Client {
    calls: u32,
    fail_first: u32,
}

impl Client {
    async fn get(&mut self) -> Result<u32, Error> {
        futures::future::ready(()).await;
        self.calls += 1;
        if self.calls <= self.fail_first {
            Err(Error::Transient(self.calls))
        } else {
            Ok(self.calls)
        }
    }
}

#[test]
fn a_mut_self_method_is_retried_through_an_async_closure() {
    let sleeper = FakeSleeper::new();
    let mut client = Client {
        calls: 0,
        fail_first: 2,
    };
    let result = block_on(caller(&sleeper).call_mut(transient, async || client.get().await));
    assert_eq!(result, Ok(3));
    assert_eq!(client.calls, 3);
    assert_eq!(sleeper.sleeps(), ms(&[100, 200]));

    // The bound form too.
    let bound = caller(&sleeper).attempts(2).on(transient);
    let result = block_on(bound.call_mut(async || client.get().await));
    assert_eq!(result, Ok(4));
}

#[test]
fn an_async_closure_mutates_a_captured_counter_across_awaits() {
    let sleeper = FakeSleeper::new();
    let mut count = 0;
    let result = block_on(caller(&sleeper).attempts(5).call_mut(transient, async || {
        count += 1;
        futures::future::ready(()).await;
        count += 1;
        if count < 6 {
            Err(Error::Transient(count))
        } else {
            Ok(count)
        }
    }));
    assert_eq!(result, Ok(6));
    assert_eq!(count, 6);
}

#[test]
fn closures_returning_futures_keep_working() {
    let sleeper = FakeSleeper::new();
    let mut calls = 0;
    // A plain closure whose future owns what it needs, and a function item.
    let result = block_on(caller(&sleeper).attempts(3).call(transient, || {
        calls += 1;
        let n = calls;
        async move {
            if n < 3 {
                Err(Error::Transient(n))
            } else {
                Ok(n)
            }
        }
    }));
    assert_eq!(result, Ok(3));
    async fn fatal() -> Result<(), Error> {
        Err(Error::Fatal)
    }
    assert_eq!(
        block_on(caller(&sleeper).call(transient, fatal)),
        Err(Error::Fatal)
    );
    let bound = caller(&sleeper).on(transient);
    assert_eq!(block_on(bound.call(fatal)), Err(Error::Fatal));
    // `call_mut` takes them too.
    assert_eq!(block_on(bound.call_mut(fatal)), Err(Error::Fatal));
    calls = 0;
    let result = block_on(caller(&sleeper).attempts(3).call_mut(transient, || {
        calls += 1;
        let n = calls;
        async move {
            if n < 2 {
                Err(Error::Transient(n))
            } else {
                Ok(n)
            }
        }
    }));
    assert_eq!(result, Ok(2));
}

#[test]
fn a_stream_attempt_runs_an_async_closure_over_mut_self() {
    let sleeper = FakeSleeper::new();
    let mut client = Client {
        calls: 0,
        fail_first: 1,
    };
    let mut attempts = stamina::retry_context(transient)
        .wait_jitter(Duration::ZERO)
        .into_stream_with(sleeper.clone());
    let mut value = None;
    let result: Result<(), Error> = block_on(async {
        while let Some(attempt) = attempts.next().await {
            value = attempt.run(async || client.get().await).await?;
        }
        Ok(())
    });
    assert_eq!((result, value, client.calls), (Ok(()), Some(2), 2));
}
