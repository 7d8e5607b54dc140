//! Nested-retry suppression: a retry loop running inside another loop's attempt can be made to
//! try once, so that retries do not multiply layer by layer.
//!
//! Retries compound when retrying code calls retrying code: three layers of four attempts each
//! make up to 4 x 4 x 4 = 64 calls to the innermost service for one outer call. With suppression
//! on, a loop that starts while an attempt of another loop is running on the same thread (for
//! async loops: in the same task) makes a single attempt and returns its error to the enclosing
//! loop, which alone retries: the 64 calls become 4.
//!
//! Suppression is opt-in, process-wide with [`set_suppress_nested`] or per loop with the
//! `suppress_nested(true)` builder method (which also turns it off for one loop with `false`).
//! Attempts count as running while their code runs through [`Attempt::run`](crate::Attempt::run)
//! or a caller; code whose outcome is passed to [`Attempt::record`](crate::Attempt::record) is
//! not seen.
//!
//! ```
//! use stamina::RetryingCaller;
//! use stamina::testing::{thread_testing, Testing};
//!
//! let _fast = thread_testing(Testing::new().attempts(4)); // 4 attempts, no waits
//! let caller = RetryingCaller::new().suppress_nested(true);
//! let mut leaf_calls = 0;
//! let _ = caller.call(|_: &std::io::Error| true, || {
//!     caller.call(|_: &std::io::Error| true, || {
//!         caller.call(|_: &std::io::Error| true, || {
//!             leaf_calls += 1;
//!             Err::<(), _>(std::io::Error::other("down"))
//!         })
//!     })
//! });
//! assert_eq!(leaf_calls, 4); // 64 without suppression
//! ```

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

static SUPPRESS: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// How many attempts of retry loops are running on this thread.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Turns nested-retry suppression on or off for every loop that does not choose for itself.
pub fn set_suppress_nested(suppress: bool) {
    SUPPRESS.store(suppress, Ordering::Release);
}

/// Whether nested-retry suppression is on process-wide.
pub fn is_suppressing_nested() -> bool {
    SUPPRESS.load(Ordering::Acquire)
}

/// Whether a loop with the per-loop setting `choice` runs nested and must not retry.
pub(crate) fn suppressed(choice: Option<bool>) -> bool {
    choice.unwrap_or_else(is_suppressing_nested) && DEPTH.get() > 0
}

/// Runs `f` as an attempt: loops started inside see themselves nested.
#[inline]
pub(crate) fn in_attempt<R>(f: impl FnOnce() -> R) -> R {
    DEPTH.set(DEPTH.get() + 1);
    let _leave = Leave;
    f()
}

/// Ends the attempt [`in_attempt`] began when dropped, during a panic's unwinding too.
struct Leave;

impl Drop for Leave {
    #[inline]
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get() - 1);
    }
}

pin_project_lite::pin_project! {
    /// A future polled as an attempt: loops started inside it (in the same task) see themselves
    /// nested, polls of other tasks on the thread in between do not.
    pub(crate) struct InAttemptFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F> InAttemptFuture<F> {
    pub(crate) fn new(inner: F) -> Self {
        Self { inner }
    }
}

impl<F: Future> Future for InAttemptFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        in_attempt(|| self.project().inner.poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_scopes_and_panics() {
        assert!(!suppressed(Some(true)));
        in_attempt(|| {
            assert!(suppressed(Some(true)));
            assert!(!suppressed(Some(false)));
            in_attempt(|| assert!(suppressed(Some(true))));
            assert!(suppressed(Some(true)));
        });
        assert!(!suppressed(Some(true)));
        let _ = std::panic::catch_unwind(|| in_attempt(|| panic!("inside")));
        assert!(!suppressed(Some(true)));
    }
}
