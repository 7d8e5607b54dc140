//! The retry state machine: the one place that knows the formula, the limits and the switches.
//!
//! It is pure: time is passed in (lazily, so loops without a deadline never read a clock), it
//! never sleeps, and its only randomness is the seedable generator of the jitter. The loop driver
//! ([`crate::driver`]) is its only user: it builds a machine at a loop's first failure, asks
//! [`Machine::on_failure`] after each failed attempt how long to wait or why to give up, and
//! calls [`Machine::next_attempt`] after the wait.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use crate::backoff;
use crate::nesting;
use crate::switches::{self, Mode};
use crate::{Decision, RetryBudget, RetryPolicy};

/// A retry that was decided: the driver calls the hooks, the front end waits `wait`, then starts
/// the next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Retry {
    /// How long to wait before the next attempt.
    pub(crate) wait: Duration,
    /// The number of the attempt that just failed (1-based).
    pub(crate) retry_num: u32,
    /// The sum of the waits before this one.
    pub(crate) waited_so_far: Duration,
    /// The attempts limit in force (testing mode applied), `None` when unlimited.
    pub(crate) attempts_limit: Option<u32>,
    /// The time left before the deadline when the retry was decided (before the wait); `None`
    /// without a deadline and in testing mode.
    pub(crate) remaining: Option<Duration>,
}

/// Why a loop ends with the last error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GiveUp {
    /// Retrying is switched off: one attempt only.
    Inactive,
    /// The `on` predicate said the error is not worth retrying.
    NotRetryable,
    /// The attempts limit is reached.
    AttemptsExhausted,
    /// The next wait would end at or after the deadline (or the deadline has passed).
    DeadlineExceeded,
    /// The `on` predicate asked for a wait longer than `retry_after_max`.
    RetryAfterTooLong,
    /// The shared retry budget cannot pay for another retry.
    BudgetExhausted,
    /// The loop runs inside another loop's attempt, with nested-retry suppression on.
    Nested,
}

impl GiveUp {
    /// Whether it ends a hedged call at once, whatever is still in flight: the failure is final
    /// (`on`, a server's wait beyond the ceiling, the switches), not a limit on new attempts.
    pub(crate) fn ends_call(self) -> bool {
        matches!(
            self,
            Self::NotRetryable | Self::RetryAfterTooLong | Self::Inactive | Self::Nested
        )
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Retry(Retry),
    GiveUp(GiveUp),
}

/// What bounds a loop besides its policy, as the driver holds it: the shared budget, the loop's
/// own nested-retry suppression choice (`None`: the process-wide one) and the deadline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits<'a> {
    pub(crate) budget: Option<&'a RetryBudget>,
    pub(crate) suppress_nested: Option<bool>,
    pub(crate) deadline: Option<Instant>,
}

/// The per-loop state, from the first failure on.
///
/// The loop's policy and [`Limits`] are not part of it: the driver holds them anyway and passes
/// them to every step, so that building a machine copies no configuration and owns nothing.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    /// The number of the current attempt (1-based).
    num: u32,
    /// The switches as this loop sees them, read at its first failure and kept for the rest of it
    /// (`None` until then).
    switches: Option<Switches>,
    /// Whether the current attempt failed by timing out (retries cost more in a quota).
    timed_out: bool,
    waited: Duration,
    /// The previous computed wait, for decorrelated jitter.
    previous: Duration,
    rng: Option<backoff::JitterRng>,
    /// What the budget was paid for the retry that led to the current attempt.
    paid: u64,
    /// Whether the loop hedges: a retry starts at once, without the backoff wait.
    hedging: bool,
}

/// The switches (activation, testing mode, nested-retry suppression) as one loop sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Switches {
    /// Retrying as the policy says.
    Normal,
    /// Testing mode, with the attempts limit it sets for this loop, and whether hedges stay.
    Testing(NonZeroU32, bool),
    /// Retrying is switched off.
    Inactive,
    /// The loop runs inside another loop's attempt, with nested-retry suppression on.
    Nested,
}

impl Limits<'_> {
    /// Reads the switches for a loop with `policy` and these limits (its own suppression choice).
    #[inline]
    fn switches(self, policy: &RetryPolicy) -> Switches {
        match switches::mode() {
            Mode::Inactive => Switches::Inactive,
            _ if nesting::suppressed(self.suppress_nested) => Switches::Nested,
            Mode::Normal => Switches::Normal,
            Mode::Testing(t) => Switches::Testing(t.limit(policy.attempts_limit()), t.get_hedges()),
        }
    }
}

impl Machine {
    /// A loop with `policy` whose first attempt is running.
    #[inline]
    pub(crate) const fn new(policy: &RetryPolicy) -> Self {
        Self {
            num: 1,
            switches: None,
            timed_out: false,
            waited: Duration::ZERO,
            previous: policy.get_wait_initial(),
            rng: None,
            paid: 0,
            hedging: false,
        }
    }

    /// Makes the loop a hedged one, if the switches let it hedge (not in testing mode unless
    /// it keeps hedges, not when retrying is off or the loop is nested): says whether they do.
    pub(crate) fn hedge_if_allowed(&mut self, policy: &RetryPolicy, limits: Limits<'_>) -> bool {
        let switches = *self.switches.get_or_insert_with(|| limits.switches(policy));
        self.hedging = matches!(switches, Switches::Normal | Switches::Testing(_, true));
        self.hedging
    }

    /// Starts a hedge, the next attempt, while others are in flight: the attempts limit, the
    /// deadline (`now` is read only with one) and the budget must allow it. Returns what it paid.
    pub(crate) fn hedge(
        &mut self,
        policy: &RetryPolicy,
        limits: Limits<'_>,
        now: impl FnOnce() -> Instant,
    ) -> Result<u64, GiveUp> {
        let (limit, testing) = match self.switches {
            Some(Switches::Testing(limit, _)) => (Some(limit.get()), true),
            _ => (policy.get_attempts(), false),
        };
        if self.num >= limit.unwrap_or(u32::MAX) {
            return Err(GiveUp::AttemptsExhausted);
        }
        let mut cost = 0;
        if !testing {
            if limits.deadline.is_some_and(|deadline| now() >= deadline) {
                return Err(GiveUp::DeadlineExceeded);
            }
            // A hedge pays as a retry does, once the budget allows it: a throttle counts it as a
            // failure, so that a service slow everywhere soon gets no more hedges.
            if let Some(budget) = limits.budget {
                cost = budget.try_withdraw(false).ok_or(GiveUp::BudgetExhausted)?;
                budget.on_retryable_failure();
            }
        }
        self.next_attempt();
        self.paid = cost;
        Ok(cost)
    }

    /// Marks the current attempt as timed out (a retry after it costs more in a quota).
    pub(crate) fn set_timed_out(&mut self) {
        self.timed_out = true;
    }

    /// What the budget was paid for the retry that led to the current attempt, which its
    /// success refunds.
    pub(crate) const fn paid(&self) -> u64 {
        self.paid
    }

    /// Starts the attempt after a retry.
    #[inline]
    pub(crate) fn next_attempt(&mut self) {
        self.num = self.num.saturating_add(1);
        self.timed_out = false;
    }

    /// The number of the current attempt (1-based).
    #[inline]
    pub(crate) const fn num(&self) -> u32 {
        self.num
    }

    /// The sum of the waits so far.
    pub(crate) const fn waited(&self) -> Duration {
        self.waited
    }

    /// Decides what follows a failed attempt of a loop with `policy` and `limits`.
    ///
    /// `decide` (the user's `on` predicate) is not called when retrying is switched off; `now` is
    /// called only when a deadline must be checked.
    #[inline]
    pub(crate) fn on_failure(
        &mut self,
        policy: &RetryPolicy,
        limits: Limits<'_>,
        decide: impl FnOnce() -> Decision,
        now: impl FnOnce() -> Instant,
    ) -> Step {
        let switches = *self.switches.get_or_insert_with(|| limits.switches(policy));
        let (attempts_limit, testing) = match switches {
            Switches::Normal => (policy.get_attempts(), false),
            Switches::Testing(limit, _) => (Some(limit.get()), true),
            // `on` is not asked when retrying is switched off.
            Switches::Inactive => return Step::GiveUp(GiveUp::Inactive),
            Switches::Nested => (None, false),
        };
        let custom = match decide() {
            Decision::DontRetry => return Step::GiveUp(GiveUp::NotRetryable),
            Decision::Retry => None,
            Decision::RetryAfter(wait) => Some(wait),
        };
        if switches == Switches::Nested {
            return Step::GiveUp(GiveUp::Nested);
        }
        // Budgets are neither consulted nor charged in testing mode.
        let budget = if testing { None } else { limits.budget };
        if let Some(budget) = budget {
            budget.on_retryable_failure();
        }
        // An unlimited loop still stops at attempt u32::MAX rather than miscount.
        if self.num >= attempts_limit.unwrap_or(u32::MAX) {
            return Step::GiveUp(GiveUp::AttemptsExhausted);
        }
        // A server wait over the ceiling ends the loop in testing mode too: testing mode changes
        // waits, attempts, the deadline and budgets, not the decisions a test is meant to see.
        if let (Some(wait), Some(max)) = (custom, policy.get_retry_after_max()) {
            if wait > max {
                return Step::GiveUp(GiveUp::RetryAfterTooLong);
            }
        }
        let mut remaining = None;
        let wait = if testing {
            // Testing mode: no waits, and the total timeout is ignored.
            Duration::ZERO
        } else {
            let wait = match custom {
                Some(wait) => wait,
                // A hedged loop starts its next attempt at once.
                None if self.hedging => Duration::ZERO,
                None => backoff::wait(policy, self.num, &mut self.previous, &mut self.rng),
            };
            if let Some(deadline) = limits.deadline {
                let now = now();
                if now.checked_add(wait).is_none_or(|ends| ends >= deadline) {
                    return Step::GiveUp(GiveUp::DeadlineExceeded);
                }
                remaining = Some(deadline.saturating_duration_since(now));
            }
            wait
        };
        if let Some(budget) = budget {
            match budget.try_withdraw(self.timed_out) {
                Some(cost) => self.paid = cost,
                None => return Step::GiveUp(GiveUp::BudgetExhausted),
            }
        }
        let retry = Retry {
            wait,
            retry_num: self.num,
            waited_so_far: self.waited,
            attempts_limit,
            remaining,
        };
        self.waited = self.waited.saturating_add(wait);
        Step::Retry(retry)
    }
}

/// The deadline of a loop with `policy` whose first attempt starts now: `None` (and no clock
/// read) without a timeout; a deadline beyond what `Instant` can hold is no deadline at all.
#[inline]
pub(crate) fn deadline(policy: &RetryPolicy, now: impl FnOnce() -> Instant) -> Option<Instant> {
    let timeout = policy.get_timeout()?;
    now().checked_add(timeout)
}

/// The lower bound of the computed wait after attempt `num` (see [`crate::Jitter`]), zero in
/// testing mode.
pub(crate) fn next_wait(policy: &RetryPolicy, num: u32) -> Duration {
    match switches::mode() {
        Mode::Testing(_) => Duration::ZERO,
        Mode::Normal | Mode::Inactive => backoff::lower_bound(policy, num),
    }
}

/// The time left before `deadline`, `None` without one or in testing mode.
pub(crate) fn remaining(
    deadline: Option<Instant>,
    now: impl FnOnce() -> Instant,
) -> Option<Duration> {
    let deadline = deadline?;
    match switches::mode() {
        Mode::Testing(_) => None,
        Mode::Normal | Mode::Inactive => Some(deadline.saturating_duration_since(now())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switches::{Testing, thread_active, thread_testing};
    use proptest::prelude::*;

    const NO_JITTER: RetryPolicy = RetryPolicy::new().wait_jitter(Duration::ZERO);

    /// A machine with what the driver holds for it: the policy and the limits.
    struct TestMachine {
        policy: RetryPolicy,
        machine: Machine,
        budget: Option<RetryBudget>,
        suppress_nested: Option<bool>,
        deadline: Option<Instant>,
    }

    impl TestMachine {
        fn new(policy: RetryPolicy) -> Self {
            let machine = Machine::new(&policy);
            Self {
                policy,
                machine,
                budget: None,
                suppress_nested: None,
                deadline: None,
            }
        }

        fn start(&mut self, now: impl FnOnce() -> Instant) {
            self.deadline = deadline(&self.policy, now);
        }

        fn set_budget(&mut self, budget: Option<RetryBudget>) {
            self.budget = budget;
        }

        fn set_suppress_nested(&mut self, choice: Option<bool>) {
            self.suppress_nested = choice;
        }

        fn deadline(&self) -> Option<Instant> {
            self.deadline
        }

        fn on_success(&self) {
            if let Some(budget) = &self.budget {
                budget.on_success(self.machine.paid());
            }
        }

        fn on_failure(
            &mut self,
            decide: impl FnOnce() -> Decision,
            now: impl FnOnce() -> Instant,
        ) -> Step {
            let limits = Limits {
                budget: self.budget.as_ref(),
                suppress_nested: self.suppress_nested,
                deadline: self.deadline,
            };
            self.machine.on_failure(&self.policy, limits, decide, now)
        }
    }

    impl std::ops::Deref for TestMachine {
        type Target = Machine;

        fn deref(&self) -> &Machine {
            &self.machine
        }
    }

    impl std::ops::DerefMut for TestMachine {
        fn deref_mut(&mut self) -> &mut Machine {
            &mut self.machine
        }
    }

    /// Runs a loop in which every attempt fails and takes `attempt_time` on a virtual clock;
    /// returns the waits and the reason the loop ended.
    fn run(
        policy: RetryPolicy,
        decision: Decision,
        attempt_time: Duration,
    ) -> (Vec<Duration>, GiveUp, Duration) {
        let origin = Instant::now();
        let mut elapsed = Duration::ZERO;
        let mut m = TestMachine::new(policy);
        m.start(|| origin);
        let mut waits = Vec::new();
        loop {
            // Every loop here ends within a few dozen retries: a broken limit fails the test
            // instead of spinning forever.
            assert!(waits.len() < 1_000, "the loop never gave up");
            elapsed += attempt_time;
            match m.on_failure(|| decision, || origin + elapsed) {
                Step::Retry(r) => {
                    assert_eq!(r.retry_num, m.num());
                    assert_eq!(r.waited_so_far, waits.iter().sum::<Duration>());
                    waits.push(r.wait);
                    elapsed += r.wait;
                    m.next_attempt();
                }
                Step::GiveUp(reason) => return (waits, reason, elapsed),
            }
        }
    }

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn jitter_free_defaults() {
        let (waits, reason, _) = run(NO_JITTER.no_timeout(), Decision::Retry, Duration::ZERO);
        assert_eq!(
            waits,
            ms(&[100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000])
        );
        assert_eq!(reason, GiveUp::AttemptsExhausted);
    }

    #[test]
    fn the_default_timeout_cuts_the_sequence_before_the_deadline() {
        // 10 attempts of 1 s each and nine waits of 21.3 s in all end at 31.3 s, within 45 s.
        let (waits, reason, elapsed) = run(NO_JITTER, Decision::Retry, Duration::from_secs(1));
        assert_eq!(waits.len(), 9);
        assert_eq!(reason, GiveUp::AttemptsExhausted);
        assert_eq!(elapsed, Duration::from_millis(31_300));
        // With 3 s attempts: 3 +.1 +3 +.2 +3 +.4 +3 +.8 +3 +1.6 +3 +3.2 +3 = 27.3; +5 ends at
        // 32.3, +3 = 35.3; +5 = 40.3, +3 = 43.3; the next wait (5 s) would end at 48.3 > 45.
        let (waits, reason, elapsed) = run(NO_JITTER, Decision::Retry, Duration::from_secs(3));
        assert_eq!(waits, ms(&[100, 200, 400, 800, 1600, 3200, 5000, 5000]));
        assert_eq!(reason, GiveUp::DeadlineExceeded);
        assert_eq!(elapsed, Duration::from_millis(43_300));
    }

    #[test]
    fn a_wait_ending_exactly_at_the_deadline_is_not_started() {
        let policy = NO_JITTER.timeout(Duration::from_millis(300));
        // 0 + .1 = .1, + .2 = .3 = the deadline: given up before the second wait.
        let (waits, reason, _) = run(policy, Decision::Retry, Duration::ZERO);
        assert_eq!(waits, ms(&[100]));
        assert_eq!(reason, GiveUp::DeadlineExceeded);
    }

    #[test]
    fn zero_timeout_is_one_attempt() {
        let policy = NO_JITTER.timeout(Duration::ZERO);
        let (waits, reason, _) = run(policy, Decision::Retry, Duration::ZERO);
        assert!(waits.is_empty());
        assert_eq!(reason, GiveUp::DeadlineExceeded);
    }

    #[test]
    fn attempts_limits() {
        for (attempts, waits) in [(0, 0), (1, 0), (2, 1), (3, 2)] {
            let policy = NO_JITTER.attempts(attempts);
            let (w, reason, _) = run(policy, Decision::Retry, Duration::ZERO);
            assert_eq!(w.len(), waits);
            assert_eq!(reason, GiveUp::AttemptsExhausted);
        }
        let unlimited = NO_JITTER
            .unlimited_attempts()
            .timeout(Duration::from_secs(60));
        let (w, reason, _) = run(unlimited, Decision::Retry, Duration::ZERO);
        // .1+.2+.4+.8+1.6+3.2 = 6.3 s, then 5 s waits until 60 s: 10 more end by 56.3 s.
        assert_eq!(w.len(), 16);
        assert_eq!(reason, GiveUp::DeadlineExceeded);
    }

    #[test]
    fn custom_waits_are_exact_and_uncapped_but_bounded() {
        let wait = Duration::from_secs(7);
        let policy = NO_JITTER.attempts(3).no_timeout();
        let (w, reason, _) = run(policy, Decision::RetryAfter(wait), Duration::ZERO);
        assert_eq!(w, vec![wait, wait]);
        assert_eq!(reason, GiveUp::AttemptsExhausted);
        let policy = NO_JITTER.timeout(Duration::from_secs(10));
        let (w, reason, _) = run(policy, Decision::RetryAfter(wait), Duration::ZERO);
        assert_eq!(w, vec![wait]);
        assert_eq!(reason, GiveUp::DeadlineExceeded);
        let (w, reason, _) = run(policy, Decision::RetryAfter(Duration::MAX), Duration::ZERO);
        assert!(w.is_empty());
        assert_eq!(reason, GiveUp::DeadlineExceeded);
    }

    #[test]
    fn custom_waits_beyond_the_ceiling_give_up() {
        let policy = NO_JITTER
            .no_timeout()
            .retry_after_max(Duration::from_secs(10));
        let ten = Decision::RetryAfter(Duration::from_secs(10));
        let (w, reason, _) = run(policy.attempts(3), ten, Duration::ZERO);
        assert_eq!(w, vec![Duration::from_secs(10); 2]);
        assert_eq!(reason, GiveUp::AttemptsExhausted);
        let eleven = Decision::RetryAfter(Duration::from_secs(11));
        let (w, reason, _) = run(policy, eleven, Duration::ZERO);
        assert!(w.is_empty());
        assert_eq!(reason, GiveUp::RetryAfterTooLong);
        // Computed waits are not subject to the ceiling.
        let tight = NO_JITTER.no_timeout().retry_after_max(Duration::ZERO);
        let (w, _, _) = run(tight, Decision::Retry, Duration::ZERO);
        assert_eq!(w.len(), 9);
    }

    #[test]
    fn an_empty_budget_ends_the_loop() {
        let budget = RetryBudget::quota(12, 5, 10);
        let mut m = TestMachine::new(NO_JITTER.no_timeout());
        m.set_budget(Some(budget.clone()));
        m.start(Instant::now);
        let mut steps = Vec::new();
        for _ in 0..3 {
            let step = m.on_failure(|| Decision::Retry, Instant::now);
            steps.push(step);
            m.next_attempt();
        }
        assert!(matches!(steps[0], Step::Retry(_)));
        assert!(matches!(steps[1], Step::Retry(_)));
        assert_eq!(steps[2], Step::GiveUp(GiveUp::BudgetExhausted));
        assert_eq!(budget.available(), 2.0);
        // A success after a paid retry refunds its cost.
        m.on_success();
        assert_eq!(budget.available(), 7.0);
        // A timed-out attempt costs more, and not-retryable errors cost nothing.
        let mut m = TestMachine::new(NO_JITTER.no_timeout());
        m.set_budget(Some(budget.clone()));
        m.start(Instant::now);
        assert_eq!(
            m.on_failure(|| Decision::DontRetry, Instant::now),
            Step::GiveUp(GiveUp::NotRetryable)
        );
        m.set_timed_out();
        assert_eq!(
            m.on_failure(|| Decision::Retry, Instant::now),
            Step::GiveUp(GiveUp::BudgetExhausted)
        );
        assert_eq!(budget.available(), 7.0);
        budget.on_success(0);
        assert_eq!(budget.available(), 8.0);
    }

    #[test]
    fn budgets_are_bypassed_in_testing_mode() {
        let _t = thread_testing(Testing::new().attempts(3));
        let budget = RetryBudget::quota(0, 5, 10);
        let mut m = TestMachine::new(NO_JITTER);
        m.set_budget(Some(budget.clone()));
        m.start(Instant::now);
        assert!(matches!(
            m.on_failure(|| Decision::Retry, Instant::now),
            Step::Retry(_)
        ));
    }

    #[test]
    fn nested_loops_try_once_when_suppressed() {
        let fail = |choice| {
            let mut m = TestMachine::new(NO_JITTER);
            m.set_suppress_nested(choice);
            m.start(Instant::now);
            m.on_failure(|| Decision::Retry, Instant::now)
        };
        assert!(matches!(fail(Some(true)), Step::Retry(_)), "not nested");
        nesting::in_attempt(|| {
            assert_eq!(fail(Some(true)), Step::GiveUp(GiveUp::Nested));
            assert!(matches!(fail(Some(false)), Step::Retry(_)));
            assert!(
                matches!(fail(None), Step::Retry(_)),
                "off process-wide by default"
            );
        });
    }

    #[test]
    fn retries_carry_the_limit_and_the_time_left() {
        let origin = Instant::now();
        let mut m = TestMachine::new(NO_JITTER.attempts(4).timeout(Duration::from_secs(10)));
        m.start(|| origin);
        let step = m.on_failure(|| Decision::Retry, || origin + Duration::from_secs(3));
        let Step::Retry(retry) = step else {
            panic!("expected a retry, got {step:?}")
        };
        assert_eq!(retry.attempts_limit, Some(4));
        assert_eq!(retry.remaining, Some(Duration::from_secs(7)));
        let mut m = TestMachine::new(NO_JITTER.unlimited_attempts().no_timeout());
        m.start(|| unreachable!());
        let step = m.on_failure(|| Decision::Retry, || unreachable!());
        assert!(
            matches!(step, Step::Retry(r) if r.attempts_limit.is_none() && r.remaining.is_none())
        );
        let _t = thread_testing(Testing::new().attempts(2));
        let mut m = TestMachine::new(NO_JITTER.attempts(9));
        m.start(|| origin);
        let step = m.on_failure(|| Decision::Retry, || origin);
        assert!(
            matches!(step, Step::Retry(r) if r.attempts_limit == Some(2) && r.remaining.is_none())
        );
    }

    #[test]
    fn not_retryable_stops_at_once() {
        let (w, reason, _) = run(NO_JITTER, Decision::DontRetry, Duration::ZERO);
        assert!(w.is_empty());
        assert_eq!(reason, GiveUp::NotRetryable);
    }

    #[test]
    fn switches() {
        {
            let _off = thread_active(false);
            let mut m = TestMachine::new(RetryPolicy::new());
            m.start(Instant::now);
            let step = m.on_failure(|| panic!("`on` must not be called"), Instant::now);
            assert_eq!(step, Step::GiveUp(GiveUp::Inactive));
        }
        {
            let _t = thread_testing(Testing::new().attempts(3));
            let (w, reason, _) = run(
                NO_JITTER.timeout(Duration::ZERO),
                Decision::RetryAfter(Duration::from_secs(60)),
                Duration::from_secs(100),
            );
            assert_eq!(w, vec![Duration::ZERO; 2]);
            assert_eq!(reason, GiveUp::AttemptsExhausted);
            let m = TestMachine::new(NO_JITTER);
            assert_eq!(next_wait(&m.policy, 1), Duration::ZERO);
            assert_eq!(remaining(Some(Instant::now()), Instant::now), None);
        }
        {
            let _t = thread_testing(Testing::new().attempts(5).cap(true));
            let (w, _, _) = run(NO_JITTER.attempts(2), Decision::Retry, Duration::ZERO);
            assert_eq!(w.len(), 1);
            let (w, _, _) = run(
                NO_JITTER.unlimited_attempts(),
                Decision::Retry,
                Duration::ZERO,
            );
            assert_eq!(w.len(), 4);
        }
        {
            // A server wait over the ceiling gives up in testing mode as in production; one
            // within it is retried at once.
            let _t = thread_testing(Testing::new().attempts(3));
            let ceiling = NO_JITTER.retry_after_max(Duration::from_secs(30));
            let (w, reason, _) = run(
                ceiling,
                Decision::RetryAfter(Duration::from_secs(60)),
                Duration::ZERO,
            );
            assert!(w.is_empty());
            assert_eq!(reason, GiveUp::RetryAfterTooLong);
            let (w, reason, _) = run(
                ceiling,
                Decision::RetryAfter(Duration::from_secs(30)),
                Duration::ZERO,
            );
            assert_eq!(w, vec![Duration::ZERO; 2]);
            assert_eq!(reason, GiveUp::AttemptsExhausted);
        }
        {
            // Deactivation wins over testing mode.
            let _t = thread_testing(Testing::new().attempts(5));
            let _off = thread_active(false);
            let (w, reason, _) = run(NO_JITTER, Decision::Retry, Duration::ZERO);
            assert!(w.is_empty());
            assert_eq!(reason, GiveUp::Inactive);
        }
    }

    #[test]
    fn unlimited_attempts_saturate_at_u32_max() {
        let mut m = TestMachine::new(NO_JITTER.unlimited_attempts().no_timeout());
        m.start(|| unreachable!("no timeout, no clock"));
        m.num = u32::MAX - 1;
        let retry = m.on_failure(|| Decision::Retry, || unreachable!());
        assert!(matches!(retry, Step::Retry(r) if r.wait == Duration::from_secs(5)));
        m.next_attempt();
        m.next_attempt();
        assert_eq!(m.num(), u32::MAX);
        assert_eq!(
            m.on_failure(|| Decision::Retry, || unreachable!()),
            Step::GiveUp(GiveUp::AttemptsExhausted)
        );
    }

    #[test]
    fn next_wait_and_remaining() {
        let origin = Instant::now();
        let mut m = TestMachine::new(NO_JITTER);
        m.start(|| origin);
        assert_eq!(next_wait(&m.policy, m.num()), Duration::from_millis(100));
        assert_eq!(
            remaining(m.deadline(), || origin + Duration::from_secs(5)),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            remaining(m.deadline(), || origin + Duration::from_secs(50)),
            Some(Duration::ZERO)
        );
        m.next_attempt();
        m.next_attempt();
        assert_eq!(next_wait(&m.policy, m.num()), Duration::from_millis(400));
        let mut huge = TestMachine::new(NO_JITTER.timeout(Duration::MAX));
        huge.start(|| origin);
        assert_eq!(huge.deadline(), None);
    }

    #[test]
    fn seeded_loops_repeat() {
        let policy = RetryPolicy::new().seed(99).no_timeout();
        let a = run(policy, Decision::Retry, Duration::ZERO).0;
        assert_eq!(a, run(policy, Decision::Retry, Duration::ZERO).0);
        assert!(a[0] >= Duration::from_millis(100) && a[0] <= Duration::from_millis(1100));
    }

    proptest! {
        /// Every retry ends its wait strictly before the deadline, every wait is within its
        /// bounds, and the loop gives up for a reason that holds: the attempts limit reached, or
        /// a next wait that could not have ended before the deadline.
        #[test]
        fn the_deadline_is_never_crossed_and_every_give_up_is_due(
            timeout_ms in 0u64..120_000,
            attempt_ms in 0u64..5_000,
            custom_ms in prop::option::of(1u64..20_000),
            attempts in prop::option::of(1u32..50),
            seed in any::<u64>(),
        ) {
            let timeout = Duration::from_millis(timeout_ms);
            let attempt = Duration::from_millis(attempt_ms);
            let custom = custom_ms.map(Duration::from_millis);
            let mut policy = RetryPolicy::new().timeout(timeout).seed(seed);
            policy = match attempts {
                Some(n) => policy.attempts(n),
                None => policy.unlimited_attempts(),
            };
            let decision = custom.map_or(Decision::Retry, Decision::RetryAfter);
            let origin = Instant::now();
            let mut m = TestMachine::new(policy);
            m.start(|| origin);
            let mut elapsed = Duration::ZERO;
            let mut retries = 0u32;
            let reason = loop {
                elapsed += attempt;
                match m.on_failure(|| decision, || origin + elapsed) {
                    Step::Retry(r) => {
                        prop_assert!(elapsed + r.wait < timeout, "{r:?} after {elapsed:?}");
                        match custom {
                            Some(custom) => prop_assert_eq!(r.wait, custom),
                            None => {
                                prop_assert!(r.wait >= backoff::lower_bound(&policy, m.num()));
                                prop_assert!(r.wait <= policy.get_wait_max());
                            }
                        }
                        retries += 1;
                        elapsed += r.wait;
                        m.next_attempt();
                    }
                    Step::GiveUp(reason) => break reason,
                }
            };
            match reason {
                GiveUp::AttemptsExhausted => prop_assert_eq!(Some(retries + 1), attempts),
                GiveUp::DeadlineExceeded => {
                    prop_assert!(attempts.is_none_or(|n| retries + 1 < n));
                    let longest = custom.unwrap_or(policy.get_wait_max());
                    prop_assert!(elapsed + longest >= timeout, "gave up at {elapsed:?}");
                }
                other => prop_assert!(false, "unexpected give-up: {other:?}"),
            }
        }
    }
}
