//! The `log` backend: a record per retry and per give-up, or nothing without the feature.

use super::OnRetryHook;
use super::hooks::Builtin;

#[cfg(feature = "log")]
mod imp {
    use crate::instrument::format::{GiveUpMessage, Limit, MaybeDuration, Readable, RetryMessage};
    use crate::instrument::{GiveUpDetails, Level, RetryDetails};

    pub(super) const ENABLED: bool = true;

    fn level(level: Level) -> ::log::Level {
        match level {
            Level::Error => ::log::Level::Error,
            Level::Warn => ::log::Level::Warn,
            Level::Info => ::log::Level::Info,
            Level::Debug => ::log::Level::Debug,
            Level::Trace => ::log::Level::Trace,
        }
    }

    #[inline]
    pub(super) fn retry_scheduled(details: &RetryDetails<'_>) {
        if details.traced() {
            // The `tracing` hook reports it; a record here would reach a `tracing` subscriber
            // a second time through the `log` bridge.
            return;
        }
        ::log::log!(
            target: "stamina",
            level(details.level()),
            callable = details.name(),
            retry_num = details.retry_num(),
            wait_for:% = Readable(details.wait_for()),
            waited_so_far:% = Readable(details.waited_so_far()),
            max_attempts:% = Limit(details.attempts_limit()),
            remaining:% = MaybeDuration(details.remaining()),
            error_type = details.error_type(),
            caused_by:% = details.caused_by().show(details.show_error());
            "{}",
            RetryMessage(details)
        );
    }

    pub(super) fn gave_up(details: &GiveUpDetails<'_>) {
        if details.traced() {
            return;
        }
        ::log::log!(
            target: "stamina",
            level(details.level()),
            callable = details.name(),
            reason = details.reason().as_str(),
            attempts = details.attempts(),
            waited:% = Readable(details.waited()),
            error_type = details.error_type(),
            caused_by:% = details.caused_by().show(details.show_error());
            "{}",
            GiveUpMessage(details)
        );
    }
}

#[cfg(not(feature = "log"))]
mod imp {
    use crate::instrument::{GiveUpDetails, RetryDetails};

    pub(super) const ENABLED: bool = false;

    pub(super) fn retry_scheduled(_: &RetryDetails<'_>) {}

    pub(super) fn gave_up(_: &GiveUpDetails<'_>) {}
}

/// Whether the feature is on, so that the hook belongs to the defaults.
pub(super) const ENABLED: bool = imp::ENABLED;

/// What the built-in hook does for a scheduled retry, for a direct call.
#[inline]
pub(super) fn retry_scheduled(details: &super::RetryDetails<'_>) {
    imp::retry_scheduled(details)
}

/// The built-in `log` hook (which does nothing without the feature).
pub(super) fn hook() -> OnRetryHook {
    OnRetryHook::new(imp::retry_scheduled)
        .on_give_up(imp::gave_up)
        .named("stamina::log")
        .builtin(Builtin::Log)
}
