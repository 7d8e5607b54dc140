//! The `metrics` backend: counters of retries and give-ups, or nothing without the feature.

use super::OnRetryHook;

#[cfg(feature = "metrics")]
mod imp {
    use crate::instrument::{GiveUpDetails, RetryDetails};

    pub(super) const ENABLED: bool = true;

    pub(super) fn retry_scheduled(details: &RetryDetails<'_>) {
        ::metrics::counter!(
            "stamina_retries_total",
            "callable" => details.name().to_owned(),
            "retry_num" => details.retry_num().to_string(),
            "error_type" => details.error_type(),
        )
        .increment(1);
    }

    pub(super) fn gave_up(details: &GiveUpDetails<'_>) {
        ::metrics::counter!(
            "stamina_retries_exhausted_total",
            "callable" => details.name().to_owned(),
            "error_type" => details.error_type(),
            "reason" => details.reason().as_str(),
        )
        .increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
mod imp {
    use crate::instrument::{GiveUpDetails, RetryDetails};

    pub(super) const ENABLED: bool = false;

    pub(super) fn retry_scheduled(_: &RetryDetails<'_>) {}

    pub(super) fn gave_up(_: &GiveUpDetails<'_>) {}
}

/// Whether the feature is on, so that the hook belongs to the defaults.
pub(super) const ENABLED: bool = imp::ENABLED;

/// The built-in `metrics` hook (which does nothing without the feature).
pub(super) fn hook() -> OnRetryHook {
    OnRetryHook::new(imp::retry_scheduled)
        .on_give_up(imp::gave_up)
        .named("stamina::metrics")
}
