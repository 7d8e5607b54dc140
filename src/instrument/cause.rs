//! The error as hooks see it: its `Debug` output always, and itself (typed access, the
//! `source()` chain) when the loop's `on` predicate can show it.

use std::any::Any;
use std::error::Error;
use std::fmt;

use super::ShowError;
use super::details::error_type;

/// The error a retry or give-up is about, as hooks see it.
///
/// It is always the error's `Debug` output (this type's own `Debug` writes it), and its type
/// name. Hooks can also reach the error itself, to downcast it or walk its `source()` chain,
/// when the loop's `on` predicate shows it (see [`ErrorView`]): predicates wrapped in
/// [`typed`] (in a loop, a caller or `#[stamina::retry(on = stamina::typed(..))]`) and the
/// [`on_cause`] matchers do. Elsewhere [`downcast_ref`](Self::downcast_ref) and
/// [`as_error`](Self::as_error) return `None`.
///
/// Why a wrapper: the loops require only `E: Debug` of an error, so that errors which are not
/// `'static` (or not [`Error`]s) can be retried, and generic code cannot see more of a value
/// than its bounds say; the `on` predicate is the one place that knows the error's type, so it
/// is where a loop opts in.
///
/// [`on_cause`]: crate::on_cause
/// [`typed`]: crate::typed
///
/// ```
/// use std::{io, time::Duration};
///
/// let caller = stamina::RetryingCaller::new()
///     .attempts(2)
///     .wait_initial(Duration::ZERO)
///     .wait_jitter(Duration::ZERO)
///     .on_retry(|details: &stamina::RetryDetails<'_>| {
///         let cause = details.caused_by();
///         assert_eq!(format!("{cause:?}"), "Kind(TimedOut)");
///         let io = cause.downcast_ref::<io::Error>().unwrap();
///         assert_eq!(io.kind(), io::ErrorKind::TimedOut);
///         assert_eq!(cause.as_error().unwrap().to_string(), "timed out");
///     });
/// let on = stamina::typed(|e: &io::Error| e.kind() == io::ErrorKind::TimedOut);
/// let result = caller.call(on, || Err::<(), _>(io::Error::from(io::ErrorKind::TimedOut)));
/// assert!(result.is_err());
/// ```
#[derive(Clone, Copy)]
pub struct Cause<'a> {
    debug: &'a dyn fmt::Debug,
    view: ErrorView<'a>,
    type_name: &'static str,
}

impl<'a> Cause<'a> {
    #[inline]
    pub(crate) fn new<E: fmt::Debug>(error: &'a E, view: ErrorView<'a>) -> Self {
        Self {
            debug: error,
            view,
            type_name: std::any::type_name::<E>(),
        }
    }

    /// The error as a `T`, when it is one and the loop's predicate shows it (see the
    /// [type-level docs](Self)).
    pub fn downcast_ref<T: 'static>(&self) -> Option<&'a T> {
        self.view.any?.downcast_ref()
    }

    /// The error as an [`Error`], to display it or walk its `source()` chain, when the loop's
    /// predicate shows it (see the [type-level docs](Self)). For a boxed error, the error in
    /// the box.
    pub fn as_error(&self) -> Option<&'a (dyn Error + 'static)> {
        self.view.error
    }

    /// The error's type, as [`std::any::type_name`] writes it.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The error as `how` shows it, as the built-in hooks write it (see [`ShowError`]).
    ///
    /// ```
    /// use stamina::instrument::ShowError;
    ///
    /// let caller = stamina::RetryingCaller::new()
    ///     .attempts(2)
    ///     .wait_initial(std::time::Duration::ZERO)
    ///     .on_retry(|details: &stamina::RetryDetails<'_>| {
    ///         let cause = details.caused_by();
    ///         assert_eq!(cause.show(ShowError::Type).to_string(), "fmt::Error");
    ///         assert_eq!(cause.show(ShowError::Debug).to_string(), "Error");
    ///         // `Display` needs the error itself, which `typed` shows.
    ///         let text = cause.show(ShowError::Display).to_string();
    ///         assert_eq!(text, "an error occurred when formatting an argument");
    ///     });
    /// let on = stamina::typed(|_: &std::fmt::Error| true);
    /// let _ = caller.call(on, || Err::<(), _>(std::fmt::Error));
    /// ```
    pub fn show(&self, how: ShowError) -> impl fmt::Display + 'a {
        Shown { cause: *self, how }
    }

    /// The label the predicate chose for the error, if any.
    pub(crate) fn label(&self) -> Option<&'static str> {
        self.view.label
    }

    /// The error's `Debug` output, as a trait object.
    pub fn as_debug(&self) -> &'a dyn fmt::Debug {
        self.debug
    }
}

impl fmt::Debug for Cause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.debug.fmt(f)
    }
}

/// A cause as a [`ShowError`] setting shows it.
struct Shown<'a> {
    cause: Cause<'a>,
    how: ShowError,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cause = self.cause;
        match (self.how, cause.as_error()) {
            (ShowError::Debug, _) => cause.debug.fmt(f),
            (ShowError::Display, Some(error)) => fmt::Display::fmt(error, f),
            (ShowError::With(show), _) => show(cause, f),
            (ShowError::Type | ShowError::Display, _) => f.write_str(error_type(&cause)),
        }
    }
}

/// What an `on` predicate shows hooks of an error beyond its `Debug` output: the error as an
/// [`Error`] and as [`Any`] (for [`Cause::as_error`] and [`Cause::downcast_ref`]), and the
/// label the built-in hooks report as `error_type`.
///
/// Returned by [`RetryOn::error_view`](crate::RetryOn::error_view), which shows nothing unless
/// a predicate says otherwise; [`typed`](crate::typed) wraps any predicate into one that shows
/// the error.
///
/// ```
/// use std::io;
/// use stamina::instrument::ErrorView;
///
/// let error = io::Error::from(io::ErrorKind::TimedOut);
/// let view = ErrorView::of(&error).with_label("timeout");
/// assert_eq!(
///     format!("{view:?}"),
///     r#"ErrorView { error: true, any: true, label: Some("timeout") }"#,
/// );
/// ```
#[derive(Clone, Copy, Default)]
pub struct ErrorView<'e> {
    error: Option<&'e (dyn Error + 'static)>,
    any: Option<&'e dyn Any>,
    label: Option<&'static str>,
}

impl<'e> ErrorView<'e> {
    /// Shows nothing: hooks see the error's `Debug` output only.
    pub const fn new() -> Self {
        Self {
            error: None,
            any: None,
            label: None,
        }
    }

    /// Shows `error` as an [`Error`] and as itself.
    pub fn of<E: Error + 'static>(error: &'e E) -> Self {
        Self {
            error: Some(error),
            any: Some(error),
            label: None,
        }
    }

    /// Shows `error` as itself, for downcasting (for an error type that is not an [`Error`]).
    pub fn of_any<E: 'static>(error: &'e E) -> Self {
        Self {
            error: None,
            any: Some(error),
            label: None,
        }
    }

    /// Shows `error` as an [`Error`] (such as the error inside a box).
    pub fn with_error(mut self, error: &'e (dyn Error + 'static)) -> Self {
        self.error = Some(error);
        self
    }

    /// Sets the label the built-in hooks report as `error_type` (instead of the type's name).
    pub fn with_label(mut self, label: &'static str) -> Self {
        self.label = Some(label);
        self
    }

    /// This view, with what it lacks taken from `other`.
    pub(crate) fn or(self, other: Self) -> Self {
        Self {
            error: self.error.or(other.error),
            any: self.any.or(other.any),
            label: self.label.or(other.label),
        }
    }
}

impl fmt::Debug for ErrorView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorView")
            .field("error", &self.error.is_some())
            .field("any", &self.any.is_some())
            .field("label", &self.label)
            .finish()
    }
}
