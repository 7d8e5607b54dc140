//! The default sleeper: it picks the runtime at run time (tokio's timer inside a tokio runtime,
//! async-io's elsewhere), and a zero wait needs no timer at all.
#![cfg(any(feature = "tokio", feature = "async-io"))]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stamina::testing::{Testing, thread_testing};
use stamina::{AsyncRetryingCaller, RetryPolicy, retry_context};

#[derive(Debug, PartialEq)]
struct Transient(u32);

fn always(_: &Transient) -> bool {
    true
}

const fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Waits 1 ms, then 2 ms, without jitter.
const SHORT_WAITS: RetryPolicy = RetryPolicy::new()
    .attempts(3)
    .wait_initial(ms(1))
    .wait_jitter(Duration::ZERO);

/// Zero waits, without the testing switches.
const ZERO_WAITS: RetryPolicy = RetryPolicy::new()
    .attempts(3)
    .wait_initial(Duration::ZERO)
    .wait_jitter(Duration::ZERO);

/// A stream loop and a caller on the default sleeper, each failing every attempt; returns the
/// calls each made.
async fn both_loops(policy: RetryPolicy) -> (u32, u32) {
    let mut attempts = retry_context(always).policy(policy).into_stream();
    let mut stream_calls = 0;
    while let Some(attempt) = attempts.next().await {
        stream_calls += 1;
        let n = stream_calls;
        let outcome = attempt
            .run(|| async move { Err::<(), _>(Transient(n)) })
            .await;
        if outcome.is_err() {
            break;
        }
    }
    let caller_calls = AtomicU32::new(0);
    let result = AsyncRetryingCaller::from_policy(policy)
        .call(always, || {
            let n = caller_calls.fetch_add(1, Ordering::Relaxed) + 1;
            async move { Err::<(), _>(Transient(n)) }
        })
        .await;
    assert_eq!(result, Err(Transient(3)));
    (stream_calls, caller_calls.into_inner())
}

#[test]
fn zero_waits_run_under_any_executor() {
    let _three = thread_testing(Testing::new().attempts(3));
    assert_eq!(futures::executor::block_on(both_loops(SHORT_WAITS)), (3, 3));
    drop(_three);
    assert_eq!(futures::executor::block_on(both_loops(ZERO_WAITS)), (3, 3));
}

#[cfg(feature = "tokio")]
#[test]
fn zero_waits_run_on_a_tokio_runtime_without_timers() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(both_loops(ZERO_WAITS)), (3, 3));
    let _three = thread_testing(Testing::new().attempts(3));
    assert_eq!(runtime.block_on(both_loops(SHORT_WAITS)), (3, 3));
}

#[cfg(feature = "tokio")]
#[test]
fn the_explicit_tokio_sleeper_needs_no_timer_for_zero_waits() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let caller = AsyncRetryingCaller::from_policy(ZERO_WAITS).sleeper(stamina::TokioSleeper);
    let result = runtime.block_on(caller.call(always, || async { Err::<(), _>(Transient(0)) }));
    assert_eq!(result, Err(Transient(0)));
}

/// With both runtime features on (as feature unification does behind an application's back),
/// the same loop runs on smol and on tokio.
#[cfg(all(feature = "tokio", feature = "async-io"))]
mod both_features {
    use super::*;

    #[test]
    fn the_same_loop_runs_under_smol() {
        let start = std::time::Instant::now();
        // Bounded: loops that never end give (0, 0) after 10 s.
        let bounded = smol::future::or(both_loops(SHORT_WAITS), async {
            smol::Timer::after(Duration::from_secs(10)).await;
            (0, 0)
        });
        assert_eq!(smol::block_on(bounded), (3, 3));
        // Two loops of 1 ms + 2 ms waits, on async-io's timer: real time.
        assert!(start.elapsed() >= ms(6), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_loop_runs_under_tokio_on_its_clock() {
        let start = tokio::time::Instant::now();
        assert_eq!(both_loops(SHORT_WAITS).await, (3, 3));
        // On tokio's timer: the paused clock moved by exactly the waits.
        assert_eq!(start.elapsed(), ms(6));
    }
}
