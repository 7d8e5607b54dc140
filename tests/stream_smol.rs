//! The attempt stream and async callers on smol, waiting on async-io's timer.
//!
//! Waits are real here, so they are kept to a millisecond and nothing asserts on wall-clock time;
//! exact timing is covered with the fake sleeper and on tokio's paused clock.
#![cfg(feature = "async-io")]

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stamina::testing::{Testing, thread_active, thread_testing};
use stamina::{AsyncIoSleeper, AsyncRetryingCaller, AttemptTimedOut, retry_context};

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

const MS: Duration = Duration::from_millis(1);

fn caller() -> AsyncRetryingCaller<AsyncIoSleeper> {
    AsyncRetryingCaller::new()
        .wait_initial(MS)
        .wait_max(MS)
        .wait_jitter(Duration::ZERO)
        .sleeper(AsyncIoSleeper)
}

/// A stream loop whose attempts fail with `Transient(n)` while `n <= fail`.
async fn stream_loop(attempts: u32, fail: u32) -> (Result<u32, Error>, u32) {
    let mut stream = retry_context(transient)
        .attempts(attempts)
        .wait_initial(MS)
        .wait_jitter(Duration::ZERO)
        .into_stream_with(AsyncIoSleeper);
    let mut calls = 0;
    let mut last = Ok(None);
    while let Some(attempt) = stream.next().await {
        calls += 1;
        let n = attempt.num();
        last = attempt
            .run(|| async move {
                if n <= fail {
                    Err(Error::Transient(n))
                } else {
                    Ok(n)
                }
            })
            .await;
    }
    (last.map(Option::unwrap), calls)
}

#[test]
fn retries_until_success() {
    assert_eq!(smol::block_on(stream_loop(5, 2)), (Ok(3), 3));
}

#[test]
fn exhaustion_returns_the_last_error_unchanged() {
    assert_eq!(
        smol::block_on(stream_loop(3, u32::MAX)),
        (Err(Error::Transient(3)), 3)
    );
}

#[test]
fn attempts_zero_and_one_are_one_attempt() {
    for attempts in [0, 1] {
        assert_eq!(
            smol::block_on(stream_loop(attempts, u32::MAX)),
            (Err(Error::Transient(1)), 1)
        );
    }
}

#[test]
fn deactivated_runs_once() {
    let _off = thread_active(false);
    assert_eq!(
        smol::block_on(stream_loop(5, u32::MAX)),
        (Err(Error::Transient(1)), 1)
    );
}

#[test]
fn testing_mode_forces_and_caps() {
    {
        let _t = thread_testing(Testing::new().attempts(4));
        assert_eq!(smol::block_on(stream_loop(2, u32::MAX)).1, 4);
    }
    let _t = thread_testing(Testing::new().attempts(4).cap(true));
    assert_eq!(smol::block_on(stream_loop(2, u32::MAX)).1, 2);
}

#[test]
fn a_non_matching_error_runs_once() {
    let calls = AtomicU32::new(0);
    let result = smol::block_on(caller().call(transient, || {
        calls.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), _>(Error::Fatal) }
    }));
    assert_eq!(result, Err(Error::Fatal));
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

#[test]
fn the_attempt_timeout_cancels_a_never_ending_attempt() {
    let live = Arc::new(());
    let calls = AtomicU32::new(0);
    let result = smol::block_on(
        caller()
            .attempts(2)
            .attempt_timeout(MS)
            .call(transient, || {
                calls.fetch_add(1, Ordering::Relaxed);
                let held = Arc::clone(&live);
                async move {
                    let _held = held;
                    pending::<Result<(), Error>>().await
                }
            }),
    );
    assert!(matches!(result, Err(Error::TimedOut(t)) if t.after() == MS));
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(Arc::strong_count(&live), 1);
}

#[test]
fn runs_on_a_spawned_task() {
    let bound = caller().attempts(3).on(transient);
    let result = smol::block_on(async {
        let calls = Arc::new(AtomicU32::new(0));
        let task = smol::spawn({
            let calls = Arc::clone(&calls);
            async move {
                bound
                    .call(|| {
                        let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
                        async move {
                            if n < 3 {
                                Err(Error::Transient(n))
                            } else {
                                Ok(n)
                            }
                        }
                    })
                    .await
            }
        });
        task.await
    });
    assert_eq!(result, Ok(3));
}

#[test]
fn dropping_the_stream_mid_wait_leaves_nothing_behind() {
    let calls = Arc::new(AtomicU32::new(0));
    smol::block_on(async {
        let on_calls = Arc::clone(&calls);
        let mut attempts = retry_context(move |_: &Error| {
            on_calls.fetch_add(1, Ordering::Relaxed);
            Duration::from_secs(3600)
        })
        .no_timeout()
        .into_stream_with(AsyncIoSleeper);
        let attempt = attempts.next().await.unwrap();
        assert_eq!(attempt.record(Err::<(), _>(Error::Fatal)), Ok(None));
        // The hour-long wait is still going after 50 ms: it is not cut short.
        let next = futures::future::select(
            Box::pin(attempts.next()),
            Box::pin(async_io::Timer::after(50 * MS)),
        )
        .await;
        assert!(
            matches!(next, futures::future::Either::Right(_)),
            "the wait was over within 50 ms"
        );
        // The losing `next()` future borrows the stream until it is dropped.
        drop(next);
        drop(attempts);
    });
    assert_eq!(Arc::strong_count(&calls), 1);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}
