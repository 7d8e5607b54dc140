//! Reusable callers: a configuration that retries whatever it is given to call.

use std::borrow::Cow;
use std::fmt;

use crate::guard::{Extras, extras_setters};
use crate::machine::{self, Step};
use crate::name::Name;
use crate::nesting;
use crate::setters::policy_setters;
use crate::{Clock, RetryOn, RetryPolicy, SystemClock};

/// A reusable retry configuration without an `on` predicate: give it one per call.
///
/// Cheap to clone and `Send + Sync` (with a `Send + Sync` clock). A call allocates nothing when
/// its first attempt succeeds, and nothing per retry with the hooks off
/// ([`set_on_retry_hooks([])`](crate::set_on_retry_hooks) and no hooks of its own); the built-in
/// `log` and `metrics` hooks allocate for each retry they report.
/// Bind an `on` predicate with [`on`](Self::on) to get a [`BoundRetryingCaller`].
///
/// # Default
///
/// [`RetryPolicy::new`]'s configuration and the [`SystemClock`].
///
/// ```
/// use std::{io, time::Duration};
///
/// let caller = stamina::RetryingCaller::new()
///     .attempts(5)
///     .wait_initial(Duration::from_millis(1))
///     .wait_jitter(Duration::ZERO);
///
/// let mut failures = 2;
/// let value = caller.call(
///     |e: &io::Error| e.kind() == io::ErrorKind::TimedOut,
///     || {
///         if failures > 0 {
///             failures -= 1;
///             return Err(io::Error::from(io::ErrorKind::TimedOut));
///         }
///         Ok("done")
///     },
/// )?;
/// assert_eq!(value, "done");
/// assert_eq!(
///     format!("{caller:?}"),
///     "RetryingCaller { attempts: 5, timeout: 45s, wait_initial: 1ms, wait_max: 5s, \
///      wait_jitter: 0s, wait_exp_base: 2, .. }",
/// );
/// # Ok::<(), io::Error>(())
/// ```
#[derive(Clone)]
#[must_use = "a RetryingCaller does nothing until it is called"]
pub struct RetryingCaller<C = SystemClock> {
    policy: RetryPolicy,
    clock: C,
    name: Option<Name>,
    extras: Extras,
}

impl RetryingCaller {
    /// A caller with the [default configuration](RetryPolicy#default).
    #[inline]
    pub const fn new() -> Self {
        Self::from_policy(RetryPolicy::new())
    }

    /// A caller with `policy`'s configuration.
    #[inline]
    pub const fn from_policy(policy: RetryPolicy) -> Self {
        Self {
            policy,
            clock: SystemClock,
            name: None,
            extras: Extras::new(),
        }
    }
}

impl Default for RetryingCaller {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> RetryingCaller<C> {
    policy_setters!();
    extras_setters!();

    /// Names the calls for instrumentation and `Debug` output. By default each call is named
    /// after the type of the function it calls (for a closure, the path of the function that
    /// contains it).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(Name::given(name));
        self
    }

    /// Makes the calls take their time from `clock` and sleep on it, such as a
    /// [`FakeClock`](crate::testing::FakeClock) in tests.
    pub fn clock<C2: Clock>(self, clock: C2) -> RetryingCaller<C2> {
        RetryingCaller {
            policy: self.policy,
            clock,
            name: self.name,
            extras: self.extras,
        }
    }

    /// Binds an `on` predicate, for a caller that only needs the function to call.
    ///
    /// ```
    /// use std::io;
    ///
    /// let caller = stamina::RetryingCaller::new().attempts(3);
    /// let on_reset = caller.on(|e: &io::Error| e.kind() == io::ErrorKind::ConnectionReset);
    /// assert_eq!(on_reset.call(|| Ok::<_, io::Error>(7))?, 7);
    /// # Ok::<(), io::Error>(())
    /// ```
    pub fn on<On>(&self, on: On) -> BoundRetryingCaller<On, C>
    where
        C: Clone,
    {
        BoundRetryingCaller {
            caller: self.clone(),
            on,
        }
    }
}

impl<C: Clock> RetryingCaller<C> {
    /// Calls `f` until it succeeds or the loop ends with its error, waiting between attempts as
    /// configured.
    ///
    /// # Errors
    ///
    /// The last error of `f`, unchanged, when the loop ends with it: `on` says it is not worth
    /// retrying, or the loop cannot retry (see [`Attempt::run`](crate::Attempt::run) for every
    /// case: attempts, time or budget used up, a wait beyond `retry_after_max`, retrying switched
    /// off or suppressed).
    ///
    /// # Panics
    ///
    /// A panic in `f`, `on` or an on-retry hook propagates unchanged.
    #[inline]
    pub fn call<T, E, On, F>(&self, on: On, f: F) -> Result<T, E>
    where
        E: fmt::Debug,
        On: RetryOn<E>,
        F: FnMut() -> Result<T, E>,
    {
        call(
            &self.policy,
            &self.clock,
            self.name.as_ref(),
            &self.extras,
            &on,
            f,
        )
    }
}

impl<C> fmt::Debug for RetryingCaller<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RetryingCaller");
        if let Some(name) = &self.name {
            d.field("name", name);
        }
        self.policy.debug_fields(&mut d);
        self.extras.debug_fields(&mut d);
        d.finish_non_exhaustive()
    }
}

/// A [`RetryingCaller`] with its `on` predicate: call it with just the function to retry.
///
/// Made by [`RetryingCaller::on`]; `Clone` when the predicate is, `Send + Sync` when the
/// predicate and clock are.
#[derive(Clone)]
#[must_use = "a BoundRetryingCaller does nothing until it is called"]
pub struct BoundRetryingCaller<On, C = SystemClock> {
    caller: RetryingCaller<C>,
    on: On,
}

/// The settings of [`RetryingCaller`], so that `.on(..)` may come anywhere in the chain.
///
/// ```
/// let caller = stamina::RetryingCaller::new()
///     .on(|_: &std::fmt::Error| true)
///     .attempts(3)
///     .name("render")
///     .on_retry(|d: &stamina::RetryDetails<'_>| eprintln!("retrying {}", d.name()));
/// assert_eq!(caller.call(|| Ok::<_, std::fmt::Error>(1))?, 1);
/// # Ok::<(), std::fmt::Error>(())
/// ```
impl<On, C> BoundRetryingCaller<On, C> {
    policy_setters!(caller.policy);
    extras_setters!(caller.extras);

    /// Names the calls (see [`RetryingCaller::name`]).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.caller = self.caller.name(name);
        self
    }

    /// Makes the calls take their time from `clock` (see [`RetryingCaller::clock`]).
    pub fn clock<C2: Clock>(self, clock: C2) -> BoundRetryingCaller<On, C2> {
        BoundRetryingCaller {
            caller: self.caller.clock(clock),
            on: self.on,
        }
    }
}

impl<On, C: Clock> BoundRetryingCaller<On, C> {
    /// Calls `f` with the bound predicate (see [`RetryingCaller::call`]).
    ///
    /// # Errors
    ///
    /// The last error of `f`, unchanged.
    #[inline]
    pub fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: fmt::Debug,
        On: RetryOn<E>,
        F: FnMut() -> Result<T, E>,
    {
        let caller = &self.caller;
        let name = caller.name.as_ref();
        call(
            &caller.policy,
            &caller.clock,
            name,
            &caller.extras,
            &self.on,
            f,
        )
    }

    /// The caller without its predicate.
    pub fn caller(&self) -> &RetryingCaller<C> {
        &self.caller
    }
}

impl<On, C> fmt::Debug for BoundRetryingCaller<On, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("BoundRetryingCaller");
        if let Some(name) = &self.caller.name {
            d.field("name", name);
        }
        self.caller.policy.debug_fields(&mut d);
        self.caller.extras.debug_fields(&mut d);
        d.field("on", &format_args!("{}", std::any::type_name::<On>()))
            .finish_non_exhaustive()
    }
}

/// The callers' loop: the state machine driven with the user's function. The success path reads
/// the clock (only with a timeout) and calls `f`; the machine is built on the first failure, and
/// the loop itself allocates nothing (the hooks it calls may).
#[inline]
pub(crate) fn call<T, E, On, C, F>(
    policy: &RetryPolicy,
    clock: &C,
    name: Option<&Name>,
    extras: &Extras,
    on: &On,
    mut f: F,
) -> Result<T, E>
where
    E: fmt::Debug,
    On: RetryOn<E>,
    C: Clock,
    F: FnMut() -> Result<T, E>,
{
    let start = machine::start_time(policy, || clock.now());
    let mut error = match nesting::in_attempt(&mut f) {
        Ok(value) => {
            machine::first_attempt_succeeded(extras.budget.as_ref());
            return Ok(value);
        }
        Err(error) => error,
    };
    let mut machine = extras.machine(policy);
    machine.start_at(machine::deadline(policy, start));
    // The name an unnamed call reports, made once rather than at every retry.
    let unnamed = Name::Static(crate::name::path_of::<F>());
    let name = Some(name.unwrap_or(&unnamed));
    loop {
        match machine.on_failure(policy, || on.decide(&error), || clock.now()) {
            Step::Retry(retry) => {
                let guards = extras.retry_scheduled::<F, E, On>(name, &retry, &error, on);
                drop(error);
                clock.sleep(retry.wait);
                // The hooks' guards live over the wait and end right before the next attempt.
                drop(guards);
                machine.next_attempt();
            }
            Step::GiveUp(give_up) => {
                extras.gave_up::<F, E, On>(name, &machine, give_up, &error, on);
                return Err(error);
            }
        }
        error = match nesting::in_attempt(&mut f) {
            Ok(value) => {
                machine.on_success();
                return Ok(value);
            }
            Err(error) => error,
        };
    }
}
