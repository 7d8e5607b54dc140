//! The attempt stream and async callers on tokio: paused time (waits and deadlines measured
//! exactly on tokio's clock, in no real time), current-thread and multi-thread runtimes.
#![cfg(feature = "tokio")]

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt as _;
use futures_core::stream::FusedStream;
use stamina::testing::{Testing, thread_active, thread_testing};
use stamina::{AsyncRetryingCaller, AttemptTimedOut, retry_context};
use tokio::time::Instant;

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

const fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Runs a stream loop whose attempts fail with `Transient(n)` until `fail` attempts have failed;
/// returns the outcome and the number of attempts.
async fn stream_loop(
    context: stamina::RetryContext<fn(&Error) -> bool>,
    fail: u32,
) -> (Result<u32, Error>, u32) {
    let mut attempts = context.into_stream();
    let mut calls = 0;
    while let Some(attempt) = attempts.next().await {
        calls += 1;
        // No loop here makes 100 attempts: one that would (a broken limit) fails its test
        // instead of spinning forever.
        assert!(calls <= 100, "the loop should have ended");
        let n = attempt.num();
        assert_eq!(n, calls);
        let outcome = attempt
            .run(|| async move {
                if n <= fail {
                    Err(Error::Transient(n))
                } else {
                    Ok(n)
                }
            })
            .await;
        match outcome {
            Ok(Some(value)) => return (Ok(value), calls),
            Ok(None) => {}
            Err(error) => return (Err(error), calls),
        }
    }
    unreachable!("the loop ends with a value or an error")
}

fn context() -> stamina::RetryContext<fn(&Error) -> bool> {
    retry_context(transient as fn(&Error) -> bool).wait_jitter(Duration::ZERO)
}

#[tokio::test(start_paused = true)]
async fn success_first_time_is_one_attempt_and_the_stream_is_fused() {
    let start = Instant::now();
    let mut attempts = context().into_stream();
    assert!(!attempts.is_terminated());
    let attempt = attempts.next().await.unwrap();
    assert!(!attempts.is_terminated());
    assert_eq!(attempt.num(), 1);
    assert_eq!(attempt.next_wait(), ms(100));
    assert_eq!(attempt.remaining(), Some(Duration::from_secs(45)));
    assert_eq!(
        attempt.run(|| async { Ok::<_, Error>(7) }).await,
        Ok(Some(7))
    );
    assert!(attempts.next().await.is_none());
    assert!(attempts.is_terminated());
    assert!(attempts.next().await.is_none());
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn retries_until_success_with_exact_waits() {
    let start = Instant::now();
    let (outcome, calls) = stream_loop(context(), 3).await;
    assert_eq!(outcome, Ok(4));
    assert_eq!(calls, 4);
    assert_eq!(start.elapsed(), ms(100 + 200 + 400));
}

#[tokio::test(start_paused = true)]
async fn exhaustion_returns_the_last_error_unchanged() {
    let start = Instant::now();
    let (outcome, calls) = stream_loop(context().attempts(3), u32::MAX).await;
    assert_eq!(outcome, Err(Error::Transient(3)));
    assert_eq!(calls, 3);
    assert_eq!(start.elapsed(), ms(300));
}

#[tokio::test(start_paused = true)]
async fn a_non_matching_error_runs_once_without_waiting() {
    let start = Instant::now();
    let mut attempts = context().into_stream();
    let mut calls = 0;
    let mut last = Ok(None);
    while let Some(attempt) = attempts.next().await {
        calls += 1;
        last = attempt.run(|| async { Err::<(), _>(Error::Fatal) }).await;
    }
    assert_eq!(last, Err(Error::Fatal));
    assert_eq!(calls, 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn deactivated_runs_once() {
    let _off = thread_active(false);
    let (outcome, calls) = stream_loop(context(), u32::MAX).await;
    assert_eq!(outcome, Err(Error::Transient(1)));
    assert_eq!(calls, 1);
}

#[tokio::test(start_paused = true)]
async fn testing_mode_forces_or_caps_attempts_with_zero_waits() {
    let start = Instant::now();
    {
        let _t = thread_testing(Testing::new().attempts(3));
        let (outcome, calls) = stream_loop(context().attempts(10), u32::MAX).await;
        assert_eq!((outcome, calls), (Err(Error::Transient(3)), 3));
        let (outcome, calls) = stream_loop(context().attempts(1), u32::MAX).await;
        assert_eq!((outcome, calls), (Err(Error::Transient(3)), 3));
    }
    {
        let _t = thread_testing(Testing::new().attempts(5).cap(true));
        let (_, calls) = stream_loop(context().attempts(2), u32::MAX).await;
        assert_eq!(calls, 2);
        let (_, calls) = stream_loop(context().unlimited_attempts(), u32::MAX).await;
        assert_eq!(calls, 5);
    }
    {
        // Custom waits are zero too, and the total timeout is ignored.
        let _t = thread_testing(Testing::new().attempts(4));
        let mut attempts = retry_context(|_: &Error| Duration::from_secs(60))
            .timeout(Duration::ZERO)
            .into_stream();
        let mut calls = 0;
        while let Some(attempt) = attempts.next().await {
            calls += 1;
            assert_eq!(attempt.next_wait(), Duration::ZERO);
            assert_eq!(attempt.remaining(), None);
            let _ = attempt.record(Err::<(), _>(Error::Fatal));
        }
        assert_eq!(calls, 4);
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn attempts_zero_and_one_are_one_attempt() {
    for attempts in [0, 1] {
        let (outcome, calls) = stream_loop(context().attempts(attempts), u32::MAX).await;
        assert_eq!((outcome, calls), (Err(Error::Transient(1)), 1));
    }
}

#[tokio::test(start_paused = true)]
async fn the_default_45_second_budget_passes_on_the_paused_clock_and_is_never_crossed() {
    let start = Instant::now();
    // Unlimited attempts: .1 + .2 + .4 + .8 + 1.6 + 3.2 = 6.3 s, then 5 s waits up to 41.3 s;
    // the next wait would end at 46.3 s, past the deadline, so the loop gives up at once.
    let (outcome, calls) = stream_loop(context().unlimited_attempts(), u32::MAX).await;
    assert_eq!(outcome, Err(Error::Transient(14)));
    assert_eq!(calls, 14);
    assert_eq!(start.elapsed(), ms(41_300));
}

#[tokio::test(start_paused = true)]
async fn attempts_that_take_time_count_against_the_deadline() {
    let start = Instant::now();
    let mut attempts = context().timeout(Duration::from_secs(10)).into_stream();
    let mut remaining = Vec::new();
    let mut last = Ok(None);
    while let Some(attempt) = attempts.next().await {
        remaining.push(attempt.remaining().unwrap());
        last = attempt
            .run(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Err::<(), _>(Error::Transient(0))
            })
            .await;
    }
    assert_eq!(last, Err(Error::Transient(0)));
    // 3 + .1 + 3 + .2 + 3 = 9.3 s; the next wait (.4 s) would end at 9.7 s: still before 10 s,
    // so a fourth attempt starts; then 12.7 s is past the deadline.
    assert_eq!(
        remaining,
        [ms(10_000), ms(6_900), ms(3_700), ms(300)],
        "time left at the start of each attempt"
    );
    assert_eq!(start.elapsed(), ms(12_700));
}

#[tokio::test(start_paused = true)]
async fn custom_waits_are_exact() {
    let start = Instant::now();
    let mut attempts = retry_context(|_: &Error| Duration::from_secs(7))
        .attempts(3)
        .no_timeout()
        .into_stream();
    let mut calls = 0;
    while let Some(attempt) = attempts.next().await {
        calls += 1;
        let _ = attempt.record(Err::<(), _>(Error::Fatal));
    }
    assert_eq!(calls, 3);
    assert_eq!(start.elapsed(), Duration::from_secs(14));
}

/// Awaits `future`, which on the paused clock must end within a minute: a loop whose attempt
/// timeout does not cut never would, and fails the test instead of hanging it.
async fn within_a_minute<F: std::future::Future>(future: F) -> F::Output {
    let ended = tokio::time::timeout(Duration::from_secs(60), future).await;
    ended.expect("the loop ends within a minute")
}

#[tokio::test(start_paused = true)]
async fn the_attempt_timeout_cancels_a_never_ending_attempt() {
    let start = Instant::now();
    let live = Arc::new(());
    let mut attempts = context()
        .attempts(3)
        .attempt_timeout(Duration::from_secs(1))
        .into_stream();
    let mut calls = 0;
    let mut last = Ok(None);
    let run = async {
        while let Some(attempt) = attempts.next().await {
            calls += 1;
            let held = Arc::clone(&live);
            last = attempt
                .run(|| async move {
                    let _held = held;
                    pending::<Result<(), Error>>().await
                })
                .await;
            assert_eq!(
                Arc::strong_count(&live),
                1,
                "the attempt's future was dropped"
            );
        }
    };
    within_a_minute(run).await;
    let Err(Error::TimedOut(timed_out)) = last else {
        panic!("expected a timeout, got {last:?}");
    };
    assert_eq!(timed_out.after(), Duration::from_secs(1));
    assert_eq!(calls, 3);
    assert_eq!(start.elapsed(), ms(1_000 + 100 + 1_000 + 200 + 1_000));
}

#[tokio::test(start_paused = true)]
async fn the_attempt_timeout_is_set_on_the_context_too_and_io_errors_take_it() {
    use std::io;

    let start = Instant::now();
    let mut attempts = retry_context(|e: &io::Error| e.kind() == io::ErrorKind::TimedOut)
        .attempt_timeout(Duration::from_secs(1))
        .attempts(2)
        .wait_jitter(Duration::ZERO)
        .into_stream();
    assert!(format!("{attempts:?}").contains("attempt_timeout: 1s"));
    let mut calls = 0;
    let mut last = Ok(None);
    within_a_minute(async {
        while let Some(attempt) = attempts.next().await {
            calls += 1;
            last = attempt.run(pending::<io::Result<()>>).await;
        }
    })
    .await;
    let error = last.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    let timed_out = error.get_ref().unwrap().downcast_ref::<AttemptTimedOut>();
    assert_eq!(timed_out.unwrap().after(), Duration::from_secs(1));
    assert_eq!(calls, 2);
    assert_eq!(start.elapsed(), ms(1_000 + 100 + 1_000));
    let context = retry_context(transient).attempt_timeout(ms(1500));
    assert!(format!("{context:?}").contains("attempt_timeout: 1s500ms"));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_an_attempt_before_its_timeout() {
    let start = Instant::now();
    let caller = AsyncRetryingCaller::new()
        .timeout(ms(2_500))
        .attempt_timeout(Duration::from_secs(10));
    let result = within_a_minute(caller.call(transient, pending::<Result<(), Error>>)).await;
    let Err(Error::TimedOut(timed_out)) = result else {
        panic!("expected a timeout, got {result:?}");
    };
    assert_eq!(timed_out.after(), ms(2_500));
    assert_eq!(start.elapsed(), ms(2_500));
}

#[tokio::test(start_paused = true)]
async fn a_fast_attempt_is_not_cut_by_its_timeout() {
    let result = AsyncRetryingCaller::new()
        .attempt_timeout(Duration::from_secs(1))
        .call(transient, || async {
            tokio::time::sleep(ms(999)).await;
            Ok::<_, Error>(1)
        })
        .await;
    assert_eq!(result, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn the_caller_counts_and_waits_like_the_stream() {
    let start = Instant::now();
    let calls = AtomicU32::new(0);
    let result = AsyncRetryingCaller::new()
        .attempts(4)
        .wait_jitter(Duration::ZERO)
        .call(transient, || {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            async move { Err::<(), _>(Error::Transient(n)) }
        })
        .await;
    assert_eq!(result, Err(Error::Transient(4)));
    assert_eq!(calls.load(Ordering::Relaxed), 4);
    assert_eq!(start.elapsed(), ms(700));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_mid_wait_leaves_nothing_behind() {
    let calls = Arc::new(AtomicU32::new(0));
    let on_calls = Arc::clone(&calls);
    let mut attempts = retry_context(move |_: &Error| {
        on_calls.fetch_add(1, Ordering::Relaxed);
        true
    })
    .wait_jitter(Duration::ZERO)
    .into_stream();
    let attempt = attempts.next().await.unwrap();
    assert_eq!(attempt.record(Err::<(), _>(Error::Fatal)), Ok(None));
    // The wait is 100 ms: give up on it 1 ms before its end, when it is still going.
    let next = tokio::time::timeout(ms(99), attempts.next()).await;
    assert!(next.is_err(), "the wait was over within 99 ms");
    drop(attempts);
    assert_eq!(
        Arc::strong_count(&calls),
        1,
        "the predicate was dropped with the stream"
    );
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_next_keeps_the_wait() {
    let start = Instant::now();
    let mut attempts = context().into_stream();
    let attempt = attempts.next().await.unwrap();
    let _ = attempt.record(Err::<(), _>(Error::Transient(1)));
    assert!(tokio::time::timeout(ms(60), attempts.next()).await.is_err());
    let attempt = attempts.next().await.unwrap();
    assert_eq!(attempt.num(), 2);
    assert_eq!(
        start.elapsed(),
        ms(100),
        "the wait went on where it stopped"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_caller_future_mid_wait_or_mid_attempt_leaves_nothing_behind() {
    let calls = Arc::new(AtomicU32::new(0));
    let caller = AsyncRetryingCaller::new().wait_jitter(Duration::ZERO);
    let call = {
        let calls = Arc::clone(&calls);
        caller.call(transient, move || {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>(Error::Transient(0)) }
        })
    };
    // First attempt at 0, wait 100 ms: cancel at 99 ms, when the wait is still going.
    assert!(tokio::time::timeout(ms(99), call).await.is_err());
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "the wait was over within 99 ms"
    );
    assert_eq!(Arc::strong_count(&calls), 1);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(calls.load(Ordering::Relaxed), 1);

    let live = Arc::new(());
    let call = {
        let live = Arc::clone(&live);
        caller.call(transient, move || {
            let held = Arc::clone(&live);
            async move {
                let _held = held;
                pending::<Result<(), Error>>().await
            }
        })
    };
    assert!(tokio::time::timeout(ms(50), call).await.is_err());
    assert_eq!(Arc::strong_count(&live), 1, "the hung attempt was dropped");
}

#[tokio::test(start_paused = true)]
async fn a_guard_dropped_without_an_outcome_ends_the_loop() {
    let mut attempts = context().into_stream();
    drop(attempts.next().await.unwrap());
    assert!(attempts.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn the_stream_works_with_stream_combinators() {
    let start = Instant::now();
    let attempts = context().attempts(3).into_stream();
    let nums: Vec<u32> = attempts
        .then(|attempt| async move {
            let num = attempt.num();
            let _ = attempt.record(Err::<(), _>(Error::Transient(num)));
            num
        })
        .collect()
        .await;
    assert_eq!(nums, [1, 2, 3]);
    assert_eq!(start.elapsed(), ms(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_on_a_multi_thread_runtime() {
    let context = context().attempts(3).wait_initial(ms(1));
    let stream_task = tokio::spawn(stream_loop(context, 2));
    let caller = AsyncRetryingCaller::new()
        .attempts(3)
        .wait_initial(ms(1))
        .wait_jitter(Duration::ZERO)
        .attempt_timeout(ms(5))
        .on(transient);
    let calls = Arc::new(AtomicU32::new(0));
    let caller_task = tokio::spawn({
        let calls = Arc::clone(&calls);
        async move {
            caller
                .call(|| {
                    let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
                    async move {
                        if n < 3 {
                            pending::<()>().await;
                        }
                        Ok::<_, Error>(n)
                    }
                })
                .await
        }
    });
    // Bounded: an attempt timeout that does not cut would hang the caller's task.
    let stream = tokio::time::timeout(Duration::from_secs(10), stream_task).await;
    assert_eq!(stream.expect("the stream ends").unwrap(), (Ok(3), 3));
    let called = tokio::time::timeout(Duration::from_secs(10), caller_task).await;
    assert_eq!(called.expect("the attempt timeout cuts").unwrap(), Ok(3));
    assert_eq!(calls.load(Ordering::Relaxed), 3);
}

#[tokio::test(flavor = "current_thread")]
async fn current_thread_runtime_with_real_time() {
    let (outcome, calls) = stream_loop(context().attempts(3).wait_initial(ms(1)), 1).await;
    assert_eq!((outcome, calls), (Ok(2), 2));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_an_attempt_on_the_stream_before_its_timeout() {
    let start = Instant::now();
    let mut attempts = context()
        .timeout(ms(2_500))
        .attempt_timeout(Duration::from_secs(10))
        .into_stream();
    let mut calls = 0;
    let mut last = Ok(None);
    within_a_minute(async {
        while let Some(attempt) = attempts.next().await {
            calls += 1;
            last = attempt.run(pending::<Result<(), Error>>).await;
        }
    })
    .await;
    // The first attempt is cut at the deadline, 2.5 s in: no time is left for a retry.
    assert_eq!(calls, 1);
    let Err(Error::TimedOut(timed_out)) = last else {
        panic!("expected a timeout, got {last:?}");
    };
    assert_eq!(timed_out.after(), ms(2_500));
    assert_eq!(start.elapsed(), ms(2_500));
}

#[tokio::test(start_paused = true)]
async fn the_stream_types_print_their_state() {
    let mut attempts = context()
        .name("printed")
        .attempts(3)
        .no_timeout()
        .attempt_timeout(Duration::from_secs(2))
        .into_stream();
    let settings = "attempts: 3, timeout: none, wait_initial: 100ms, wait_max: 5s, \
                    wait_jitter: 0s, wait_exp_base: 2";
    assert_eq!(
        format!("{attempts:?}"),
        format!(
            "AttemptStream {{ name: \"printed\", {settings}, attempt_timeout: 2s, attempt: 0, \
             phase: NotStarted, waited: 0ns, waiting: false, .. }}"
        )
    );
    let first = attempts.next().await.unwrap();
    assert_eq!(
        format!("{first:?}"),
        "AsyncAttempt { num: 1, name: \"printed\", .. }"
    );
    assert_eq!(first.record(Err::<(), _>(Error::Transient(1))), Ok(None));
    // While the loop waits, it reports the attempt that failed, not the next one.
    assert!(format!("{attempts:?}").contains("attempt: 1, phase: Waiting(100ms), waited: 100ms"));
    let second = attempts.next().await.unwrap();
    assert!(format!("{attempts:?}").contains("attempt: 2, phase: Running(2), waited: 100ms"));
    assert_eq!(second.record(Ok::<_, Error>(2)), Ok(Some(2)));
    assert_eq!(attempts.next().await.map(|a| a.num()), None);
    assert_eq!(format!("{attempts:?}"), "AttemptStream { ended: true, .. }");
    let plain = context().into_stream();
    assert!(!format!("{plain:?}").contains("attempt_timeout"));
    let caller = AsyncRetryingCaller::new().attempt_timeout(Duration::from_secs(2));
    assert_eq!(
        caller.get_policy().get_attempt_timeout(),
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        AsyncRetryingCaller::new()
            .get_policy()
            .get_attempt_timeout(),
        None
    );
}
