//! Budgets, nested-retry suppression and hooks in async loops, on the recording fake sleeper.

use std::cell::Cell;
use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::executor::block_on;
use stamina::testing::{FakeSleeper, Testing, thread_testing};
use stamina::{AsyncRetryingCaller, AttemptTimedOut, RetryBudget, RetryGuard, retry_context};

#[derive(Debug, PartialEq)]
enum Error {
    Down,
    TimedOut,
}

impl From<AttemptTimedOut> for Error {
    fn from(_: AttemptTimedOut) -> Self {
        Self::TimedOut
    }
}

fn always(_: &Error) -> bool {
    true
}

#[test]
fn an_async_caller_pays_retries_from_the_budget() {
    let budget = RetryBudget::quota(10, 5, 10);
    let caller = AsyncRetryingCaller::new()
        .budget(&budget)
        .sleeper(FakeSleeper::new());
    let calls = AtomicU32::new(0);
    let result = block_on(caller.call(always, || {
        calls.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), _>(Error::Down) }
    }));
    assert_eq!(result, Err(Error::Down));
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(budget.available(), 0.0);
    block_on(caller.call(always, || async { Ok::<_, Error>(()) })).unwrap();
    assert_eq!(budget.available(), 1.0);
}

#[test]
fn a_timed_out_attempt_makes_the_retry_cost_more() {
    // 15 tokens: one retry after a timeout (10), then not another (10 > 5 left).
    let budget = RetryBudget::quota(15, 5, 10);
    let sleeper = FakeSleeper::new();
    let caller = AsyncRetryingCaller::new()
        .budget(&budget)
        .sleeper(sleeper.clone())
        .attempt_timeout(Duration::from_secs(1));
    let calls = AtomicU32::new(0);
    let result = block_on(caller.call(always, || {
        calls.fetch_add(1, Ordering::Relaxed);
        pending::<Result<(), Error>>()
    }));
    assert_eq!(result, Err(Error::TimedOut));
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(budget.available(), 5.0);
}

#[test]
fn a_stream_pays_from_the_budget_too() {
    let budget = RetryBudget::quota(5, 5, 10);
    let mut attempts = retry_context(always)
        .budget(&budget)
        .into_stream_with(FakeSleeper::new());
    let mut calls = 0;
    let mut last = None;
    block_on(async {
        while let Some(attempt) = attempts.next().await {
            calls += 1;
            if let Err(e) = attempt.run(|| async { Err::<(), _>(Error::Down) }).await {
                last = Some(e);
            }
        }
    });
    assert_eq!((calls, last), (2, Some(Error::Down)));
}

/// Three layers of async callers, four attempts each; returns the calls reaching the leaf.
fn three_layers(caller: &AsyncRetryingCaller<FakeSleeper>) -> u32 {
    let leaf = Cell::new(0);
    let result = block_on(caller.call(always, || async {
        caller
            .call(always, || async {
                caller
                    .call(always, || async {
                        leaf.set(leaf.get() + 1);
                        Err::<(), _>(Error::Down)
                    })
                    .await
            })
            .await
    }));
    assert_eq!(result, Err(Error::Down));
    leaf.get()
}

#[test]
fn nested_async_loops_collapse_when_suppressed() {
    let _fast = thread_testing(Testing::new().attempts(4));
    let caller = AsyncRetryingCaller::new().sleeper(FakeSleeper::new());
    assert_eq!(three_layers(&caller), 64);
    assert_eq!(three_layers(&caller.clone().suppress_nested(true)), 4);
}

#[test]
fn hook_guards_live_over_async_waits_and_drop_once() {
    struct Counted(Arc<AtomicU32>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicU32::new(0));
    let hooks_called = Arc::new(AtomicU32::new(0));
    let (d, h) = (Arc::clone(&dropped), Arc::clone(&hooks_called));
    let mut attempts = retry_context(always)
        .attempts(4)
        .on_retry(move |_: &stamina::RetryDetails<'_>| {
            h.fetch_add(1, Ordering::SeqCst);
            RetryGuard::new(Counted(Arc::clone(&d)))
        })
        .into_stream_with(FakeSleeper::new());
    let mut seen = Vec::new();
    block_on(async {
        while let Some(attempt) = attempts.next().await {
            // Every guard of an earlier retry is gone before the next attempt starts.
            seen.push((
                attempt.num(),
                hooks_called.load(Ordering::SeqCst),
                dropped.load(Ordering::SeqCst),
            ));
            let _ = attempt.run(|| async { Err::<(), _>(Error::Down) }).await;
        }
    });
    assert_eq!(seen, [(1, 0, 0), (2, 1, 1), (3, 2, 2), (4, 3, 3)]);
    drop(attempts);
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}

#[test]
fn dropping_a_stream_mid_wait_drops_the_hook_guard_once() {
    struct Counted(Arc<AtomicU32>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicU32::new(0));
    let d = Arc::clone(&dropped);
    let mut attempts = retry_context(always)
        .on_retry(move |_: &stamina::RetryDetails<'_>| RetryGuard::new(Counted(Arc::clone(&d))))
        .into_stream_with(FakeSleeper::new());
    block_on(async {
        let attempt = attempts.next().await.unwrap();
        let outcome = attempt.run(|| async { Err::<(), _>(Error::Down) }).await;
        assert_eq!(outcome, Ok(None));
    });
    // The retry is scheduled and its guard alive; the loop is abandoned before the wait.
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    drop(attempts);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn dropping_a_caller_future_mid_wait_drops_the_hook_guard_once() {
    struct Counted(Arc<AtomicU32>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicU32::new(0));
    let d = Arc::clone(&dropped);
    let caller = AsyncRetryingCaller::new()
        .wait_initial(Duration::from_secs(1))
        .wait_jitter(Duration::ZERO)
        .on_retry(move |_: &stamina::RetryDetails<'_>| RetryGuard::new(Counted(Arc::clone(&d))));
    let calls = AtomicU32::new(0);
    let call = caller.call(always, || {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>(Error::Down) }
    });
    // The first attempt fails at once; the call is then cut 500 ms into its 1 s wait.
    let cut = tokio::time::timeout(Duration::from_millis(500), call).await;
    assert!(cut.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    // Nothing was left running: time passing changes nothing.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn the_tokio_sleeper_takes_any_duration() {
    use stamina::{Sleeper, TokioSleeper};
    let forever = TokioSleeper.sleep(Duration::MAX);
    assert!(
        tokio::time::timeout(Duration::from_secs(3600), forever)
            .await
            .is_err()
    );
}

#[cfg(feature = "async-io")]
#[test]
fn the_async_io_sleeper_takes_any_duration() {
    use stamina::{AsyncIoSleeper, Sleeper};
    let forever = AsyncIoSleeper.sleep(Duration::MAX);
    let mut forever = std::pin::pin!(forever);
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(forever.as_mut().poll(&mut cx).is_pending());
}
