//! The loop driver: the one place that turns a failed attempt into "wait this long" or "give up
//! with this", and runs the hooks.
//!
//! Every front end (the callers, the attempt iterator and stream, [`RetryState`](crate::RetryState),
//! the tower layer, the reqwest middleware) is a short loop over a [`Driver`]: it runs an
//! attempt, hands a failure to [`Driver::failed`] (which asks the `on` predicate and the state
//! machine, and tells the hooks), waits what that returns on its own clock or sleeper, and calls
//! [`Driver::next_attempt`] before the next attempt; a success goes to [`Driver::succeeded`].
//! The driver never reads a clock or sleeps by itself: time comes in as closures, called only
//! when the policy has a timeout.

use std::fmt;
use std::time::{Duration, Instant};

use crate::instrument::{self, ErrorView, Guards, HedgeKind};
use crate::machine::{self, Machine, Step};
use crate::settings::Settings;
use crate::{Decision, RetryOn, RetryPolicy};

/// One loop's progress.
pub(crate) struct Driver {
    deadline: Option<Instant>,
    machine: Machine,
    /// What the hooks keep over the current wait.
    guards: Guards,
}

impl Driver {
    /// Starts a loop with `policy` at its first attempt; `now` is read only with a timeout.
    #[inline]
    pub(crate) fn start(policy: &RetryPolicy, now: impl FnOnce() -> Instant) -> Self {
        Self::after_first(policy, machine::deadline(policy, now))
    }

    /// A loop with `policy` whose first attempt started with `deadline` (from
    /// [`machine::deadline`]): for front ends that make the driver only if that attempt fails.
    #[inline]
    pub(crate) const fn after_first(policy: &RetryPolicy, deadline: Option<Instant>) -> Self {
        Self {
            deadline,
            machine: Machine::new(policy),
            guards: Guards(Vec::new()),
        }
    }

    /// The first attempt of a loop made before it started begins now: the loop's deadline
    /// runs from here.
    #[inline]
    pub(crate) fn begin(&mut self, policy: &RetryPolicy, now: impl FnOnce() -> Instant) {
        self.deadline = machine::deadline(policy, now);
    }

    /// The number of the current attempt (1-based).
    pub(crate) fn num(&self) -> u32 {
        self.machine.num()
    }

    /// The sum of the waits so far.
    pub(crate) fn waited(&self) -> Duration {
        self.machine.waited()
    }

    /// The loop's deadline, if its policy has a timeout.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The current attempt succeeded: refunds the budget what its retry paid.
    #[inline]
    pub(crate) fn succeeded(&self, settings: &Settings) {
        settings.succeeded(self.machine.paid());
    }

    /// Decides what follows a failed attempt, without telling the hooks: the state machine
    /// calls `decide` (the `on` predicate) unless retrying is switched off, and `now` only when
    /// a deadline must be checked.
    #[inline]
    pub(crate) fn decide(
        &mut self,
        settings: &Settings,
        decide: impl FnOnce() -> Decision,
        timed_out: bool,
        now: impl FnOnce() -> Instant,
    ) -> Step {
        if timed_out {
            self.machine.set_timed_out();
        }
        let limits = settings.limits(self.deadline);
        self.machine
            .on_failure(&settings.policy, limits, decide, now)
    }

    /// The attempt failed with `error`: returns how long to wait before the next attempt, the
    /// hooks having been told (their guards are kept over the wait), or `None` when the loop
    /// ends with `error` (the give-up handlers having been told). `name` makes the loop's name
    /// for the hooks (only when one is called); `timed_out` says that the attempt was cut by its
    /// attempt timeout.
    #[inline]
    pub(crate) fn failed<'n, E, On>(
        &mut self,
        settings: &Settings,
        name: impl FnOnce() -> &'n str,
        on: &On,
        error: &E,
        timed_out: bool,
        now: impl FnOnce() -> Instant,
    ) -> Option<Duration>
    where
        E: fmt::Debug,
        On: RetryOn<E>,
    {
        let failure = (error, |e| on.error_view(e), timed_out);
        self.fail(settings, name, failure, || on.decide(error), None, now)
            .wait()
    }

    /// What an adapter does with an attempt's `outcome`, which `on` judges whole (a response
    /// as well as an error): a response that `on` accepts ends the loop as a success (`None`,
    /// the budget refunded); anything else is a failure, as in [`failed`](Self::failed), whose
    /// cause the hooks see is the response or the error, shown as `view` says.
    #[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn settle<'n, 'e, T, E, On>(
        &mut self,
        settings: &Settings,
        name: impl FnOnce() -> &'n str,
        on: &On,
        outcome: &'e Result<T, E>,
        view: impl FnOnce() -> ErrorView<'e>,
        timed_out: bool,
        now: impl FnOnce() -> Instant,
    ) -> Option<Duration>
    where
        T: fmt::Debug,
        E: fmt::Debug,
        On: RetryOn<Result<T, E>>,
    {
        match outcome {
            Ok(response) => {
                // Asked at once, to tell an accepted response from a failed one.
                let decision = on.decide(outcome);
                if decision == Decision::DontRetry {
                    self.succeeded(settings);
                    return None;
                }
                let failure = (response, |_| view(), timed_out);
                self.fail(settings, name, failure, || decision, None, now)
                    .wait()
            }
            Err(error) => {
                let failure = (error, |_| view(), timed_out);
                self.fail(settings, name, failure, || on.decide(outcome), None, now)
                    .wait()
            }
        }
    }

    /// A failed attempt: its error (or failed response), what hooks may see of it beyond its
    /// `Debug` output, and whether its attempt timeout cut it. For attempt `num` of a hedged
    /// call with `others` still out (`hedged`), the retry the hooks are told of is that
    /// attempt's, and a failure that cannot be retried while others are out stops new attempts
    /// instead of ending the call.
    #[inline]
    fn fail<'n, 'e, E: fmt::Debug>(
        &mut self,
        settings: &Settings,
        name: impl FnOnce() -> &'n str,
        (error, view, timed_out): (&'e E, impl FnOnce(&'e E) -> ErrorView<'e>, bool),
        decide: impl FnOnce() -> Decision,
        hedged: Option<(u32, usize)>,
        now: impl FnOnce() -> Instant,
    ) -> Verdict {
        let hooks = &settings.hooks;
        match self.decide(settings, decide, timed_out, now) {
            Step::Retry(mut retry) => {
                if let Some((num, _)) = hedged {
                    retry.retry_num = num;
                }
                let guards = instrument::retry_scheduled(name, &retry, error, view, hooks);
                // Kept only when a hook made one: a loop with none (the rule) writes nothing.
                if !guards.0.is_empty() {
                    self.guards = guards;
                }
                Verdict::Retry {
                    wait: retry.wait,
                    paid: self.machine.paid(),
                }
            }
            Step::GiveUp(give_up)
                if hedged.is_some_and(|(_, others)| others > 0) && !give_up.ends_call() =>
            {
                Verdict::Stop
            }
            Step::GiveUp(give_up) => {
                let (attempts, waited) = (self.num(), self.waited());
                instrument::gave_up(name, give_up, attempts, waited, error, view, hooks);
                Verdict::End
            }
        }
    }

    /// Makes the loop a hedged one, if it has [`Hedging`](crate::Hedging) and its switches let
    /// it hedge (not in testing mode unless it keeps hedges, not when retrying is off or the
    /// loop is nested): says whether it is.
    pub(crate) fn hedges(&mut self, settings: &Settings) -> bool {
        let limits = settings.limits(self.deadline);
        settings.hedging.is_some() && self.machine.hedge_if_allowed(&settings.policy, limits)
    }

    /// A hedge: the next attempt, sent while `in_flight` others are out, if the attempts limit,
    /// the deadline and the budget allow it. Returns its number and what it paid, the hooks
    /// told.
    pub(crate) fn hedge(
        &mut self,
        settings: &Settings,
        name: &str,
        in_flight: usize,
        now: Instant,
    ) -> Option<(u32, u64)> {
        let paid = self.try_hedge(settings, now)?;
        let (num, out) = (self.num(), u32::try_from(in_flight + 1).unwrap_or(u32::MAX));
        instrument::hedged(name, HedgeKind::Sent, num, out, &settings.hooks);
        Some((num, paid))
    }

    /// [`hedge`](Self::hedge) without the hooks: what the next attempt paid, if it may start.
    pub(crate) fn try_hedge(&mut self, settings: &Settings, now: Instant) -> Option<u64> {
        let limits = settings.limits(self.deadline);
        self.machine.hedge(&settings.policy, limits, || now).ok()
    }

    /// A hedged call's attempt `num` answered with `outcome`, which ends the call as a success
    /// when it is `Ok` (the callers' rule), with `others` attempts still out.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn hedge_outcome<T, E, On>(
        &mut self,
        settings: &Settings,
        name: &str,
        on: &On,
        (outcome, timed_out): (&Result<T, E>, bool),
        num: u32,
        others: usize,
        now: impl FnOnce() -> Instant,
    ) -> Verdict
    where
        E: fmt::Debug,
        On: RetryOn<E>,
    {
        match outcome {
            Ok(_) => Verdict::Won,
            Err(error) => {
                let failure = (error, |e| on.error_view(e), timed_out);
                let decide = || on.decide(error);
                self.fail(settings, || name, failure, decide, Some((num, others)), now)
            }
        }
    }

    /// [`hedge_outcome`](Self::hedge_outcome) for an adapter, whose `on` judges the whole
    /// outcome (as in [`settle`](Self::settle)).
    #[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn hedge_settle<'e, T, E, On>(
        &mut self,
        settings: &Settings,
        name: &str,
        on: &On,
        (outcome, view, timed_out): (&'e Result<T, E>, impl FnOnce() -> ErrorView<'e>, bool),
        num: u32,
        others: usize,
        now: impl FnOnce() -> Instant,
    ) -> Verdict
    where
        T: fmt::Debug,
        E: fmt::Debug,
        On: RetryOn<Result<T, E>>,
    {
        let decision = on.decide(outcome);
        let (name, attempt) = (|| name, Some((num, others)));
        match outcome {
            Ok(_) if decision == Decision::DontRetry => Verdict::Won,
            Ok(response) => {
                let failure = (response, |_| view(), timed_out);
                self.fail(settings, name, failure, || decision, attempt, now)
            }
            Err(error) => {
                let failure = (error, |_| view(), timed_out);
                self.fail(settings, name, failure, || decision, attempt, now)
            }
        }
    }

    /// The attempt a retry made due starts (its wait over): returns its number.
    pub(crate) fn launch(&mut self) -> u32 {
        self.next_attempt();
        self.num()
    }

    /// A hedged call was won by attempt `num`, which paid `paid`: refunds the budget as a
    /// success does, and tells the hooks when more than one attempt was sent.
    pub(crate) fn hedge_won(&self, settings: &Settings, name: &str, num: u32, paid: u64) {
        settings.succeeded(paid);
        if self.num() > 1 {
            instrument::hedged(name, HedgeKind::Won, num, self.num(), &settings.hooks);
        }
    }

    /// The wait is over: ends the hooks' guards, right before the next attempt, and counts it.
    #[inline]
    pub(crate) fn next_attempt(&mut self) {
        if !self.guards.0.is_empty() {
            drop(std::mem::take(&mut self.guards));
        }
        self.machine.next_attempt();
    }
}

/// What follows an attempt's outcome: in a hedged call, any of these; in other loops, a retry
/// or the end ([`Verdict::wait`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The outcome is the call's success.
    Won,
    /// The outcome is the call's failure: `on` does not retry it, or it is the last.
    End,
    /// Another attempt is due after `wait` (zero but for a server's `Retry-After`); its retry
    /// paid the budget `paid`.
    Retry { wait: Duration, paid: u64 },
    /// No attempt may start any more; the call waits for those in flight.
    Stop,
}

impl Verdict {
    /// The wait before the next attempt of a loop that is not hedged, if there is one.
    fn wait(self) -> Option<Duration> {
        match self {
            Self::Retry { wait, .. } => Some(wait),
            Self::Won | Self::End | Self::Stop => None,
        }
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("attempt", &self.num())
            .field("waited", &self.waited())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::{OnRetryHook, RetryGuard};
    use crate::{RetryBudget, RetryDetails};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    const POLICY: RetryPolicy = RetryPolicy::new()
        .attempts(3)
        .wait_jitter(Duration::ZERO)
        .timeout(Duration::from_secs(1));

    /// 503 and errors are retried; any other status is accepted.
    #[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
    fn on(outcome: &Result<u16, &str>) -> bool {
        matches!(outcome, Ok(503) | Err(_))
    }

    #[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
    fn settle(
        driver: &mut Driver,
        settings: &Settings,
        outcome: Result<u16, &str>,
        now: impl FnOnce() -> Instant,
    ) -> Option<Duration> {
        driver.settle(
            settings,
            || "call",
            &on,
            &outcome,
            ErrorView::new,
            false,
            now,
        )
    }

    #[test]
    #[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
    fn outcomes_are_retried_then_given_up_within_the_deadline() {
        let origin = Instant::now();
        let settings = Settings::new(POLICY);
        let at = |ms| move || origin + Duration::from_millis(ms);
        let mut driver = Driver::start(&POLICY, || origin);
        assert_eq!(driver.deadline(), Some(origin + Duration::from_secs(1)));
        let wait = settle(&mut driver, &settings, Ok(503), at(0));
        assert_eq!(wait, Some(Duration::from_millis(100)));
        driver.next_attempt();
        assert_eq!(driver.num(), 2);
        let wait = settle(&mut driver, &settings, Err("e"), at(100));
        assert_eq!(wait, Some(Duration::from_millis(200)));
        driver.next_attempt();
        assert_eq!(settle(&mut driver, &settings, Err("e"), at(300)), None);
        assert_eq!(driver.waited(), Duration::from_millis(300));
        // An accepted response ends the loop.
        let mut driver = Driver::start(&POLICY, || origin);
        assert_eq!(settle(&mut driver, &settings, Ok(404), at(0)), None);
        // A wait that would end at the deadline is not started.
        let mut driver = Driver::start(&POLICY, || origin);
        assert_eq!(settle(&mut driver, &settings, Ok(503), at(900)), None);
    }

    /// In a hedged call, a response `on` retries is a failure like an error, not the call's
    /// answer; a failure once no attempt may start waits for those in flight, or ends the call
    /// when none is.
    #[test]
    #[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
    fn a_hedged_response_on_retries_is_no_win() {
        let origin = Instant::now();
        let settings = Settings::new(POLICY);
        let mut driver = Driver::start(&POLICY, || origin);
        let settle = |driver: &mut Driver, outcome: Result<u16, &str>, num, others| {
            let outcome = (&outcome, ErrorView::new, false);
            driver.hedge_settle(&settings, "call", &on, outcome, num, others, || origin)
        };
        let d = &mut driver;
        assert!(matches!(settle(d, Ok(503), 1, 1), Verdict::Retry { .. }));
        assert_eq!(d.launch(), 2);
        assert_eq!(settle(d, Ok(200), 2, 1), Verdict::Won);
        assert!(matches!(settle(d, Err("e"), 2, 1), Verdict::Retry { .. }));
        assert_eq!(d.launch(), 3);
        // The attempts limit (3) is reached: wait for the one still out, or end.
        assert_eq!(settle(d, Err("e"), 3, 1), Verdict::Stop);
        assert_eq!(settle(d, Err("e"), 3, 0), Verdict::End);
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
            move |_: &RetryDetails<'_>| RetryGuard::new(Count(Arc::clone(&dropped)))
        });
        let budget = RetryBudget::quota(10, 5, 10);
        let mut settings = Settings::new(POLICY.no_timeout());
        settings.hooks.push(hook);
        settings.budget = Some(budget.clone());
        let never = || -> Instant { unreachable!("no timeout, no clock") };
        let fail = |driver: &mut Driver, retry: bool| {
            driver.failed(&settings, || "call", &|_: &&str| retry, &"e", false, never)
        };
        let mut driver = Driver::start(&settings.policy, never);
        let wait = fail(&mut driver, true);
        assert_eq!(wait, Some(Duration::from_millis(100)));
        assert_eq!(budget.available(), 5.0);
        assert_eq!(dropped.load(Ordering::SeqCst), 0, "kept over the wait");
        driver.next_attempt();
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert_eq!(
            format!("{driver:?}"),
            "Driver { attempt: 2, waited: 100ms, .. }"
        );
        driver.succeeded(&settings);
        assert_eq!(budget.available(), 10.0, "the retry's cost is refunded");
        // A loop dropped mid-wait drops its guards once.
        let mut driver = Driver::start(&settings.policy, never);
        assert_eq!(fail(&mut driver, true), Some(Duration::from_millis(100)));
        drop(driver);
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
        // A first attempt that succeeds refunds nothing it did not pay, but counts.
        let driver = Driver::start(&settings.policy, never);
        driver.succeeded(&settings);
        assert_eq!(budget.available(), 6.0);
    }
}
