//! What a `for attempt` loop or an attempt stream owns (its predicate, sleeper, name, hooks,
//! budget and the hooks' guards) is dropped exactly once, by whichever of the loop and its
//! attempts is let go last, on whatever thread.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use futures::executor::block_on;
use stamina::testing::FakeSleeper;
use stamina::{RetryBudget, RetryGuard, RetryOn, retry_context};

#[derive(Debug, PartialEq)]
struct Flaky;

/// Something every owned part of a loop holds a clone of: once the loop and its attempts are
/// gone, the test's own is the only one left.
type Tracker = Arc<()>;

/// The clones the hook holds: one for itself, one for the guards it makes.
const HOOK: usize = 2;

fn holders(tracker: &Tracker) -> usize {
    Arc::strong_count(tracker) - 1
}

/// A predicate that owns a clone of `tracker` (so that the state must drop it), or a plain
/// function (so that the state's other parts are dropped where they are).
fn owning_on(tracker: &Tracker) -> impl RetryOn<Flaky> + Send + Sync + 'static {
    let tracker = Arc::clone(tracker);
    move |_: &Flaky| {
        let _ = &tracker;
        true
    }
}

fn plain_on(_: &Flaky) -> bool {
    true
}

/// A context that owns `tracker` through its hooks and their guards, with an owned name and a
/// budget; no waits.
macro_rules! owning_context {
    ($on:expr, $tracker:expr) => {{
        let hook_tracker = Arc::clone($tracker);
        let guard_tracker = Arc::clone($tracker);
        retry_context($on)
            .name(String::from("owned name"))
            .attempts(3)
            .wait_initial(Duration::ZERO)
            .wait_jitter(Duration::ZERO)
            .budget(&RetryBudget::quota(100, 1, 1))
            .on_retry(move |_: &stamina::RetryDetails<'_>| {
                let _ = &hook_tracker;
                RetryGuard::new(Arc::clone(&guard_tracker))
            })
    }};
}

/// Runs `scenario` with a context whose predicate owns a clone of a tracker, then with one whose
/// predicate is a plain function (the state then drops its other parts where they are).
macro_rules! with_both_predicates {
    ($scenario:ident) => {{
        let tracker = Tracker::default();
        $scenario(
            owning_context!(owning_on(&tracker), &tracker),
            &tracker,
            true,
        );
        $scenario(owning_context!(plain_on, &tracker), &tracker, false);
    }};
}

/// Asserts that `tracker` has `others` holders besides the hook and, if `owning`, the predicate.
fn assert_held(tracker: &Tracker, others: usize, owning: bool) {
    assert_eq!(
        holders(tracker),
        others + HOOK + usize::from(owning),
        "owning {owning}"
    );
}

/// Records a retryable failure for the next attempt of `attempts`.
fn fail_next<On: RetryOn<Flaky>, C: stamina::Clock>(
    attempts: &mut impl Iterator<Item = stamina::Attempt<On, C>>,
) {
    let attempt = attempts.next().unwrap();
    assert_eq!(attempt.record(Err::<(), _>(Flaky)), Ok(None));
}

/// Runs a loop of `context` to its end (one failure, then a success).
fn finish<On: RetryOn<Flaky>>(context: stamina::RetryContext<On>, tracker: &Tracker, owning: bool) {
    let mut failures = 1;
    let mut attempts = context.into_iter();
    let mut result = None;
    for attempt in attempts.by_ref() {
        result = attempt
            .run(|| {
                if failures > 0 {
                    failures -= 1;
                    return Err(Flaky);
                }
                Ok(7)
            })
            .unwrap();
    }
    assert_eq!(result, Some(7));
    // The iterator lets go of the loop's state when the loop ends.
    assert_eq!(holders(tracker), 0, "owning {owning}");
    assert!(attempts.next().is_none());
    drop(attempts);
    assert_eq!(holders(tracker), 0, "owning {owning}");
}

#[test]
fn a_finished_loop_drops_what_it_owns() {
    with_both_predicates!(finish);
}

/// Keeps an attempt of `context` after the loop is dropped.
fn outlive<On: RetryOn<Flaky>>(
    context: stamina::RetryContext<On>,
    tracker: &Tracker,
    owning: bool,
) {
    let mut attempts = context.into_iter();
    fail_next(&mut attempts);
    // The second attempt ends the hooks' guard.
    let second = attempts.next().unwrap();
    drop(attempts);
    assert_held(tracker, 0, owning);
    assert_eq!(second.num(), 2);
    drop(second);
    assert_eq!(holders(tracker), 0, "owning {owning}");
}

#[test]
fn an_attempt_that_outlives_its_loop_drops_what_the_loop_owned() {
    with_both_predicates!(outlive);
}

/// Lets go of a loop of `context` during its wait, the hooks' guard still held by the loop.
fn drop_mid_wait<On: RetryOn<Flaky>>(
    context: stamina::RetryContext<On>,
    tracker: &Tracker,
    owning: bool,
) {
    let mut attempts = context.into_iter();
    fail_next(&mut attempts);
    // The hook, its guard, and the predicate if it owns a clone.
    assert_held(tracker, 1, owning);
    drop(attempts);
    assert_eq!(holders(tracker), 0, "owning {owning}");
}

#[test]
fn a_loop_let_go_during_its_wait_drops_the_hooks_guard() {
    with_both_predicates!(drop_mid_wait);
}

#[test]
fn a_loop_without_a_budget_let_go_during_its_wait_drops_the_hooks_guard() {
    // Without a budget, the hooks' guard is the only thing the loop's machine state owns.
    let tracker = Tracker::default();
    let guard_tracker = Arc::clone(&tracker);
    let mut attempts = retry_context(plain_on)
        .attempts(3)
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
        .on_retry(move |_: &stamina::RetryDetails<'_>| RetryGuard::new(Arc::clone(&guard_tracker)))
        .into_iter();
    fail_next(&mut attempts);
    // The hook and its guard.
    assert_eq!(holders(&tracker), 2);
    drop(attempts);
    assert_eq!(holders(&tracker), 0);
}

/// A clock that holds a clone of a tracker.
struct TrackedClock(#[allow(dead_code)] Tracker);

impl stamina::Clock for TrackedClock {
    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }

    fn sleep(&self, _: Duration) {}
}

#[test]
fn a_loop_drops_its_clock_when_only_the_clock_owns_something() {
    let tracker = Tracker::default();
    let mut attempts = retry_context(plain_on)
        .attempts(3)
        .clock(TrackedClock(Arc::clone(&tracker)))
        .into_iter();
    fail_next(&mut attempts);
    assert_eq!(holders(&tracker), 1);
    drop(attempts);
    assert_eq!(holders(&tracker), 0);
}

#[test]
fn a_stream_and_its_attempt_drop_what_they_own_in_either_order() {
    for stream_first in [true, false] {
        let tracker = Tracker::default();
        // The sleeper owns a clone too.
        let sleeper = FakeSleeper::new();
        let mut attempts =
            owning_context!(owning_on(&tracker), &tracker).into_stream_with(sleeper.clone());
        block_on(async {
            let first = attempts.next().await.unwrap();
            assert_eq!(first.record(Err::<(), _>(Flaky)), Ok(None));
            let second = attempts.next().await.unwrap();
            assert_eq!(second.num(), 2);
            assert_eq!(holders(&tracker), HOOK + 1);
            if stream_first {
                drop(attempts);
                assert_eq!(holders(&tracker), HOOK + 1);
                drop(second);
            } else {
                drop(second);
                assert_eq!(holders(&tracker), HOOK + 1);
                drop(attempts);
            }
        });
        assert_eq!(holders(&tracker), 0, "stream first {stream_first}");
        assert_eq!(sleeper.sleeps(), [Duration::ZERO]);
    }
}

#[test]
fn a_loop_and_its_attempt_let_go_on_two_threads_at_once_drop_once() {
    let tracker = Tracker::default();
    for _ in 0..500 {
        let mut attempts = owning_context!(owning_on(&tracker), &tracker).into_iter();
        let attempt = attempts.next().unwrap();
        let barrier = Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                barrier.wait();
                drop(attempt);
            });
            barrier.wait();
            drop(attempts);
        });
        assert_eq!(holders(&tracker), 0);
    }
}

/// Panics when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("dropped");
    }
}

#[test]
fn a_drop_that_panics_leaves_the_rest_to_be_dropped() {
    let tracker = Tracker::default();
    let panics = PanicsOnDrop;
    // The predicate is dropped first, and panics; the hooks and their guard, after it, are
    // still dropped as the panic unwinds.
    let on = move |_: &Flaky| {
        let _ = &panics;
        true
    };
    let mut attempts = owning_context!(on, &tracker).into_iter();
    fail_next(&mut attempts);
    // The hook and its guard.
    assert_eq!(holders(&tracker), HOOK + 1);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(attempts)));
    assert!(dropped.is_err());
    assert_eq!(holders(&tracker), 0);
}
