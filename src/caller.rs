//! The async callers: a configuration that retries whatever future factory it is given.

use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::time::Instant;

use crate::driver::{Driver, Verdict};
use crate::hedge::{HedgeCtx, Hedger};
use crate::name;
use crate::settings::{Async, Bound, Retrying, Settings, Unbound};
use crate::timeout::{AttemptTimeoutMode, NoAttemptTimeout, RunAttempt, run_attempt};
use crate::{DefaultSleeper, RetryOn, RetryPolicy, Sleeper};

/// A reusable async retry configuration without an `on` predicate: give it one per call
/// ([`call`](Retrying::call), [`call_mut`](Retrying::call_mut)), or bind one with
/// [`on`](Retrying::on).
///
/// The async mirror of [`RetryingCaller`](crate::RetryingCaller): cheap to clone, `Send + Sync`
/// (with a `Send + Sync` sleeper), and its futures are `Send` when the called futures are. A call
/// allocates nothing when its first attempt succeeds, nor per retry with the hooks off and a
/// sleeper whose sleeps allocate nothing (see [what the default hooks
/// allocate](crate::instrument#what-the-default-hooks-allocate)).
///
/// # Default
///
/// [`RetryPolicy::new`]'s configuration, the [`DefaultSleeper`] and no attempt timeout. See
/// [`Retrying`] for the setters.
///
/// ```
/// use std::{io, time::Duration};
///
/// # #[cfg(feature = "tokio")]
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> io::Result<()> {
/// let caller = stamina::AsyncRetryingCaller::new()
///     .attempts(5)
///     .wait_initial(Duration::from_millis(1))
///     .wait_jitter(Duration::ZERO);
///
/// let mut failures = 2;
/// let value = caller
///     .call(
///         |e: &io::Error| e.kind() == io::ErrorKind::TimedOut,
///         || {
///             let fail = failures > 0;
///             failures -= u32::from(fail);
///             async move {
///                 if fail {
///                     return Err(io::Error::from(io::ErrorKind::TimedOut));
///                 }
///                 Ok("done")
///             }
///         },
///     )
///     .await?;
/// assert_eq!(value, "done");
/// assert_eq!(
///     format!("{caller:?}"),
///     "AsyncRetryingCaller { attempts: 5, timeout: 45s, wait_initial: 1ms, wait_max: 5s, \
///      wait_jitter: 0s, wait_exp_base: 2, .. }",
/// );
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
pub type AsyncRetryingCaller<S = DefaultSleeper, M = NoAttemptTimeout> =
    Retrying<Async, Unbound, S, M>;

/// An async retry configuration with its `on` predicate: call it with just the future factory,
/// or turn it into a stream of attempts ([`into_stream`](Retrying::into_stream)). Made by
/// binding a predicate to an [`AsyncRetryingCaller`] with [`on`](Retrying::on), or by giving a
/// [`RetryContext`](crate::RetryContext) an [attempt timeout](Retrying::attempt_timeout).
///
/// ```
/// use std::io;
///
/// # #[cfg(feature = "tokio")]
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> io::Result<()> {
/// let fetch = stamina::AsyncRetryingCaller::new()
///     .attempts(3)
///     .on(|e: &io::Error| e.kind() == io::ErrorKind::TimedOut);
/// let handle = tokio::spawn({
///     let fetch = fetch.clone();
///     async move { fetch.call(|| async { Ok::<_, io::Error>("page") }).await }
/// });
/// assert_eq!(handle.await.unwrap()?, "page");
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
pub type AsyncRetryContext<On, S = DefaultSleeper, M = NoAttemptTimeout> =
    Retrying<Async, Bound<On>, S, M>;

impl AsyncRetryingCaller {
    /// A caller with the [default configuration](RetryPolicy#default) and the
    /// [`DefaultSleeper`].
    ///
    /// ```
    /// let caller = stamina::AsyncRetryingCaller::new();
    /// assert_eq!(caller.get_policy(), &stamina::RetryPolicy::new());
    /// ```
    pub const fn new() -> Self {
        Self::from_policy(RetryPolicy::new())
    }

    /// A caller with `policy`'s configuration and the [`DefaultSleeper`].
    ///
    /// ```
    /// const POLICY: stamina::RetryPolicy = stamina::RetryPolicy::new().attempts(3);
    /// let caller = stamina::AsyncRetryingCaller::from_policy(POLICY);
    /// assert_eq!(caller.get_policy().get_attempts(), Some(3));
    /// ```
    ///
    /// # Panics
    ///
    /// If `policy` has an [attempt timeout](RetryPolicy::attempt_timeout): give the caller one
    /// with [`attempt_timeout`](Retrying::attempt_timeout), then the policy (see
    /// [`Retrying::try_policy`]).
    pub const fn from_policy(policy: RetryPolicy) -> Self {
        assert!(
            policy.get_attempt_timeout().is_none(),
            "stamina: this caller cannot cut an attempt short: call `.attempt_timeout(..)` on it before giving it a policy with an attempt_timeout",
        );
        Retrying {
            settings: Settings::new(policy),
            on: Unbound,
            time: DefaultSleeper {},
            mode: NoAttemptTimeout,
            front: Async,
        }
    }
}

impl Default for AsyncRetryingCaller {
    fn default() -> Self {
        Self::new()
    }
}

impl<S, M> AsyncRetryingCaller<S, M> {
    /// Calls the future factory `f` until its future succeeds or the loop ends with its error
    /// (for the cases, see [`Attempt::run`](crate::Attempt::run)), waiting between attempts on
    /// the sleeper.
    ///
    /// `f` is a closure that returns a future (`|| client.get(url)`, `|| async move { .. }`) or a
    /// function; the call's future is `Send` when `f` and its futures are. For an async
    /// closure whose future borrows from what it captures (`async || conn.query().await` with a
    /// `&mut self` method), use [`call_mut`](Self::call_mut).
    ///
    /// Dropping the returned future at any point (mid-attempt or mid-wait) cancels the call:
    /// the attempt's future or the sleep is dropped and nothing is left running.
    ///
    /// ```
    /// # #[cfg(feature = "tokio")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let caller = stamina::AsyncRetryingCaller::new().attempts(2);
    /// let result = caller.call(|_: &std::fmt::Error| true, || async { Err::<(), _>(std::fmt::Error) }).await;
    /// assert_eq!(result, Err(std::fmt::Error)); // the last error, unchanged
    /// # }
    /// # #[cfg(not(feature = "tokio"))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    ///
    /// The last error of `f`'s futures, unchanged (or, with an attempt timeout, the
    /// [`AttemptTimedOut`](crate::AttemptTimedOut) converted into `E`).
    ///
    /// # Panics
    ///
    /// A panic in `f`, its futures or `on` propagates unchanged.
    pub async fn call<T, E, On, F, Fut>(&self, on: On, f: F) -> Result<T, E>
    where
        E: fmt::Debug,
        S: Sleeper,
        M: AttemptTimeoutMode<E>,
        On: RetryOn<E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        call::<T, E, On, S, M, F, Fut>(&self.settings, &self.time, &on, f).await
    }

    /// Calls the async closure `f` until its future succeeds, `on` says its error is not worth
    /// retrying, or the attempts or time are used up: [`call`](Self::call) for closures whose
    /// futures borrow from the closure, such as `async || client.get().await` with a client
    /// that needs `&mut self`, or one that mutates what it captures across an `.await`.
    ///
    /// It takes any [`AsyncFnMut`]: async closures, closures that return futures, functions.
    /// Prefer [`call`](Self::call) when it compiles, for one reason: `Send`. The future returned
    /// here is `Send` when `f` captures only owned `Send` values (`async move || ..` over an
    /// `Arc`, say), but Rust compilers up to at least 1.95 cannot prove it `Send` when `f`
    /// captures references, even `Send` ones (the compiler's "implementation of `Send` is not
    /// general enough", at the `tokio::spawn` or handler that needs it). Such futures run on
    /// current-thread runtimes, `LocalSet`s, `block_on` and other places that do not need
    /// `Send`. Where `Send` is needed, a loop of attempt guards
    /// ([`into_stream`](Retrying::into_stream)), whose [`run`](crate::AsyncAttempt::run) takes
    /// async closures too, and `#[stamina::retry]` on an `async fn(&mut self)` keep their
    /// futures `Send`.
    ///
    /// ```
    /// struct Connection {
    ///     resets_left: u32,
    /// }
    ///
    /// impl Connection {
    ///     async fn query(&mut self) -> std::io::Result<u32> {
    ///         if self.resets_left > 0 {
    ///             self.resets_left -= 1;
    ///             return Err(std::io::ErrorKind::ConnectionReset.into());
    ///         }
    ///         Ok(42)
    ///     }
    /// }
    ///
    /// let caller = stamina::AsyncRetryingCaller::new()
    ///     .attempts(3)
    ///     .sleeper(stamina::testing::FakeSleeper::new());
    /// let mut conn = Connection { resets_left: 2 };
    /// let mut calls = 0;
    /// let answer = futures::executor::block_on(caller.call_mut(
    ///     |e: &std::io::Error| e.kind() == std::io::ErrorKind::ConnectionReset,
    ///     async || {
    ///         calls += 1;
    ///         conn.query().await // borrows `conn` mutably across the `.await`
    ///     },
    /// ))?;
    /// assert_eq!((answer, calls), (42, 3));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The last error of `f`'s futures, unchanged (or, with an attempt timeout, the
    /// [`AttemptTimedOut`](crate::AttemptTimedOut) converted into `E`).
    ///
    /// # Panics
    ///
    /// A panic in `f`, its futures or `on` propagates unchanged.
    pub async fn call_mut<T, E, On, F>(&self, on: On, f: F) -> Result<T, E>
    where
        E: fmt::Debug,
        S: Sleeper,
        M: AttemptTimeoutMode<E>,
        On: RetryOn<E>,
        F: AsyncFnMut() -> Result<T, E>,
    {
        call_mut::<T, E, On, S, M, F>(&self.settings, &self.time, &on, f).await
    }
}

impl<On, S, M> AsyncRetryContext<On, S, M> {
    /// Calls `f` with the bound predicate (see [`AsyncRetryingCaller::call`]).
    ///
    /// ```
    /// let caller = stamina::AsyncRetryingCaller::new()
    ///     .sleeper(stamina::testing::FakeSleeper::new())
    ///     .on(|_: &std::fmt::Error| true);
    /// let value = futures::executor::block_on(caller.call(|| async { Ok::<_, std::fmt::Error>(1) }));
    /// assert_eq!(value, Ok(1));
    /// ```
    ///
    /// # Errors
    ///
    /// The last error of `f`'s futures, unchanged.
    pub async fn call<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        E: fmt::Debug,
        S: Sleeper,
        M: AttemptTimeoutMode<E>,
        On: RetryOn<E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        call::<T, E, On, S, M, F, Fut>(&self.settings, &self.time, &self.on.0, f).await
    }

    /// Calls the async closure `f` with the bound predicate (see
    /// [`AsyncRetryingCaller::call_mut`], and why to prefer [`call`](Self::call) where it
    /// compiles).
    ///
    /// ```
    /// let caller = stamina::AsyncRetryingCaller::new()
    ///     .sleeper(stamina::testing::FakeSleeper::new())
    ///     .on(|_: &std::fmt::Error| true);
    /// let mut log = Vec::new();
    /// let value = futures::executor::block_on(caller.call_mut(async || {
    ///     log.push(log.len());
    ///     if log.len() < 2 { Err(std::fmt::Error) } else { Ok(log.len()) }
    /// }));
    /// assert_eq!((value, log), (Ok(2), vec![0, 1]));
    /// ```
    ///
    /// # Errors
    ///
    /// The last error of `f`'s futures, unchanged.
    pub async fn call_mut<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: fmt::Debug,
        S: Sleeper,
        M: AttemptTimeoutMode<E>,
        On: RetryOn<E>,
        F: AsyncFnMut() -> Result<T, E>,
    {
        call_mut::<T, E, On, S, M, F>(&self.settings, &self.time, &self.on.0, f).await
    }
}

// The async callers' loops over the driver, one per closure shape: a closure that returns a
// future, and an async closure whose futures borrow from it. Written twice because one generic
// loop would have to go through `AsyncFnMut`, whose futures' types cannot be named on stable
// Rust, and rustc (up to at least 1.95) cannot prove a future holding them `Send`: closures
// returning futures would lose their `Send` futures.

/// The loop over a closure that returns a future.
pub(crate) async fn call<T, E, On, S, M, F, Fut>(
    settings: &Settings,
    sleeper: &S,
    on: &On,
    mut f: F,
) -> Result<T, E>
where
    E: fmt::Debug,
    On: RetryOn<E>,
    S: Sleeper,
    M: AttemptTimeoutMode<E>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut driver = Driver::start(&settings.policy, || sleeper.now());
    if driver.hedges(settings) {
        let mut ctx = Hedged {
            settings,
            sleeper,
            on,
            f,
            mode: PhantomData::<M>,
        };
        let mut hedger = Hedger::start(&mut ctx, &driver);
        return poll_fn(|cx| hedger.poll(cx, &mut ctx, &mut driver)).await;
    }
    loop {
        let timeout = settings.policy.get_attempt_timeout();
        let attempt = run_attempt::<T, E, M, S, Fut>(sleeper, timeout, driver.deadline(), &mut f);
        let (error, timed_out) = match attempt.await {
            (Ok(value), _) => {
                driver.succeeded(settings);
                return Ok(value);
            }
            (Err(error), timed_out) => (error, timed_out),
        };
        let name = || settings.name_or_else(name::path_of::<F>);
        let now = || sleeper.now();
        let Some(wait) = driver.failed(settings, name, on, &error, timed_out, now) else {
            return Err(error);
        };
        drop(error);
        sleeper.sleep(wait).await;
        // The hooks' guards lived over the wait and end right before the next attempt.
        driver.next_attempt();
    }
}

/// The loop over an async closure, whose futures may borrow from it.
pub(crate) async fn call_mut<T, E, On, S, M, F>(
    settings: &Settings,
    sleeper: &S,
    on: &On,
    mut f: F,
) -> Result<T, E>
where
    E: fmt::Debug,
    On: RetryOn<E>,
    S: Sleeper,
    M: AttemptTimeoutMode<E>,
    F: AsyncFnMut() -> Result<T, E>,
{
    let mut driver = Driver::start(&settings.policy, || sleeper.now());
    loop {
        let timeout = settings.policy.get_attempt_timeout();
        let attempt = run_attempt::<T, E, M, S, _>(sleeper, timeout, driver.deadline(), || f());
        let (error, timed_out) = match attempt.await {
            (Ok(value), _) => {
                driver.succeeded(settings);
                return Ok(value);
            }
            (Err(error), timed_out) => (error, timed_out),
        };
        let name = || settings.name_or_else(name::path_of::<F>);
        let now = || sleeper.now();
        let Some(wait) = driver.failed(settings, name, on, &error, timed_out, now) else {
            return Err(error);
        };
        drop(error);
        sleeper.sleep(wait).await;
        // The hooks' guards lived over the wait and end right before the next attempt.
        driver.next_attempt();
    }
}

/// A hedged call of [`call`]'s loop: its closure makes each attempt's future.
struct Hedged<'a, On, S, M, F> {
    settings: &'a Settings,
    sleeper: &'a S,
    on: &'a On,
    f: F,
    mode: PhantomData<M>,
}

impl<T, E, On, S, M, F, Fut> HedgeCtx<T, E> for Hedged<'_, On, S, M, F>
where
    E: fmt::Debug,
    On: RetryOn<E>,
    S: Sleeper,
    M: AttemptTimeoutMode<E>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Attempt = RunAttempt<Fut, M::Timer<S::Sleep>>;
    type Sleeper = S;

    fn settings(&self) -> &Settings {
        self.settings
    }

    fn sleeper(&self) -> &S {
        self.sleeper
    }

    fn attempt(&mut self, deadline: Option<Instant>) -> Option<Self::Attempt> {
        let timeout = self.settings.policy.get_attempt_timeout();
        let attempt = run_attempt::<T, E, M, S, Fut>(self.sleeper, timeout, deadline, &mut self.f);
        Some(attempt)
    }

    fn settle(
        &self,
        driver: &mut Driver,
        outcome: (&Result<T, E>, bool),
        num: u32,
        others: usize,
    ) -> Verdict {
        let (settings, name, now) = (self.settings, self.name(), || self.sleeper.now());
        driver.hedge_outcome(settings, name, self.on, outcome, num, others, now)
    }

    fn name(&self) -> &str {
        self.settings.name_or_else(name::path_of::<F>)
    }
}
