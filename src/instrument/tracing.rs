//! The `tracing` backend: an event per retry and per give-up and a span over every wait, or
//! nothing without the feature.

use super::OnRetryHook;
use super::hooks::Builtin;

#[cfg(feature = "tracing")]
mod imp {
    use crate::instrument::format::{GiveUpMessage, Limit, MaybeDuration, Readable, RetryMessage};
    use crate::instrument::{GiveUpDetails, Level, RetryDetails, RetryGuard};

    pub(super) const ENABLED: bool = true;

    /// `tracing`'s macros take their level as a constant: one call site per level.
    macro_rules! at_level {
        ($level:expr, $macro:ident!($($args:tt)*)) => {
            match $level {
                Level::Error => ::tracing::$macro!(target: "stamina", ::tracing::Level::ERROR, $($args)*),
                Level::Warn => ::tracing::$macro!(target: "stamina", ::tracing::Level::WARN, $($args)*),
                Level::Info => ::tracing::$macro!(target: "stamina", ::tracing::Level::INFO, $($args)*),
                Level::Debug => ::tracing::$macro!(target: "stamina", ::tracing::Level::DEBUG, $($args)*),
                Level::Trace => ::tracing::$macro!(target: "stamina", ::tracing::Level::TRACE, $($args)*),
            }
        };
    }

    /// Whether a subscriber takes stamina's events at `level`.
    pub(super) fn subscribed(level: Level) -> bool {
        at_level!(level, enabled!())
    }

    pub(super) fn retry_scheduled(details: &RetryDetails<'_>) -> Option<RetryGuard> {
        if !details.traced() {
            // No subscriber takes the event (the `log` hook reports it, if it is on), or the
            // hook runs outside the built-in list's checks: nothing to trace.
            return None;
        }
        let span = ::tracing::info_span!(
            target: "stamina",
            "stamina.retry_wait",
            callable = details.name(),
            retry_num = details.retry_num(),
            wait_for = %Readable(details.wait_for()),
        );
        span.in_scope(|| {
            at_level!(
                details.level(),
                event!(
                    callable = details.name(),
                    retry_num = details.retry_num(),
                    wait_for = %Readable(details.wait_for()),
                    waited_so_far = %Readable(details.waited_so_far()),
                    max_attempts = %Limit(details.attempts_limit()),
                    remaining = %MaybeDuration(details.remaining()),
                    error_type = details.error_type(),
                    caused_by = %details.caused_by().show(details.show_error()),
                    "{}",
                    RetryMessage(details)
                )
            );
        });
        // The span closes when the guard is dropped, right before the next attempt.
        (!span.is_none()).then(|| RetryGuard::new(span))
    }

    pub(super) fn gave_up(details: &GiveUpDetails<'_>) {
        if !details.traced() {
            return;
        }
        at_level!(
            details.level(),
            event!(
                callable = details.name(),
                reason = details.reason().as_str(),
                attempts = details.attempts(),
                waited = %Readable(details.waited()),
                error_type = details.error_type(),
                caused_by = %details.caused_by().show(details.show_error()),
                "{}",
                GiveUpMessage(details)
            )
        );
    }
}

#[cfg(not(feature = "tracing"))]
mod imp {
    use crate::instrument::{GiveUpDetails, Level, RetryDetails, RetryGuard};

    pub(super) const ENABLED: bool = false;

    pub(super) fn subscribed(_: Level) -> bool {
        false
    }

    pub(super) fn retry_scheduled(_: &RetryDetails<'_>) -> Option<RetryGuard> {
        None
    }

    pub(super) fn gave_up(_: &GiveUpDetails<'_>) {}
}

/// Whether the feature is on, so that the hook belongs to the defaults.
pub(super) const ENABLED: bool = imp::ENABLED;

/// Whether a `tracing` subscriber takes stamina's events at `level` (never without the
/// feature).
pub(super) fn subscribed(level: super::Level) -> bool {
    imp::subscribed(level)
}

/// What the built-in hook does for a scheduled retry, for a direct call.
#[inline]
pub(super) fn retry_scheduled(details: &super::RetryDetails<'_>) -> Option<super::RetryGuard> {
    imp::retry_scheduled(details)
}

/// The built-in `tracing` hook (which does nothing without the feature).
pub(super) fn hook() -> OnRetryHook {
    OnRetryHook::new(imp::retry_scheduled)
        .on_give_up(imp::gave_up)
        .named("stamina::tracing")
        .builtin(Builtin::Tracing)
}
