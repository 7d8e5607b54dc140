//! The async stream of attempt guards.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};

use crate::guard::{Advance, Guard, Handle, Shared};
use crate::settings::{Async, Blocking, Bound, Retrying};
use crate::sleep::MaybeSleeper;
use crate::timeout::{AttemptTimeoutMode, NoAttemptTimeout, run_attempt};
use crate::{DefaultSleeper, RetryOn, Sleeper};

impl<On, C, M> Retrying<Blocking, Bound<On>, C, M> {
    /// Turns the context into an async [`Stream`] of [`AsyncAttempt`] guards that waits on the
    /// [`DefaultSleeper`]: the async counterpart of iterating the context with `for`.
    ///
    /// The name mirrors [`IntoIterator::into_iter`], which a `for` loop calls for you: the same
    /// context becomes either a blocking iterator or a stream, so a loop moves from sync to async
    /// by changing `for attempt in context` into
    /// `let mut attempts = context.into_stream(); while let Some(attempt) = attempts.next().await`.
    /// The stream takes its time from its sleeper, not from a [`clock`](Retrying::clock).
    ///
    /// Without the `tokio` or `async-io` feature the [`DefaultSleeper`] is a placeholder that is
    /// not a sleeper, so that using the stream fails to compile: use
    /// [`into_stream_with`](Self::into_stream_with).
    ///
    /// ```
    /// use std::{io, time::Duration};
    ///
    /// async fn fetch(failures_left: &mut u32) -> io::Result<&'static str> {
    ///     if *failures_left > 0 {
    ///         *failures_left -= 1;
    ///         return Err(io::ErrorKind::ConnectionReset.into());
    ///     }
    ///     Ok("body")
    /// }
    ///
    /// # #[cfg(feature = "tokio")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> io::Result<()> {
    /// let mut failures_left = 2;
    /// let mut attempts = stamina::retry_context(|e: &io::Error| e.kind() == io::ErrorKind::ConnectionReset)
    ///     .attempts(5)
    ///     .timeout(Duration::from_secs(10))
    ///     .into_stream();
    /// let mut body = None;
    /// while let Some(attempt) = attempts.next().await {
    ///     // The body may borrow locals mutably: it is your code, not a closure stored away.
    ///     body = attempt.run(|| fetch(&mut failures_left)).await?;
    /// }
    /// assert_eq!(body, Some("body"));
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "tokio"))]
    /// # fn main() {}
    /// ```
    #[track_caller]
    pub fn into_stream(self) -> AttemptStream<On, DefaultSleeper> {
        self.into_stream_with(DefaultSleeper {})
    }

    /// Turns the context into an async [`Stream`] of [`AsyncAttempt`] guards that waits on
    /// `sleeper` and measures its deadline on the sleeper's clock (see
    /// [`into_stream`](Self::into_stream)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::testing::FakeSleeper;
    ///
    /// let sleeper = FakeSleeper::new();
    /// let mut attempts = stamina::retry_context(|_: &std::fmt::Error| true)
    ///     .attempts(3)
    ///     .wait_jitter(Duration::ZERO)
    ///     .into_stream_with(sleeper.clone());
    /// let result = futures::executor::block_on(async {
    ///     while let Some(attempt) = attempts.next().await {
    ///         attempt.record(Err::<(), _>(std::fmt::Error))?;
    ///     }
    ///     Ok(())
    /// });
    /// assert_eq!(result, Err(std::fmt::Error));
    /// assert_eq!(sleeper.sleeps(), [100, 200].map(Duration::from_millis));
    /// ```
    #[track_caller]
    pub fn into_stream_with<S: MaybeSleeper>(self, sleeper: S) -> AttemptStream<On, S> {
        AttemptStream::new(Shared::for_loop(self.settings, self.on.0, sleeper))
    }
}

impl<On, S: MaybeSleeper, M> Retrying<Async, Bound<On>, S, M> {
    /// Turns the context into an async [`Stream`] of [`AsyncAttempt`] guards that waits on its
    /// sleeper, with its attempt timeout (see
    /// [`RetryContext::into_stream`](Retrying::into_stream)).
    #[track_caller]
    pub fn into_stream(self) -> AttemptStream<On, S, M> {
        AttemptStream::new(Shared::for_loop(self.settings, self.on.0, self.time))
    }
}

/// The async stream of [`AsyncAttempt`] guards of a context; made by
/// [`into_stream`](Retrying::into_stream).
///
/// It yields the first attempt at once; after an attempt that recorded a retryable failure,
/// it sleeps on its [`Sleeper`], then yields the next. It ends, and stays ended (it is fused),
/// after a success, after an error that ends the loop, and after an attempt that was dropped
/// without recording an outcome, which counts as a success and refills a shared budget as a
/// recorded success does (as with the sync [`Attempts`](crate::Attempts)).
///
/// Use its inherent [`next`](Self::next) without importing anything, or use it as a
/// [`Stream`] with any stream combinators. The stream is [`Unpin`], so `next()` needs no
/// pinning: it keeps its sleep future in a box made at its first wait, and resets it for the
/// next ones ([`Sleeper::reset`]), so a loop whose first attempt succeeds allocates only the
/// state it shares with its guards, and one that retries allocates once more, with the hooks off
/// and a sleeper whose sleeps allocate nothing (see [what the default hooks
/// allocate](crate::instrument#what-the-default-hooks-allocate)).
///
/// Dropping the stream (say, on cancellation) at any point, mid-wait included, ends the loop:
/// the sleep is dropped with it and nothing is left running. The stream is `Send` (`Sync`)
/// when the predicate and sleeper are `Send + Sync` and the sleep future is `Send` (`Sync`),
/// as with the tokio and async-io sleepers.
#[must_use = "streams do nothing unless polled"]
pub struct AttemptStream<On, S: MaybeSleeper = DefaultSleeper, M = NoAttemptTimeout> {
    // `None` once the loop is over.
    shared: Option<Handle<On, S>>,
    sleep: Option<Pin<Box<S::Sleep>>>,
    // Whether the loop waits on `sleep` before the next attempt.
    waiting: bool,
    mode: PhantomData<fn() -> M>,
}

// Nothing of the stream is pinned (its sleep is pinned in its box), whatever its parts.
impl<On, S: MaybeSleeper, M> Unpin for AttemptStream<On, S, M> {}

impl<On, S: MaybeSleeper, M> AttemptStream<On, S, M> {
    fn new(shared: Handle<On, S>) -> Self {
        Self {
            shared: Some(shared),
            sleep: None,
            waiting: false,
            mode: PhantomData,
        }
    }

    /// The next attempt, or `None` when the loop is over: `while let Some(attempt) =
    /// attempts.next().await`. No extension trait needed.
    ///
    /// Cancel-safe: dropping the returned future mid-wait keeps the wait's progress, and the next
    /// call goes on where it stopped.
    ///
    /// ```
    /// use stamina::testing::FakeSleeper;
    ///
    /// let mut attempts = stamina::retry_context(|_: &std::fmt::Error| true)
    ///     .into_stream_with(FakeSleeper::new());
    /// futures::executor::block_on(async {
    ///     let attempt = attempts.next().await.unwrap();
    ///     assert_eq!(attempt.num(), 1);
    ///     assert_eq!(attempt.record(Ok::<_, std::fmt::Error>(5)), Ok(Some(5)));
    ///     assert!(attempts.next().await.is_none());
    ///     assert!(attempts.next().await.is_none()); // fused
    /// });
    /// ```
    // Inherent on purpose: a stream cannot be an `Iterator`, and callers should not need
    // `StreamExt` in scope for the one method every loop uses. The future is opaque so that a
    // forgotten `.await` (`while let Some(attempt) = attempts.next()`) gets rustc's "consider
    // `await`ing on the `Future`", which it offers for opaque futures only.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> impl Future<Output = Option<AsyncAttempt<On, S, M>>> + '_
    where
        S: Sleeper,
    {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
    }
}

impl<On, S: Sleeper, M> Stream for AttemptStream<On, S, M> {
    type Item = AsyncAttempt<On, S, M>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Unpin: nothing of the stream is pinned; its sleep is, in its box.
        let this = self.get_mut();
        let Some(shared) = this.shared.as_mut() else {
            return Poll::Ready(None);
        };
        if !this.waiting {
            match Shared::advance(shared, S::now) {
                Advance::Attempt(num) => return Poll::Ready(Some(AsyncAttempt::new(shared, num))),
                Advance::Wait(wait) => {
                    match this.sleep.as_mut() {
                        Some(sleep) => shared.time.reset(sleep.as_mut(), wait),
                        None => this.sleep = Some(Box::pin(shared.time.sleep(wait))),
                    }
                    this.waiting = true;
                }
                Advance::End => {
                    this.shared = None;
                    this.sleep = None;
                    return Poll::Ready(None);
                }
            }
        }
        if let Some(sleep) = this.sleep.as_mut() {
            ready!(sleep.as_mut().poll(cx));
        }
        this.waiting = false;
        let num = Shared::resume(shared);
        Poll::Ready(Some(AsyncAttempt::new(shared, num)))
    }
}

impl<On, S: MaybeSleeper, M> Drop for AttemptStream<On, S, M> {
    fn drop(&mut self) {
        if let Some(shared) = &mut self.shared {
            Shared::finish(shared);
        }
    }
}

impl<On, S: Sleeper, M> FusedStream for AttemptStream<On, S, M> {
    fn is_terminated(&self) -> bool {
        self.shared.is_none()
    }
}

impl<On, S: MaybeSleeper, M> fmt::Debug for AttemptStream<On, S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AttemptStream");
        if let Some(shared) = &self.shared {
            shared.debug_fields(&mut d);
            d.field("waiting", &self.waiting);
        } else {
            d.field("ended", &true);
        }
        d.finish_non_exhaustive()
    }
}

/// One attempt of an async retry loop: run the code to retry through [`run`](Self::run) (or pass
/// its result to [`record`](Self::record)).
///
/// The async mirror of [`Attempt`](crate::Attempt), with the same contract. A guard dropped
/// without recording an outcome (its `run` future dropped mid-attempt, say) counts as a
/// success: it ends the loop and refills a shared budget as a recorded success does (see
/// [`AttemptStream`]).
#[must_use = "record the attempt's outcome with `run` or `record`, or the loop ends"]
pub struct AsyncAttempt<On, S = DefaultSleeper, M = NoAttemptTimeout> {
    guard: Guard<On, S>,
    mode: PhantomData<fn() -> M>,
}

impl<On, S, M> AsyncAttempt<On, S, M> {
    /// Attempt `num` of the loop `shared`.
    fn new(shared: &Handle<On, S>, num: u32) -> Self {
        Self {
            guard: Guard::new(shared, num),
            mode: PhantomData,
        }
    }
}

impl<On, S: Sleeper, M> AsyncAttempt<On, S, M> {
    /// The number of this attempt, starting at 1.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut attempts = stamina::retry_context(|_: &std::fmt::Error| true)
    ///     .into_stream_with(stamina::testing::FakeSleeper::new());
    /// let attempt = attempts.next().await.unwrap();
    /// assert_eq!(attempt.num(), 1);
    /// # });
    /// ```
    pub fn num(&self) -> u32 {
        self.guard.num()
    }

    /// The lower bound of the computed wait that follows if this attempt fails with a retryable
    /// error: with the default jitter, the jitter-free
    /// `min(wait_max, wait_initial * wait_exp_base^(num - 1))` (see [`Jitter`](crate::Jitter) for
    /// the other families); zero in testing mode.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut attempts = stamina::retry_context(|_: &std::fmt::Error| true)
    ///     .into_stream_with(stamina::testing::FakeSleeper::new());
    /// let attempt = attempts.next().await.unwrap();
    /// assert_eq!(attempt.next_wait(), std::time::Duration::from_millis(100));
    /// # });
    /// ```
    pub fn next_wait(&self) -> Duration {
        self.guard.next_wait()
    }

    /// The time left before the loop's deadline, on the sleeper's clock; `None` without a
    /// timeout and in testing mode (which ignores it). Propagate it as a request timeout or a
    /// deadline header so that an attempt does not outlive the loop.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures::executor::block_on(async {
    /// let mut attempts = stamina::retry_context(|_: &std::fmt::Error| true)
    ///     .timeout(Duration::from_secs(10))
    ///     .into_stream_with(stamina::testing::FakeSleeper::new());
    /// let attempt = attempts.next().await.unwrap();
    /// assert_eq!(attempt.remaining(), Some(Duration::from_secs(10)));
    /// # });
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        self.guard.remaining(S::now)
    }

    /// The name the loop reports itself under.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut attempts = stamina::retry_context(|_: &std::fmt::Error| true)
    ///     .name("fetch")
    ///     .into_stream_with(stamina::testing::FakeSleeper::new());
    /// assert_eq!(attempts.next().await.unwrap().name(), "fetch");
    /// # });
    /// ```
    pub fn name(&self) -> String {
        self.guard.shared().name().to_owned()
    }

    /// Runs the future that `f` makes as this attempt and records its outcome.
    ///
    /// `f` is a future factory (`|| async { .. }`, `|| client.get(url)`) or an async closure.
    /// Returns `Ok(Some(value))` on success, `Ok(None)` when the error is retryable and another
    /// attempt follows (the error is dropped), and `Err(error)`, unchanged, when the loop ends
    /// with it. With an [attempt timeout](Retrying::attempt_timeout), the future is dropped
    /// once it runs past the timeout or the loop's deadline, and the attempt fails with
    /// [`AttemptTimedOut`](crate::AttemptTimedOut) converted into `E`.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut attempts = stamina::retry_context(|_: &std::fmt::Error| true)
    ///     .into_stream_with(stamina::testing::FakeSleeper::new());
    /// let mut calls = 0;
    /// let mut value = None;
    /// while let Some(attempt) = attempts.next().await {
    ///     calls += 1;
    ///     let n = calls;
    ///     value = attempt
    ///         .run(|| async move { if n < 3 { Err(std::fmt::Error) } else { Ok(n) } })
    ///         .await?;
    /// }
    /// assert_eq!((value, calls), (Some(3), 3));
    /// # Ok::<(), std::fmt::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// The error of the attempt, when the loop ends with it: not worth retrying, attempts, time
    /// or budget used up, a wait beyond `retry_after_max`, retrying switched off, or nested-retry
    /// suppression (the list is [`Attempt::run`](crate::Attempt::run)'s).
    ///
    /// # Panics
    ///
    /// A panic in `f`, its future or the `on` predicate propagates unchanged.
    pub async fn run<T, E, F, Fut>(self, f: F) -> Result<Option<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Debug,
        On: RetryOn<E>,
        M: AttemptTimeoutMode<E>,
    {
        let shared = self.guard.shared();
        let timeout = shared
            .settings
            .policy
            .get_attempt_timeout()
            .filter(|_| M::CUTS);
        // Read only for a timer: loops that cut no attempt take no lock for it.
        let deadline = timeout.and_then(|_| self.guard.deadline());
        let attempt = run_attempt::<T, E, M, S, Fut>(&shared.time, timeout, deadline, f);
        let (result, timed_out) = attempt.await;
        self.guard.record(result, timed_out, S::now)
    }

    /// Records the outcome of this attempt, for code that cannot be wrapped in a future factory.
    ///
    /// Same contract as [`run`](Self::run), without the attempt timeout. A guard whose loop is
    /// already over cannot retry: its result comes back as is.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let mut attempts = stamina::retry_context(|_: &std::fmt::Error| false)
    ///     .into_stream_with(stamina::testing::FakeSleeper::new());
    /// let attempt = attempts.next().await.unwrap();
    /// let outcome: Result<u8, _> = Err(std::fmt::Error); // from code awaited in the loop body
    /// assert_eq!(attempt.record(outcome), Err(std::fmt::Error));
    /// assert!(attempts.next().await.is_none());
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// `result`'s error, when the loop ends with it.
    pub fn record<T, E>(self, result: Result<T, E>) -> Result<Option<T>, E>
    where
        E: fmt::Debug,
        On: RetryOn<E>,
    {
        self.guard.record(result, false, S::now)
    }
}

impl<On, S, M> fmt::Debug for AsyncAttempt<On, S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncAttempt")
            .field("num", &self.guard.num())
            .field("name", &self.guard.shared().name())
            .finish_non_exhaustive()
    }
}
