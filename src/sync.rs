//! The synchronous front end: `retry_context`'s iterator of attempt guards, and the callers.

use std::borrow::Cow;
use std::fmt;
use std::iter::FusedIterator;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::instrument::{self, Guards, IntoRetryGuard, OnRetryHook, RetryDetails};
use crate::machine::{self, Machine, Step};
use crate::name::Name;
use crate::nesting;
use crate::policy::policy_setters;
use crate::{Clock, RetryBudget, RetryOn, RetryPolicy, SystemClock};

mod caller;

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
/// | `Err(error)` | the error is not worth retrying, or the attempts or time are used up | ends; `?` passes the error on unchanged |
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
///     for attempt in stamina::retry_context(is_transient)
///         .attempts(3)
///         .wait_initial(Duration::from_millis(1))
///         .wait_jitter(Duration::ZERO)
///     {
///         // The body is your own code: it may borrow `conn` mutably, log, use `?` on errors.
///         if let Some(answer) = attempt.run(|| conn.query())? {
///             return Ok(answer);
///         }
///     }
///     unreachable!("the loop ends with `Some` or an error")
/// }
///
/// assert_eq!(answer(&mut Connection { failures_left: 2 })?, 42);
/// let err = answer(&mut Connection { failures_left: 3 }).unwrap_err();
/// assert_eq!(err.kind(), io::ErrorKind::ConnectionReset); // the last error, unchanged
/// # Ok::<(), io::Error>(())
/// ```
///
/// The context is named after the call site of `retry_context` unless given a
/// [`name`](RetryContext::name).
#[track_caller]
pub fn retry_context<On>(on: On) -> RetryContext<On> {
    RetryContext {
        policy: RetryPolicy::new(),
        on,
        clock: SystemClock,
        name: Name::Location(Location::caller()),
        budget: None,
        suppress_nested: None,
        hooks: Vec::new(),
    }
}

/// A configured retry loop, iterating as [`Attempt`] guards; made by [`retry_context`].
///
/// # Default
///
/// [`RetryPolicy::new`]'s configuration and the [`SystemClock`].
#[must_use = "a retry context does nothing unless it is iterated"]
pub struct RetryContext<On, C = SystemClock> {
    policy: RetryPolicy,
    on: On,
    clock: C,
    name: Name,
    budget: Option<RetryBudget>,
    suppress_nested: Option<bool>,
    hooks: Vec<OnRetryHook>,
}

impl<On, C> RetryContext<On, C> {
    policy_setters!();

    /// Names the loop for instrumentation and `Debug` output (the call site of
    /// [`retry_context`] by default).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Name::given(name);
        self
    }

    /// Makes the loop take its time from `clock` and sleep on it, such as a
    /// [`FakeClock`](crate::testing::FakeClock) in tests.
    pub fn clock<C2: Clock>(self, clock: C2) -> RetryContext<On, C2> {
        RetryContext {
            policy: self.policy,
            on: self.on,
            clock,
            name: self.name,
            budget: self.budget,
            suppress_nested: self.suppress_nested,
            hooks: self.hooks,
        }
    }

    /// With `true`, the loop makes a single attempt when it runs inside an attempt of another
    /// loop; with `false`, it retries even then. Without a choice, the process-wide
    /// [`set_suppress_nested`](crate::set_suppress_nested) decides (see [`nesting`](crate::nesting)).
    pub fn suppress_nested(mut self, suppress: bool) -> Self {
        self.suppress_nested = Some(suppress);
        self
    }

    /// Makes every retry of the loop pay from a shared [`RetryBudget`]: when it cannot, the loop
    /// ends with the last error.
    pub fn budget(mut self, budget: &RetryBudget) -> Self {
        self.budget = Some(budget.clone());
        self
    }

    /// Adds a hook of this loop's own, called for every scheduled retry after the process-wide
    /// hooks (see the [`instrument`] module). It may return a
    /// [`RetryGuard`](crate::RetryGuard), which lives over the wait.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
    /// use stamina::testing::FakeClock;
    ///
    /// let retries = Arc::new(AtomicU32::new(0));
    /// let seen = Arc::clone(&retries);
    /// let mut failures = 2;
    /// for attempt in stamina::retry_context(|_: &std::fmt::Error| true)
    ///     .clock(FakeClock::new())
    ///     .on_retry(move |_: &stamina::RetryDetails<'_>| {
    ///         seen.fetch_add(1, Ordering::Relaxed);
    ///     })
    /// {
    ///     attempt.run(|| if failures > 0 { failures -= 1; Err(std::fmt::Error) } else { Ok(()) })?;
    /// }
    /// assert_eq!(retries.load(Ordering::Relaxed), 2);
    /// # Ok::<(), std::fmt::Error>(())
    /// ```
    pub fn on_retry<F, R>(self, hook: F) -> Self
    where
        F: Fn(&RetryDetails<'_>) -> R + Send + Sync + 'static,
        R: IntoRetryGuard,
    {
        self.on_retry_hook(OnRetryHook::new(hook))
    }

    /// Adds a prepared hook of this loop's own, such as a [lazy](OnRetryHook::lazy) one or one
    /// with a give-up handler (see [`on_retry`](Self::on_retry)).
    pub fn on_retry_hook(mut self, hook: OnRetryHook) -> Self {
        self.hooks.push(hook);
        self
    }
}

impl<On, C> fmt::Debug for RetryContext<On, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RetryContext");
        d.field("name", &self.name);
        self.policy.debug_fields(&mut d);
        if let Some(budget) = &self.budget {
            d.field("budget", budget);
        }
        if let Some(suppress) = self.suppress_nested {
            d.field("suppress_nested", &suppress);
        }
        if !self.hooks.is_empty() {
            d.field("hooks", &self.hooks);
        }
        d.field("on", &format_args!("{}", std::any::type_name::<On>()))
            .finish_non_exhaustive()
    }
}

impl<On, C: Clock> IntoIterator for RetryContext<On, C> {
    type Item = Attempt<On, C>;
    type IntoIter = Attempts<On, C>;

    fn into_iter(self) -> Self::IntoIter {
        let mut machine = Machine::new(self.policy);
        machine.set_budget(self.budget);
        machine.set_suppress_nested(self.suppress_nested);
        Attempts {
            shared: Arc::new(Shared {
                policy: self.policy,
                on: self.on,
                clock: self.clock,
                name: self.name,
                hooks: self.hooks,
                state: Mutex::new(State {
                    machine,
                    phase: Phase::NotStarted,
                    guards: Guards::default(),
                }),
            }),
        }
    }
}

/// What the iterator and its guards share: the configuration, and the loop's state behind a
/// lock that is only ever taken by one side at a time.
struct Shared<On, C> {
    policy: RetryPolicy,
    on: On,
    clock: C,
    name: Name,
    hooks: Vec<OnRetryHook>,
    state: Mutex<State>,
}

impl<On, C> Shared<On, C> {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in the user's `on` predicate or a hook poisons the lock; the state is still
        // consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct State {
    machine: Machine,
    phase: Phase,
    /// What the hooks keep over the current wait; dropped right before the next attempt, or
    /// with the loop.
    guards: Guards,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No attempt yet.
    NotStarted,
    /// An attempt was handed out and has not recorded an outcome.
    Running,
    /// The last attempt failed and the loop waits this long before the next.
    Waiting(Duration),
    /// The loop is over.
    Done,
}

/// The iterator of [`Attempt`] guards of a [`RetryContext`].
///
/// It yields the first attempt at once; after an attempt that recorded a retryable failure, it
/// sleeps on the loop's clock, then yields the next. It ends (and stays ended) after a success,
/// after an error that ends the loop, and after an attempt that was dropped without recording an
/// outcome, which counts as a success: like leaving a Python `with attempt:` block without an
/// exception, nothing failed, so there is nothing to retry.
///
/// The iterator and its guards share one allocation, made when iteration starts; attempts
/// allocate nothing.
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Attempts<On, C = SystemClock> {
    shared: Arc<Shared<On, C>>,
}

impl<On, C: Clock> Iterator for Attempts<On, C> {
    type Item = Attempt<On, C>;

    fn next(&mut self) -> Option<Self::Item> {
        let shared = &*self.shared;
        let mut state = shared.lock();
        match state.phase {
            Phase::NotStarted => state.machine.start(|| shared.clock.now()),
            Phase::Waiting(wait) => {
                drop(state);
                shared.clock.sleep(wait);
                state = shared.lock();
                drop(std::mem::take(&mut state.guards));
                state.machine.next_attempt();
            }
            Phase::Running | Phase::Done => {
                state.phase = Phase::Done;
                return None;
            }
        }
        state.phase = Phase::Running;
        Some(Attempt {
            num: state.machine.num(),
            deadline: state.machine.deadline(),
            shared: Arc::clone(&self.shared),
        })
    }
}

impl<On, C: Clock> FusedIterator for Attempts<On, C> {}

impl<On, C> fmt::Debug for Attempts<On, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        let mut d = f.debug_struct("Attempts");
        d.field("name", &self.shared.name)
            .field("attempt", &state.machine.num())
            .field("phase", &state.phase)
            .field("waited", &state.machine.waited());
        self.shared.policy.debug_fields(&mut d);
        d.finish_non_exhaustive()
    }
}

/// One attempt of a retry loop: run the code to retry through [`run`](Self::run) (or pass its
/// result to [`record`](Self::record)).
///
/// A guard dropped without recording an outcome ends the loop as a success would (see
/// [`Attempts`]).
#[must_use = "record the attempt's outcome with `run` or `record`, or the loop ends"]
pub struct Attempt<On, C = SystemClock> {
    shared: Arc<Shared<On, C>>,
    num: u32,
    deadline: Option<Instant>,
}

impl<On, C: Clock> Attempt<On, C> {
    /// The number of this attempt, starting at 1.
    pub fn num(&self) -> u32 {
        self.num
    }

    /// The jitter-free lower bound of the wait that follows if this attempt fails with a
    /// retryable error: `min(wait_max, wait_initial * wait_exp_base^(num - 1))`; zero in testing
    /// mode.
    pub fn next_wait(&self) -> Duration {
        machine::next_wait(&self.shared.policy, self.num)
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
        machine::remaining(self.deadline, || self.shared.clock.now())
    }

    /// The name the loop reports itself under.
    pub fn name(&self) -> String {
        self.shared.name.to_string()
    }

    /// Runs `f` as this attempt and records its outcome.
    ///
    /// Returns `Ok(Some(value))` on success, `Ok(None)` when the error is retryable and another
    /// attempt follows (the error is dropped), and `Err(error)`, unchanged, when the loop ends
    /// with it: not retryable, attempts used up, or the next wait would cross the deadline.
    ///
    /// # Errors
    ///
    /// The error of `f`, when the loop ends with it.
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
        let shared = &*self.shared;
        let mut state = shared.lock();
        if state.phase != Phase::Running || state.machine.num() != self.num {
            return result.map(Some);
        }
        match result {
            Ok(value) => {
                state.phase = Phase::Done;
                state.machine.on_success();
                Ok(Some(value))
            }
            Err(error) => {
                let step = state
                    .machine
                    .on_failure(|| shared.on.decide(&error), || shared.clock.now());
                match step {
                    Step::Retry(retry) => {
                        state.phase = Phase::Waiting(retry.wait);
                        // Under the lock, so that the guards are in place before the iterator
                        // (possibly on another thread) can start the wait.
                        state.guards = instrument::retry_scheduled(
                            &shared.name,
                            &retry,
                            &error,
                            &shared.hooks,
                        );
                        Ok(None)
                    }
                    Step::GiveUp(give_up) => {
                        state.phase = Phase::Done;
                        let (attempts, waited) = (state.machine.num(), state.machine.waited());
                        drop(state);
                        instrument::gave_up(
                            &shared.name,
                            give_up,
                            attempts,
                            waited,
                            &error,
                            &shared.hooks,
                        );
                        Err(error)
                    }
                }
            }
        }
    }
}

impl<On, C> fmt::Debug for Attempt<On, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempt")
            .field("num", &self.num)
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}
