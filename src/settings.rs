//! The configuration of a retry loop: one value, [`Retrying`], embedded by every front end, with
//! its setters written once.
//!
//! The callers, contexts, tower layer and reqwest middleware are all a `Retrying` with a different
//! front end `F` (which says how the loop runs: blocking, async, as a tower service, as a
//! middleware), a predicate slot `On` ([`Unbound`], or a [`Bound`] predicate), the time `T` (a
//! [`Clock`](crate::Clock) for blocking loops, a [`Sleeper`](crate::Sleeper) for the others) and
//! the attempt timeout mode `M`. Their names (`RetryingCaller`, `RetryContext`,
//! `AsyncRetryingCaller`, ..) are aliases of it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::instrument::{IntoRetryGuard, Level, LoopHooks, ShowError};
use crate::machine::Limits;
use crate::name::Name;
use crate::timeout::{AttemptTimeout, AttemptTimeoutKind, NoAttemptTimeout};
use crate::{
    ConfigError, DefaultSleeper, Hedging, Jitter, OnRetryHook, RetryBudget, RetryDetails,
    RetryPolicy, Sleeper,
};

/// What a loop is configured with besides its predicate and its time: what the loop driver
/// reads at every failure.
#[derive(Clone, Default)]
pub(crate) struct Settings {
    pub(crate) policy: RetryPolicy,
    pub(crate) name: Option<Name>,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) hooks: LoopHooks,
    pub(crate) suppress_nested: Option<bool>,
    /// Behind a reference count: a loop's state holds its settings, and stays as small.
    pub(crate) hedging: Option<Arc<Hedging>>,
}

impl Settings {
    pub(crate) const fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            name: None,
            budget: None,
            hooks: LoopHooks::new(),
            suppress_nested: None,
            hedging: None,
        }
    }

    /// What bounds the loop besides its policy, for the state machine.
    pub(crate) fn limits(&self, deadline: Option<Instant>) -> Limits<'_> {
        Limits {
            budget: self.budget.as_ref(),
            suppress_nested: self.suppress_nested,
            deadline,
        }
    }

    /// An attempt succeeded: refunds the budget, if any, what its retry paid (0 for a first
    /// attempt, whose success only counts).
    #[inline]
    pub(crate) fn succeeded(&self, paid: u64) {
        if let Some(budget) = &self.budget {
            budget.on_success(paid);
        }
    }

    /// The name the loop reports: the one given, else `default`'s.
    pub(crate) fn name_or_else(&self, default: impl FnOnce() -> &'static str) -> &str {
        match &self.name {
            Some(name) => name.as_str(),
            None => default(),
        }
    }

    /// Adds the settings to a `Debug` struct: the name, the policy, then what is set.
    pub(crate) fn debug_fields(&self, d: &mut fmt::DebugStruct<'_, '_>) {
        if let Some(name) = &self.name {
            d.field("name", &name.as_str());
        }
        let _ = self.policy.fields(|key, value| {
            d.field(key, &format_args!("{value}"));
            Ok(())
        });
        if let Some(budget) = &self.budget {
            d.field("budget", budget);
        }
        if let Some(suppress) = self.suppress_nested {
            d.field("suppress_nested", &suppress);
        }
        if let Some(hedging) = &self.hedging {
            d.field("hedge", hedging);
        }
        self.hooks.debug_fields(d);
    }
}

/// A retry loop's configuration, for one front end.
///
/// Every way of running a loop is this one type with another front end `F`, and the aliases
/// name them:
///
/// | alias | front end | predicate | runs |
/// |---|---|---|---|
/// | [`RetryContext`](crate::RetryContext) | [`Blocking`] | bound | `for attempt in ..`, `.call(f)`, [`into_stream`](Self::into_stream) |
/// | [`RetryingCaller`](crate::RetryingCaller) | [`Blocking`] | [`Unbound`] | `.call(on, f)` |
/// | [`AsyncRetryingCaller`](crate::AsyncRetryingCaller) | [`Async`] | [`Unbound`] | `.call(on, f).await`, `.call_mut(on, f).await` |
/// | [`AsyncRetryContext`](crate::AsyncRetryContext) | [`Async`] | bound | `.call(f).await`, `.call_mut(f).await`, [`into_stream`](Self::into_stream) |
/// | `tower::RetryLayer` | a tower layer | bound | a `tower::Layer` (feature `tower`) |
/// | `reqwest_middleware::RetryMiddleware` | a middleware | bound | a `reqwest_middleware::Middleware` (feature `reqwest-middleware`) |
///
/// The setters below apply to all of them, and [`on`](Self::on) binds (or replaces) the
/// predicate anywhere in a chain. Each setter returns the configuration changed, so a
/// configuration is built once (in a `static`, a field) and cloned or borrowed per call.
///
/// ```
/// use std::{io, time::Duration};
///
/// let caller = stamina::RetryingCaller::new()
///     .attempts(5)
///     .timeout(Duration::from_secs(10))
///     .name("fetch")
///     .on(|e: &io::Error| e.kind() == io::ErrorKind::TimedOut)
///     .wait_initial(Duration::from_millis(10));
/// assert_eq!(caller.call(|| Ok::<_, io::Error>(7))?, 7);
/// # Ok::<(), io::Error>(())
/// ```
#[derive(Clone)]
#[must_use = "a retry configuration does nothing until it is called or iterated"]
pub struct Retrying<F, On, T, M = NoAttemptTimeout> {
    pub(crate) settings: Settings,
    pub(crate) on: On,
    pub(crate) time: T,
    pub(crate) mode: M,
    pub(crate) front: F,
}

/// The predicate slot of a configuration that has none yet: its loops take the predicate per
/// call (`caller.call(on, f)`), or bind one with [`Retrying::on`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unbound;

/// The predicate slot of a configuration with its predicate `On`, bound with [`Retrying::on`]
/// or given to [`retry_context`](crate::retry_context).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bound<On>(pub(crate) On);

/// The front end of blocking loops: the [`RetryContext`](crate::RetryContext) iterator and the
/// blocking callers, which wait on a [`Clock`](crate::Clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blocking;

/// The front end of async loops: the async callers and contexts, which wait on a
/// [`Sleeper`](crate::Sleeper).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Async;

pub(crate) mod sealed {
    //! Public in a private module: nameable by the public traits, implementable only here.
    #![allow(unreachable_pub)]

    pub trait Sealed {}
}

/// How a [`Retrying`] configuration runs its loops: [`Blocking`], [`Async`], or an adapter's.
/// Sealed: it shows up in bounds only.
pub trait Front: sealed::Sealed {
    /// The configuration's name in `Debug` output, without and with a bound predicate.
    #[doc(hidden)]
    const NAMES: [&'static str; 2];

    /// Whether the loops can cut an attempt at its timeout, with attempt timeout mode `M`.
    #[doc(hidden)]
    fn cuts<M: AttemptTimeoutKind>() -> bool {
        M::CUTS
    }
}

impl sealed::Sealed for Blocking {}
impl Front for Blocking {
    const NAMES: [&'static str; 2] = ["RetryingCaller", "RetryContext"];
}

impl sealed::Sealed for Async {}
impl Front for Async {
    const NAMES: [&'static str; 2] = ["AsyncRetryingCaller", "AsyncRetryContext"];
}

/// The front ends whose loops wait on a [`Sleeper`] and can cut attempts: all but [`Blocking`].
/// Sealed: it shows up in bounds only.
pub trait Waits: Front {}
impl Waits for Async {}

/// The setters every front end shares.
impl<F: Front, On, T, M: AttemptTimeoutKind> Retrying<F, On, T, M> {
    /// Replaces the whole [`RetryPolicy`] (a `const`, one parsed from a config string).
    ///
    /// # Panics
    ///
    /// If `policy` has an [attempt timeout](RetryPolicy::attempt_timeout) that these loops
    /// cannot apply: a blocking loop cannot cut an attempt short, and an async loop or tower
    /// layer only once its own `attempt_timeout` setter has made its error type convert from
    /// [`AttemptTimedOut`](crate::AttemptTimedOut). Use [`try_policy`](Self::try_policy) for a
    /// policy that comes from outside.
    #[track_caller]
    pub fn policy(self, policy: RetryPolicy) -> Self {
        match self.try_policy(policy) {
            Ok(this) => this,
            Err(err) => panic!("stamina: {err}"),
        }
    }

    /// Replaces the whole [`RetryPolicy`], or tells why these loops cannot apply it (see
    /// [`policy`](Self::policy)).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for the key `attempt_timeout` when `policy` has an attempt timeout that
    /// these loops cannot apply.
    ///
    /// ```
    /// let policy: stamina::RetryPolicy = "attempts=3 attempt_timeout=2s".parse()?;
    /// let err = stamina::RetryingCaller::new().try_policy(policy).unwrap_err();
    /// assert_eq!(err.key(), Some("attempt_timeout"));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "attempt_timeout cannot apply here: a blocking loop cannot cut an attempt short, \
    ///      and an async one only after its own `attempt_timeout` setter",
    /// );
    /// # Ok::<(), stamina::ConfigError>(())
    /// ```
    pub fn try_policy(mut self, policy: RetryPolicy) -> Result<Self, ConfigError> {
        if policy.get_attempt_timeout().is_some() && !F::cuts::<M>() {
            return Err(ConfigError::attempt_timeout_refused());
        }
        self.settings.policy = policy;
        Ok(self)
    }

    /// The configuration's policy.
    pub fn get_policy(&self) -> &RetryPolicy {
        &self.settings.policy
    }

    fn with_policy(mut self, change: impl FnOnce(RetryPolicy) -> RetryPolicy) -> Self {
        self.settings.policy = change(self.settings.policy);
        self
    }

    /// Makes at most `attempts` calls, the first one included; `0` behaves as `1` (see
    /// [`RetryPolicy::attempts`]).
    pub fn attempts(self, attempts: u32) -> Self {
        self.with_policy(|p| p.attempts(attempts))
    }

    /// Removes the attempts limit (see [`RetryPolicy::unlimited_attempts`]).
    pub fn unlimited_attempts(self) -> Self {
        self.with_policy(RetryPolicy::unlimited_attempts)
    }

    /// Sets the total time budget (see [`RetryPolicy::timeout`]).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with_policy(|p| p.timeout(timeout))
    }

    /// Removes the total time budget (see [`RetryPolicy::no_timeout`]).
    pub fn no_timeout(self) -> Self {
        self.with_policy(RetryPolicy::no_timeout)
    }

    /// Sets the exponential part of the first wait (see [`RetryPolicy::wait_initial`]).
    pub fn wait_initial(self, wait: Duration) -> Self {
        self.with_policy(|p| p.wait_initial(wait))
    }

    /// Sets the cap on computed waits (see [`RetryPolicy::wait_max`]).
    pub fn wait_max(self, wait: Duration) -> Self {
        self.with_policy(|p| p.wait_max(wait))
    }

    /// Sets the upper bound of the jitter (see [`RetryPolicy::wait_jitter`]).
    pub fn wait_jitter(self, jitter: Duration) -> Self {
        self.with_policy(|p| p.wait_jitter(jitter))
    }

    /// Sets the growth factor of the waits (see [`RetryPolicy::wait_exp_base`]).
    ///
    /// # Panics
    ///
    /// If `base` is NaN, infinite or smaller than 1.
    #[track_caller]
    pub fn wait_exp_base(self, base: f64) -> Self {
        self.with_policy(|p| p.wait_exp_base(base))
    }

    /// Sets the growth factor of the waits, or tells why it cannot work (see
    /// [`RetryPolicy::try_wait_exp_base`]).
    ///
    /// # Errors
    ///
    /// If `base` is NaN, infinite or smaller than 1.
    pub fn try_wait_exp_base(mut self, base: f64) -> Result<Self, ConfigError> {
        self.settings.policy = self.settings.policy.try_wait_exp_base(base)?;
        Ok(self)
    }

    /// Chooses the jitter family (see [`RetryPolicy::jitter`]).
    pub fn jitter(self, jitter: Jitter) -> Self {
        self.with_policy(|p| p.jitter(jitter))
    }

    /// Sets a ceiling on waits asked for by the `on` predicate (see
    /// [`RetryPolicy::retry_after_max`]).
    pub fn retry_after_max(self, ceiling: Duration) -> Self {
        self.with_policy(|p| p.retry_after_max(ceiling))
    }

    /// Removes the ceiling on waits asked for by the `on` predicate (see
    /// [`RetryPolicy::no_retry_after_max`]).
    pub fn no_retry_after_max(self) -> Self {
        self.with_policy(RetryPolicy::no_retry_after_max)
    }

    /// Seeds the jitter's random number generator (see [`RetryPolicy::seed`]).
    pub fn seed(self, seed: u64) -> Self {
        self.with_policy(|p| p.seed(seed))
    }

    /// Removes the seed (see [`RetryPolicy::no_seed`]).
    pub fn no_seed(self) -> Self {
        self.with_policy(RetryPolicy::no_seed)
    }

    /// Names the loops for instrumentation and `Debug` output. Without a name, a loop is named
    /// after its code (see [`Event::name`](crate::instrument::Event::name)); name every loop that feeds a dashboard.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.settings.name = Some(Name::given(name));
        self
    }

    /// Makes every retry pay from a shared [`RetryBudget`] (see its docs): when it cannot, the
    /// loop ends with the last error. Clones share the budget.
    pub fn budget(mut self, budget: &RetryBudget) -> Self {
        self.settings.budget = Some(budget.clone());
        self
    }

    /// With `true`, a loop makes a single attempt when it runs inside an attempt of another
    /// loop; with `false`, it retries even then. Without a choice, the process-wide
    /// [`set_suppress_nested`](crate::set_suppress_nested) decides (see
    /// [`nesting`](crate::nesting)).
    pub fn suppress_nested(mut self, suppress: bool) -> Self {
        self.settings.suppress_nested = Some(suppress);
        self
    }

    /// Adds a hook of these loops' own, called for every scheduled retry after the
    /// process-wide hooks (see the [`instrument`](crate::instrument) module). It may return a
    /// [`RetryGuard`](crate::RetryGuard), which lives over the wait.
    pub fn on_retry<H, R>(self, hook: H) -> Self
    where
        H: Fn(&RetryDetails<'_>) -> R + Send + Sync + 'static,
        R: IntoRetryGuard,
    {
        self.on_retry_hook(OnRetryHook::new(hook))
    }

    /// Adds a prepared hook of these loops' own, such as a [lazy](OnRetryHook::lazy) one or one
    /// with a give-up handler (see [`on_retry`](Self::on_retry)).
    pub fn on_retry_hook(mut self, hook: OnRetryHook) -> Self {
        self.settings.hooks.push(hook);
        self
    }

    /// Sets what the built-in hooks show of these loops' errors, over the process-wide
    /// [`set_show_error`](crate::instrument::set_show_error) (see [`ShowError`]: by default
    /// the error's type only, as an error's own output may carry secrets).
    pub fn show_error(mut self, show: ShowError) -> Self {
        self.settings.hooks.show_error = Some(show);
        self
    }

    /// Sets the level of the built-in hooks' records and events for these loops, over the
    /// process-wide [`set_level`](crate::instrument::set_level) (warn by default).
    pub fn log_level(mut self, level: Level) -> Self {
        self.settings.hooks.level = Some(level);
        self
    }

    /// Binds the `on` predicate (or replaces the bound one), anywhere in a chain of setters.
    ///
    /// ```
    /// let caller = stamina::RetryingCaller::new().attempts(3);
    /// let bound = caller.clone().on(|e: &std::fmt::Error| true);
    /// assert_eq!(bound.call(|| Ok::<_, std::fmt::Error>(1))?, 1);
    /// # Ok::<(), std::fmt::Error>(())
    /// ```
    pub fn on<P>(self, on: P) -> Retrying<F, Bound<P>, T, M> {
        Retrying {
            settings: self.settings,
            on: Bound(on),
            time: self.time,
            mode: self.mode,
            front: self.front,
        }
    }
}

/// The setters of the front ends that wait on a [`Sleeper`].
impl<F: Waits, On, T, M> Retrying<F, On, T, M> {
    /// Hedges each call: when an attempt has not answered within the delay `hedging` says,
    /// another copy is sent (up to its [`max_in_flight`](Hedging::max_in_flight)), and the first
    /// acceptable answer wins; the others are dropped (cancelled) at once. For idempotent calls
    /// only: the same request may reach the server several times.
    ///
    /// What holds for retries holds for hedges:
    ///
    /// - every attempt sent counts towards [`attempts`](Self::attempts), and none starts after
    ///   the deadline, which cuts the attempts in flight where attempts can be cut (with an
    ///   [`attempt_timeout`](Self::attempt_timeout), and always in the reqwest middleware);
    /// - every hedge pays the [budget](Self::budget) as a retry does and is not sent when the
    ///   budget refuses; the attempt that wins refunds it as a success does;
    /// - an outcome that `on` does not retry ends the call with it, and drops the others; a
    ///   failure it retries lets the next attempt start at once (no backoff wait); a
    ///   `Retry-After` from any attempt holds every start until then (and past the deadline,
    ///   ends the starts); when every attempt has failed and none may start, the call returns
    ///   the last failure;
    /// - a request that cannot be copied (adapters) is sent once; a nested loop with
    ///   suppression on, and a loop with retrying switched off, make one attempt;
    /// - in [testing mode](crate::switches#testing-mode) hedges are off (the attempts run one
    ///   after another, with no wait) unless [`Testing::hedges`](crate::testing::Testing::hedges)
    ///   keeps them;
    /// - the hooks hear of every hedge sent and of a call won by another attempt than the first
    ///   ([`HedgeDetails`](crate::instrument::HedgeDetails)); the `metrics` hook counts
    ///   `stamina_hedges_total`.
    ///
    /// The async callers hedge [`call`](crate::AsyncRetryingCaller::call), whose closure makes
    /// independent futures; [`call_mut`](crate::AsyncRetryingCaller::call_mut), whose futures
    /// borrow the closure, and the attempt streams run one attempt at a time. Each attempt of a
    /// hedged call is boxed (one allocation per attempt).
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::Hedging;
    ///
    /// # #[cfg(feature = "tokio")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let caller = stamina::AsyncRetryingCaller::new().hedge(Hedging::after(Duration::from_millis(50)));
    /// let started = tokio::time::Instant::now();
    /// let mut calls = 0;
    /// let answer = caller
    ///     .call(|_: &std::io::Error| true, || {
    ///         calls += 1;
    ///         // The first attempt is slow: the hedge sent at 50 ms answers at 60 ms.
    ///         let took = if calls == 1 { 1000 } else { 10 };
    ///         async move {
    ///             tokio::time::sleep(Duration::from_millis(took)).await;
    ///             Ok::<_, std::io::Error>(took)
    ///         }
    ///     })
    ///     .await;
    /// assert_eq!(answer.unwrap(), 10);
    /// assert_eq!(started.elapsed(), Duration::from_millis(60));
    /// # }
    /// # #[cfg(not(feature = "tokio"))]
    /// # fn main() {}
    /// ```
    pub fn hedge(mut self, hedging: Hedging) -> Self {
        self.settings.hedging = Some(Arc::new(hedging));
        self
    }

    /// Turns hedging off (the default).
    pub fn no_hedge(mut self) -> Self {
        self.settings.hedging = None;
        self
    }

    /// The hedging in force, if any.
    pub fn get_hedging(&self) -> Option<&Hedging> {
        self.settings.hedging.as_deref()
    }

    /// Makes the loops wait on `sleeper` and measure their deadline on its clock: a sleeper
    /// for another runtime, or a [`FakeSleeper`](crate::testing::FakeSleeper) in tests.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::testing::FakeSleeper;
    ///
    /// let sleeper = FakeSleeper::new();
    /// let caller = stamina::AsyncRetryingCaller::new()
    ///     .attempts(3)
    ///     .wait_jitter(Duration::ZERO)
    ///     .sleeper(sleeper.clone());
    /// let result = futures::executor::block_on(
    ///     caller.call(|_: &std::fmt::Error| true, || async { Err::<(), _>(std::fmt::Error) }),
    /// );
    /// assert_eq!(result, Err(std::fmt::Error));
    /// assert_eq!(sleeper.sleeps(), [100, 200].map(Duration::from_millis));
    /// ```
    pub fn sleeper<S: Sleeper>(self, sleeper: S) -> Retrying<F, On, S, M> {
        Retrying {
            settings: self.settings,
            on: self.on,
            time: sleeper,
            mode: self.mode,
            front: self.front,
        }
    }

    /// Cancels (drops) each attempt after `timeout`, or at the loop's deadline if that comes
    /// first, and makes it fail with [`AttemptTimedOut`](crate::AttemptTimedOut) converted into
    /// the loop's error type, which `on` then classifies like any other error.
    ///
    /// From then on the loops require `E: From<AttemptTimedOut>` of their error type `E`
    /// (`std::io::Error` and boxed errors convert); loops without an attempt timeout accept any
    /// error type. A tower [`RetryLayer`](crate::tower::RetryLayer)'s service returns its errors
    /// boxed instead (`tower::BoxError`, as tower's own timeout does), so that any error that
    /// converts into one works (see [`ErrorMode`](crate::tower::ErrorMode)); the reqwest
    /// middleware's are `reqwest_middleware::Error`s as always. Without it, a hung call can
    /// eat the whole budget. The timeout applies in [testing mode](crate::switches#testing-mode)
    /// too, which ignores the total timeout only. It is the policy's
    /// [`attempt_timeout`](RetryPolicy::attempt_timeout), which a policy given later replaces.
    ///
    /// ```
    /// use std::{io, time::Duration};
    ///
    /// # #[cfg(feature = "tokio")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let result = stamina::AsyncRetryingCaller::new()
    ///     .attempts(2)
    ///     .attempt_timeout(Duration::from_secs(1))
    ///     .call(|e: &io::Error| e.kind() == io::ErrorKind::TimedOut, || std::future::pending::<io::Result<()>>())
    ///     .await;
    /// assert_eq!(result.unwrap_err().to_string(), "attempt timed out after 1s");
    /// # }
    /// # #[cfg(not(feature = "tokio"))]
    /// # fn main() {}
    /// ```
    pub fn attempt_timeout(self, timeout: Duration) -> Retrying<F, On, T, AttemptTimeout> {
        let mut settings = self.settings;
        settings.policy = settings.policy.attempt_timeout(timeout);
        Retrying {
            settings,
            on: self.on,
            time: self.time,
            mode: AttemptTimeout,
            front: self.front,
        }
    }
}

impl<On, T, M> Retrying<Blocking, On, T, M> {
    /// Makes the loops take their time from `clock` and sleep on it, such as a
    /// [`FakeClock`](crate::testing::FakeClock) in tests.
    pub fn clock<C: crate::Clock>(self, clock: C) -> Retrying<Blocking, On, C, M> {
        Retrying {
            settings: self.settings,
            on: self.on,
            time: clock,
            mode: self.mode,
            front: self.front,
        }
    }

    /// Cancels every attempt after `timeout`, or at the deadline if that comes first (see
    /// [`Retrying::attempt_timeout`]): a blocking attempt cannot be cut short, so the
    /// configuration becomes an async one, which waits on the [`DefaultSleeper`] (or
    /// [`sleeper`](Retrying::sleeper)) and runs as a stream ([`into_stream`](Self::into_stream))
    /// or an async call.
    ///
    /// ```
    /// use std::{io, time::Duration};
    ///
    /// # #[cfg(feature = "tokio")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut attempts = stamina::retry_context(|e: &io::Error| e.kind() == io::ErrorKind::TimedOut)
    ///     .attempts(2)
    ///     .attempt_timeout(Duration::from_secs(1))
    ///     .into_stream();
    /// let mut last = Ok(None);
    /// while let Some(attempt) = attempts.next().await {
    ///     last = attempt.run(|| std::future::pending::<io::Result<()>>()).await;
    /// }
    /// assert_eq!(last.unwrap_err().kind(), io::ErrorKind::TimedOut);
    /// # }
    /// # #[cfg(not(feature = "tokio"))]
    /// # fn main() {}
    /// ```
    pub fn attempt_timeout(
        self,
        timeout: Duration,
    ) -> Retrying<Async, On, DefaultSleeper, AttemptTimeout> {
        Retrying {
            settings: self.settings,
            on: self.on,
            time: DefaultSleeper {},
            mode: self.mode,
            front: Async,
        }
        .attempt_timeout(timeout)
    }
}

impl<F: Front, T, M: AttemptTimeoutKind> fmt::Debug for Retrying<F, Unbound, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(F::NAMES[0]);
        self.settings.debug_fields(&mut d);
        d.finish_non_exhaustive()
    }
}

impl<F: Front, On, T, M: AttemptTimeoutKind> fmt::Debug for Retrying<F, Bound<On>, T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(F::NAMES[1]);
        self.settings.debug_fields(&mut d);
        d.field("on", &format_args!("{}", std::any::type_name::<On>()))
            .finish_non_exhaustive()
    }
}
