//! The `metrics` backend: counters of retries and give-ups, or nothing without the feature.

use super::OnRetryHook;
use super::hooks::Builtin;

#[cfg(feature = "metrics")]
mod imp {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ::metrics::{KeyName, SharedString};

    use crate::instrument::{GiveUpDetails, RetryDetails};

    pub(super) const ENABLED: bool = true;

    const RETRIES: &str = "stamina_retries_total";
    const EXHAUSTED: &str = "stamina_retries_exhausted_total";

    /// Describes both counters to the recorder in use, once per recorder, so that an exporter
    /// prints help text (Prometheus' `# HELP` lines). A recorder is told by its address: an
    /// atomic load per retry, and the descriptions again when another recorder takes over.
    fn describe() {
        static DESCRIBED: AtomicUsize = AtomicUsize::new(0);
        ::metrics::with_recorder(|recorder| {
            let id = std::ptr::from_ref(recorder).cast::<()>().addr();
            if DESCRIBED.load(Ordering::Relaxed) == id {
                return;
            }
            recorder.describe_counter(
                KeyName::from_const_str(RETRIES),
                None,
                SharedString::const_str("Total number of retries."),
            );
            recorder.describe_counter(
                KeyName::from_const_str(EXHAUSTED),
                None,
                SharedString::const_str("Total number of retry loops that gave up."),
            );
            DESCRIBED.store(id, Ordering::Relaxed);
        });
    }

    pub(super) fn retry_scheduled(details: &RetryDetails<'_>) {
        describe();
        ::metrics::counter!(
            RETRIES,
            "callable" => details.name().to_owned(),
            "retry_num" => details.retry_num().to_string(),
            "error_type" => details.error_type(),
        )
        .increment(1);
    }

    pub(super) fn gave_up(details: &GiveUpDetails<'_>) {
        describe();
        ::metrics::counter!(
            EXHAUSTED,
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
        .builtin(Builtin::Metrics)
}
