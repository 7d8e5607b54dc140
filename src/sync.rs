//! The blocking front ends: `retry_context`'s iterator of attempt guards, and the callers.

use std::fmt;
use std::iter::FusedIterator;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::driver::Driver;
use crate::guard::{Advance, Guard, Handle, Shared};
use crate::machine;
use crate::name::{self, Name};
use crate::settings::{Blocking, Bound, Retrying, Settings, Unbound};
use crate::{Clock, NoAttemptTimeout, RetryOn, RetryPolicy, SystemClock, nesting};

/// A blocking retry loop with its `on` predicate: iterate it as [`Attempt`] guards, or
/// [`call`](Retrying::call) a function through it. Made by [`retry_context`], or by binding a
/// predicate to a [`RetryingCaller`] with [`on`](Retrying::on).
///
/// # Default
///
/// [`RetryPolicy::new`]'s configuration and the [`SystemClock`]. See [`Retrying`] for the
/// setters.
pub type RetryContext<On, C = SystemClock> = Retrying<Blocking, Bound<On>, C, NoAttemptTimeout>;

/// A reusable blocking retry configuration without an `on` predicate: give it one per call
/// ([`call`](Retrying::call)), or bind one with [`on`](Retrying::on).
///
/// Cheap to clone and `Send + Sync` (with a `Send + Sync` clock). A call allocates nothing when
/// its first attempt succeeds, nor per retry with the hooks off (see [what the default hooks
/// allocate](crate::instrument#what-the-default-hooks-allocate)).
///
/// # Default
///
/// [`RetryPolicy::new`]'s configuration and the [`SystemClock`]. See [`Retrying`] for the
/// setters.
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
pub type RetryingCaller<C = SystemClock> = Retrying<Blocking, Unbound, C, NoAttemptTimeout>;

/// Starts a retry loop that retries on the errors for which `on` says so.
///
/// The returned [`RetryContext`] is a builder (see [`Retrying`] for its setters) that iterates
/// as [`Attempt`] guards. Run the code to retry through [`Attempt::run`]; its result says how the
/// loop goes on:
///
/// | `run` returns | meaning | the loop |
/// |---|---|---|
/// | `Ok(Some(value))` | the attempt succeeded | ends |
/// | `Ok(None)` | the attempt failed with an error worth retrying | waits, then yields the next attempt |
/// | `Err(error)` | the error is not worth retrying, or the loop cannot retry (attempts, time or budget used up, a server wait beyond `retry_after_max`, retrying switched off or suppressed; see [`Attempt::run`]) | ends; `?` passes the error on unchanged |
///
/// ```
/// use std::{io, time::Duration};
///
/// struct Connection { failures_left: u32 }
///
/// impl Connection {
///     fn query(&mut self) -> io::Result<u32> {
///         if self.failures_left > 0 {
///             self.failures_left -= 1;
///             return Err(io::ErrorKind::ConnectionReset.into());
///         }
///         Ok(42)
///     }
/// }
///
/// fn is_transient(error: &io::Error) -> bool {
///     error.kind() == io::ErrorKind::ConnectionReset
/// }
///
/// fn answer(conn: &mut Connection) -> io::Result<u32> {
///     let mut answer = None;
///     for attempt in stamina::retry_context(is_transient)
///         .attempts(3)
///         .wait_initial(Duration::from_millis(1))
///         .wait_jitter(Duration::ZERO)
///     {
///         // The body is your own code: it may borrow `conn` mutably, log, use `?` on errors.
///         answer = attempt.run(|| conn.query())?;
///     }
///     // `None` only if the body skipped `run` (see below).
///     answer.ok_or_else(|| io::Error::other("no attempt recorded an outcome"))
/// }
///
/// assert_eq!(answer(&mut Connection { failures_left: 2 })?, 42);
/// let err = answer(&mut Connection { failures_left: 3 }).unwrap_err();
/// assert_eq!(err.kind(), io::ErrorKind::ConnectionReset); // the last error, unchanged
/// # Ok::<(), io::Error>(())
/// ```
///
/// A `continue` (or `break`) before `run` drops the attempt, which ends the loop as a success
/// would: keep the outcome in a variable, as above, so that such a loop ends with an error of
/// yours rather than a panic after the loop.
///
/// Unless given a [`name`](Retrying::name), the context is named after the function that
/// holds its `on` closure (`app::Client::fetch`), or, when `on` is not a closure, the file of the
/// call (`src/client.rs`): names that edits elsewhere in the file do not change, so they can label
/// a time series. Name every loop that feeds a dashboard.
#[track_caller]
pub fn retry_context<On>(on: On) -> RetryContext<On> {
    let mut context = RetryingCaller::new().on(on);
    context.settings.name = Some(Name::for_loop::<On>(Location::caller().file()));
    context
}

impl RetryingCaller {
    /// A caller with the [default configuration](RetryPolicy#default).
    #[inline]
    pub const fn new() -> Self {
        Self::from_policy(RetryPolicy::new())
    }

    /// A caller with `policy`'s configuration.
    ///
    /// # Panics
    ///
    /// If `policy` has an [attempt timeout](RetryPolicy::attempt_timeout), which a blocking
    /// loop cannot apply (see [`Retrying::try_policy`]).
    #[inline]
    pub const fn from_policy(policy: RetryPolicy) -> Self {
        assert!(
            policy.get_attempt_timeout().is_none(),
            "stamina: a blocking caller cannot cut an attempt short: its policy must have no attempt_timeout",
        );
        Retrying {
            settings: Settings::new(policy),
            on: Unbound,
            time: SystemClock,
            mode: NoAttemptTimeout,
            front: Blocking,
        }
    }
}

impl Default for RetryingCaller {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> RetryingCaller<C> {
    /// Calls `f` until it succeeds or the loop ends with its error, waiting between attempts on
    /// the clock. Unless the caller is [named](Retrying::name), each call is named after the
    /// type of `f` (for a closure, the path of the function that contains it).
    ///
    /// # Errors
    ///
    /// The last error of `f`, unchanged, when the loop ends with it: `on` says it is not worth
    /// retrying, or the loop cannot retry (see [`Attempt::run`] for every case).
    ///
    /// # Panics
    ///
    /// A panic in `f`, `on` or an on-retry hook propagates unchanged.
    pub fn call<T, E, On, F>(&self, on: On, f: F) -> Result<T, E>
    where
        E: fmt::Debug,
        On: RetryOn<E>,
        F: FnMut() -> Result<T, E>,
    {
        call(&self.settings, &self.time, &on, f)
    }
}

impl<On, C: Clock> RetryContext<On, C> {
    /// Calls `f` with the bound predicate until it succeeds or the loop ends with its error (see
    /// [`RetryingCaller::call`]).
    ///
    /// ```
    /// use std::io;
    ///
    /// let caller = stamina::RetryingCaller::new().attempts(3);
    /// let on_reset = caller.on(|e: &io::Error| e.kind() == io::ErrorKind::ConnectionReset);
    /// assert_eq!(on_reset.call(|| Ok::<_, io::Error>(7))?, 7);
    /// # Ok::<(), io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The last error of `f`, unchanged.
    pub fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: fmt::Debug,
        On: RetryOn<E>,
        F: FnMut() -> Result<T, E>,
    {
        call(&self.settings, &self.time, &self.on.0, f)
    }
}

/// The blocking callers' loop over the driver. The first attempt is made here, inlined into the
/// caller, and reads the clock only with a timeout; the retries go out of line.
#[inline]
pub(crate) fn call<T, E, On, C, F>(
    settings: &Settings,
    clock: &C,
    on: &On,
    mut f: F,
) -> Result<T, E>
where
    E: fmt::Debug,
    On: RetryOn<E>,
    C: Clock,
    F: FnMut() -> Result<T, E>,
{
    // Only the start is read here: the deadline is worked out if the attempt fails.
    let started = settings.policy.get_timeout().map(|_| clock.now());
    match nesting::in_attempt(&mut f) {
        Ok(value) => {
            settings.succeeded(0);
            Ok(value)
        }
        Err(error) => retry(started, settings, clock, on, f, error),
    }
}

/// The retries of a blocking call whose first attempt, `started` then (with a timeout), failed
/// with `error`.
#[inline(never)]
fn retry<T, E, On, C, F>(
    started: Option<Instant>,
    settings: &Settings,
    clock: &C,
    on: &On,
    mut f: F,
    mut error: E,
) -> Result<T, E>
where
    E: fmt::Debug,
    On: RetryOn<E>,
    C: Clock,
    F: FnMut() -> Result<T, E>,
{
    let deadline = started.and_then(|started| machine::deadline(&settings.policy, || started));
    let mut driver = Driver::after_first(&settings.policy, deadline);
    let name = || settings.name_or_else(name::path_of::<F>);
    loop {
        let Some(wait) = driver.failed(settings, name, on, &error, false, || clock.now()) else {
            return Err(error);
        };
        drop(error);
        clock.sleep(wait);
        // The hooks' guards lived over the wait and end right before the next attempt.
        driver.next_attempt();
        error = match nesting::in_attempt(&mut f) {
            Ok(value) => {
                driver.succeeded(settings);
                return Ok(value);
            }
            Err(error) => error,
        };
    }
}

impl<On, C: Clock> IntoIterator for RetryContext<On, C> {
    type Item = Attempt<On, C>;
    type IntoIter = Attempts<On, C>;

    #[track_caller]
    fn into_iter(self) -> Self::IntoIter {
        Attempts {
            shared: Some(Shared::for_loop(self.settings, self.on.0, self.time)),
        }
    }
}

/// The iterator of [`Attempt`] guards of a [`RetryContext`].
///
/// It yields the first attempt at once; after an attempt that recorded a retryable failure, it
/// sleeps on the loop's clock, then yields the next. It ends (and stays ended) after a success,
/// after an error that ends the loop, and after an attempt that was dropped without recording an
/// outcome, which counts as a success: like leaving a Python `with attempt:` block without an
/// exception, nothing failed, so there is nothing to retry. Such an attempt (dropped, left with
/// `break`, or still held when the next one is asked for) refills a shared
/// [`RetryBudget`](crate::RetryBudget) as a recorded success does; an attempt dropped by a
/// panic ends the loop without counting as a success.
///
/// The iterator and its guards share one allocation, made when iteration starts; attempts
/// allocate nothing more with the hooks off (see [what the default hooks
/// allocate](crate::instrument#what-the-default-hooks-allocate)).
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Attempts<On, C = SystemClock> {
    // `None` once the loop is over.
    shared: Option<Handle<On, C>>,
}

impl<On, C: Clock> Iterator for Attempts<On, C> {
    type Item = Attempt<On, C>;

    fn next(&mut self) -> Option<Self::Item> {
        let shared = self.shared.as_mut()?;
        let num = match Shared::advance(shared, C::now) {
            Advance::Attempt(num) => num,
            Advance::Wait(wait) => {
                shared.time.sleep(wait);
                Shared::resume(shared)
            }
            Advance::End => {
                self.shared = None;
                return None;
            }
        };
        Some(Attempt {
            guard: Guard::new(shared, num),
        })
    }
}

impl<On, C> Drop for Attempts<On, C> {
    fn drop(&mut self) {
        if let Some(shared) = &mut self.shared {
            Shared::finish(shared);
        }
    }
}

impl<On, C: Clock> FusedIterator for Attempts<On, C> {}

impl<On, C> fmt::Debug for Attempts<On, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Attempts");
        match &self.shared {
            Some(shared) => shared.debug_fields(&mut d),
            None => {
                d.field("ended", &true);
            }
        }
        d.finish_non_exhaustive()
    }
}

/// One attempt of a retry loop: run the code to retry through [`run`](Self::run) (or pass its
/// result to [`record`](Self::record)).
///
/// A guard dropped without recording an outcome counts as a success: it ends the loop and
/// refills a shared budget as a recorded success does (see [`Attempts`]).
#[must_use = "record the attempt's outcome with `run` or `record`, or the loop ends"]
pub struct Attempt<On, C = SystemClock> {
    guard: Guard<On, C>,
}

impl<On, C: Clock> Attempt<On, C> {
    /// The number of this attempt, starting at 1.
    pub fn num(&self) -> u32 {
        self.guard.num()
    }

    /// The lower bound of the computed wait that follows if this attempt fails with a retryable
    /// error: with the default jitter, the jitter-free
    /// `min(wait_max, wait_initial * wait_exp_base^(num - 1))` (see [`Jitter`](crate::Jitter) for
    /// the other families); zero in testing mode.
    pub fn next_wait(&self) -> Duration {
        self.guard.next_wait()
    }

    /// The time left before the loop's deadline, on the loop's clock; `None` without a timeout
    /// and in testing mode (which ignores it).
    ///
    /// Propagate it so that an attempt does not outlive the loop: as a request timeout, a
    /// deadline header, a lock timeout.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// for attempt in stamina::retry_context(|_: &std::io::Error| true).timeout(Duration::from_secs(10)) {
    ///     let left = attempt.remaining().unwrap();
    ///     assert!(left <= Duration::from_secs(10));
    ///     attempt.run(|| Ok::<_, std::io::Error>(left))?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        self.guard.remaining(C::now)
    }

    /// The name the loop reports itself under.
    pub fn name(&self) -> String {
        self.guard.shared().name().to_owned()
    }

    /// Runs `f` as this attempt and records its outcome.
    ///
    /// Returns `Ok(Some(value))` on success, `Ok(None)` when the error is retryable and another
    /// attempt follows (the error is dropped), and `Err(error)`, unchanged, when the loop ends
    /// with it.
    ///
    /// # Errors
    ///
    /// The error of `f`, when the loop ends with it, which happens when:
    ///
    /// - the `on` predicate says it is not worth retrying;
    /// - the attempts are used up;
    /// - the next wait would end at or after the deadline;
    /// - the predicate asks for a wait beyond
    ///   [`retry_after_max`](crate::RetryPolicy::retry_after_max);
    /// - the shared [`budget`](Retrying::budget) cannot pay for another retry;
    /// - retrying is switched off ([`set_active(false)`](crate::set_active));
    /// - the loop runs inside another loop's attempt with
    ///   [nested-retry suppression](crate::nesting) on.
    ///
    /// # Panics
    ///
    /// A panic in `f`, in the `on` predicate or in an on-retry hook propagates unchanged; the
    /// loop cannot go on after it.
    pub fn run<T, E, F>(self, f: F) -> Result<Option<T>, E>
    where
        F: FnOnce() -> Result<T, E>,
        E: fmt::Debug,
        On: RetryOn<E>,
    {
        self.record(nesting::in_attempt(f))
    }

    /// Records the outcome of this attempt, for code that cannot be wrapped in a closure.
    ///
    /// Same contract as [`run`](Self::run). A guard whose loop is already over (it was kept
    /// while the iterator moved on) cannot retry: its result comes back as is.
    ///
    /// # Errors
    ///
    /// `result`'s error, when the loop ends with it.
    pub fn record<T, E>(self, result: Result<T, E>) -> Result<Option<T>, E>
    where
        E: fmt::Debug,
        On: RetryOn<E>,
    {
        self.guard.record(result, false, C::now)
    }
}

impl<On, C> fmt::Debug for Attempt<On, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("num", &self.guard.num())
            .field("name", &self.guard.shared().name())
            .finish_non_exhaustive()
    }
}
