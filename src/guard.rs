//! What the sync iterator, the async stream and their attempt guards share: the loop's state,
//! how a front end advances it, and how a guard records an outcome.
//!
//! Both front ends drive the [`Machine`] through this module only; they differ in how they wait
//! (blocking on a [`Clock`](crate::Clock) or awaiting a [`Sleeper`](crate::Sleeper)), which is
//! the `T` ("time") parameter here.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::machine::{self, Machine, Step};
use crate::name::Name;
use crate::{RetryOn, RetryPolicy};

/// The configuration and the loop's state, behind a lock that is only ever taken by one side at a
/// time (the iterator or stream, or the guard it handed out).
pub(crate) struct Shared<On, T> {
    pub(crate) policy: RetryPolicy,
    pub(crate) on: On,
    /// The clock or sleeper the loop takes its time from.
    pub(crate) time: T,
    pub(crate) name: Name,
    state: Mutex<State>,
}

struct State {
    machine: Machine,
    phase: Phase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No attempt yet.
    NotStarted,
    /// An attempt was handed out and has not recorded an outcome.
    Running,
    /// The last attempt failed and the loop waits this long before the next.
    Waiting(Duration),
    /// The loop is over.
    Done,
}

/// What the front end does next.
pub(crate) enum Advance<On, T> {
    /// Hand out this attempt.
    Attempt(Guard<On, T>),
    /// Wait this long, then call [`Shared::resume`].
    Wait(Duration),
    /// The loop is over.
    End,
}

impl<On, T> Shared<On, T> {
    pub(crate) fn new(policy: RetryPolicy, on: On, time: T, name: Name) -> Arc<Self> {
        Arc::new(Self {
            policy,
            on,
            time,
            name,
            state: Mutex::new(State {
                machine: Machine::new(policy),
                phase: Phase::NotStarted,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in the user's `on` predicate poisons the lock; the state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the loop on after the previous attempt: starts it, asks for a wait, or ends it (an
    /// attempt still running when asked for the next one ended without an outcome, which counts
    /// as a success).
    pub(crate) fn advance(self: &Arc<Self>, now: impl FnOnce() -> Instant) -> Advance<On, T> {
        let mut state = self.lock();
        match state.phase {
            Phase::NotStarted => state.machine.start(now),
            Phase::Waiting(wait) => return Advance::Wait(wait),
            Phase::Running | Phase::Done => {
                state.phase = Phase::Done;
                return Advance::End;
            }
        }
        Advance::Attempt(self.hand_out(&mut state))
    }

    /// Starts the attempt that follows a wait.
    pub(crate) fn resume(self: &Arc<Self>) -> Guard<On, T> {
        let mut state = self.lock();
        state.machine.next_attempt();
        self.hand_out(&mut state)
    }

    fn hand_out(self: &Arc<Self>, state: &mut State) -> Guard<On, T> {
        state.phase = Phase::Running;
        Guard {
            num: state.machine.num(),
            deadline: state.machine.deadline(),
            shared: Arc::clone(self),
        }
    }

    /// The loop's progress and configuration, for the `Debug` output of iterators and streams.
    pub(crate) fn debug_fields(&self, d: &mut fmt::DebugStruct<'_, '_>) {
        let state = self.lock();
        d.field("name", &self.name)
            .field("attempt", &state.machine.num())
            .field("phase", &state.phase)
            .field("waited", &state.machine.waited());
        self.policy.debug_fields(d);
    }
}

/// The part of an attempt guard that does not depend on the front end.
pub(crate) struct Guard<On, T> {
    shared: Arc<Shared<On, T>>,
    num: u32,
    deadline: Option<Instant>,
}

impl<On, T> Guard<On, T> {
    pub(crate) fn num(&self) -> u32 {
        self.num
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub(crate) fn time(&self) -> &T {
        &self.shared.time
    }

    pub(crate) fn next_wait(&self) -> Duration {
        machine::next_wait(&self.shared.policy, self.num)
    }

    pub(crate) fn remaining(&self, now: impl FnOnce() -> Instant) -> Option<Duration> {
        machine::remaining(self.deadline, now)
    }

    pub(crate) fn name(&self) -> &Name {
        &self.shared.name
    }

    /// Records the attempt's outcome (see `Attempt::run` for the contract).
    pub(crate) fn record<V, E>(
        &self,
        result: Result<V, E>,
        now: impl FnOnce() -> Instant,
    ) -> Result<Option<V>, E>
    where
        On: RetryOn<E>,
    {
        let shared = &*self.shared;
        let mut state = shared.lock();
        if state.phase != Phase::Running || state.machine.num() != self.num {
            return result.map(Some);
        }
        match result {
            Ok(value) => {
                state.phase = Phase::Done;
                Ok(Some(value))
            }
            Err(error) => match state.machine.on_failure(|| shared.on.decide(&error), now) {
                Step::Retry(retry) => {
                    state.phase = Phase::Waiting(retry.wait);
                    Ok(None)
                }
                Step::GiveUp(_) => {
                    state.phase = Phase::Done;
                    Err(error)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Decision;

    type On = fn(&u32) -> Decision;

    fn shared(on: On) -> Arc<Shared<On, ()>> {
        let policy = RetryPolicy::new().wait_jitter(Duration::ZERO).attempts(3);
        Shared::new(policy, on, (), Name::given("test"))
    }

    fn attempt(advance: Advance<On, ()>) -> Guard<On, ()> {
        match advance {
            Advance::Attempt(guard) => guard,
            Advance::Wait(_) | Advance::End => panic!("expected an attempt"),
        }
    }

    #[test]
    fn a_loop_advances_waits_resumes_and_ends() {
        let shared = shared(|_| Decision::Retry);
        let now = Instant::now();
        let first = attempt(shared.advance(|| now));
        assert_eq!(first.num(), 1);
        assert_eq!(first.record(Err::<(), _>(1), || now), Ok(None));
        assert!(
            matches!(shared.advance(|| now), Advance::Wait(w) if w == Duration::from_millis(100))
        );
        // Still waiting until resumed.
        assert!(matches!(shared.advance(|| now), Advance::Wait(_)));
        let second = shared.resume();
        assert_eq!(second.num(), 2);
        assert_eq!(second.record(Err::<(), _>(2), || now), Ok(None));
        let third = shared.resume();
        assert_eq!(third.record(Err::<(), _>(3), || now), Err(3));
        assert!(matches!(shared.advance(|| now), Advance::End));
        assert!(matches!(shared.advance(|| now), Advance::End));
    }

    #[test]
    fn a_guard_without_an_outcome_ends_the_loop_and_stale_guards_pass_results_through() {
        let shared = shared(|_| Decision::Retry);
        let now = Instant::now();
        let first = attempt(shared.advance(|| now));
        assert!(matches!(shared.advance(|| now), Advance::End));
        // The loop is over: the guard's error comes back as is, without a retry.
        assert_eq!(first.record(Err::<(), _>(7), || now), Err(7));
        assert_eq!(first.record(Ok::<_, u32>(8), || now), Ok(Some(8)));
    }

    #[test]
    fn a_non_retryable_error_ends_the_loop() {
        let shared = shared(|_| Decision::DontRetry);
        let now = Instant::now();
        let first = attempt(shared.advance(|| now));
        assert_eq!(first.record(Err::<(), _>(1), || now), Err(1));
        assert!(matches!(shared.advance(|| now), Advance::End));
    }
}
