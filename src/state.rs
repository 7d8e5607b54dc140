//! The retry state machine itself, for front ends of your own.

use std::fmt;
use std::time::{Duration, Instant};

use crate::machine::{Machine, Step};
use crate::{Decision, RetryBudget, RetryPolicy};

/// The state of one retry loop, driven by hand: the same state machine that runs inside
/// [`retry_context`](crate::retry_context) and the callers, without their clocks, sleeps or
/// hooks.
///
/// For code that cannot block or await between attempts: event loops, actors, job queues that
/// reschedule a failed job, and simulations in virtual time. Time is passed in; nothing here
/// reads a clock or sleeps. The process-wide and thread switches (testing mode, deactivation,
/// nested-retry suppression) and budgets apply as in every other loop; on-retry hooks do not run.
///
/// ```
/// use std::time::{Duration, Instant};
/// use stamina::{RetryPolicy, RetryState};
///
/// let start = Instant::now();
/// let mut state = RetryState::new(RetryPolicy::new().attempts(3).wait_jitter(Duration::ZERO));
/// state.start(start);
/// // Attempt 1 failed 50 ms in: retry after 100 ms.
/// assert_eq!(state.on_failure(true, start + Duration::from_millis(50)), Some(Duration::from_millis(100)));
/// state.next_attempt();
/// assert_eq!(state.attempt(), 2);
/// // Attempt 2 failed too: retry after 200 ms.
/// assert_eq!(state.on_failure(true, start + Duration::from_millis(400)), Some(Duration::from_millis(200)));
/// state.next_attempt();
/// // Attempt 3 failed: that was the last one.
/// assert_eq!(state.on_failure(true, start + Duration::from_millis(700)), None);
/// ```
pub struct RetryState {
    machine: Machine,
}

impl RetryState {
    /// A loop with `policy` that has not started.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            machine: Machine::new(policy),
        }
    }

    /// Makes every retry pay from a shared [`RetryBudget`]; when it cannot,
    /// [`on_failure`](Self::on_failure) returns `None`.
    pub fn budget(mut self, budget: &RetryBudget) -> Self {
        self.machine.set_budget(Some(budget.clone()));
        self
    }

    /// Starts the first attempt at `now` (the deadline counts from here).
    pub fn start(&mut self, now: Instant) {
        self.machine.start(|| now);
    }

    /// The number of the current attempt, starting at 1 (0 before [`start`](Self::start)).
    pub fn attempt(&self) -> u32 {
        self.machine.num()
    }

    /// The sum of the waits so far.
    pub fn waited(&self) -> Duration {
        self.machine.waited()
    }

    /// Marks the current attempt as cut by a per-attempt timeout, so that a retry after it
    /// costs a retry quota its timeout cost.
    pub fn mark_timed_out(&mut self) {
        self.machine.set_timed_out();
    }

    /// The current attempt failed at `now`, and the `on` predicate decided `decision` (`true`,
    /// `false`, a `Duration` or a [`Decision`]): returns how long to wait before the next attempt,
    /// or `None` when the loop ends with this failure (not retryable, attempts or time used up,
    /// a wait beyond `retry_after_max`, budget empty, switches, nested-retry suppression). After waiting, call [`next_attempt`](Self::next_attempt).
    pub fn on_failure(&mut self, decision: impl Into<Decision>, now: Instant) -> Option<Duration> {
        let decision = decision.into();
        match self.machine.on_failure(|| decision, || now) {
            Step::Retry(retry) => Some(retry.wait),
            Step::GiveUp(_) => None,
        }
    }

    /// Starts the attempt that follows a wait.
    pub fn next_attempt(&mut self) {
        self.machine.next_attempt();
    }

    /// The current attempt succeeded: refills the budget, if any.
    pub fn on_success(&self) {
        self.machine.on_success();
    }
}

impl fmt::Debug for RetryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryState")
            .field("attempt", &self.machine.num())
            .field("waited", &self.machine.waited())
            .finish_non_exhaustive()
    }
}
