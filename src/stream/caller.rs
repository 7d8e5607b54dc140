//! Reusable async callers: a configuration that retries whatever future factory it is given.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::guard::{Extras, extras_setters};
use crate::machine::{self, Step};
use crate::name::Name;
use crate::setters::policy_setters;
use crate::timeout::{AttemptTimeout, AttemptTimeoutMode, NoAttemptTimeout, run_attempt};
use crate::{DefaultSleeper, RetryOn, RetryPolicy, Sleeper};

/// A reusable async retry configuration without an `on` predicate: give it one per call.
///
/// The async mirror of [`RetryingCaller`](crate::RetryingCaller): cheap to clone, `Send + Sync`
/// (with a `Send + Sync` sleeper), and its futures are `Send` when the called futures are. A call
/// allocates nothing when its first attempt succeeds, and nothing per retry with the hooks off
/// and a sleeper whose sleeps allocate nothing (the built-in `log` and `metrics` hooks allocate
/// for each retry they report). Bind an `on` predicate with [`on`](Self::on) to get a
/// [`BoundAsyncRetryingCaller`].
///
/// # Default
///
/// [`RetryPolicy::new`]'s configuration, the [`DefaultSleeper`] and no attempt timeout.
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
///      wait_jitter: 0s, wait_exp_base: 2, attempt_timeout: NoAttemptTimeout, .. }",
/// );
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
#[derive(Clone)]
#[must_use = "an AsyncRetryingCaller does nothing until it is called"]
pub struct AsyncRetryingCaller<S = DefaultSleeper, M = NoAttemptTimeout> {
    policy: RetryPolicy,
    sleeper: S,
    mode: M,
    name: Option<Name>,
    extras: Extras,
}

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
    pub const fn from_policy(policy: RetryPolicy) -> Self {
        Self {
            policy,
            sleeper: DefaultSleeper {},
            mode: NoAttemptTimeout,
            name: None,
            extras: Extras::new(),
        }
    }
}

impl Default for AsyncRetryingCaller {
    fn default() -> Self {
        Self::new()
    }
}

impl<S, M> AsyncRetryingCaller<S, M> {
    policy_setters!();
    extras_setters!();

    /// The caller with the settings of `extras` (those of `#[stamina::retry]`).
    pub(crate) fn with_extras(mut self, extras: Extras) -> Self {
        self.extras = extras;
        self
    }

    /// Names the calls for instrumentation and `Debug` output.
    ///
    /// ```
    /// let caller = stamina::AsyncRetryingCaller::new().name("fetch");
    /// assert!(format!("{caller:?}").starts_with(r#"AsyncRetryingCaller { name: "fetch""#));
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(Name::given(name));
        self
    }

    /// Makes the calls wait on `sleeper` and measure their deadline on its clock: a sleeper for
    /// another runtime, or a [`FakeSleeper`](crate::testing::FakeSleeper) in tests.
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
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> AsyncRetryingCaller<S2, M> {
        AsyncRetryingCaller {
            policy: self.policy,
            sleeper,
            mode: self.mode,
            name: self.name,
            extras: self.extras,
        }
    }

    /// Cancels (drops) each attempt's future after `timeout`, or at the loop's deadline if that
    /// comes first, and makes it fail with [`AttemptTimedOut`](crate::AttemptTimedOut)
    /// converted into the call's error type, which `on` then classifies.
    ///
    /// From then on, [`call`](Self::call) requires `E: From<AttemptTimedOut>`; callers without
    /// an attempt timeout accept any error type. Without it, a hung call can eat the whole
    /// budget. The timeout applies in testing mode too (only the total timeout is ignored there).
    /// See [`AttemptTimedOut`](crate::AttemptTimedOut) for an example.
    pub fn attempt_timeout(self, timeout: Duration) -> AsyncRetryingCaller<S, AttemptTimeout> {
        AsyncRetryingCaller {
            policy: self.policy,
            sleeper: self.sleeper,
            mode: AttemptTimeout::new(timeout),
            name: self.name,
            extras: self.extras,
        }
    }

    /// The attempt timeout: [`NoAttemptTimeout`] until
    /// [`attempt_timeout`](Self::attempt_timeout) sets an [`AttemptTimeout`].
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let caller = stamina::AsyncRetryingCaller::new().attempt_timeout(Duration::from_secs(2));
    /// assert_eq!(caller.get_attempt_timeout().duration(), Duration::from_secs(2));
    /// ```
    pub fn get_attempt_timeout(&self) -> &M {
        &self.mode
    }

    /// Binds an `on` predicate, for a caller that only needs the future factory.
    ///
    /// ```
    /// use std::io;
    ///
    /// let caller = stamina::AsyncRetryingCaller::new()
    ///     .attempts(3)
    ///     .sleeper(stamina::testing::FakeSleeper::new());
    /// let on_reset = caller.on(|e: &io::Error| e.kind() == io::ErrorKind::ConnectionReset);
    /// let value = futures::executor::block_on(on_reset.call(|| async { Ok::<_, io::Error>(7) }))?;
    /// assert_eq!(value, 7);
    /// # Ok::<(), io::Error>(())
    /// ```
    pub fn on<On>(&self, on: On) -> BoundAsyncRetryingCaller<On, S, M>
    where
        S: Clone,
        M: Clone,
    {
        BoundAsyncRetryingCaller {
            caller: self.clone(),
            on,
        }
    }

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
        call(self, &on, f).await
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
    /// ([`RetryContext::into_stream`](crate::RetryContext::into_stream)), whose
    /// [`run`](crate::AsyncAttempt::run) takes async closures too, and `#[stamina::retry]` on
    /// an `async fn(&mut self)` keep their futures `Send`.
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
        call_mut(self, &on, f).await
    }
}

impl<S, M: fmt::Debug> fmt::Debug for AsyncRetryingCaller<S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AsyncRetryingCaller");
        self.debug_fields(&mut d);
        d.finish_non_exhaustive()
    }
}

impl<S, M: fmt::Debug> AsyncRetryingCaller<S, M> {
    fn debug_fields(&self, d: &mut fmt::DebugStruct<'_, '_>) {
        if let Some(name) = &self.name {
            d.field("name", name);
        }
        self.policy.debug_fields(d);
        self.extras.debug_fields(d);
        d.field("attempt_timeout", &self.mode);
    }
}

/// An [`AsyncRetryingCaller`] with an attempt timeout, the shape to name in a struct field.
///
/// ```
/// use std::time::Duration;
/// use stamina::{AsyncCallerWithAttemptTimeout, AsyncRetryingCaller};
///
/// struct Client {
///     http: AsyncCallerWithAttemptTimeout,
/// }
///
/// let client = Client {
///     http: AsyncRetryingCaller::new().attempt_timeout(Duration::from_secs(2)),
/// };
/// # let _ = client.http;
/// ```
pub type AsyncCallerWithAttemptTimeout<S = DefaultSleeper> = AsyncRetryingCaller<S, AttemptTimeout>;

/// A [`BoundAsyncRetryingCaller`] with an attempt timeout, the shape to name in a struct field
/// (with a function as its predicate: `On = fn(&E) -> Decision`).
///
/// ```
/// use std::{io, time::Duration};
/// use stamina::{AsyncRetryingCaller, BoundAsyncCallerWithAttemptTimeout};
///
/// fn is_transient(error: &io::Error) -> bool {
///     error.kind() == io::ErrorKind::TimedOut
/// }
///
/// struct Client {
///     http: BoundAsyncCallerWithAttemptTimeout<fn(&io::Error) -> bool>,
/// }
///
/// let client = Client {
///     http: AsyncRetryingCaller::new()
///         .attempt_timeout(Duration::from_secs(2))
///         .on(is_transient as fn(&io::Error) -> bool),
/// };
/// # let _ = client.http;
/// ```
pub type BoundAsyncCallerWithAttemptTimeout<On, S = DefaultSleeper> =
    BoundAsyncRetryingCaller<On, S, AttemptTimeout>;

/// An [`AsyncRetryingCaller`] with its `on` predicate: call it with just the future factory.
///
/// Made by [`AsyncRetryingCaller::on`]; `Clone` when the predicate is, `Send + Sync` when the
/// predicate and sleeper are.
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
#[derive(Clone)]
#[must_use = "a BoundAsyncRetryingCaller does nothing until it is called"]
pub struct BoundAsyncRetryingCaller<On, S = DefaultSleeper, M = NoAttemptTimeout> {
    caller: AsyncRetryingCaller<S, M>,
    on: On,
}

/// The settings of [`AsyncRetryingCaller`], so that `.on(..)` may come anywhere in the chain.
///
/// ```
/// use std::time::Duration;
///
/// let caller = stamina::AsyncRetryingCaller::new()
///     .on(|_: &std::fmt::Error| true)
///     .attempts(3)
///     .name("render")
///     .sleeper(stamina::testing::FakeSleeper::new());
/// let value = futures::executor::block_on(caller.call(|| async { Ok::<_, std::fmt::Error>(1) }));
/// assert_eq!(value, Ok(1));
/// ```
impl<On, S, M> BoundAsyncRetryingCaller<On, S, M> {
    policy_setters!(caller.policy);
    extras_setters!(caller.extras);

    /// Names the calls (see [`AsyncRetryingCaller::name`]).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.caller = self.caller.name(name);
        self
    }

    /// Makes the calls wait on `sleeper` (see [`AsyncRetryingCaller::sleeper`]).
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> BoundAsyncRetryingCaller<On, S2, M> {
        BoundAsyncRetryingCaller {
            caller: self.caller.sleeper(sleeper),
            on: self.on,
        }
    }

    /// Cuts each attempt after `timeout` (see [`AsyncRetryingCaller::attempt_timeout`]).
    pub fn attempt_timeout(
        self,
        timeout: Duration,
    ) -> BoundAsyncRetryingCaller<On, S, AttemptTimeout> {
        BoundAsyncRetryingCaller {
            caller: self.caller.attempt_timeout(timeout),
            on: self.on,
        }
    }
}

impl<On, S, M> BoundAsyncRetryingCaller<On, S, M> {
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
        call(&self.caller, &self.on, f).await
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
        call_mut(&self.caller, &self.on, f).await
    }

    /// The caller without its predicate.
    ///
    /// ```
    /// let bound = stamina::AsyncRetryingCaller::new().attempts(4).on(|_: &std::fmt::Error| true);
    /// assert_eq!(bound.caller().get_policy().get_attempts(), Some(4));
    /// ```
    pub fn caller(&self) -> &AsyncRetryingCaller<S, M> {
        &self.caller
    }
}

impl<On, S, M: fmt::Debug> fmt::Debug for BoundAsyncRetryingCaller<On, S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("BoundAsyncRetryingCaller");
        self.caller.debug_fields(&mut d);
        d.field("on", &format_args!("{}", std::any::type_name::<On>()))
            .finish_non_exhaustive()
    }
}

/// The async callers' loop, the mirror of the sync one: the success path reads the time (only
/// with a timeout) and awaits the attempt; the machine is built on the first failure, and the
/// loop itself allocates nothing (the hooks it calls and the sleeper's sleeps may).
///
/// A macro, expanded into one `async fn` per closure shape, rather than one function generic over
/// both: the compiler cannot yet see that a future holding an `AsyncFnMut` closure's future is
/// `Send` when that closure captures references, so going through `AsyncFnMut` would cost
/// closures returning futures their `Send` futures.
macro_rules! caller_loop {
    ($caller:ident, $on:ident, $f:ident, $f_ty:ty) => {{
        let (sleeper, mode) = (&$caller.sleeper, &$caller.mode);
        let start = machine::start_time(&$caller.policy, || sleeper.now());
        let deadline = machine::deadline(&$caller.policy, start);
        let (mut error, mut timed_out) = match run_attempt(mode, sleeper, deadline, || $f()).await {
            (Ok(value), _) => {
                machine::first_attempt_succeeded($caller.extras.budget.as_ref());
                return Ok(value);
            }
            (Err(error), timed_out) => (error, timed_out),
        };
        let mut machine = $caller.extras.machine(&$caller.policy);
        machine.start_at(deadline);
        loop {
            if timed_out {
                machine.set_timed_out();
            }
            match machine.on_failure(&$caller.policy, || $on.decide(&error), || sleeper.now()) {
                Step::Retry(retry) => {
                    let extras = &$caller.extras;
                    let name = $caller.name.as_ref();
                    let guards = extras.retry_scheduled::<$f_ty, E, _>(name, &retry, &error, $on);
                    drop(error);
                    sleeper.sleep(retry.wait).await;
                    // The hooks' guards live over the wait and end right before the next attempt.
                    drop(guards);
                    machine.next_attempt();
                }
                Step::GiveUp(give_up) => {
                    let name = $caller.name.as_ref();
                    $caller
                        .extras
                        .gave_up::<$f_ty, E, _>(name, &machine, give_up, &error, $on);
                    return Err(error);
                }
            }
            (error, timed_out) = match run_attempt(mode, sleeper, machine.deadline(), || $f()).await
            {
                (Ok(value), _) => {
                    machine.on_success();
                    return Ok(value);
                }
                (Err(error), timed_out) => (error, timed_out),
            };
        }
    }};
}

/// The loop over a closure that returns a future.
async fn call<T, E, On, S, M, F, Fut>(
    caller: &AsyncRetryingCaller<S, M>,
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
    caller_loop!(caller, on, f, F)
}

/// The loop over an async closure, whose futures may borrow from the closure.
async fn call_mut<T, E, On, S, M, F>(
    caller: &AsyncRetryingCaller<S, M>,
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
    caller_loop!(caller, on, f, F)
}
