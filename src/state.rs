//! The retry state machine itself, for front ends of your own.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::driver::Driver;
use crate::machine::Step;
use crate::settings::Settings;
use crate::{Decision, Hedging, RetryBudget, RetryPolicy};

/// The state of one retry loop, driven by hand: the same loop driver that runs inside
/// [`retry_context`](crate::retry_context) and the callers, without their clocks, sleeps or
/// hooks.
///
/// For code that cannot block or await between attempts: event loops, actors, job queues that
/// reschedule a failed job, and simulations in virtual time. Time is passed in; nothing here
/// reads a clock or sleeps. The process-wide and thread switches (testing mode, deactivation,
/// nested-retry suppression) and budgets apply as in every other loop; on-retry hooks do not run
/// (there is no error to show them). A policy's
/// [`attempt_timeout`](RetryPolicy::attempt_timeout) is yours to apply: read it with
/// [`RetryPolicy::get_attempt_timeout`], and report an attempt it cut with
/// [`mark_timed_out`](Self::mark_timed_out).
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
///
/// # Order of calls
///
/// The loop is `start`, then per attempt `on_failure` (and, when it returns a wait, `next_attempt`
/// after waiting) or `on_success`. Calls out of that order are safe and do what they can mean:
///
/// - [`on_failure`](Self::on_failure) or [`on_success`](Self::on_success) before `start` start the
///   loop first (at the `now` given; `on_success` has none and leaves the deadline unset);
/// - `on_failure` while a wait is pending (no `next_attempt` since the last retry) is the failure
///   of the next attempt: `next_attempt` is implied;
/// - once the loop has ended (a success, or `on_failure` returned `None`), `on_failure` returns
///   `None`, a second `on_success` refunds nothing, and `start` and `next_attempt` do nothing;
/// - a second `start`, and `next_attempt` without a pending wait, do nothing.
pub struct RetryState {
    settings: Settings,
    driver: Driver,
    timed_out: bool,
    phase: Phase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    NotStarted,
    Running,
    Waiting,
    Done,
}

impl RetryState {
    /// A loop with `policy` that has not started.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            settings: Settings::new(policy),
            driver: Driver::after_first(&policy, None),
            timed_out: false,
            phase: Phase::NotStarted,
        }
    }

    /// Makes every retry pay from a shared [`RetryBudget`]; when it cannot,
    /// [`on_failure`](Self::on_failure) returns `None`.
    pub fn budget(mut self, budget: &RetryBudget) -> Self {
        self.settings.budget = Some(budget.clone());
        self
    }

    /// Starts the first attempt at `now` (the deadline counts from here). Does nothing once the
    /// loop has started.
    pub fn start(&mut self, now: Instant) {
        if self.phase == Phase::NotStarted {
            self.driver = Driver::start(&self.settings.policy, || now);
            self.driver.hedges(&self.settings);
            self.phase = Phase::Running;
        }
    }

    /// Makes the loop a hedged one (see [`Retrying::hedge`](crate::Retrying::hedge)): it may
    /// send [`hedge`](Self::hedge)s, and a failure's retry has no backoff wait (a server's
    /// `Retry-After` still holds). Only the switches decide whether it hedges; when to hedge
    /// (the `hedging`'s delay) is the caller's to follow.
    pub fn hedging(mut self, hedging: Hedging) -> Self {
        self.settings.hedging = Some(Arc::new(hedging));
        self
    }

    /// A hedge: another attempt, started at `now` while the current one is still out, if the
    /// loop hedges and the attempts limit, the deadline and the budget allow it (it pays the
    /// budget as a retry does). Returns whether it may start; [`attempt`](Self::attempt) is
    /// then its number.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use stamina::{Hedging, RetryPolicy, RetryState};
    ///
    /// let hedging = Hedging::after(Duration::from_millis(50));
    /// let mut state = RetryState::new(RetryPolicy::new().attempts(2)).hedging(hedging);
    /// let start = Instant::now();
    /// state.start(start);
    /// // No answer 50 ms later: a second copy may go.
    /// assert!(state.hedge(start + Duration::from_millis(50)));
    /// assert_eq!(state.attempt(), 2);
    /// assert!(!state.hedge(start + Duration::from_millis(100))); // 2 attempts at most
    /// ```
    pub fn hedge(&mut self, now: Instant) -> bool {
        let hedges = self.settings.hedging.is_some() && self.phase == Phase::Running;
        hedges && self.driver.try_hedge(&self.settings, now).is_some()
    }

    /// The number of the current attempt, starting at 1 (0 before [`start`](Self::start)).
    pub fn attempt(&self) -> u32 {
        match self.phase {
            Phase::NotStarted => 0,
            _ => self.driver.num(),
        }
    }

    /// The sum of the waits so far.
    pub fn waited(&self) -> Duration {
        self.driver.waited()
    }

    /// Marks the current attempt as cut by a per-attempt timeout, so that a retry after it
    /// costs a retry quota its timeout cost.
    pub fn mark_timed_out(&mut self) {
        self.timed_out = true;
    }

    /// The current attempt failed at `now`, and the `on` predicate decided `decision` (`true`,
    /// `false`, a `Duration` or a [`Decision`]): returns how long to wait before the next attempt,
    /// or `None` when the loop ends with this failure (not retryable, attempts or time used up,
    /// a wait beyond `retry_after_max`, budget empty, switches, nested-retry suppression). After
    /// waiting, call [`next_attempt`](Self::next_attempt).
    ///
    /// Before [`start`](Self::start) it starts the loop at `now` first; while a wait is pending
    /// it implies [`next_attempt`](Self::next_attempt); after the loop ended it returns `None`.
    pub fn on_failure(&mut self, decision: impl Into<Decision>, now: Instant) -> Option<Duration> {
        match self.phase {
            Phase::NotStarted => self.start(now),
            Phase::Waiting => self.next_attempt(),
            Phase::Running => {}
            Phase::Done => return None,
        }
        let decision = decision.into();
        let timed_out = std::mem::take(&mut self.timed_out);
        match self
            .driver
            .decide(&self.settings, || decision, timed_out, || now)
        {
            Step::Retry(retry) => {
                self.phase = Phase::Waiting;
                Some(retry.wait)
            }
            Step::GiveUp(_) => {
                self.phase = Phase::Done;
                None
            }
        }
    }

    /// Starts the attempt that follows a wait. Does nothing unless a wait is pending.
    pub fn next_attempt(&mut self) {
        if self.phase == Phase::Waiting {
            self.driver.next_attempt();
            self.phase = Phase::Running;
        }
    }

    /// The current attempt succeeded: refills the budget, if any, and ends the loop. Only the
    /// first success of a loop refills; later calls do nothing.
    pub fn on_success(&mut self) {
        if self.phase != Phase::Done {
            self.phase = Phase::Done;
            self.driver.succeeded(&self.settings);
        }
    }
}

impl fmt::Debug for RetryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryState")
            .field("attempt", &self.attempt())
            .field("phase", &self.phase)
            .field("waited", &self.waited())
            .finish_non_exhaustive()
    }
}
