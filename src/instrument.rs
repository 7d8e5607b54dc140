//! Seeing retries: hooks called for every scheduled retry, with `log`, `metrics` and `tracing`
//! built in.
//!
//! When a failed attempt is going to be retried, the loop calls its hooks **after** the retry is
//! decided and **before** the wait, with the [`RetryDetails`]: which loop, which attempt failed,
//! with what error, how long the loop is about to wait. A hook may return a [`RetryGuard`] that
//! lives over the wait and is dropped exactly once, right before the next attempt starts (or when
//! the loop is dropped during the wait). Nothing runs when the first attempt succeeds, when the
//! error is not worth retrying, or when retrying is [switched off](crate::set_active).
//!
//! The hooks of a loop are the process-wide ones ([`set_on_retry_hooks`]; by default the
//! built-in hooks of the enabled features), then the loop's own, added with `on_retry` on
//! [`RetryContext`](crate::RetryContext::on_retry), [`RetryingCaller`](crate::RetryingCaller::on_retry),
//! [`AsyncRetryingCaller`](crate::AsyncRetryingCaller::on_retry) and their bound forms, in the
//! order they were added.
//!
//! When a retryable error ends a loop (the attempts, the time or the budget are used up, or the
//! server asked for a wait beyond `retry_after_max`), the hooks' give-up handlers
//! ([`OnRetryHook::on_give_up`]) are called once with the [`GiveUpDetails`] and its
//! [`GiveUpReason`]. A loop allowed a single attempt (`attempts = 1`, testing mode's default)
//! that runs out of it reports nothing: it never could retry (see [`GiveUpReason`] for the rule).
//! Both details dereference to the [`Event`] they share: the loop's name, the error, and the
//! built-in hooks' settings for it.
//!
//! A hook sees the error as a [`Cause`]: its `Debug` output, and the error itself (to downcast
//! it, walk its `source()` chain) where the loop's predicate shows it, as
//! [`typed`](crate::typed) does. The built-in hooks show an error's type only, unless
//! [`ShowError`] says otherwise (process-wide with [`set_show_error`], per loop with
//! `.show_error(..)`): an error's own output may carry secrets. They report at [`Level::Warn`]
//! unless [`set_level`] or `.log_level(..)` says otherwise.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = Arc::clone(&seen);
//! # let _quiet = stamina::testing::thread_testing(stamina::testing::Testing::new().attempts(3));
//! let result = stamina::RetryingCaller::new()
//!     .name("fetch")
//!     .on_retry(move |details: &stamina::RetryDetails<'_>| {
//!         log.lock().unwrap().push(format!(
//!             "{} failed attempt {} with {:?}, retrying in {:?}",
//!             details.name(),
//!             details.retry_num(),
//!             details.caused_by(),
//!             details.wait_for(),
//!         ));
//!     })
//!     .call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
//! assert!(result.is_err());
//! assert_eq!(
//!     *seen.lock().unwrap(),
//!     [
//!         "fetch failed attempt 1 with Error, retrying in 0ns",
//!         "fetch failed attempt 2 with Error, retrying in 0ns",
//!     ],
//! );
//! ```
//!
//! # What the default hooks allocate
//!
//! Per scheduled retry, the default hooks make four heap allocations, all in the `metrics` hook,
//! which builds its counter's labels at every event, recorder or not: their list, the loop's
//! name, the retry number and the error type (none for the error type when the loop's predicate
//! labels the error, with [`Typed::error_label`](crate::Typed::error_label)). Per give-up they
//! make three (the reason is a `&'static str`). The `log` hook allocates nothing, even when its
//! record is written. The `tracing` hook adds two per retry while a subscriber takes stamina's
//! events (the span kept over the wait, and the list that holds it), none otherwise. Nothing is
//! kept from one event to the next; what a logger, recorder or subscriber allocates is its own.
//! `tests/alloc.rs` asserts these counts exactly.

mod event;
mod hooks;
#[cfg(feature = "log")]
mod log;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "tracing")]
mod tracing;

#[cfg(feature = "tower")]
pub(crate) use event::short_type_name;
pub use event::{
    Cause, ErrorView, Event, GiveUpDetails, GiveUpReason, HedgeDetails, HedgeKind, Level,
    RetryDetails, ShowError, get_level, get_show_error, set_level, set_show_error,
};
pub(crate) use hooks::{Guards, LoopHooks, gave_up, hedged, retry_scheduled};
pub use hooks::{
    IntoOnRetryHooks, IntoRetryGuard, OnRetryHook, RetryGuard, default_on_retry_hooks,
    get_on_retry_hooks, reset_on_retry_hooks, set_on_retry_hooks,
};
#[cfg(feature = "log")]
pub use log::log_hook;
#[cfg(feature = "metrics")]
pub use metrics::metrics_hook;
#[cfg(feature = "tracing")]
pub use tracing::tracing_hook;

/// The `tracing` span of one attempt of a hedged call, entered while its future is polled, so
/// that what the attempt traces shows which attempt it belongs to. Nothing without the
/// `tracing` feature.
pub(crate) struct AttemptSpan(#[cfg(feature = "tracing")] ::tracing::Span);

impl AttemptSpan {
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn new(name: &str, attempt: u32) -> Self {
        Self(
            #[cfg(feature = "tracing")]
            ::tracing::info_span!(target: "stamina", "stamina.attempt", callable = %name, attempt),
        )
    }

    /// Enters the span until the returned value is dropped.
    pub(crate) fn enter(&self) -> impl Sized + '_ {
        #[cfg(feature = "tracing")]
        return self.0.enter();
    }
}
