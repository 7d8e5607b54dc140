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
//! [`GiveUpReason`].
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

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};
use std::time::Duration;

use crate::config::HumanDuration;
use crate::machine::{GiveUp, Retry};
use crate::name::Name;

mod log;
mod metrics;
mod tracing;

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
///         assert_eq!(details.error_type(), "core::fmt::Error");
///         assert_eq!(format!("{:?}", details.caused_by()), "Error");
///         assert_eq!(details.attempts_limit(), Some(2));
///     });
/// let _ = caller.call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RetryDetails<'a> {
    name: &'a str,
    retry_num: u32,
    wait_for: Duration,
    waited_so_far: Duration,
    caused_by: &'a dyn fmt::Debug,
    error_type: &'static str,
    attempts_limit: Option<u32>,
    remaining: Option<Duration>,
}

impl<'a> RetryDetails<'a> {
    fn new<E: fmt::Debug>(name: &'a str, retry: &Retry, error: &'a E) -> Self {
        Self {
            name,
            retry_num: retry.retry_num,
            wait_for: retry.wait,
            waited_so_far: retry.waited_so_far,
            caused_by: error,
            error_type: std::any::type_name::<E>(),
            attempts_limit: retry.attempts_limit,
            remaining: retry.remaining,
        }
    }

    /// The name of the loop: the name it was given, else the call site of
    /// [`retry_context`](crate::retry_context), or for callers the type of the called function
    /// (for a closure, the path of the function that contains it).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The number of the attempt that just failed (1-based); the next attempt is one more.
    pub fn retry_num(&self) -> u32 {
        self.retry_num
    }

    /// How long the loop is about to wait before the next attempt (zero in testing mode).
    pub fn wait_for(&self) -> Duration {
        self.wait_for
    }

    /// The sum of the loop's earlier waits, this one excluded.
    pub fn waited_so_far(&self) -> Duration {
        self.waited_so_far
    }

    /// The error the attempt failed with.
    pub fn caused_by(&self) -> &'a dyn fmt::Debug {
        self.caused_by
    }

    /// The type of the error, as [`std::any::type_name`] writes it (such as
    /// `"std::io::error::Error"`).
    pub fn error_type(&self) -> &'static str {
        self.error_type
    }

    /// The attempts limit in force (the testing one in testing mode), `None` when unlimited.
    pub fn attempts_limit(&self) -> Option<u32> {
        self.attempts_limit
    }

    /// The time that was left before the loop's deadline when the retry was scheduled (before
    /// the wait); `None` without a timeout and in testing mode.
    pub fn remaining(&self) -> Option<Duration> {
        self.remaining
    }
}

/// Why a retryable error ended a loop.
///
/// Errors that are not worth retrying, and loops with retrying switched off, end without a
/// give-up signal: they are not retries that failed.
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
    caused_by: &'a dyn fmt::Debug,
    error_type: &'static str,
}

impl<'a> GiveUpDetails<'a> {
    /// The name of the loop (see [`RetryDetails::name`]).
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

    /// The last error, which the loop returns.
    pub fn caused_by(&self) -> &'a dyn fmt::Debug {
        self.caused_by
    }

    /// The type of the error (see [`RetryDetails::error_type`]).
    pub fn error_type(&self) -> &'static str {
        self.error_type
    }
}

/// Something a hook keeps alive over the wait that follows a retry, such as a span or a timer.
///
/// It is dropped exactly once: right before the next attempt starts, or when the loop is dropped
/// during the wait. Guards of one retry are dropped in the reverse order of the hooks that made
/// them.
///
/// ```
/// use std::time::Instant;
/// use stamina::instrument::RetryGuard;
///
/// struct WaitTimer(Instant);
///
/// impl Drop for WaitTimer {
///     fn drop(&mut self) {
///         let waited = self.0.elapsed(); // report it somewhere
/// #       let _ = waited;
///     }
/// }
///
/// # let _quiet = stamina::testing::thread_testing(stamina::testing::Testing::new().attempts(2));
/// let caller = stamina::RetryingCaller::new()
///     .on_retry(|_: &stamina::RetryDetails<'_>| RetryGuard::new(WaitTimer(Instant::now())));
/// let _ = caller.call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
/// ```
///
/// A guard whose `Drop` panics propagates that panic, except while the thread is already
/// unwinding from another panic (the user's code panicked, or a clock's `sleep` did, while the
/// loop held guards): then the guard's panic is caught and reported by the panic hook, because a
/// second panic escaping a destructor during unwinding would abort the process.
#[must_use = "a retry guard is dropped at once unless the hook returns it"]
pub struct RetryGuard {
    guard: Option<Box<dyn Send>>,
    type_name: &'static str,
}

impl RetryGuard {
    /// Wraps `guard`, which the loop drops right before the next attempt.
    pub fn new<G: Send + 'static>(guard: G) -> Self {
        Self {
            guard: Some(Box::new(guard)),
            type_name: std::any::type_name::<G>(),
        }
    }
}

impl Drop for RetryGuard {
    fn drop(&mut self) {
        let guard = self.guard.take();
        if std::thread::panicking() {
            // The panic hook has already reported this guard's panic, if any.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(guard)));
        } else {
            drop(guard);
        }
    }
}

impl fmt::Debug for RetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RetryGuard")
            .field(&format_args!("{}", self.type_name))
            .finish()
    }
}

/// What an on-retry hook may return: nothing (`()`), a [`RetryGuard`], or an
/// `Option<RetryGuard>`.
pub trait IntoRetryGuard {
    /// The guard to keep over the wait, if any.
    fn into_retry_guard(self) -> Option<RetryGuard>;
}

impl IntoRetryGuard for () {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        None
    }
}

impl IntoRetryGuard for RetryGuard {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        Some(self)
    }
}

impl IntoRetryGuard for Option<RetryGuard> {
    fn into_retry_guard(self) -> Option<RetryGuard> {
        self
    }
}

type RetryFn = dyn Fn(&RetryDetails<'_>) -> Option<RetryGuard> + Send + Sync;
type GiveUpFn = dyn Fn(&GiveUpDetails<'_>) + Send + Sync;
type Factory = Box<dyn FnOnce() -> OnRetryHook + Send>;

/// An on-retry hook: a function called for every scheduled retry, optionally with a give-up
/// handler, or a factory that makes one the first time it is needed.
///
/// Cheap to clone (clones share the hook, and a lazy hook's factory runs once for all of them).
/// A hook that panics propagates its panic out of the loop: nothing is swallowed.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use stamina::instrument::{self, OnRetryHook};
///
/// static RETRIES: AtomicU32 = AtomicU32::new(0);
///
/// // The built-in hooks of the enabled features, then a counter of our own.
/// let mut hooks = instrument::default_on_retry_hooks();
/// hooks.push(
///     OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {
///         RETRIES.fetch_add(1, Ordering::Relaxed);
///     })
///     .named("retry counter"),
/// );
/// stamina::set_on_retry_hooks(hooks);
/// # instrument::reset_on_retry_hooks();
/// ```
#[derive(Clone)]
#[must_use = "a hook does nothing until it is registered or given to a loop"]
pub struct OnRetryHook {
    name: Cow<'static, str>,
    retry: RetryRepr,
    give_up: Option<Arc<GiveUpFn>>,
}

// A hook is only called, never left half-updated by this crate: a panic in a hook propagates to
// the caller and the loop it ran in is over, so a caller holding hooks stays usable after
// `catch_unwind`, as it was before it had any.
impl std::panic::UnwindSafe for OnRetryHook {}
impl std::panic::RefUnwindSafe for OnRetryHook {}

#[derive(Clone)]
enum RetryRepr {
    Direct(Arc<RetryFn>),
    Lazy(Arc<LazyLock<OnRetryHook, Factory>>),
}

impl OnRetryHook {
    /// A hook that calls `hook` for every scheduled retry; it may return a [`RetryGuard`] (or an
    /// `Option` of one) to keep over the wait. Named after the type of `hook`.
    pub fn new<F, R>(hook: F) -> Self
    where
        F: Fn(&RetryDetails<'_>) -> R + Send + Sync + 'static,
        R: IntoRetryGuard,
    {
        Self {
            name: Cow::Borrowed(std::any::type_name::<F>()),
            retry: RetryRepr::Direct(Arc::new(move |details: &RetryDetails<'_>| {
                hook(details).into_retry_guard()
            })),
            give_up: None,
        }
    }

    /// A hook made by `factory` the first time a loop needs it (its first retry or give-up),
    /// for hooks that are costly to set up: the factory runs once, on one thread, and every
    /// other thread that needs the hook meanwhile waits for it.
    ///
    /// # Panics
    ///
    /// A panic in `factory` propagates, and every later use of the hook panics.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use stamina::instrument::OnRetryHook;
    ///
    /// static MADE: AtomicU32 = AtomicU32::new(0);
    ///
    /// let hook = OnRetryHook::lazy(|| {
    ///     MADE.fetch_add(1, Ordering::Relaxed); // connect to a metrics backend, say
    ///     OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {})
    /// });
    /// # let _quiet = stamina::testing::thread_testing(stamina::testing::Testing::new().attempts(3));
    /// let caller = stamina::RetryingCaller::new().on_retry_hook(hook);
    /// assert_eq!(MADE.load(Ordering::Relaxed), 0);
    /// let _ = caller.call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
    /// assert_eq!(MADE.load(Ordering::Relaxed), 1); // two retries, one factory call
    /// ```
    pub fn lazy<F>(factory: F) -> Self
    where
        F: FnOnce() -> OnRetryHook + Send + 'static,
    {
        Self {
            name: Cow::Borrowed(std::any::type_name::<F>()),
            retry: RetryRepr::Lazy(Arc::new(LazyLock::new(Box::new(factory)))),
            give_up: None,
        }
    }

    /// Adds a handler called once when a retryable error ends a loop: its attempts or its time
    /// are used up, the server asked for a wait beyond
    /// [`retry_after_max`](crate::RetryPolicy::retry_after_max), or its
    /// [`RetryBudget`](crate::RetryBudget) cannot pay for another retry (see [`GiveUpReason`]).
    /// Errors that are not worth retrying, deactivated loops and suppressed nested loops call no
    /// handler.
    pub fn on_give_up<G>(mut self, handler: G) -> Self
    where
        G: Fn(&GiveUpDetails<'_>) + Send + Sync + 'static,
    {
        self.give_up = Some(Arc::new(handler));
        self
    }

    /// Names the hook, for `Debug` output.
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The hook's name: the one given with [`named`](Self::named), else the type of its
    /// function or factory.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn retry_scheduled(&self, details: &RetryDetails<'_>, guards: &mut Guards) {
        match &self.retry {
            RetryRepr::Direct(hook) => {
                if let Some(guard) = hook(details) {
                    guards.0.push(guard);
                }
            }
            RetryRepr::Lazy(hook) => LazyLock::force(hook).retry_scheduled(details, guards),
        }
    }

    fn gave_up(&self, details: &GiveUpDetails<'_>) {
        if let Some(handler) = &self.give_up {
            handler(details);
        }
        if let RetryRepr::Lazy(hook) = &self.retry {
            LazyLock::force(hook).gave_up(details);
        }
    }
}

impl fmt::Debug for OnRetryHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnRetryHook")
            .field("name", &self.name)
            .field("lazy", &matches!(self.retry, RetryRepr::Lazy(_)))
            .field("on_give_up", &self.give_up.is_some())
            .finish()
    }
}

/// The built-in hook that counts retries and give-ups with the `metrics` facade.
///
/// For every scheduled retry it increments the counter `stamina_retries_total` with the labels
/// `callable` (the loop's name), `retry_num` and `error_type`; for every give-up it increments
/// `stamina_retries_exhausted_total` with the labels `callable`, `error_type` and `reason`
/// ([`GiveUpReason::as_str`]). The application installs the recorder (a Prometheus exporter,
/// say); without one, the counters cost next to nothing.
///
/// ```
/// let hooks = stamina::get_on_retry_hooks();
/// assert!(hooks.iter().any(|h| h.name() == stamina::instrument::metrics_hook().name()));
/// ```
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub fn metrics_hook() -> OnRetryHook {
    metrics::hook()
}

/// The built-in hook that logs retries and give-ups with the `log` facade.
///
/// Every scheduled retry is a record at level warn, target `stamina`, message
/// `stamina.retry_scheduled`, with the key-values `callable`, `retry_num`, `wait_for`,
/// `waited_so_far` (durations as `humantime` writes them, to the millisecond, such as
/// `1s500ms`), `max_attempts` (the limit, or `unlimited`), `remaining` (the time left before the
/// deadline, or `none`), `error_type` and `caused_by` (the error's `Debug` output). A give-up is a record at level
/// warn, message `stamina.retries_exhausted`, with `callable`, `reason`, `attempts` (made),
/// `waited`, `error_type` and `caused_by`.
///
/// ```
/// let hooks = stamina::get_on_retry_hooks();
/// assert!(hooks.iter().any(|h| h.name() == stamina::instrument::log_hook().name()));
/// ```
#[cfg(feature = "log")]
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
pub fn log_hook() -> OnRetryHook {
    log::hook()
}

/// The built-in hook that traces retries and give-ups with `tracing`.
///
/// Every scheduled retry opens a span `stamina.retry_wait` (level info, target `stamina`, fields
/// `callable`, `retry_num`, `wait_for`) that stays open over the wait and closes right before
/// the next attempt, and emits inside it an event at level warn with the message
/// `stamina.retry_scheduled` and the same fields as the `log` records. A give-up is an event
/// `stamina.retries_exhausted` at level warn.
///
/// ```
/// let hooks = stamina::get_on_retry_hooks();
/// assert!(hooks.iter().any(|h| h.name() == stamina::instrument::tracing_hook().name()));
/// ```
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub fn tracing_hook() -> OnRetryHook {
    tracing::hook()
}

/// The built-in hooks of the enabled features, in this order: `metrics`, `log`, `tracing`.
///
/// These are the process-wide hooks until [`set_on_retry_hooks`] says otherwise.
///
/// ```
/// let names: Vec<String> = stamina::instrument::default_on_retry_hooks()
///     .iter()
///     .map(|h| h.name().to_owned())
///     .collect();
/// # #[cfg(all(feature = "metrics", feature = "log"))]
/// assert_eq!(names[..2], ["stamina::metrics", "stamina::log"]);
/// ```
pub fn default_on_retry_hooks() -> Vec<OnRetryHook> {
    let backends: [(bool, fn() -> OnRetryHook); 3] = [
        (metrics::ENABLED, metrics::hook),
        (log::ENABLED, log::hook),
        (tracing::ENABLED, tracing::hook),
    ];
    backends
        .into_iter()
        .filter_map(|(enabled, hook)| enabled.then(hook))
        .collect()
}

/// The process-wide hooks; `None` until first needed or after a reset, meaning the defaults.
static HOOKS: RwLock<Option<Arc<[OnRetryHook]>>> = RwLock::new(None);

/// Whether the process-wide hooks are set to none at all: written under `HOOKS`' write lock, so
/// that a retry with instrumentation off skips the lock and the reference count.
static NO_HOOKS: AtomicBool = AtomicBool::new(false);

/// Whether the process-wide hooks are known to be empty (`false` when unsure).
#[inline]
fn no_process_hooks() -> bool {
    NO_HOOKS.load(Ordering::Acquire)
}

fn process_hooks() -> Arc<[OnRetryHook]> {
    if let Some(hooks) = &*HOOKS.read().unwrap_or_else(PoisonError::into_inner) {
        return Arc::clone(hooks);
    }
    let mut hooks = HOOKS.write().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(hooks.get_or_insert_with(|| default_on_retry_hooks().into()))
}

/// Replaces the process-wide hooks, which every loop calls before its own; an empty list turns
/// the process-wide instrumentation off (the built-in `log`, `metrics` and `tracing` hooks
/// included).
///
/// Loops that are waiting keep the guards they have; the new hooks apply from the next retry
/// on.
///
/// ```
/// // No log records, metrics or traces from retries:
/// stamina::set_on_retry_hooks([]);
/// assert!(stamina::get_on_retry_hooks().is_empty());
/// stamina::instrument::reset_on_retry_hooks();
/// ```
pub fn set_on_retry_hooks(hooks: impl IntoIterator<Item = OnRetryHook>) {
    let hooks: Arc<[OnRetryHook]> = hooks.into_iter().collect();
    let mut slot = HOOKS.write().unwrap_or_else(PoisonError::into_inner);
    NO_HOOKS.store(hooks.is_empty(), Ordering::Release);
    *slot = Some(hooks);
}

/// The process-wide hooks in force: the ones last set, else [`default_on_retry_hooks`].
///
/// ```
/// let before = stamina::get_on_retry_hooks();
/// stamina::set_on_retry_hooks(before.iter().cloned().chain([
///     stamina::instrument::OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {}),
/// ]));
/// assert_eq!(stamina::get_on_retry_hooks().len(), before.len() + 1);
/// stamina::instrument::reset_on_retry_hooks();
/// ```
pub fn get_on_retry_hooks() -> Vec<OnRetryHook> {
    process_hooks().to_vec()
}

/// Restores the process-wide hooks to [`default_on_retry_hooks`].
///
/// ```
/// stamina::set_on_retry_hooks([]);
/// stamina::instrument::reset_on_retry_hooks();
/// assert_eq!(
///     stamina::get_on_retry_hooks().len(),
///     stamina::instrument::default_on_retry_hooks().len(),
/// );
/// ```
pub fn reset_on_retry_hooks() {
    let mut slot = HOOKS.write().unwrap_or_else(PoisonError::into_inner);
    NO_HOOKS.store(false, Ordering::Release);
    *slot = None;
}

/// The guards the hooks returned for one retry, dropped (in reverse order) when this is.
///
/// Allocates only when a hook returns a guard.
#[derive(Default)]
pub(crate) struct Guards(Vec<RetryGuard>);

impl Guards {
    /// Drops the guards: right before the next attempt. Without guards, which is the rule, the
    /// empty list (which never allocated: only a guard's push allocates) is let go without a call
    /// to its drop glue, which costs the per-retry loop a measurable share.
    #[inline]
    pub(crate) fn end(self) {
        if self.0.is_empty() {
            debug_assert_eq!(self.0.capacity(), 0);
            std::mem::forget(self);
        } else {
            drop(self);
        }
    }
}

impl Drop for Guards {
    #[inline]
    fn drop(&mut self) {
        while let Some(guard) = self.0.pop() {
            drop(guard);
        }
    }
}

impl fmt::Debug for Guards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

/// Calls the hooks for a retry the state machine just decided, before the wait: the
/// process-wide hooks, then `local` (the loop's own). Front ends keep the returned guards over
/// the wait and drop them right before the next attempt.
///
/// Costs an atomic load and nothing else when instrumentation is off (`set_on_retry_hooks([])`
/// and no hooks of the loop's own), a lock read when there are no hooks otherwise.
#[inline]
pub(crate) fn retry_scheduled<E: fmt::Debug>(
    name: &Name,
    retry: &Retry,
    error: &E,
    local: &[OnRetryHook],
) -> Guards {
    if local.is_empty() && no_process_hooks() {
        return Guards::default();
    }
    call_retry_hooks(name, retry, error, local)
}

fn call_retry_hooks<E: fmt::Debug>(
    name: &Name,
    retry: &Retry,
    error: &E,
    local: &[OnRetryHook],
) -> Guards {
    let mut guards = Guards::default();
    let process = process_hooks();
    if process.is_empty() && local.is_empty() {
        return guards;
    }
    let name = name.as_str();
    let details = RetryDetails::new(&name, retry, error);
    for hook in process.iter().chain(local) {
        hook.retry_scheduled(&details, &mut guards);
    }
    guards
}

/// Calls the hooks' give-up handlers when the state machine gave up with `give_up` after
/// `attempts` attempts and `waited` of waits; does nothing unless a retryable error ended the
/// loop (see [`GiveUpReason::from_give_up`]).
pub(crate) fn gave_up<E: fmt::Debug>(
    name: &Name,
    give_up: GiveUp,
    attempts: u32,
    waited: Duration,
    error: &E,
    local: &[OnRetryHook],
) {
    let Some(reason) = GiveUpReason::from_give_up(give_up) else {
        return;
    };
    if local.is_empty() && no_process_hooks() {
        return;
    }
    let process = process_hooks();
    if process.is_empty() && local.is_empty() {
        return;
    }
    let name = name.as_str();
    let details = GiveUpDetails {
        name: &name,
        reason,
        attempts,
        waited,
        caused_by: error,
        error_type: std::any::type_name::<E>(),
    };
    for hook in process.iter().chain(local) {
        hook.gave_up(&details);
    }
}

/// Writes an attempts limit as a config string does: a number or `unlimited`.
#[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
struct Limit(Option<u32>);

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(limit) => write!(f, "{limit}"),
            None => f.write_str("unlimited"),
        }
    }
}

/// Writes a duration for people: `humantime`'s form, cut to whole milliseconds from one
/// millisecond up (`1s234ms` rather than `1s234ms567us890ns`).
#[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
struct Readable(Duration);

impl fmt::Display for Readable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let duration = if self.0 >= Duration::from_millis(1) {
            Duration::from_millis(u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX))
        } else {
            self.0
        };
        fmt::Display::fmt(&HumanDuration(duration), f)
    }
}

/// Writes an optional duration as a config string does: [`Readable`] or `none`.
#[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
struct MaybeDuration(Option<Duration>);

impl fmt::Display for MaybeDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(duration) => Readable(duration).fmt(f),
            None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_to_the_millisecond() {
        let read = |d: Duration| Readable(d).to_string();
        assert_eq!(read(Duration::ZERO), "0s");
        assert_eq!(read(Duration::from_nanos(1_234_567_890)), "1s234ms");
        assert_eq!(read(Duration::from_micros(999)), "999us");
        assert_eq!(read(Duration::from_secs(90)), "1m30s");
        assert_eq!(read(Duration::MAX), read(Duration::from_millis(u64::MAX)));
        assert_eq!(MaybeDuration(None).to_string(), "none");
        assert_eq!(
            MaybeDuration(Some(Duration::from_millis(44_999))).to_string(),
            "44s999ms"
        );
        assert_eq!(Limit(None).to_string(), "unlimited");
        assert_eq!(Limit(Some(3)).to_string(), "3");
    }

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
