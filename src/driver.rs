//! One call's retry loop, advanced a step at a time by a front end that cannot be a plain `async
//! fn` loop: the middleware adapters, whose futures are hand-written (tower) or whose attempts
//! borrow the middleware chain (reqwest-middleware).
//!
//! It is the callers' loop cut at its suspension points: the state machine, the start and
//! deadline, and the hooks' guards over the wait. The front end runs each attempt, asks
//! [`CallLoop::settle`] what follows its outcome (the `on` predicate and the machine decide, the
//! hooks are told), waits on its sleeper, and calls [`CallLoop::resume`] before the next
//! attempt. Like the callers, it reads the clock only when the policy has a timeout, builds the
//! machine only at the first failure, and allocates nothing.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, Instant};

use crate::guard::Extras;
use crate::instrument::{self, ErrorView, Guards};
use crate::machine::{self, Machine, Step};
use crate::name::Name;
use crate::{Decision, RetryOn, RetryPolicy};

/// The state of one call's loop between its steps.
pub(crate) struct CallLoop {
    deadline: Option<Instant>,
    /// Built at the first failure.
    machine: Option<Machine>,
    /// What the hooks keep over the current wait; dropped right before the next attempt, or
    /// with the loop (a call dropped mid-wait).
    guards: Guards,
}

impl CallLoop {
    /// Starts a call with `policy` before its first attempt; `now` is read only with a timeout.
    #[inline]
    pub(crate) fn start(policy: &RetryPolicy, now: impl FnOnce() -> Instant) -> Self {
        let start = machine::start_time(policy, now);
        Self {
            deadline: machine::deadline(policy, start),
            machine: None,
            guards: Guards::default(),
        }
    }

    /// The loop's deadline, if its policy has a timeout.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    #[inline]
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left before the deadline; `None` without one and in testing mode.
    #[cfg_attr(not(feature = "reqwest-middleware"), allow(dead_code))]
    #[inline]
    pub(crate) fn remaining(&self, now: impl FnOnce() -> Instant) -> Option<Duration> {
        machine::remaining(self.deadline, now)
    }

    /// The current attempt's outcome is accepted: refills the budget, if any.
    #[inline]
    pub(crate) fn succeeded(&self, extras: &Extras) {
        match &self.machine {
            Some(machine) => machine.on_success(),
            None => machine::first_attempt_succeeded(extras.budget.as_ref()),
        }
    }

    /// The attempt ended with `outcome`, which `on` classifies, a response as well as an error:
    /// returns the wait before the next attempt (the hooks having been called and their guards
    /// kept), or `None` when the call ends with `outcome` because `on` accepts it (the budget is
    /// refilled) or the loop gives up on it (the give-up handlers are told).
    ///
    /// `on` is asked about an `Ok` at once, to tell an accepted response from a failed one, and
    /// about an `Err` only when the machine needs it (not when retrying is switched off).
    /// `name` is made only for the hooks; `now` is read only when a deadline must be checked.
    pub(crate) fn settle<'n, T, E, On>(
        &mut self,
        (policy, extras): (&RetryPolicy, &Extras),
        on: &On,
        outcome: &Result<T, E>,
        timed_out: bool,
        name: impl FnOnce() -> Cow<'n, Name>,
        now: impl FnOnce() -> Instant,
    ) -> Option<Duration>
    where
        T: fmt::Debug,
        E: fmt::Debug,
        On: RetryOn<Result<T, E>>,
    {
        match outcome {
            Ok(response) => {
                let decision = on.decide(outcome);
                if decision == Decision::DontRetry {
                    self.succeeded(extras);
                    return None;
                }
                let failure = Failure::new(response, timed_out);
                self.failed(policy, extras, name, || decision, failure, now)
            }
            Err(error) => {
                let failure = Failure::new(error, timed_out);
                self.failed(policy, extras, name, || on.decide(outcome), failure, now)
            }
        }
    }

    /// The attempt ended with `outcome` and no other may follow (its request could not be
    /// copied): the call returns `outcome` as it is, and a response that `on` accepts refills
    /// the budget.
    pub(crate) fn settle_last<T, E, On>(&self, extras: &Extras, on: &On, outcome: &Result<T, E>)
    where
        On: RetryOn<Result<T, E>>,
    {
        if outcome.is_ok() && on.decide(outcome) == Decision::DontRetry {
            self.succeeded(extras);
        }
    }

    /// The attempt failed: asks the machine, which calls `decide` unless retrying is off, and
    /// tells the hooks.
    fn failed<'n, E: fmt::Debug>(
        &mut self,
        policy: &RetryPolicy,
        extras: &Extras,
        name: impl FnOnce() -> Cow<'n, Name>,
        decide: impl FnOnce() -> Decision,
        failure: Failure<'_, E>,
        now: impl FnOnce() -> Instant,
    ) -> Option<Duration> {
        let deadline = self.deadline;
        let machine = self.machine.get_or_insert_with(|| {
            let mut machine = extras.machine(policy);
            machine.start_at(deadline);
            machine
        });
        if failure.timed_out {
            machine.set_timed_out();
        }
        let (error, hooks) = (failure.error, &extras.hooks);
        match machine.on_failure(policy, decide, now) {
            Step::Retry(retry) => {
                self.guards =
                    instrument::retry_scheduled(name().as_str(), &retry, error, no_view, hooks);
                Some(retry.wait)
            }
            Step::GiveUp(give_up) => {
                let (attempts, waited) = (machine.num(), machine.waited());
                instrument::gave_up(
                    name().as_str(),
                    give_up,
                    attempts,
                    waited,
                    error,
                    no_view,
                    hooks,
                );
                None
            }
        }
    }

    /// The wait is over: ends the hooks' guards and starts the next attempt.
    #[inline]
    pub(crate) fn resume(&mut self) {
        drop(std::mem::take(&mut self.guards));
        if let Some(machine) = &mut self.machine {
            machine.next_attempt();
        }
    }
}

/// What an attempt failed with, and whether a timeout cut it.
struct Failure<'a, E> {
    error: &'a E,
    timed_out: bool,
}

impl<'a, E> Failure<'a, E> {
    fn new(error: &'a E, timed_out: bool) -> Self {
        Self { error, timed_out }
    }
}

impl fmt::Debug for CallLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CallLoop");
        match &self.machine {
            Some(machine) => d
                .field("attempt", &machine.num())
                .field("waited", &machine.waited()),
            None => d.field("attempt", &1),
        };
        d.finish_non_exhaustive()
    }
}

/// Shows hooks nothing of an error beyond its `Debug` output: the adapters' predicates judge a
/// whole outcome (a response or an error), not the error alone.
fn no_view<E>(_: &E) -> ErrorView<'_> {
    ErrorView::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryBudget;
    use crate::instrument::{OnRetryHook, RetryGuard};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    const POLICY: RetryPolicy = RetryPolicy::new()
        .attempts(3)
        .wait_jitter(Duration::ZERO)
        .timeout(Duration::from_secs(1));

    /// 503 and errors are retried; any other status is accepted.
    fn on(outcome: &Result<u16, &str>) -> bool {
        matches!(outcome, Ok(503) | Err(_))
    }

    fn name() -> Cow<'static, Name> {
        Cow::Owned(Name::given("call"))
    }

    #[test]
    fn a_call_retries_failed_responses_and_errors_then_gives_up() {
        let origin = Instant::now();
        let mut call = CallLoop::start(&POLICY, || origin);
        assert_eq!(call.deadline(), Some(origin + Duration::from_secs(1)));
        assert_eq!(
            call.remaining(|| origin + Duration::from_millis(400)),
            Some(Duration::from_millis(600))
        );
        let extras = Extras::new();
        let at = |ms| move || origin + Duration::from_millis(ms);
        let settle = |call: &mut CallLoop, outcome: Result<u16, &str>, ms| {
            call.settle((&POLICY, &extras), &on, &outcome, false, name, at(ms))
        };
        assert_eq!(
            settle(&mut call, Ok(503), 0),
            Some(Duration::from_millis(100))
        );
        call.resume();
        assert_eq!(
            settle(&mut call, Err("e"), 100),
            Some(Duration::from_millis(200))
        );
        call.resume();
        assert_eq!(settle(&mut call, Err("e"), 300), None, "three attempts");
        // An accepted response ends the call.
        let mut call = CallLoop::start(&POLICY, || origin);
        assert_eq!(settle(&mut call, Ok(404), 0), None);
        // The deadline rule: a wait that would end at the deadline is not started.
        let mut call = CallLoop::start(&POLICY, || origin);
        assert_eq!(settle(&mut call, Ok(503), 900), None);
    }

    #[test]
    fn guards_live_over_the_wait_and_budgets_are_paid_and_refunded() {
        let dropped = Arc::new(AtomicU32::new(0));
        struct Count(Arc<AtomicU32>);
        impl Drop for Count {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let hook = OnRetryHook::new({
            let dropped = Arc::clone(&dropped);
            move |_: &crate::RetryDetails<'_>| RetryGuard::new(Count(Arc::clone(&dropped)))
        });
        let budget = RetryBudget::quota(10, 5, 10);
        let mut extras = Extras::new();
        extras.hooks.push(hook);
        extras.budget = Some(budget.clone());
        let policy = POLICY.no_timeout();
        let settings = (&policy, &extras);
        let never = || -> Instant { unreachable!("no timeout, no clock") };
        let mut call = CallLoop::start(&policy, never);
        let wait = call.settle(settings, &on, &Ok(503), false, name, never);
        assert_eq!(wait, Some(Duration::from_millis(100)));
        assert_eq!(budget.available(), 5.0);
        assert_eq!(dropped.load(Ordering::SeqCst), 0, "kept over the wait");
        call.resume();
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert_eq!(
            call.settle(settings, &on, &Ok(200), false, name, never),
            None
        );
        assert_eq!(budget.available(), 10.0, "the retry's cost is refunded");
        // A call dropped mid-wait drops its guards once.
        let mut call = CallLoop::start(&policy, never);
        let _ = call.settle(settings, &on, &Err("e"), false, name, never);
        drop(call);
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
        // A last attempt refills the budget when its response is accepted, and only then.
        let call = CallLoop::start(&policy, never);
        call.settle_last(&extras, &on, &Ok(503));
        assert_eq!(budget.available(), 5.0);
        call.settle_last(&extras, &on, &Ok(200));
        assert_eq!(budget.available(), 6.0);
    }
}
