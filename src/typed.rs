//! A predicate wrapper that shows hooks the error itself, and labels it.

use std::error::Error;
use std::fmt;
use std::marker::PhantomData;

use crate::instrument::ErrorView;
use crate::{Decision, RetryOn};

/// Wraps the `on` predicate of a loop whose error type `E` is an [`Error`] and `'static`, so that
/// its hooks see the error itself: [`Cause::downcast_ref`](crate::instrument::Cause::downcast_ref),
/// [`Cause::as_error`](crate::instrument::Cause::as_error) (for its `source()` chain and its
/// `Display`), and with [`error_label`](Typed::error_label) a label of your choosing for the
/// built-in hooks' `error_type`.
///
/// The loops themselves only require `E: Debug`, so without this they can show hooks nothing
/// but the error's `Debug` output. It works for every loop: `retry_context(typed(on))`,
/// `caller.call(typed(on), f)`, `caller.on(typed(on))` and
/// `#[stamina::retry(on = stamina::typed(on))]`.
///
/// ```
/// use std::{io, time::Duration};
///
/// fn is_transient(error: &io::Error) -> bool {
///     matches!(error.kind(), io::ErrorKind::TimedOut | io::ErrorKind::ConnectionReset)
/// }
///
/// // A few labels for dashboards instead of one per type.
/// fn label(error: &io::Error) -> &'static str {
///     match error.kind() {
///         io::ErrorKind::TimedOut => "timeout",
///         _ => "connection",
///     }
/// }
///
/// let caller = stamina::RetryingCaller::new()
///     .attempts(2)
///     .wait_jitter(Duration::ZERO)
///     .wait_initial(Duration::ZERO)
///     .on(stamina::typed(is_transient).error_label(label))
///     .on_retry(|details: &stamina::RetryDetails<'_>| {
///         assert_eq!(details.error_type(), "timeout");
///         let error = details.caused_by().downcast_ref::<io::Error>().unwrap();
///         assert_eq!(error.kind(), io::ErrorKind::TimedOut);
///     });
/// let result = caller.call(|| Err::<(), _>(io::Error::from(io::ErrorKind::TimedOut)));
/// assert!(result.is_err());
/// ```
pub fn typed<E, On>(on: On) -> Typed<On, E>
where
    E: Error + 'static,
    On: RetryOn<E>,
{
    Typed {
        on,
        label: None,
        _error: PhantomData,
    }
}

/// The predicate made by [`typed`]: `on`'s decisions, and the error shown to hooks.
#[must_use = "an `on` predicate does nothing until it is given to a retry context or caller"]
pub struct Typed<On, E> {
    on: On,
    label: Option<fn(&E) -> &'static str>,
    _error: PhantomData<fn(&E)>,
}

impl<On, E> Typed<On, E> {
    /// Labels each error with `label`'s answer, which the built-in hooks report as `error_type`
    /// (a log field, a metric label) instead of the type's name: a few stable values such as
    /// `timeout`, `connect` or `status` make a chartable metric.
    pub fn error_label(mut self, label: fn(&E) -> &'static str) -> Self {
        self.label = Some(label);
        self
    }
}

impl<On, E> RetryOn<E> for Typed<On, E>
where
    E: Error + 'static,
    On: RetryOn<E>,
{
    fn decide(&self, error: &E) -> Decision {
        self.on.decide(error)
    }

    fn error_view<'e>(&self, error: &'e E) -> ErrorView<'e> {
        let view = self.on.error_view(error).or(ErrorView::of(error));
        self.label
            .map_or(view, |label| view.with_label(label(error)))
    }
}

impl<On: Clone, E> Clone for Typed<On, E> {
    fn clone(&self) -> Self {
        Self {
            on: self.on.clone(),
            label: self.label,
            _error: PhantomData,
        }
    }
}

impl<On: Copy, E> Copy for Typed<On, E> {}

impl<On, E> fmt::Debug for Typed<On, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Typed")
            .field("on", &format_args!("{}", std::any::type_name::<On>()))
            .field("error", &format_args!("{}", std::any::type_name::<E>()))
            .field("error_label", &self.label.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed_out(error: &std::io::Error) -> bool {
        error.kind() == std::io::ErrorKind::TimedOut
    }

    #[test]
    fn debug_names_the_predicate_and_the_error_type() {
        let on = typed(timed_out);
        assert_eq!(
            format!("{on:?}"),
            "Typed { on: stamina::typed::tests::timed_out, error: std::io::error::Error, \
             error_label: false }"
        );
        let labelled = on.error_label(|_| "io");
        assert!(format!("{labelled:?}").ends_with("error_label: true }"));
    }
}
