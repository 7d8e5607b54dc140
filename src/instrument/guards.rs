//! What hooks keep alive over a wait, and how loops hold it.

use std::fmt;

/// Something a hook keeps alive over the wait that follows a retry, such as a span or a timer.
///
/// It is dropped exactly once: right before the next attempt starts, or when the loop is dropped
/// during the wait. Guards of one retry are dropped in the reverse order of the hooks that made
/// them.
///
/// ```
/// use std::time::Instant;
/// use stamina::instrument::RetryGuard;
///
/// struct WaitTimer(Instant);
///
/// impl Drop for WaitTimer {
///     fn drop(&mut self) {
///         let waited = self.0.elapsed(); // report it somewhere
/// #       let _ = waited;
///     }
/// }
///
/// # let _quiet = stamina::testing::thread_testing(stamina::testing::Testing::new().attempts(2));
/// let caller = stamina::RetryingCaller::new()
///     .on_retry(|_: &stamina::RetryDetails<'_>| RetryGuard::new(WaitTimer(Instant::now())));
/// let _ = caller.call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
/// ```
///
/// A guard whose `Drop` panics propagates that panic, except while the thread is already
/// unwinding from another panic (the user's code panicked, or a clock's `sleep` did, while the
/// loop held guards): then the guard's panic is caught and reported by the panic hook, because a
/// second panic escaping a destructor during unwinding would abort the process.
#[must_use = "a retry guard is dropped at once unless the hook returns it"]
pub struct RetryGuard {
    guard: Option<Box<dyn Send>>,
    type_name: &'static str,
}

impl RetryGuard {
    /// Wraps `guard`, which the loop drops right before the next attempt.
    pub fn new<G: Send + 'static>(guard: G) -> Self {
        Self {
            guard: Some(Box::new(guard)),
            type_name: std::any::type_name::<G>(),
        }
    }
}

impl Drop for RetryGuard {
    fn drop(&mut self) {
        let guard = self.guard.take();
        if std::thread::panicking() {
            // The panic hook has already reported this guard's panic, if any.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(guard)));
        } else {
            drop(guard);
        }
    }
}

impl fmt::Debug for RetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RetryGuard")
            .field(&format_args!("{}", self.type_name))
            .finish()
    }
}

/// What an on-retry hook may return: nothing (`()`), a [`RetryGuard`], or an
/// `Option<RetryGuard>`.
pub trait IntoRetryGuard {
    /// The guard to keep over the wait, if any.
    fn into_retry_guard(self) -> Option<RetryGuard>;
}

impl IntoRetryGuard for () {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        None
    }
}

impl IntoRetryGuard for RetryGuard {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        Some(self)
    }
}

impl IntoRetryGuard for Option<RetryGuard> {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        self
    }
}

/// The guards the hooks returned for one retry, dropped (in reverse order) when this is.
///
/// Allocates only when a hook returns a guard.
#[derive(Default)]
pub(crate) struct Guards(pub(super) Vec<RetryGuard>);

impl Drop for Guards {
    #[inline]
    fn drop(&mut self) {
        while let Some(guard) = self.0.pop() {
            drop(guard);
        }
    }
}

impl fmt::Debug for Guards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}
