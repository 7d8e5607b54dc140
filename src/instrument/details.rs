//! What a hook learns about a scheduled retry.

use std::fmt;
use std::time::Duration;

use super::labels::short_type_name;
use super::{Cause, Level, ShowError};
use crate::machine::Retry;

/// What a hook learns about a retry that was just scheduled.
///
/// Made by the retry loops; hooks receive it by reference, before the wait.
///
/// ```
/// # let _quiet = stamina::testing::thread_testing(stamina::testing::Testing::new().attempts(2));
/// let caller = stamina::RetryingCaller::new()
///     .attempts(2)
///     .on_retry(|details: &stamina::RetryDetails<'_>| {
///         assert_eq!(details.retry_num(), 1);
///         assert_eq!(details.error_type(), "fmt::Error");
///         assert_eq!(format!("{:?}", details.caused_by()), "Error");
///         assert_eq!(details.attempts_limit(), Some(2));
///     });
/// let _ = caller.call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
/// ```
#[derive(Clone, Copy)]
pub struct RetryDetails<'a> {
    name: &'a str,
    // Borrowed rather than copied: the details are made for every retry that has hooks.
    retry: &'a Retry,
    caused_by: &'a Cause<'a>,
    report: Report,
}

impl fmt::Debug for RetryDetails<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryDetails")
            .field("name", &self.name)
            .field("retry_num", &self.retry_num())
            .field("wait_for", &self.wait_for())
            .field("waited_so_far", &self.waited_so_far())
            .field("caused_by", &self.caused_by)
            .field("error_type", &self.error_type())
            .field("attempts_limit", &self.attempts_limit())
            .field("remaining", &self.remaining())
            .field("report", &self.report)
            .finish()
    }
}

/// How the built-in hooks report an event: the loop's settings, and whether the `tracing` hook
/// takes the event (so that the `log` hook leaves it, rather than write it twice through the
/// `log`-to-`tracing` bridge).
#[derive(Clone, Copy, Debug)]
pub(super) struct Report {
    /// The loop's own setting; the process-wide one is read when a hook asks, which the
    /// built-in hooks do only when they report.
    pub(super) show_error: Option<ShowError>,
    pub(super) level: Level,
    #[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
    pub(super) traced: bool,
    /// The loop's name when it is `'static`, so that the `metrics` hook can label series with
    /// it without a copy, and tell it by its address.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) static_name: Option<&'static str>,
}

impl Report {
    /// What the built-in hooks show of the error: the loop's setting, else the process-wide one.
    pub(super) fn show_error(&self) -> ShowError {
        self.show_error.unwrap_or_else(super::get_show_error)
    }
}

impl<'a> RetryDetails<'a> {
    #[inline]
    pub(super) fn new(
        name: &'a str,
        retry: &'a Retry,
        caused_by: &'a Cause<'a>,
        report: Report,
    ) -> Self {
        Self {
            name,
            retry,
            caused_by,
            report,
        }
    }

    /// The name of the loop: the name it was given, else a name derived from the code that
    /// stays the same when other code is edited: for callers the path of the called function
    /// (for a closure, of the function that contains it), for the attribute the function's path
    /// (`module::Type::method` for a method), for [`retry_context`](crate::retry_context) the
    /// function that holds its `on` closure, or the file of the call.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The number of the attempt that just failed (1-based); the next attempt is one more.
    pub fn retry_num(&self) -> u32 {
        self.retry.retry_num
    }

    /// How long the loop is about to wait before the next attempt (zero in testing mode).
    pub fn wait_for(&self) -> Duration {
        self.retry.wait
    }

    /// The sum of the loop's earlier waits, this one excluded.
    pub fn waited_so_far(&self) -> Duration {
        self.retry.waited_so_far
    }

    /// The error the attempt failed with: its `Debug` output, and the error itself where the
    /// loop's predicate shows it (see [`Cause`]).
    pub fn caused_by(&self) -> Cause<'a> {
        *self.caused_by
    }

    /// The label of the error, the one the built-in hooks report: the one the loop's predicate
    /// chose (see [`Typed::error_label`](crate::Typed::error_label)), else the type of the
    /// error as a short, readable label:
    /// every path in [`std::any::type_name`]'s form cut to what people write (`io::Error` for
    /// `std::io::error::Error`, `Box<dyn Error + Send + Sync>`, `my_app::FetchError` for
    /// `my_app::client::FetchError`). One label per type, so that a metric labelled with it
    /// has as many series as there are error types.
    // Looked up when asked for (a thread-local read when the type is the one the thread saw
    // last), so that a retry whose hooks report nothing does not pay for it.
    pub fn error_type(&self) -> &'static str {
        error_type(self.caused_by)
    }

    /// What the built-in hooks show of the error for this loop (its own setting, else the
    /// process-wide one): see [`ShowError`], and [`Cause::show`] to write it the same way.
    pub fn show_error(&self) -> ShowError {
        self.report.show_error()
    }

    /// The level the built-in hooks report this retry at (the loop's own, else the
    /// process-wide one).
    pub fn level(&self) -> Level {
        self.report.level
    }

    /// Whether the built-in `tracing` hook takes this event, so that the `log` hook leaves it.
    #[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
    pub(super) fn traced(&self) -> bool {
        self.report.traced
    }

    /// The loop's name when it is `'static`.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) fn static_name(&self) -> Option<&'static str> {
        self.report.static_name
    }

    /// The attempts limit in force (the testing one in testing mode), `None` when unlimited.
    pub fn attempts_limit(&self) -> Option<u32> {
        self.retry.attempts_limit
    }

    /// The time that was left before the loop's deadline when the retry was scheduled (before
    /// the wait); `None` without a timeout and in testing mode.
    pub fn remaining(&self) -> Option<Duration> {
        self.retry.remaining
    }
}

/// The `error_type` of `cause`: its label, else its type's short name.
#[inline]
pub(super) fn error_type(cause: &Cause<'_>) -> &'static str {
    cause
        .label()
        .unwrap_or_else(|| short_type_name(cause.type_name()))
}
