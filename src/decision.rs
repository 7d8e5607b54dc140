//! What the `on` predicate returns, and how its answers convert.

use std::error::Error;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::instrument::ErrorView;

/// What to do about a failed attempt.
///
/// An `on` predicate may return this directly, or anything that converts into it:
///
/// | returned | decision |
/// |---|---|
/// | `true` | [`Decision::Retry`]: retry after the computed backoff |
/// | `false` | [`Decision::DontRetry`]: return the error now |
/// | a [`Duration`] | [`Decision::RetryAfter`]: retry after exactly that long |
///
/// ```
/// use std::time::Duration;
/// use stamina::Decision;
///
/// #[derive(Debug)]
/// enum ApiError {
///     Unavailable { retry_after: Option<Duration> },
///     NotFound,
/// }
///
/// fn on(error: &ApiError) -> Decision {
///     match error {
///         ApiError::Unavailable { retry_after: Some(wait) } => Decision::RetryAfter(*wait),
///         ApiError::Unavailable { retry_after: None } => Decision::Retry,
///         ApiError::NotFound => Decision::DontRetry,
///     }
/// }
///
/// let mut calls = 0;
/// let result = stamina::RetryingCaller::new()
///     .call(on, || {
///         calls += 1;
///         Err::<(), _>(ApiError::NotFound)
///     });
/// assert!(matches!(result, Err(ApiError::NotFound)));
/// assert_eq!(calls, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Retry after the backoff computed from the policy (exponential, jittered, capped).
    Retry,
    /// Retry after exactly this long (server pushback such as `Retry-After`).
    ///
    /// The wait is neither jittered nor capped by `wait_max`; it is zero in testing mode; it still
    /// counts against the attempts limit, and a wait that would end at or after the deadline ends
    /// the loop at once with the error. A wait longer than
    /// [`retry_after_max`](crate::RetryPolicy::retry_after_max) ends the loop too, in testing mode
    /// as well.
    RetryAfter(Duration),
    /// Do not retry: return the error to the caller now.
    DontRetry,
}

impl From<bool> for Decision {
    fn from(retry: bool) -> Self {
        if retry { Self::Retry } else { Self::DontRetry }
    }
}

impl From<Duration> for Decision {
    fn from(wait: Duration) -> Self {
        Self::RetryAfter(wait)
    }
}

/// Decides whether an error of type `E` is worth another attempt.
///
/// Implemented for every closure or function `Fn(&E) -> D` where `D` converts into a
/// [`Decision`] (`bool`, [`Duration`], `Decision`), and for the [`on_cause`] matcher.
///
/// ```
/// use std::io;
///
/// fn is_transient(error: &io::Error) -> bool {
///     matches!(error.kind(), io::ErrorKind::TimedOut | io::ErrorKind::ConnectionReset)
/// }
///
/// let caller = stamina::RetryingCaller::new().attempts(2).on(is_transient);
/// let result: io::Result<()> = caller.call(|| Err(io::ErrorKind::NotFound.into()));
/// assert_eq!(result.unwrap_err().kind(), io::ErrorKind::NotFound);
/// ```
pub trait RetryOn<E: ?Sized> {
    /// The decision for `error`.
    fn decide(&self, error: &E) -> Decision;

    /// What hooks may see of `error` beyond its `Debug` output (see
    /// [`Cause`](crate::instrument::Cause)): nothing by default. The [`on_cause`] matchers show
    /// the error in the box, and [`typed`](crate::typed) wraps any predicate into one that
    /// shows the error itself.
    fn error_view<'e>(&self, error: &'e E) -> ErrorView<'e> {
        let _ = error;
        ErrorView::new()
    }
}

impl<E, F, D> RetryOn<E> for F
where
    E: ?Sized,
    F: Fn(&E) -> D,
    D: Into<Decision>,
{
    fn decide(&self, error: &E) -> Decision {
        self(error).into()
    }
}

/// Returns the first error of type `T` in the chain that starts at `error` itself and follows
/// [`Error::source`].
///
/// ```
/// use std::{error::Error, io};
///
/// let inner = io::Error::new(io::ErrorKind::TimedOut, "slow");
/// let outer: Box<dyn Error + Send + Sync> = Box::new(Wrapped(inner));
/// let found = stamina::find_cause::<io::Error>(&*outer).unwrap();
/// assert_eq!(found.kind(), io::ErrorKind::TimedOut);
/// # #[derive(Debug)] struct Wrapped(io::Error);
/// # impl std::fmt::Display for Wrapped { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("wrapped") } }
/// # impl Error for Wrapped { fn source(&self) -> Option<&(dyn Error + 'static)> { Some(&self.0) } }
/// ```
pub fn find_cause<'a, T: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a T> {
    std::iter::successors(Some(error), |&error| error.source())
        .find_map(|error| error.downcast_ref())
}

/// Whether an error of type `T` is anywhere in the chain that starts at `error`.
///
/// Works with any error that can be seen as a `dyn Error`: a concrete error (`&e`), a
/// `Box<dyn Error + Send + Sync>` (`&*e`), an `anyhow::Error` (`e.as_ref()`).
///
/// ```
/// use std::io;
///
/// let caller = stamina::RetryingCaller::new().attempts(3).wait_initial(std::time::Duration::ZERO).wait_jitter(std::time::Duration::ZERO);
/// let mut calls = 0;
/// let result = caller.call(
///     |e: &Box<dyn std::error::Error + Send + Sync>| stamina::has_cause::<io::Error>(&**e),
///     || {
///         calls += 1;
///         Err::<(), _>(io::Error::other("down").into())
///     },
/// );
/// assert!(result.is_err());
/// assert_eq!(calls, 3);
/// ```
pub fn has_cause<T: Error + 'static>(error: &(dyn Error + 'static)) -> bool {
    find_cause::<T>(error).is_some()
}

/// An `on` predicate that retries when an error of type `T` is anywhere in the source chain of a
/// boxed error (`Box<dyn Error>`, `Box<dyn Error + Send>`, `Box<dyn Error + Send + Sync>`).
///
/// The boxed-error counterpart of Python stamina's `on=SomeException`. For other error types, use
/// [`has_cause`] in a closure.
///
/// ```
/// use std::{error::Error, io, time::Duration};
///
/// fn fetch() -> Result<String, Box<dyn Error + Send + Sync>> {
///     Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset").into())
/// }
///
/// let caller = stamina::RetryingCaller::new()
///     .attempts(2)
///     .wait_initial(Duration::ZERO)
///     .wait_jitter(Duration::ZERO)
///     .on(stamina::on_cause::<io::Error>());
/// assert!(caller.call(fetch).is_err());
/// ```
pub const fn on_cause<T: Error + 'static>() -> OnCause<T> {
    OnCause(PhantomData)
}

/// The matcher returned by [`on_cause`].
#[must_use = "an `on` predicate does nothing until it is given to a retry context or caller"]
pub struct OnCause<T>(PhantomData<fn() -> T>);

impl<T> Clone for OnCause<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for OnCause<T> {}

impl<T> fmt::Debug for OnCause<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OnCause<{}>", std::any::type_name::<T>())
    }
}

macro_rules! on_cause_for {
    ($($ty:ty),* $(,)?) => {$(
        impl<T: Error + 'static> RetryOn<$ty> for OnCause<T> {
            fn decide(&self, error: &$ty) -> Decision {
                has_cause::<T>(&**error).into()
            }

            fn error_view<'e>(&self, error: &'e $ty) -> ErrorView<'e> {
                ErrorView::of_any(error).with_error(&**error)
            }
        }
    )*};
}

on_cause_for!(
    Box<dyn Error>,
    Box<dyn Error + Send>,
    Box<dyn Error + Send + Sync>,
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[derive(Debug)]
    struct Outer(io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer")
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn on_cause_prints_its_cause_type() {
        let on = on_cause::<io::Error>();
        assert_eq!(format!("{on:?}"), "OnCause<std::io::error::Error>");
    }

    #[test]
    fn conversions() {
        assert_eq!(Decision::from(true), Decision::Retry);
        assert_eq!(Decision::from(false), Decision::DontRetry);
        assert_eq!(
            Decision::from(Duration::from_secs(3)),
            Decision::RetryAfter(Duration::from_secs(3))
        );
    }

    #[test]
    fn causes_are_found_anywhere_in_the_chain() {
        let boxed: Box<dyn Error + Send + Sync> =
            Box::new(Outer(io::Error::new(io::ErrorKind::TimedOut, "t")));
        assert!(has_cause::<io::Error>(&*boxed));
        assert!(has_cause::<Outer>(&*boxed));
        assert!(!has_cause::<fmt::Error>(&*boxed));
        assert_eq!(on_cause::<io::Error>().decide(&boxed), Decision::Retry);
        assert_eq!(on_cause::<fmt::Error>().decide(&boxed), Decision::DontRetry);
        let plain: Box<dyn Error> = Box::new(fmt::Error);
        assert_eq!(on_cause::<fmt::Error>().decide(&plain), Decision::Retry);
    }
}
