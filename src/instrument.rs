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

mod cause;
mod details;
mod format;
mod give_up;
mod guards;
mod hooks;
mod labels;
mod log;
mod metrics;
mod registry;
mod settings;
mod tracing;

pub use cause::{Cause, ErrorView};
pub use details::RetryDetails;
pub(crate) use give_up::gave_up;
pub use give_up::{GiveUpDetails, GiveUpReason};
pub(crate) use guards::Guards;
pub use guards::{IntoRetryGuard, RetryGuard};
pub use hooks::OnRetryHook;
#[cfg(feature = "log")]
pub use registry::log_hook;
#[cfg(feature = "metrics")]
pub use registry::metrics_hook;
pub(crate) use registry::retry_scheduled;
#[cfg(feature = "tracing")]
pub use registry::tracing_hook;
pub use registry::{
    IntoOnRetryHooks, default_on_retry_hooks, get_on_retry_hooks, reset_on_retry_hooks,
    set_on_retry_hooks,
};
pub(crate) use settings::LoopHooks;
pub use settings::{Level, ShowError, get_level, get_show_error, set_level, set_show_error};
