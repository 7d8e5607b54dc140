//! What the attempt iterator and stream share with the guards they hand out: the loop's
//! configuration and its [`Driver`], behind a lock.
//!
//! Both front ends move the loop on with [`Shared::advance`] and differ only in how they wait
//! (blocking on a [`Clock`](crate::Clock) or awaiting a [`Sleeper`](crate::Sleeper)), which is
//! the `T` ("time") parameter here. A guard records its attempt's outcome with
//! [`Guard::record`]; one dropped without an outcome ends the loop as a success would.

use std::fmt;
use std::panic::Location;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

// Without a weak count, telling whether a guard is alive is a load and letting go one change of
// the count: the attempt stream's per-retry floor and the `for` loop's success floor need it.
use triomphe::Arc;

use crate::RetryOn;
use crate::driver::Driver;
use crate::machine;
use crate::name::Name;
use crate::settings::Settings;

/// The configuration and the loop's state, shared by the iterator or stream and its guards.
pub(crate) struct Shared<On, T> {
    pub(crate) settings: Settings,
    pub(crate) on: On,
    /// The clock or sleeper the loop takes its time from.
    pub(crate) time: T,
    state: Mutex<State>,
}

/// A hold on a loop's shared state: the front end's and every guard's. The last one drops it,
/// whichever it is and on whatever thread.
pub(crate) type Handle<On, T> = Arc<Shared<On, T>>;

struct State {
    driver: Driver,
    phase: Phase,
}

/// Where a loop stands between its steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No attempt yet.
    NotStarted,
    /// Attempt `n` was handed out and has not recorded an outcome.
    Running(u32),
    /// The last attempt failed; the loop waits this long before the next.
    Waiting(Duration),
    /// The loop is over.
    Done,
}

/// What the front end does next.
pub(crate) enum Advance {
    /// Hand out attempt `n`.
    Attempt(u32),
    /// Wait this long, then [`resume`](Shared::resume).
    Wait(Duration),
    /// The loop is over.
    End,
}

impl<On, T> Shared<On, T> {
    /// The state of a loop with these settings, named after its `on` closure or the file of the
    /// caller unless it has a name.
    #[track_caller]
    #[inline]
    pub(crate) fn for_loop(mut settings: Settings, on: On, time: T) -> Handle<On, T> {
        if settings.name.is_none() {
            settings.name = Some(Name::for_loop::<On>(Location::caller().file()));
        }
        Self::allocate(settings, on, time)
    }

    #[inline]
    fn allocate(settings: Settings, on: On, time: T) -> Handle<On, T> {
        let state = State {
            driver: Driver::after_first(&settings.policy, None),
            phase: Phase::NotStarted,
        };
        Arc::new(Self {
            settings,
            on,
            time,
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in the `on` predicate or a hook poisons the lock; the state is consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The name the loop reports: given or derived when the loop was made.
    pub(crate) fn name(&self) -> &str {
        self.settings.name_or_else(|| "")
    }

    /// Runs `f` on the loop's state: without the lock when no guard is alive (the usual case:
    /// the last one recorded its outcome), under it otherwise.
    #[inline]
    fn with_state<R>(
        this: &mut Handle<On, T>,
        f: impl FnOnce(&mut State, &Settings, &T) -> R,
    ) -> R {
        if let Some(shared) = Arc::get_mut(this) {
            let state = shared
                .state
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner);
            return f(state, &shared.settings, &shared.time);
        }
        f(&mut this.lock(), &this.settings, &this.time)
    }

    /// Moves the loop on after the previous attempt: starts it, says how long to wait before
    /// the next attempt, or ends it (an attempt still running when asked for the next one ended
    /// without an outcome, which counts as a success).
    #[inline]
    pub(crate) fn advance(this: &mut Handle<On, T>, now: impl FnOnce(&T) -> Instant) -> Advance {
        Self::with_state(this, |state, settings, time| match state.phase {
            Phase::NotStarted => {
                state.driver.begin(&settings.policy, || now(time));
                state.phase = Phase::Running(1);
                Advance::Attempt(1)
            }
            Phase::Running(_) => {
                state.end(settings);
                Advance::End
            }
            Phase::Waiting(wait) => Advance::Wait(wait),
            Phase::Done => Advance::End,
        })
    }

    /// The wait that [`advance`](Self::advance) asked for is over: ends the hooks' guards and
    /// returns the number of the attempt to hand out.
    pub(crate) fn resume(this: &mut Handle<On, T>) -> u32 {
        Self::with_state(this, |state, _, _| {
            // The hooks' guards lived over the wait and end right before the next attempt.
            state.driver.next_attempt();
            let num = state.driver.num();
            state.phase = Phase::Running(num);
            num
        })
    }

    /// The front end lets go of the loop: an attempt still running (a success was recorded, or
    /// its guard is still held) ends the loop as a success.
    #[inline]
    pub(crate) fn finish(this: &mut Handle<On, T>) {
        Self::with_state(this, |state, settings, _| {
            if let Phase::Running(_) = state.phase {
                state.end(settings);
            }
        });
    }
}

impl State {
    /// The running attempt ended without a failure: the loop ends as a success.
    fn end(&mut self, settings: &Settings) {
        self.phase = Phase::Done;
        self.driver.succeeded(settings);
    }
}

/// The part of an attempt guard that does not depend on the front end: the shared state and
/// the attempt's number, 0 once the guard recorded its outcome (attempts count from 1), so that
/// its drop has nothing to do.
pub(crate) struct Guard<On, T> {
    shared: Handle<On, T>,
    num: u32,
}

impl<On, T> Guard<On, T> {
    pub(crate) fn new(shared: &Handle<On, T>, num: u32) -> Self {
        Self {
            shared: Arc::clone(shared),
            num,
        }
    }

    pub(crate) fn num(&self) -> u32 {
        self.num
    }

    pub(crate) fn shared(&self) -> &Shared<On, T> {
        &self.shared
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.shared.lock().driver.deadline()
    }

    pub(crate) fn next_wait(&self) -> Duration {
        machine::next_wait(&self.shared.settings.policy, self.num)
    }

    pub(crate) fn remaining(&self, now: impl FnOnce(&T) -> Instant) -> Option<Duration> {
        machine::remaining(self.deadline(), || now(&self.shared.time))
    }

    /// Records the attempt's outcome (see `Attempt::run` for the contract); `timed_out` says
    /// that the attempt was cut by its attempt timeout. A guard whose loop moved on or ended
    /// passes its outcome through.
    pub(crate) fn record<V, E>(
        mut self,
        result: Result<V, E>,
        timed_out: bool,
        now: impl FnOnce(&T) -> Instant,
    ) -> Result<Option<V>, E>
    where
        E: fmt::Debug,
        On: RetryOn<E>,
    {
        let num = std::mem::take(&mut self.num);
        // A success takes no lock: the attempt stays running with no guard left, which the
        // front end ends as a success when it moves on or lets go ([`Shared::finish`]).
        let error = match result {
            Ok(value) => return Ok(Some(value)),
            Err(error) => error,
        };
        let shared = &*self.shared;
        let mut state = shared.lock();
        if state.phase != Phase::Running(num) {
            return Err(error);
        }
        // Ended first, so that a panic in `on` or a hook leaves the loop over.
        state.phase = Phase::Done;
        let (settings, name, now) = (&shared.settings, || shared.name(), || now(&shared.time));
        let wait = state
            .driver
            .failed(settings, name, &shared.on, &error, timed_out, now)
            .ok_or(error)?;
        state.phase = Phase::Waiting(wait);
        Ok(None)
    }
}

impl<On, T> Drop for Guard<On, T> {
    /// A guard dropped without an outcome while its attempt runs ends the loop as a success; a
    /// guard dropped by a panic ends it without one.
    fn drop(&mut self) {
        if self.num == 0 {
            return;
        }
        let mut state = self.shared.lock();
        if state.phase == Phase::Running(self.num) {
            state.phase = Phase::Done;
            if !std::thread::panicking() {
                state.driver.succeeded(&self.shared.settings);
            }
        }
    }
}

impl<On, T> Shared<On, T> {
    /// Adds the loop's settings and state to a `Debug` struct.
    pub(crate) fn debug_fields(&self, d: &mut fmt::DebugStruct<'_, '_>) {
        self.settings.debug_fields(d);
        // Left out while a guard records on another thread.
        if let Ok(state) = self.state.try_lock() {
            let attempt = match state.phase {
                Phase::NotStarted => 0,
                _ => state.driver.num(),
            };
            d.field("attempt", &attempt)
                .field("phase", &state.phase)
                .field("waited", &state.driver.waited());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decision, RetryBudget, RetryPolicy};

    type On = fn(&u32) -> Decision;

    fn shared(on: On, budget: Option<RetryBudget>) -> Handle<On, ()> {
        let mut settings =
            Settings::new(RetryPolicy::new().wait_jitter(Duration::ZERO).attempts(3));
        settings.name = Some(Name::given("test"));
        settings.budget = budget;
        Shared::allocate(settings, on, ())
    }

    fn attempt(shared: &mut Handle<On, ()>) -> Guard<On, ()> {
        match Shared::advance(shared, |()| Instant::now()) {
            Advance::Attempt(num) => Guard::new(shared, num),
            Advance::Wait(_) => {
                let num = Shared::resume(shared);
                Guard::new(shared, num)
            }
            Advance::End => panic!("expected an attempt"),
        }
    }

    fn now(_: &()) -> Instant {
        Instant::now()
    }

    #[test]
    fn a_loop_advances_waits_and_ends() {
        let mut shared = shared(|_| Decision::Retry, None);
        let first = attempt(&mut shared);
        assert_eq!(first.num(), 1);
        assert_eq!(first.record(Err::<(), _>(1), false, now), Ok(None));
        let Advance::Wait(wait) = Shared::advance(&mut shared, now) else {
            panic!("expected a wait before attempt 2")
        };
        assert_eq!(wait, Duration::from_millis(100));
        assert!(matches!(
            Shared::advance(&mut shared, now),
            Advance::Wait(_)
        ));
        assert_eq!(Shared::resume(&mut shared), 2);
        let second = Guard::new(&shared, 2);
        assert_eq!(second.record(Err::<(), _>(2), false, now), Ok(None));
        let third = attempt(&mut shared);
        assert_eq!(third.num(), 3);
        assert_eq!(third.record(Err::<(), _>(3), false, now), Err(3));
        assert!(matches!(Shared::advance(&mut shared, now), Advance::End));
        assert!(matches!(Shared::advance(&mut shared, now), Advance::End));
    }

    #[test]
    fn a_guard_still_held_ends_the_loop_and_then_passes_results_through() {
        let budget = RetryBudget::quota(10, 5, 10);
        let mut shared = shared(|_| Decision::Retry, Some(budget.clone()));
        let first = attempt(&mut shared);
        assert!(matches!(Shared::advance(&mut shared, now), Advance::End));
        assert_eq!(budget.available(), 10.0, "ended as a success");
        let first_again = Guard::new(&shared, 1);
        assert_eq!(first_again.record(Err::<(), _>(7), false, now), Err(7));
        assert_eq!(first.record(Ok::<_, u32>(8), false, now), Ok(Some(8)));
    }

    #[test]
    fn a_guard_dropped_without_an_outcome_ends_the_loop() {
        let mut shared = shared(|_| Decision::Retry, None);
        drop(attempt(&mut shared));
        assert!(matches!(Shared::advance(&mut shared, now), Advance::End));
    }

    #[test]
    fn a_non_retryable_error_ends_the_loop() {
        let mut shared = shared(|_| Decision::DontRetry, None);
        let first = attempt(&mut shared);
        assert_eq!(first.record(Err::<(), _>(1), false, now), Err(1));
        assert!(matches!(Shared::advance(&mut shared, now), Advance::End));
    }

    #[test]
    fn asking_for_the_next_attempt_waits_for_a_guard_recording_a_failure() {
        use std::sync::mpsc;
        // The guard records on another thread; its `on` predicate is running (the lock held)
        // when the iterator asks for the next attempt, which must wait for the decision and
        // then see the wait, not end the loop as if the attempt were still running.
        let (inside, entered) = mpsc::channel();
        let on = move |_: &u32| {
            inside.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            Decision::Retry
        };
        let settings = Settings::new(RetryPolicy::new().wait_jitter(Duration::ZERO));
        let mut shared = Shared::allocate(settings, on, ());
        let Advance::Attempt(1) = Shared::advance(&mut shared, now) else {
            panic!("expected the first attempt")
        };
        let first = Guard::new(&shared, 1);
        let recorder = std::thread::spawn(move || first.record(Err::<(), _>(1), false, now));
        // Bounded: a loop that never asks `on` fails here instead of waiting forever.
        entered
            .recv_timeout(Duration::from_secs(10))
            .expect("`on` was never called");
        assert!(matches!(
            Shared::advance(&mut shared, now),
            Advance::Wait(wait) if wait == Duration::from_millis(100)
        ));
        assert_eq!(recorder.join().unwrap(), Ok(None));
    }

    #[test]
    fn a_success_refills_the_budget_once() {
        let budget = RetryBudget::quota(10, 5, 10);
        let mut shared = shared(|_| Decision::Retry, Some(budget.clone()));
        let first = attempt(&mut shared);
        assert_eq!(first.record(Err::<(), _>(1), false, now), Ok(None));
        assert_eq!(budget.available(), 5.0);
        let second = attempt(&mut shared);
        assert_eq!(second.record(Ok::<_, u32>(2), false, now), Ok(Some(2)));
        // Refilled when the front end moves on.
        assert_eq!(budget.available(), 5.0);
        assert!(matches!(Shared::advance(&mut shared, now), Advance::End));
        assert_eq!(budget.available(), 10.0);
        // A stale guard's success refills nothing.
        let stale = Guard::new(&shared, 2);
        assert_eq!(stale.record(Ok::<_, u32>(3), false, now), Ok(Some(3)));
        assert!(matches!(Shared::advance(&mut shared, now), Advance::End));
        assert_eq!(budget.available(), 10.0);
    }
}
