//! The `log` backend: a warn record per retry and per give-up, or nothing without the feature.

use super::OnRetryHook;

#[cfg(feature = "log")]
mod imp {
    use crate::instrument::format::{Limit, MaybeDuration, Readable};
    use crate::instrument::{GiveUpDetails, RetryDetails};

    pub(super) const ENABLED: bool = true;

    pub(super) fn retry_scheduled(details: &RetryDetails<'_>) {
        ::log::warn!(
            target: "stamina",
            callable = details.name(),
            retry_num = details.retry_num(),
            wait_for:% = Readable(details.wait_for()),
            waited_so_far:% = Readable(details.waited_so_far()),
            max_attempts:% = Limit(details.attempts_limit()),
            remaining:% = MaybeDuration(details.remaining()),
            error_type = details.error_type(),
            caused_by:? = details.caused_by();
            "stamina.retry_scheduled"
        );
    }

    pub(super) fn gave_up(details: &GiveUpDetails<'_>) {
        ::log::warn!(
            target: "stamina",
            callable = details.name(),
            reason = details.reason().as_str(),
            attempts = details.attempts(),
            waited:% = Readable(details.waited()),
            error_type = details.error_type(),
            caused_by:? = details.caused_by();
            "stamina.retries_exhausted"
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

/// The built-in `log` hook (which does nothing without the feature).
pub(super) fn hook() -> OnRetryHook {
    OnRetryHook::new(imp::retry_scheduled)
        .on_give_up(imp::gave_up)
        .named("stamina::log")
}
