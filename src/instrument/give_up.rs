//! The give-up signal: why a retryable error ended a loop, and the handlers told about it.

use std::fmt;
use std::time::Duration;

use super::details::Report;
use super::registry::report;
use super::registry::{no_process_hooks, with_process_hooks};
use super::{Cause, ErrorView, Level, LoopHooks, ShowError};
use crate::machine::GiveUp;

/// Why a retryable error ended a loop.
///
/// The give-up signal is for loops that were allowed to retry and still failed. So there is none
/// when:
///
/// - the error is not worth retrying, or retrying is switched off: no retry failed;
/// - a loop allowed a single attempt ran out of it (`attempts = 1`, or testing mode's default
///   of one attempt): no retry was ever possible, and a failing test should not fill its log
///   with warnings.
///
/// A loop that wanted to retry after its first attempt but could not (its deadline, its budget
/// or a server's wait beyond `retry_after_max` stopped it) does report, with that reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// Every allowed attempt was made.
    AttemptsExhausted,
    /// The next wait would have ended at or after the loop's deadline.
    DeadlineExceeded,
    /// The `on` predicate asked for a wait beyond
    /// [`retry_after_max`](crate::RetryPolicy::retry_after_max).
    RetryAfterTooLong,
    /// The shared [`RetryBudget`](crate::RetryBudget) could not pay for another retry.
    BudgetExhausted,
}

impl GiveUpReason {
    /// The reason in `snake_case`, as the built-in hooks report it: `"attempts_exhausted"`,
    /// `"deadline_exceeded"`, `"retry_after_too_long"` or `"budget_exhausted"`.
    ///
    /// ```
    /// use stamina::instrument::GiveUpReason;
    ///
    /// assert_eq!(GiveUpReason::DeadlineExceeded.as_str(), "deadline_exceeded");
    /// assert_eq!(GiveUpReason::AttemptsExhausted.to_string(), "attempts_exhausted");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AttemptsExhausted => "attempts_exhausted",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::RetryAfterTooLong => "retry_after_too_long",
            Self::BudgetExhausted => "budget_exhausted",
        }
    }

    fn from_give_up(give_up: GiveUp) -> Option<Self> {
        match give_up {
            GiveUp::AttemptsExhausted => Some(Self::AttemptsExhausted),
            GiveUp::DeadlineExceeded => Some(Self::DeadlineExceeded),
            GiveUp::RetryAfterTooLong => Some(Self::RetryAfterTooLong),
            GiveUp::BudgetExhausted => Some(Self::BudgetExhausted),
            // A nested loop hands its error to the enclosing loop, which reports on it.
            GiveUp::Inactive | GiveUp::NotRetryable | GiveUp::Nested => None,
        }
    }
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a give-up handler learns about a loop that a retryable error ended.
///
/// ```
/// use stamina::instrument::{GiveUpDetails, GiveUpReason, OnRetryHook};
///
/// let hook = OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {}).on_give_up(
///     |details: &GiveUpDetails<'_>| {
///         assert_eq!(details.reason(), GiveUpReason::AttemptsExhausted);
///         assert_eq!(details.attempts(), 3);
///     },
/// );
/// # let _ = hook;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct GiveUpDetails<'a> {
    name: &'a str,
    reason: GiveUpReason,
    attempts: u32,
    waited: Duration,
    caused_by: Cause<'a>,
    error_type: &'static str,
    report: Report,
}

impl<'a> GiveUpDetails<'a> {
    /// The name of the loop (see [`RetryDetails::name`](super::RetryDetails::name)).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Why the loop ended.
    pub fn reason(&self) -> GiveUpReason {
        self.reason
    }

    /// How many attempts the loop made, the last one included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The sum of the loop's waits.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// The last error, which the loop returns (see
    /// [`RetryDetails::caused_by`](super::RetryDetails::caused_by)).
    pub fn caused_by(&self) -> Cause<'a> {
        self.caused_by
    }

    /// The label of the error (see
    /// [`RetryDetails::error_type`](super::RetryDetails::error_type)).
    pub fn error_type(&self) -> &'static str {
        self.error_type
    }

    /// What the built-in hooks show of the error (see
    /// [`RetryDetails::show_error`](super::RetryDetails::show_error)).
    pub fn show_error(&self) -> ShowError {
        self.report.show_error()
    }

    /// The level the built-in hooks report the give-up at (see
    /// [`RetryDetails::level`](super::RetryDetails::level)).
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
}

/// Calls the hooks' give-up handlers when the state machine gave up with `give_up` after
/// `attempts` attempts and `waited` of waits; does nothing unless a retryable error ended a loop
/// that was allowed to retry (see [`GiveUpReason`]).
pub(crate) fn gave_up<'e, E: fmt::Debug>(
    name: &str,
    give_up: GiveUp,
    attempts: u32,
    waited: Duration,
    error: &'e E,
    view: impl FnOnce(&'e E) -> ErrorView<'e>,
    local: &LoopHooks,
) {
    let Some(reason) = GiveUpReason::from_give_up(give_up) else {
        return;
    };
    if reason == GiveUpReason::AttemptsExhausted && attempts <= 1 {
        return;
    }
    if local.list.is_empty() && no_process_hooks() {
        return;
    }
    with_process_hooks(|process| {
        if process.list.is_empty() && local.list.is_empty() {
            return;
        }
        let caused_by = Cause::new(error, view(error));
        let details = GiveUpDetails {
            name,
            reason,
            attempts,
            waited,
            caused_by,
            error_type: super::details::error_type(&caused_by),
            report: report(process, local, name),
        };
        for hook in process.list.iter().chain(local.list.iter()) {
            hook.gave_up(&details);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_retryable_errors_give_up() {
        assert_eq!(GiveUpReason::from_give_up(GiveUp::Inactive), None);
        assert_eq!(GiveUpReason::from_give_up(GiveUp::NotRetryable), None);
        assert_eq!(
            GiveUpReason::from_give_up(GiveUp::AttemptsExhausted),
            Some(GiveUpReason::AttemptsExhausted)
        );
        assert_eq!(
            GiveUpReason::from_give_up(GiveUp::DeadlineExceeded),
            Some(GiveUpReason::DeadlineExceeded)
        );
    }
}
