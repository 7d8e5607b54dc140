//! The asynchronous front end: `retry_context`'s stream of attempt guards, and the async callers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;

use crate::guard::{Advance, Guard, Handle};
use crate::sleep::MaybeSleeper;
use crate::timeout::{AttemptTimeout, AttemptTimeoutMode, NoAttemptTimeout, run_attempt};
use crate::{DefaultSleeper, RetryContext, RetryOn, Sleeper};

mod caller;

pub use caller::{
    AsyncCallerWithAttemptTimeout, AsyncRetryingCaller, BoundAsyncCallerWithAttemptTimeout,
    BoundAsyncRetryingCaller,
};

impl<On, C, M> RetryContext<On, C, M> {
    /// Turns the context into an async [`Stream`] of [`AsyncAttempt`] guards that waits on the
    /// [`DefaultSleeper`]: the async counterpart of iterating the context with `for`.
    ///
    /// The name mirrors [`IntoIterator::into_iter`], which a `for` loop calls for you: the same
    /// context becomes either a blocking iterator or a stream, so a loop moves from sync to async
    /// by changing `for attempt in context` into
    /// `let mut attempts = context.into_stream(); while let Some(attempt) = attempts.next().await`.
    /// The stream takes its time from its sleeper, not from a [`clock`](Self::clock).
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
    pub fn into_stream(self) -> AttemptStream<On, DefaultSleeper, M> {
        self.stream_on(DefaultSleeper {})
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
    pub fn into_stream_with<S: Sleeper>(self, sleeper: S) -> AttemptStream<On, S, M> {
        self.stream_on(sleeper)
    }

    fn stream_on<S: MaybeSleeper>(self, sleeper: S) -> AttemptStream<On, S, M> {
        let (shared, mode) = self.into_shared(|_| sleeper);
        AttemptStream {
            shared: Some(shared),
            sleep: None,
            sleeping: false,
            mode,
        }
    }

    /// Cancels every attempt run through [`AsyncAttempt::run`] after `timeout`, or at the loop's
    /// deadline if that comes first, once the context is a stream (see
    /// [`AttemptStream::attempt_timeout`], which this sets in advance).
    ///
    /// A context with an attempt timeout only streams: a blocking attempt of a `for` loop cannot
    /// be cut short, so it is no longer an iterator.
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
    ///     // `std::io::Error` converts from `AttemptTimedOut`, with kind `TimedOut`.
    ///     last = attempt.run(|| std::future::pending::<io::Result<()>>()).await;
    /// }
    /// assert_eq!(last.unwrap_err().kind(), io::ErrorKind::TimedOut);
    /// # }
    /// # #[cfg(not(feature = "tokio"))]
    /// # fn main() {}
    /// ```
    pub fn attempt_timeout(self, timeout: Duration) -> RetryContext<On, C, AttemptTimeout> {
        self.with_mode(AttemptTimeout::new(timeout))
    }
}

pin_project! {
    /// The async stream of [`AsyncAttempt`] guards of a [`RetryContext`]; made by
    /// [`RetryContext::into_stream`].
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
    /// state it shares with its guards, and one that retries allocates once more.
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
        sleeping: bool,
        mode: M,
    }
}

impl<On, S: MaybeSleeper> AttemptStream<On, S> {
    /// Cancels every attempt run through [`AsyncAttempt::run`] after `timeout`, or at the loop's
    /// deadline if that comes first, and makes it fail with
    /// [`AttemptTimedOut`](crate::AttemptTimedOut) converted into the attempt's error type (so
    /// `run` then requires `E: From<AttemptTimedOut>`).
    ///
    /// Without it a hung call can eat the whole budget. The timeout applies in testing mode too
    /// (only the total timeout is ignored there).
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::AttemptTimedOut;
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Timeout;
    /// impl From<AttemptTimedOut> for Timeout {
    ///     fn from(_: AttemptTimedOut) -> Self { Timeout }
    /// }
    ///
    /// # #[cfg(feature = "tokio")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let start = tokio::time::Instant::now();
    /// let mut attempts = stamina::retry_context(|_: &Timeout| true)
    ///     .attempts(2)
    ///     .wait_jitter(Duration::ZERO)
    ///     .into_stream()
    ///     .attempt_timeout(Duration::from_secs(1));
    /// let mut last = Ok(None);
    /// while let Some(attempt) = attempts.next().await {
    ///     last = attempt.run(|| std::future::pending::<Result<(), Timeout>>()).await;
    /// }
    /// assert_eq!(last, Err(Timeout));
    /// // Two attempts of 1 s and one wait of 100 ms, on tokio's paused clock.
    /// assert_eq!(start.elapsed(), Duration::from_millis(2100));
    /// # }
    /// # #[cfg(not(feature = "tokio"))]
    /// # fn main() {}
    /// ```
    pub fn attempt_timeout(self, timeout: Duration) -> AttemptStream<On, S, AttemptTimeout> {
        AttemptStream {
            shared: self.shared,
            sleep: self.sleep,
            sleeping: self.sleeping,
            mode: AttemptTimeout::new(timeout),
        }
    }
}

impl<On, S: MaybeSleeper, M: Clone> AttemptStream<On, S, M> {
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
        Next { stream: self }
    }
}

impl<On, S: Sleeper, M: Clone> Stream for AttemptStream<On, S, M> {
    type Item = AsyncAttempt<On, S, M>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let Some(shared) = this.shared.as_mut() else {
            return Poll::Ready(None);
        };
        if !*this.sleeping {
            match shared.advance(S::now) {
                Advance::Attempt(guard) => {
                    return Poll::Ready(Some(AsyncAttempt {
                        guard,
                        mode: this.mode.clone(),
                    }));
                }
                Advance::Wait(wait) => {
                    match this.sleep.as_mut() {
                        Some(slot) => shared.time.reset(slot.as_mut(), wait),
                        None => *this.sleep = Some(Box::pin(shared.time.sleep(wait))),
                    }
                    *this.sleeping = true;
                }
                Advance::End => {
                    *this.shared = None;
                    *this.sleep = None;
                    return Poll::Ready(None);
                }
            }
        }
        if let Some(sleep) = this.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        *this.sleeping = false;
        Poll::Ready(Some(AsyncAttempt {
            guard: shared.resume(),
            mode: this.mode.clone(),
        }))
    }
}

impl<On, S: Sleeper, M: Clone> FusedStream for AttemptStream<On, S, M> {
    fn is_terminated(&self) -> bool {
        self.shared.is_none()
    }
}

impl<On, S: MaybeSleeper, M: fmt::Debug> fmt::Debug for AttemptStream<On, S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AttemptStream");
        match &self.shared {
            Some(shared) => {
                shared.debug_fields(&mut d);
                d.field("sleeping", &self.sleeping);
            }
            None => {
                d.field("ended", &true);
            }
        }
        d.field("attempt_timeout", &self.mode)
            .finish_non_exhaustive()
    }
}

/// The future of [`AttemptStream::next`]: the next attempt, or `None` when the loop is over.
#[must_use = "futures do nothing unless you `.await` or poll them"]
struct Next<'a, On, S: MaybeSleeper, M> {
    stream: &'a mut AttemptStream<On, S, M>,
}

impl<On, S: Sleeper, M: Clone> Future for Next<'_, On, S, M> {
    type Output = Option<AsyncAttempt<On, S, M>>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut *self.stream).poll_next(cx)
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
    mode: M,
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
        self.guard.remaining(|| self.guard.time().now())
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
        self.guard.name().to_string()
    }

    /// Runs the future that `f` makes as this attempt and records its outcome.
    ///
    /// `f` is a future factory (`|| async { .. }`, `|| client.get(url)`) or an async closure.
    /// Returns `Ok(Some(value))` on success, `Ok(None)` when the error is retryable and another
    /// attempt follows (the error is dropped), and `Err(error)`, unchanged, when the loop ends
    /// with it. With an [`attempt_timeout`](AttemptStream::attempt_timeout), the future is
    /// dropped once it runs past the timeout or the loop's deadline, and the attempt fails with
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
        let (result, timed_out) =
            run_attempt(&self.mode, self.guard.time(), self.guard.deadline(), f).await;
        self.guard
            .record(result, timed_out, || self.guard.time().now())
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
        self.guard.record(result, false, || self.guard.time().now())
    }
}

impl<On, S, M: fmt::Debug> fmt::Debug for AsyncAttempt<On, S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncAttempt")
            .field("num", &self.guard.num())
            .field("name", self.guard.name())
            .field("attempt_timeout", &self.mode)
            .finish_non_exhaustive()
    }
}
