//! One call's retry loop, advanced a step at a time by a front end that cannot be a plain `async
//! fn` loop: the middleware adapters, whose futures are hand-written (tower) or whose attempts
//! borrow the middleware chain (reqwest-middleware).
//!
//! It is the callers' loop cut at its suspension points: the state machine, the start and
//! deadline, and the hooks' guards over the wait. The front end runs each attempt, asks
//! [`CallLoop::failed`] what follows a failure (the machine decides, the hooks are told), waits
//! on its sleeper, and calls [`CallLoop::resume`] before the next attempt. Like the callers, it
//! reads the clock only when the policy has a timeout, builds the machine only at the first
//! failure, and allocates nothing.

use std::fmt;
use std::time::{Duration, Instant};

use crate::guard::Extras;
use crate::instrument::{self, Guards};
use crate::machine::{self, Machine, Step};
use crate::name::Name;
use crate::{Decision, RetryPolicy};

/// The state of one call's loop between its steps.
pub(crate) struct CallLoop {
    start: Option<Instant>,
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
            start,
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

    /// The current attempt failed with `failure` (`timed_out`: it was cut by a timeout): returns
    /// the wait before the next attempt, the hooks having been called and their guards kept, or
    /// `None` when the loop ends with this failure, the give-up handlers having been told.
    ///
    /// `decide` is the `on` predicate's verdict, not asked for when retrying is switched off;
    /// `now` is read only when a deadline must be checked.
    #[allow(
        clippy::too_many_arguments,
        reason = "the loop's settings, the failure and the clock, each needed here"
    )]
    pub(crate) fn failed<E: fmt::Debug>(
        &mut self,
        policy: &RetryPolicy,
        extras: &Extras,
        name: &Name,
        timed_out: bool,
        decide: impl FnOnce() -> Decision,
        failure: &E,
        now: impl FnOnce() -> Instant,
    ) -> Option<Duration> {
        let start = self.start;
        let machine = self.machine.get_or_insert_with(|| {
            let mut machine = extras.machine(*policy);
            machine.start_at(start);
            machine
        });
        if timed_out {
            machine.set_timed_out();
        }
        match machine.on_failure(decide, now) {
            Step::Retry(retry) => {
                self.guards = instrument::retry_scheduled(name, &retry, failure, &extras.hooks);
                Some(retry.wait)
            }
            Step::GiveUp(give_up) => {
                let (attempts, waited) = (machine.num(), machine.waited());
                instrument::gave_up(name, give_up, attempts, waited, failure, &extras.hooks);
                None
            }
        }
    }

    /// The wait is over: ends the hooks' guards and starts the next attempt.
    #[inline]
    pub(crate) fn resume(&mut self) {
        std::mem::take(&mut self.guards).end();
        if let Some(machine) = &mut self.machine {
            machine.next_attempt();
        }
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

    #[test]
    fn a_call_retries_then_gives_up_with_the_machine_s_waits() {
        let origin = Instant::now();
        let mut call = CallLoop::start(&POLICY, || origin);
        assert_eq!(call.deadline(), Some(origin + Duration::from_secs(1)));
        assert_eq!(
            call.remaining(|| origin + Duration::from_millis(400)),
            Some(Duration::from_millis(600))
        );
        let extras = Extras::new();
        let name = Name::given("call");
        let at = |ms| origin + Duration::from_millis(ms);
        let fail = |call: &mut CallLoop, ms| {
            call.failed(
                &POLICY,
                &extras,
                &name,
                false,
                || Decision::Retry,
                &"e",
                || at(ms),
            )
        };
        assert_eq!(fail(&mut call, 0), Some(Duration::from_millis(100)));
        call.resume();
        assert_eq!(fail(&mut call, 100), Some(Duration::from_millis(200)));
        call.resume();
        assert_eq!(fail(&mut call, 300), None, "three attempts");
        // The deadline rule: a wait that would end at the deadline is not started.
        let mut call = CallLoop::start(&POLICY, || origin);
        assert_eq!(fail(&mut call, 900), None);
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
        let name = Name::given("call");
        let policy = POLICY.no_timeout();
        let mut call = CallLoop::start(&policy, || unreachable!("no timeout, no clock"));
        let wait = call.failed(
            &policy,
            &extras,
            &name,
            false,
            || Decision::Retry,
            &1,
            || unreachable!(),
        );
        assert_eq!(wait, Some(Duration::from_millis(100)));
        assert_eq!(budget.available(), 5.0);
        assert_eq!(dropped.load(Ordering::SeqCst), 0, "kept over the wait");
        call.resume();
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        call.succeeded(&extras);
        assert_eq!(budget.available(), 10.0, "the retry's cost is refunded");
        // A call dropped mid-wait drops its guards once.
        let mut call = CallLoop::start(&policy, || unreachable!());
        let _ = call.failed(
            &policy,
            &extras,
            &name,
            false,
            || Decision::Retry,
            &1,
            || unreachable!(),
        );
        drop(call);
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
    }
}
