//! The synchronous front end: `retry_context`'s iterator of attempt guards, and the callers.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::iter::FusedIterator;
use std::panic::Location;
use std::time::Duration;

use crate::guard::{Advance, Extras, Guard, Handle, extras_setters};
use crate::name::Name;
use crate::nesting;
use crate::setters::policy_setters;
use crate::timeout::{AttemptTimeout, NoAttemptTimeout};
use crate::{Clock, RetryOn, RetryPolicy, SystemClock};

mod caller;

pub(crate) use caller::call;
pub use caller::{BoundRetryingCaller, RetryingCaller};

/// Starts a retry loop that retries on the errors for which `on` says so.
///
/// The returned [`RetryContext`] is a builder (configure it with the [`RetryPolicy`] setters)
/// that iterates as [`Attempt`] guards. Run the code to retry through [`Attempt::run`]; its
/// result says how the loop goes on:
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
/// Unless given a [`name`](RetryContext::name), the context is named after the function that
/// holds its `on` closure (`app::Client::fetch`), or, when `on` is not a closure, the file of the
/// call (`src/client.rs`): names that edits elsewhere in the file do not change, so they can label
/// a time series. Name every loop that feeds a dashboard.
#[track_caller]
pub fn retry_context<On>(on: On) -> RetryContext<On> {
    RetryContext {
        policy: RetryPolicy::new(),
        on,
        clock: SystemClock,
        name: Name::for_loop::<On>(Location::caller().file()),
        extras: Extras::default(),
        mode: NoAttemptTimeout,
    }
}

/// A configured retry loop, iterating as [`Attempt`] guards (or, through
/// [`into_stream`](Self::into_stream), streaming [`AsyncAttempt`](crate::AsyncAttempt) guards);
/// made by [`retry_context`].
///
/// # Default
///
/// [`RetryPolicy::new`]'s configuration, the [`SystemClock`] and no attempt timeout.
///
/// The third parameter says whether async attempts have a timeout (see
/// [`attempt_timeout`](Self::attempt_timeout)); a context with one only streams, since a
/// blocking attempt cannot be cut short.
#[must_use = "a retry context does nothing unless it is iterated"]
pub struct RetryContext<On, C = SystemClock, M = NoAttemptTimeout> {
    policy: RetryPolicy,
    on: On,
    clock: C,
    name: Name,
    extras: Extras,
    mode: M,
}

impl<On, C, M> RetryContext<On, C, M> {
    policy_setters!();
    extras_setters!();

    /// Names the loop for instrumentation and `Debug` output (see [`retry_context`] for the
    /// default).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Name::given(name);
        self
    }

    /// Makes the loop take its time from `clock` and sleep on it, such as a
    /// [`FakeClock`](crate::testing::FakeClock) in tests.
    pub fn clock<C2: Clock>(self, clock: C2) -> RetryContext<On, C2, M> {
        RetryContext {
            policy: self.policy,
            on: self.on,
            clock,
            name: self.name,
            extras: self.extras,
            mode: self.mode,
        }
    }

    /// The same context named `name`, with the settings of `extras` (those of
    /// `#[stamina::retry]`).
    pub(crate) fn with_name_and_extras(mut self, name: Name, extras: Extras) -> Self {
        self.name = name;
        self.extras = extras;
        self
    }

    /// The same context with attempt timeout `mode`.
    pub(crate) fn with_mode<M2>(self, mode: M2) -> RetryContext<On, C, M2> {
        RetryContext {
            policy: self.policy,
            on: self.on,
            clock: self.clock,
            name: self.name,
            extras: self.extras,
            mode,
        }
    }

    /// The loop's shared state, taking its time from `time` (the clock is left behind), and
    /// the attempt timeout mode.
    #[inline(always)]
    pub(crate) fn into_shared<T>(self, time: impl FnOnce(C) -> T) -> (Handle<On, T>, M) {
        let shared = Handle::new(
            self.policy,
            self.on,
            time(self.clock),
            self.name,
            self.extras,
        );
        (shared, self.mode)
    }
}

impl<On, C, M: 'static> fmt::Debug for RetryContext<On, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RetryContext");
        d.field("name", &self.name);
        self.policy.debug_fields(&mut d);
        self.extras.debug_fields(&mut d);
        // Shown when set only: sync contexts never have one.
        if let Some(timeout) = (&self.mode as &dyn Any).downcast_ref::<AttemptTimeout>() {
            d.field("attempt_timeout", timeout);
        }
        d.field("on", &format_args!("{}", std::any::type_name::<On>()))
            .finish_non_exhaustive()
    }
}

impl<On, C: Clock> IntoIterator for RetryContext<On, C> {
    type Item = Attempt<On, C>;
    type IntoIter = Attempts<On, C>;

    fn into_iter(self) -> Self::IntoIter {
        Attempts {
            shared: self.into_shared(|clock| clock).0,
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
/// allocate nothing more with the hooks off (the built-in `log` and `metrics` hooks allocate for
/// each retry they report).
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Attempts<On, C = SystemClock> {
    shared: Handle<On, C>,
}

impl<On, C: Clock> Iterator for Attempts<On, C> {
    type Item = Attempt<On, C>;

    fn next(&mut self) -> Option<Self::Item> {
        let guard = match self.shared.advance(C::now) {
            Advance::Attempt(guard) => guard,
            Advance::Wait(wait) => {
                self.shared.time.sleep(wait);
                self.shared.resume()
            }
            Advance::End => return None,
        };
        Some(Attempt { guard })
    }
}

impl<On, C: Clock> FusedIterator for Attempts<On, C> {}

impl<On, C> fmt::Debug for Attempts<On, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Attempts");
        self.shared.debug_fields(&mut d);
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
    /// use std::time::Duration;
    ///
    /// for attempt in stamina::retry_context(|_: &std::io::Error| true).timeout(Duration::from_secs(10)) {
    ///     let left = attempt.remaining().unwrap();
    ///     assert!(left <= Duration::from_secs(10));
    ///     attempt.run(|| Ok::<_, std::io::Error>(left))?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        self.guard.remaining(|| self.guard.time().now())
    }

    /// The name the loop reports itself under.
    pub fn name(&self) -> String {
        self.guard.name().to_string()
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
    /// - the shared [`budget`](RetryContext::budget) cannot pay for another retry;
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
        self.guard.record(result, false, || self.guard.time().now())
    }
}

impl<On, C> fmt::Debug for Attempt<On, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("num", &self.guard.num())
            .field("name", self.guard.name())
            .finish_non_exhaustive()
    }
}
