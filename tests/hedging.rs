//! Hedged calls of the async caller on tokio's paused clock: who wins, how many attempts
//! start and when, what the budget holds after, and what the hooks hear. Each attempt sleeps
//! its latency on the paused clock, so every time asserted is exact.
#![cfg(feature = "tokio")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stamina::instrument::{HedgeDetails, HedgeKind, Level, OnRetryHook, RetryGuard};
use stamina::testing::{FakeSleeper, Testing, thread_testing};
use stamina::{AsyncRetryingCaller, Decision, Hedging, RetryBudget};
use tokio::time::Instant;

/// `n` milliseconds.
fn ms1(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What an attempt does: answer after its latency, or fail after it.
#[derive(Clone, Copy, Debug)]
enum Plan {
    Answer(u64),
    Fail(u64),
    FailFatal(u64),
    FailAfter(u64, u64),
    /// Fails after its latency, asking for the longest wait there is.
    FailAfterForever(u64),
}

#[derive(Debug, PartialEq)]
enum Failure {
    Transient(u32),
    Fatal(u32),
    Busy(u32, Duration),
}

fn on(failure: &Failure) -> Decision {
    match failure {
        Failure::Transient(_) => Decision::Retry,
        Failure::Fatal(_) => Decision::DontRetry,
        Failure::Busy(_, wait) => Decision::RetryAfter(*wait),
    }
}

/// The attempts of one call: what each does, when each started, and which were dropped
/// before they answered.
#[derive(Clone, Default)]
struct Script {
    plans: Arc<Vec<Plan>>,
    started: Arc<Mutex<Vec<Duration>>>,
    cancelled: Arc<Mutex<Vec<u32>>>,
    origin: Arc<Mutex<Option<Instant>>>,
}

struct CancelOnDrop(Option<(u32, Arc<Mutex<Vec<u32>>>)>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some((num, cancelled)) = self.0.take() {
            cancelled.lock().unwrap().push(num);
        }
    }
}

impl Script {
    fn new(plans: impl IntoIterator<Item = Plan>) -> Self {
        Self {
            plans: Arc::new(plans.into_iter().collect()),
            ..Self::default()
        }
    }

    /// The future of the next attempt, numbered from 1.
    fn attempt(&self) -> impl Future<Output = Result<u32, Failure>> + Send + 'static {
        let origin = *self.origin.lock().unwrap().get_or_insert_with(Instant::now);
        let mut started = self.started.lock().unwrap();
        started.push(origin.elapsed());
        let num = u32::try_from(started.len()).unwrap();
        let plan = self.plans[started.len() - 1];
        let cancelled = Arc::clone(&self.cancelled);
        async move {
            let mut guard = CancelOnDrop(Some((num, cancelled)));
            let (latency, result) = match plan {
                Plan::Answer(ms) => (ms, Ok(num)),
                Plan::Fail(ms) => (ms, Err(Failure::Transient(num))),
                Plan::FailFatal(ms) => (ms, Err(Failure::Fatal(num))),
                Plan::FailAfter(ms, wait) => (ms, Err(Failure::Busy(num, ms1(wait)))),
                Plan::FailAfterForever(ms) => (ms, Err(Failure::Busy(num, Duration::MAX))),
            };
            tokio::time::sleep(ms1(latency)).await;
            guard.0 = None;
            result
        }
    }

    fn started_at(&self) -> Vec<Duration> {
        self.started.lock().unwrap().clone()
    }

    fn cancelled(&self) -> Vec<u32> {
        let mut cancelled = self.cancelled.lock().unwrap().clone();
        cancelled.sort_unstable();
        cancelled
    }
}

fn ms(millis: &[u64]) -> Vec<Duration> {
    millis.iter().map(|&m| ms1(m)).collect()
}

/// Runs a call of `caller` over `script`, bounded by a minute of virtual time.
async fn run(caller: &AsyncRetryingCaller, script: &Script) -> (Result<u32, Failure>, Duration) {
    let started = Instant::now();
    let call = caller.call(on, || script.attempt());
    let result = tokio::time::timeout(Duration::from_secs(60), call).await;
    (result.expect("the call ends"), started.elapsed())
}

fn caller(hedging: Hedging) -> AsyncRetryingCaller {
    AsyncRetryingCaller::new()
        .name("fetch")
        .attempts(5)
        .wait_jitter(Duration::ZERO)
        .hedge(hedging)
}

#[tokio::test(start_paused = true)]
async fn a_hedge_sent_after_the_delay_wins_and_the_slow_attempt_is_dropped() {
    let script = Script::new([Plan::Answer(1000), Plan::Answer(10)]);
    let (result, took) = run(&caller(Hedging::after(ms1(50))), &script).await;
    assert_eq!(result, Ok(2));
    assert_eq!(took, ms1(60));
    assert_eq!(script.started_at(), ms(&[0, 50]));
    assert_eq!(script.cancelled(), [1]);
}

#[tokio::test(start_paused = true)]
async fn a_fast_first_attempt_sends_no_hedge() {
    let script = Script::new([Plan::Answer(20)]);
    let (result, took) = run(&caller(Hedging::after(ms1(50))), &script).await;
    assert_eq!((result, took), (Ok(1), ms1(20)));
    assert_eq!(script.started_at(), ms(&[0]));
}

#[tokio::test(start_paused = true)]
async fn hedges_follow_each_other_up_to_the_most_in_flight() {
    let script = Script::new([
        Plan::Answer(1000),
        Plan::Answer(1000),
        Plan::Answer(30),
        Plan::Answer(1),
    ]);
    let hedging = Hedging::after(ms1(50)).max_in_flight(3);
    let (result, took) = run(&caller(hedging), &script).await;
    assert_eq!((result, took), (Ok(3), ms1(130)));
    // No fourth: three are in flight.
    assert_eq!(script.started_at(), ms(&[0, 50, 100]));
    assert_eq!(script.cancelled(), [1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_retryable_failure_starts_the_next_attempt_at_once() {
    let script = Script::new([Plan::Fail(10), Plan::Answer(20)]);
    let (result, took) = run(&caller(Hedging::after(ms1(50))), &script).await;
    assert_eq!((result, took), (Ok(2), ms1(30)));
    // At 10 ms, not after the 50 ms delay nor the 100 ms backoff.
    assert_eq!(script.started_at(), ms(&[0, 10]));
}

#[tokio::test(start_paused = true)]
async fn a_failure_on_does_not_retry_ends_the_call_and_drops_the_others() {
    let script = Script::new([Plan::Answer(1000), Plan::FailFatal(10)]);
    let (result, took) = run(&caller(Hedging::after(ms1(50))), &script).await;
    assert_eq!((result, took), (Err(Failure::Fatal(2)), ms1(60)));
    assert_eq!(script.cancelled(), [1]);
}

#[tokio::test(start_paused = true)]
async fn when_every_attempt_fails_the_last_failure_comes_back_and_attempts_count_every_one() {
    let script = Script::new([
        Plan::Fail(100),
        Plan::Fail(60),
        Plan::Fail(10),
        Plan::Fail(1),
    ]);
    let three = caller(Hedging::after(ms1(50))).attempts(3);
    let (result, took) = run(&three, &script).await;
    // Attempt 1 at 0, the hedge at 50; 1 fails at 100 and starts 3 at once, which fails at
    // 110; 2 fails last, at 110 too: no fourth attempt.
    assert_eq!(result.unwrap_err(), Failure::Transient(3));
    assert_eq!(took, ms1(110));
    assert_eq!(script.started_at(), ms(&[0, 50, 100]));
}

#[tokio::test(start_paused = true)]
async fn parallel_sends_every_attempt_at_once() {
    let script = Script::new([Plan::Answer(30), Plan::Answer(20), Plan::Answer(10)]);
    let hedging = Hedging::parallel().max_in_flight(3);
    let (result, took) = run(&caller(hedging), &script).await;
    assert_eq!((result, took), (Ok(3), ms1(10)));
    assert_eq!(script.started_at(), ms(&[0, 0, 0]));
    assert_eq!(script.cancelled(), [1, 2]);
}

#[tokio::test(start_paused = true)]
async fn fallback_sends_the_next_attempt_only_when_one_fails() {
    let script = Script::new([Plan::Fail(300), Plan::Answer(20)]);
    let (result, took) = run(&caller(Hedging::fallback()), &script).await;
    assert_eq!((result, took), (Ok(2), ms1(320)));
    assert_eq!(script.started_at(), ms(&[0, 300]));
}

/// A failure retried at once starts its attempt without asking the sleeper for anything.
#[tokio::test(start_paused = true)]
async fn a_retry_at_once_takes_no_sleep() {
    let sleeper = FakeSleeper::new();
    let script = Script::new([Plan::Fail(10), Plan::Fail(10), Plan::Answer(10)]);
    let fallback = caller(Hedging::fallback()).sleeper(sleeper.clone());
    let call = fallback.call(on, || script.attempt());
    let result = tokio::time::timeout(Duration::from_secs(60), call).await;
    assert_eq!(result.expect("the call ends"), Ok(3));
    assert_eq!(script.started_at(), ms(&[0, 10, 20]));
    assert_eq!(sleeper.sleeps(), []);
}

/// An attempt that fails while a server's wait holds the next start joins the hold: counted
/// among the attempts still to come, it neither ends the call nor starts early.
#[tokio::test(start_paused = true)]
async fn a_failure_during_a_hold_waits_for_it() {
    // Attempt 2, the hedge at 50 ms, asks for 500 ms at 60 ms; attempt 1 fails at 100 ms.
    let script = Script::new([
        Plan::Fail(100),
        Plan::FailAfter(10, 500),
        Plan::Answer(10),
        Plan::Answer(20),
    ]);
    let (result, took) = run(&caller(Hedging::after(ms1(50))), &script).await;
    assert_eq!((result, took), (Ok(3), ms1(570)));
    assert_eq!(script.started_at(), ms(&[0, 50, 560, 560]));
    assert_eq!(script.cancelled(), [4]);
}

#[tokio::test(start_paused = true)]
async fn a_server_s_retry_after_holds_every_start_until_then() {
    // Attempt 1 asks for 200 ms at 10 ms: no hedge at 50 ms, the next attempt at 210 ms.
    let script = Script::new([Plan::FailAfter(10, 200), Plan::Answer(5)]);
    let (result, took) = run(&caller(Hedging::after(ms1(50))), &script).await;
    assert_eq!((result, took), (Ok(2), ms1(215)));
    assert_eq!(script.started_at(), ms(&[0, 210]));
    // A wait past the deadline ends the starts, and the call.
    let script = Script::new([Plan::FailAfter(10, 5_000), Plan::Answer(5)]);
    let short = caller(Hedging::after(ms1(50))).timeout(Duration::from_secs(1));
    let (result, took) = run(&short, &script).await;
    assert_eq!((result, took), (Err(Failure::Busy(1, ms1(5_000))), ms1(10)));
    assert_eq!(script.started_at(), ms(&[0]));
}

/// A hook's guard for a retry lives over a server's wait and ends as the next attempt starts.
#[tokio::test(start_paused = true)]
async fn a_retry_guard_lives_over_a_server_s_wait() {
    struct Stamp(Instant, Arc<Mutex<Vec<Duration>>>);
    impl Drop for Stamp {
        fn drop(&mut self) {
            self.1.lock().unwrap().push(self.0.elapsed());
        }
    }
    let ended = Arc::new(Mutex::new(Vec::new()));
    let origin = Instant::now();
    let hook = OnRetryHook::new({
        let ended = Arc::clone(&ended);
        move |_: &stamina::RetryDetails<'_>| RetryGuard::new(Stamp(origin, Arc::clone(&ended)))
    });
    let script = Script::new([Plan::FailAfter(10, 200), Plan::Answer(5)]);
    let guarded = caller(Hedging::after(ms1(50))).on_retry_hook(hook);
    let (result, took) = run(&guarded, &script).await;
    assert_eq!((result, took), (Ok(2), ms1(215)));
    assert_eq!(*ended.lock().unwrap(), ms(&[210]));
}

/// A server's wait too long for the clock to hold (no deadline to cut it) holds every start
/// as a shorter one does: no attempt follows it at once.
#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_clock_holds_every_start() {
    let script = Script::new([Plan::FailAfterForever(10), Plan::Answer(5)]);
    let unbounded = caller(Hedging::after(ms1(50))).no_timeout();
    let call = unbounded.call(on, || script.attempt());
    let held = tokio::time::timeout(Duration::from_secs(3600), call).await;
    assert!(held.is_err(), "the call ended: {held:?}");
    assert_eq!(script.started_at(), ms(&[0]));
}

#[tokio::test(start_paused = true)]
async fn no_attempt_starts_after_the_deadline_and_an_attempt_timeout_cuts_those_in_flight() {
    let script = Script::new([Plan::Answer(1000); 5]);
    let caller = AsyncRetryingCaller::new()
        .attempts(5)
        .timeout(ms1(120))
        .attempt_timeout(Duration::from_secs(10))
        .hedge(Hedging::after(ms1(50)).max_in_flight(5));
    let started = Instant::now();
    let call = caller.call(
        |e: &std::io::Error| e.kind() == std::io::ErrorKind::TimedOut,
        || {
            let attempt = script.attempt();
            async move { attempt.await.map_err(|_| std::io::Error::other("?")) }
        },
    );
    let error = tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .unwrap()
        .unwrap_err();
    // Hedges at 50 and 100 ms; none at 150 ms, past the deadline, which cut all three.
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(started.elapsed(), ms1(120));
    assert_eq!(script.started_at(), ms(&[0, 50, 100]));
}

#[tokio::test(start_paused = true)]
async fn every_hedge_pays_the_budget_and_the_winner_refunds_it() {
    // A quota of 20 tokens, 5 per retry or hedge, 1 back for a success without retry.
    let budget = RetryBudget::quota(20, 5, 10);
    let script = Script::new([Plan::Answer(1000), Plan::Answer(1000), Plan::Answer(10)]);
    let paying = caller(Hedging::after(ms1(50)).max_in_flight(3)).budget(&budget);
    let (result, _) = run(&paying, &script).await;
    assert_eq!(result, Ok(3));
    // Two hedges paid 10; the winner's 5 came back.
    assert_eq!(budget.available(), 15.0);

    // An empty budget sends no hedge: the slow first attempt is the call's answer.
    let empty = RetryBudget::quota(4, 5, 10);
    let script = Script::new([Plan::Answer(1000), Plan::Answer(10)]);
    let refused = caller(Hedging::after(ms1(50))).budget(&empty);
    let (result, took) = run(&refused, &script).await;
    assert_eq!((result, took), (Ok(1), ms1(1000)));
    assert_eq!(script.started_at(), ms(&[0]));
    assert_eq!(empty.available(), 4.0);
}

#[tokio::test(start_paused = true)]
async fn in_testing_mode_attempts_run_one_after_another_unless_hedges_are_kept() {
    let script = Script::new([Plan::Fail(1000), Plan::Answer(10)]);
    let _testing = thread_testing(Testing::new().attempts(2));
    let (result, took) = run(&caller(Hedging::after(ms1(50))), &script).await;
    assert_eq!((result, took), (Ok(2), ms1(1010)));
    assert_eq!(script.started_at(), ms(&[0, 1000]));

    let script = Script::new([Plan::Answer(1000), Plan::Answer(10)]);
    let _hedges = thread_testing(Testing::new().attempts(2).hedges(true));
    let (result, took) = run(&caller(Hedging::after(ms1(50))), &script).await;
    assert_eq!((result, took), (Ok(2), ms1(60)));
}

/// Hedges kept in testing mode follow testing mode's limits: its attempts, not the policy's,
/// and no budget (an empty one sends them all the same).
#[tokio::test(start_paused = true)]
async fn hedges_kept_in_testing_mode_count_testing_attempts_and_no_budget() {
    let _hedges = thread_testing(Testing::new().attempts(2).hedges(true));
    let script = Script::new([Plan::Answer(1000), Plan::Answer(1000), Plan::Answer(1000)]);
    let empty = RetryBudget::quota(4, 5, 10);
    let hedged = caller(Hedging::after(ms1(50)).max_in_flight(3)).budget(&empty);
    let (result, took) = run(&hedged, &script).await;
    assert_eq!((result, took), (Ok(1), ms1(1000)));
    assert_eq!(script.started_at(), ms(&[0, 50]));
    assert_eq!(script.cancelled(), [2]);
    assert_eq!(empty.available(), 4.0);
}

#[tokio::test(start_paused = true)]
async fn a_nested_call_sends_no_hedge() {
    let inner_attempts = Arc::new(AtomicU32::new(0));
    let outer = AsyncRetryingCaller::new().attempts(1).suppress_nested(true);
    let inner = caller(Hedging::after(ms1(50))).suppress_nested(true);
    let result = outer
        .call(
            |_: &Failure| false,
            || {
                let inner = inner.clone();
                let inner_attempts = Arc::clone(&inner_attempts);
                async move {
                    inner
                        .call(on, || {
                            inner_attempts.fetch_add(1, Ordering::SeqCst);
                            async {
                                tokio::time::sleep(ms1(1000)).await;
                                Ok::<_, Failure>(1)
                            }
                        })
                        .await
                }
            },
        )
        .await;
    assert_eq!(result, Ok(1));
    assert_eq!(inner_attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn hooks_hear_each_hedge_sent_and_the_winner() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let hook = OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {}).on_hedge({
        let heard = Arc::clone(&heard);
        move |d: &HedgeDetails<'_>| {
            heard.lock().unwrap().push((
                d.name().to_owned(),
                d.kind(),
                d.attempt(),
                d.in_flight(),
                d.level(),
            ));
        }
    });
    let script = Script::new([Plan::Answer(1000), Plan::Answer(1000), Plan::Answer(10)]);
    let heard_by = caller(Hedging::after(ms1(50)).max_in_flight(3))
        .log_level(Level::Debug)
        .on_retry_hook(hook);
    assert_eq!(run(&heard_by, &script).await.0, Ok(3));
    let event = |kind, attempt, in_flight| {
        let name = "fetch".to_owned();
        (name, kind, attempt, in_flight, Level::Debug)
    };
    assert_eq!(
        *heard.lock().unwrap(),
        [
            event(HedgeKind::Sent, 2, 2),
            event(HedgeKind::Sent, 3, 3),
            event(HedgeKind::Won, 3, 3),
        ]
    );
    // A first attempt that wins alone is no event.
    heard.lock().unwrap().clear();
    let script = Script::new([Plan::Answer(10)]);
    assert_eq!(run(&heard_by, &script).await.0, Ok(1));
    assert!(heard.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_percentile_delay_follows_the_recent_latencies() {
    let hedging = Hedging::at_percentile(0.9, Duration::from_secs(1));
    let adaptive = caller(hedging);
    // No window is full yet: no hedge, however slow the attempt.
    let script = Script::new([Plan::Answer(500), Plan::Answer(10)]);
    assert_eq!(run(&adaptive, &script).await, (Ok(1), ms1(500)));
    // 20 answers of 10 ms to 29 ms, then a second: the last full window's p90 is the 18th
    // latency, 27 ms, held to within an eighth (28 ms here, its bucket's upper end, less
    // than 1 ms).
    for latency in 10..30 {
        let script = Script::new([Plan::Answer(latency)]);
        assert_eq!(run(&adaptive, &script).await.0, Ok(1));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let script = Script::new([Plan::Answer(1)]);
    assert_eq!(run(&adaptive, &script).await.0, Ok(1));
    let script = Script::new([Plan::Answer(500), Plan::Answer(10)]);
    let (result, took) = run(&adaptive, &script).await;
    assert_eq!(result, Ok(2));
    let delay = script.started_at()[1];
    assert!(delay >= ms1(27) && delay <= ms1(31), "{delay:?}");
    assert_eq!(took, delay + ms1(10));
}

/// A throttle counts every hedge as a failure and every call won as a success: when a service
/// is slow everywhere, hedges stop once half its tokens are gone, and come back one per
/// `1 / token_ratio` calls.
#[tokio::test(start_paused = true)]
async fn a_throttle_budget_stops_hedging_a_service_slow_everywhere() {
    let throttle = RetryBudget::throttle(10, 0.5);
    let slow = caller(Hedging::after(ms1(50))).budget(&throttle);
    let mut hedged = Vec::new();
    for _ in 0..12 {
        let script = Script::new([Plan::Answer(300), Plan::Answer(300)]);
        assert_eq!(run(&slow, &script).await.0, Ok(1));
        hedged.push(script.started_at().len() == 2);
    }
    // 10 tokens: each hedge takes 1 and each call gives back 0.5, so 10, 9.5, 9, .., 5.5 allow
    // one (more than half the tokens), 5 does not, and 5.5 again does.
    let expected = [
        true, true, true, true, true, true, true, true, true, true, false, true,
    ];
    assert_eq!(hedged, expected);
    assert_eq!(throttle.available(), 5.0);
}

#[test]
fn a_configuration_reports_the_hedging_in_force() {
    let plain = AsyncRetryingCaller::new();
    assert!(plain.get_hedging().is_none());
    let hedged = plain.hedge(Hedging::after(ms1(50)).max_in_flight(3));
    let hedging = hedged.get_hedging().map(|h| format!("{h:?}"));
    assert_eq!(
        hedging.as_deref(),
        Some("Hedging { after: 50ms, max_in_flight: 3 }")
    );
    assert!(hedged.no_hedge().get_hedging().is_none());
}
