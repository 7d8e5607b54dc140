//! Switches scoped to a future, so that they follow a task from thread to thread.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::{Switch, Testing, ThreadGuard};

/// Overrides testing mode for `future` alone: around every poll of it, on whatever thread polls
/// it, loops see `testing` (`None` turns testing mode off).
///
/// Thread overrides ([`thread_testing`](super::thread_testing)) do not reach a task that a
/// multi-thread runtime moves to another worker, nor tasks it spawns; this does. Each poll sets
/// the override as a thread override, the newest one, so it nests with thread guards and with
/// other future scopes (the innermost wins), and ends exactly this override when the poll
/// returns or panics. A spawned task is a future of its own: wrap it too, with the settings in
/// force ([`get_testing`](super::get_testing)).
///
/// A server's handlers (behind `axum::serve`, hyper's connections, ..) run in tasks of their
/// own, which a scope around the test's future does not reach. Wrap each request's future in
/// the server's stack, with a layer such as
/// `tower::util::MapFutureLayer::new(|future| with_testing(Testing::new(), future))`, or turn
/// testing mode on process-wide with [`scoped_testing`](super::scoped_testing), which reaches
/// every loop of the process (keep such a test alone in its test binary). Both are in the
/// crate's `tests/axum_testing.rs`.
///
/// ```
/// use stamina::testing::{get_testing, with_testing, Testing};
///
/// # #[cfg(feature = "tokio")]
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// // In a `#[tokio::test(flavor = "multi_thread")]`, say:
/// with_testing(Testing::new().attempts(2), async {
///     let mut calls = 0;
///     let result = stamina::AsyncRetryingCaller::new() // 10 attempts by default
///         .call(|_: &std::fmt::Error| true, || {
///             calls += 1;
///             async { Err::<(), _>(std::fmt::Error) }
///         })
///         .await;
///     assert!(result.is_err());
///     assert_eq!(calls, 2); // and no wait took any time
///
///     // A spawned task takes the settings along.
///     let subtask = tokio::spawn(with_testing(get_testing(), async {
///         assert_eq!(get_testing(), Some(Testing::new().attempts(2)));
///     }));
///     subtask.await.unwrap();
/// })
/// .await;
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
pub fn with_testing<F: IntoFuture>(
    testing: impl Into<Option<Testing>>,
    future: F,
) -> WithSwitch<F::IntoFuture> {
    WithSwitch {
        future: future.into_future(),
        switch: Switch::Testing(testing.into()),
    }
}

/// Overrides the active switch for `future` alone: around every poll of it, on whatever thread
/// polls it, loops see `active` (see [`with_testing`]).
///
/// ```
/// use stamina::testing::with_active;
///
/// let mut calls = 0;
/// let result = futures::executor::block_on(with_active(false, async {
///     stamina::AsyncRetryingCaller::new()
///         .sleeper(stamina::testing::FakeSleeper::new())
///         .call(|_: &std::fmt::Error| true, || {
///             calls += 1;
///             async { Err::<(), _>(std::fmt::Error) }
///         })
///         .await
/// }));
/// assert!(result.is_err());
/// assert_eq!(calls, 1); // retrying is off for this future
/// ```
pub fn with_active<F: IntoFuture>(active: bool, future: F) -> WithSwitch<F::IntoFuture> {
    WithSwitch {
        future: future.into_future(),
        switch: Switch::Active(active),
    }
}

pin_project! {
    /// A future with a switch of its own, made by [`with_testing`] and [`with_active`]: the
    /// wrapped future's output, with the override in force during each of its polls.
    ///
    /// `Send` and `Sync` when the wrapped future is.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct WithSwitch<F> {
        #[pin]
        future: F,
        switch: Switch,
    }
}

impl<F: Future> Future for WithSwitch<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // Ends this override only, when the poll returns or unwinds.
        let _override = ThreadGuard::new(*this.switch);
        this.future.poll(cx)
    }
}

impl<F> fmt::Debug for WithSwitch<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("WithSwitch");
        match self.switch {
            Switch::Active(active) => d.field("active", &active),
            Switch::Testing(testing) => d.field("testing", &testing),
        };
        d.finish_non_exhaustive()
    }
}
