//! The hook type, what hooks keep over a wait, the process-wide list, and the one way every
//! event reaches the hooks in force.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};
use std::time::Duration;

use super::{
    Cause, ErrorView, Event, GiveUpDetails, GiveUpReason, HedgeDetails, HedgeKind, Level,
    RetryDetails, ShowError, get_level, get_show_error,
};
use crate::machine::{GiveUp, Retry};

type RetryFn = dyn Fn(&RetryDetails<'_>) -> Option<RetryGuard> + Send + Sync;
type GiveUpFn = dyn Fn(&GiveUpDetails<'_>) + Send + Sync;
type HedgeFn = dyn Fn(&HedgeDetails<'_>) + Send + Sync;

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
    retry: Arc<RetryFn>,
    give_up: Option<Arc<GiveUpFn>>,
    hedge: Option<Arc<HedgeFn>>,
    /// For the built-in `tracing` hook (under any name): whether a subscriber takes stamina's
    /// events at a level, so that the `log` hook leaves them to it.
    pub(super) traces: Option<fn(Level) -> bool>,
}

// A hook is only called, never left half-updated by this crate: a panic in a hook propagates to
// the caller and the loop it ran in is over, so a caller holding hooks stays usable after
// `catch_unwind`, as it was before it had any.
impl std::panic::UnwindSafe for OnRetryHook {}
impl std::panic::RefUnwindSafe for OnRetryHook {}

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
            retry: Arc::new(move |details: &RetryDetails<'_>| hook(details).into_retry_guard()),
            give_up: None,
            hedge: None,
            traces: None,
        }
    }

    /// A hook made by `factory` the first time a loop needs it (its first retry or give-up),
    /// for hooks that are costly to set up: the factory runs once, on one thread, and every
    /// other thread that needs the hook meanwhile waits for it. The made hook's give-up handler
    /// runs first, then any added with [`on_give_up`](Self::on_give_up).
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
        let hook = Arc::new(LazyLock::new(factory));
        let (made, hedged) = (Arc::clone(&hook), Arc::clone(&hook));
        Self::new(move |details: &RetryDetails<'_>| (LazyLock::force(&hook).retry)(details))
            .on_give_up(move |details: &GiveUpDetails<'_>| LazyLock::force(&made).gave_up(details))
            .on_hedge(move |details: &HedgeDetails<'_>| LazyLock::force(&hedged).hedged(details))
            .named(std::any::type_name::<F>())
    }

    /// Adds a handler (after those the hook has) called once when a retryable error ends a loop
    /// that was allowed to retry: its attempts or its time are used up, the server asked for a
    /// wait beyond
    /// [`retry_after_max`](crate::RetryPolicy::retry_after_max), or its
    /// [`RetryBudget`](crate::RetryBudget) cannot pay for another retry (see
    /// [`GiveUpReason`]). Errors that are not worth retrying, deactivated loops, suppressed
    /// nested loops and loops allowed a single attempt call no handler.
    pub fn on_give_up<G>(mut self, handler: G) -> Self
    where
        G: Fn(&GiveUpDetails<'_>) + Send + Sync + 'static,
    {
        self.give_up = Some(match self.give_up.take() {
            None => Arc::new(handler),
            Some(first) => Arc::new(move |details: &GiveUpDetails<'_>| {
                first(details);
                handler(details);
            }),
        });
        self
    }

    /// Adds a handler (after those the hook has) called when a hedged call sends a hedge and
    /// when it is won by an attempt other than the first or while hedges were out (see
    /// [`HedgeDetails`] and [`Hedging`](crate::Hedging)).
    pub fn on_hedge<G>(mut self, handler: G) -> Self
    where
        G: Fn(&HedgeDetails<'_>) + Send + Sync + 'static,
    {
        self.hedge = Some(match self.hedge.take() {
            None => Arc::new(handler),
            Some(first) => Arc::new(move |details: &HedgeDetails<'_>| {
                first(details);
                handler(details);
            }),
        });
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

    fn gave_up(&self, details: &GiveUpDetails<'_>) {
        if let Some(handler) = &self.give_up {
            handler(details);
        }
    }

    fn hedged(&self, details: &HedgeDetails<'_>) {
        if let Some(handler) = &self.hedge {
            handler(details);
        }
    }
}

impl fmt::Debug for OnRetryHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnRetryHook")
            .field("name", &self.name)
            .field("on_give_up", &self.give_up.is_some())
            .field("on_hedge", &self.hedge.is_some())
            .finish()
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
    guard: Box<dyn Send>,
    type_name: &'static str,
}

impl RetryGuard {
    /// Wraps `guard`, which the loop drops right before the next attempt.
    pub fn new<G: Send + 'static>(guard: G) -> Self {
        Self {
            guard: Box::new(guard),
            type_name: std::any::type_name::<G>(),
        }
    }
}

impl Drop for RetryGuard {
    fn drop(&mut self) {
        // Otherwise the guard is dropped after this, as any field, and a panic propagates.
        if std::thread::panicking() {
            // An empty box: no allocation. The panic hook has already reported the guard's
            // panic, if any.
            let guard = std::mem::replace(&mut self.guard, Box::new(()));
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(guard)));
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

/// The guards the hooks returned for one retry, kept in reverse order so that dropping the list
/// drops the last made first.
///
/// Allocates only when a hook returns a guard: an empty list (the rule) owns nothing, and
/// dropping it is one check.
#[derive(Debug, Default)]
pub(crate) struct Guards(pub(crate) Vec<RetryGuard>);

/// A loop's own instrumentation: its hooks (called after the process-wide ones) and its
/// settings for the built-in hooks. The hooks are borrowed when they live in a `static` (those
/// of `#[stamina::retry(on_retry = ..)]`), so that a loop made per call allocates nothing.
#[derive(Clone, Default)]
pub(crate) struct LoopHooks {
    pub(crate) list: Cow<'static, [OnRetryHook]>,
    pub(crate) show_error: Option<ShowError>,
    pub(crate) level: Option<Level>,
}

impl LoopHooks {
    /// No hooks, the process-wide settings.
    pub(crate) const fn new() -> Self {
        Self {
            list: Cow::Borrowed(&[]),
            show_error: None,
            level: None,
        }
    }

    /// Adds a hook after the others.
    pub(crate) fn push(&mut self, hook: OnRetryHook) {
        self.list.to_mut().push(hook);
    }

    /// Adds the settings that are set to a `Debug` struct.
    pub(crate) fn debug_fields(&self, d: &mut fmt::DebugStruct<'_, '_>) {
        if let Some(show) = &self.show_error {
            d.field("show_error", show);
        }
        if let Some(level) = &self.level {
            d.field("log_level", level);
        }
        if !self.list.is_empty() {
            d.field("hooks", &self.list);
        }
    }
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
    vec![
        #[cfg(feature = "metrics")]
        super::metrics_hook(),
        #[cfg(feature = "log")]
        super::log_hook(),
        #[cfg(feature = "tracing")]
        super::tracing_hook(),
    ]
}

/// The process-wide hooks: the defaults, made at their first use, until [`set_on_retry_hooks`]
/// sets others.
static HOOKS: LazyLock<RwLock<Arc<[OnRetryHook]>>> =
    LazyLock::new(|| RwLock::new(default_on_retry_hooks().into()));

/// Whether the process-wide list is empty, kept in step with [`HOOKS`] under its write lock.
/// The one shortcut of this module: a retry with instrumentation off pays a relaxed load and
/// nothing else (no lock, no reference count), which the per-retry floor with hooks off needs.
static OFF: AtomicBool = AtomicBool::new(false);

/// The process-wide hooks in force.
fn process_hooks() -> Arc<[OnRetryHook]> {
    Arc::clone(&HOOKS.read().unwrap_or_else(PoisonError::into_inner))
}

/// Replaces the process-wide hooks, which every loop calls before its own: a list turns them
/// into that list (an empty one turns the process-wide instrumentation off, the built-in `log`,
/// `metrics` and `tracing` hooks included), and `None` restores the defaults, as in Python's
/// stamina.
///
/// Loops that are waiting keep the guards they have; the new hooks apply from the next retry
/// on, on every thread. A retry that is calling the replaced hooks finishes with them.
///
/// ```
/// // No log records, metrics or traces from retries:
/// stamina::set_on_retry_hooks([]);
/// assert!(stamina::get_on_retry_hooks().is_empty());
/// // The built-in hooks again:
/// stamina::set_on_retry_hooks(None);
/// assert_eq!(
///     stamina::get_on_retry_hooks().len(),
///     stamina::instrument::default_on_retry_hooks().len(),
/// );
/// ```
pub fn set_on_retry_hooks(hooks: impl IntoOnRetryHooks) {
    let hooks = hooks.into_on_retry_hooks();
    let hooks: Arc<[OnRetryHook]> = hooks.unwrap_or_else(default_on_retry_hooks).into();
    let mut slot = HOOKS.write().unwrap_or_else(PoisonError::into_inner);
    OFF.store(hooks.is_empty(), Ordering::Relaxed);
    let _replaced = std::mem::replace(&mut *slot, hooks);
    // The replaced hooks are dropped after the lock is let go: a hook's drop may set hooks.
    drop(slot);
}

/// What [`set_on_retry_hooks`] takes: a list of hooks (an array, a `Vec` or a slice), or an
/// `Option` of a `Vec` where `None` stands for the defaults.
///
/// A bare iterator is not accepted, so that `set_on_retry_hooks(None)` means what it means in
/// Python (the defaults) rather than an empty list; collect an iterator into a `Vec` first.
pub trait IntoOnRetryHooks: sealed::Sealed {
    /// The hooks to set, or `None` for the defaults.
    fn into_on_retry_hooks(self) -> Option<Vec<OnRetryHook>>;
}

mod sealed {
    /// What [`IntoOnRetryHooks`](super::IntoOnRetryHooks) is implemented for.
    pub trait Sealed {}
    /// The lists of hooks: an array, a `Vec`, a slice.
    pub trait List {}
}

impl sealed::List for Vec<OnRetryHook> {}
impl<const N: usize> sealed::List for [OnRetryHook; N] {}
impl sealed::List for &[OnRetryHook] {}

impl<T: sealed::List> sealed::Sealed for T {}
impl<T: sealed::List + Into<Vec<OnRetryHook>>> IntoOnRetryHooks for T {
    fn into_on_retry_hooks(self) -> Option<Vec<OnRetryHook>> {
        Some(self.into())
    }
}

impl sealed::Sealed for Option<Vec<OnRetryHook>> {}
impl IntoOnRetryHooks for Option<Vec<OnRetryHook>> {
    fn into_on_retry_hooks(self) -> Option<Vec<OnRetryHook>> {
        self
    }
}

/// The process-wide hooks in force: the ones last set, else [`default_on_retry_hooks`].
///
/// ```
/// let mut hooks = stamina::get_on_retry_hooks();
/// let before = hooks.len();
/// hooks.push(stamina::instrument::OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {}));
/// stamina::set_on_retry_hooks(hooks);
/// assert_eq!(stamina::get_on_retry_hooks().len(), before + 1);
/// stamina::instrument::reset_on_retry_hooks();
/// ```
pub fn get_on_retry_hooks() -> Vec<OnRetryHook> {
    process_hooks().to_vec()
}

/// Restores the process-wide hooks to [`default_on_retry_hooks`], as `set_on_retry_hooks(None)`
/// does.
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
    set_on_retry_hooks(None);
}

/// Whether a loop with `local` hooks has no hook to call.
#[inline]
fn off(local: &LoopHooks) -> bool {
    local.list.is_empty() && OFF.load(Ordering::Relaxed)
}

/// Calls `each` with every hook in force for a loop with `local` hooks (the process-wide ones,
/// then the loop's own, in order) and what they are told, which `told` makes from the level the
/// built-in hooks report at and whether a `tracing` hook takes that level.
fn dispatch<D>(
    local: &LoopHooks,
    told: impl FnOnce(Level, bool) -> D,
    mut each: impl FnMut(&OnRetryHook, &D),
) {
    let process = process_hooks();
    let hooks = || process.iter().chain(local.list.iter());
    let level = local.level.unwrap_or_else(get_level);
    let traced = hooks().any(|hook| hook.traces.is_some_and(|takes| takes(level)));
    let details = told(level, traced);
    for hook in hooks() {
        each(hook, &details);
    }
}

/// The event of a retry or a give-up of the loop `name` caused by `cause`.
fn event<'a>(
    name: &'a str,
    cause: Cause<'a>,
    local: &LoopHooks,
) -> impl FnOnce(Level, bool) -> Event<'a> {
    move |level, traced| Event {
        name,
        caused_by: cause,
        error_type: OnceCell::new(),
        show_error: local.show_error.unwrap_or_else(get_show_error),
        level,
        traced,
    }
}

/// Calls the hooks for a retry the state machine just decided, before the wait: the
/// process-wide hooks, then `local` (the loop's own). Front ends keep the returned guards over
/// the wait and drop them right before the next attempt. The loop's name is made only when a
/// hook is called.
#[inline]
pub(crate) fn retry_scheduled<'n, 'e, E: fmt::Debug>(
    name: impl FnOnce() -> &'n str,
    retry: &Retry,
    error: &'e E,
    view: impl FnOnce(&'e E) -> ErrorView<'e>,
    local: &LoopHooks,
) -> Guards {
    if off(local) {
        return Guards::default();
    }
    retry_hooks(name(), retry, Cause::new(error, view(error)), local)
}

/// The hooks' part of [`retry_scheduled`], out of line so that a retry with the hooks off stays
/// small.
#[inline(never)]
fn retry_hooks(name: &str, retry: &Retry, cause: Cause<'_>, local: &LoopHooks) -> Guards {
    let mut guards = Vec::new();
    dispatch(local, event(name, cause, local), |hook, event| {
        guards.extend((hook.retry)(&RetryDetails { event, retry }));
    });
    // Dropped in the order they are kept: the last made first.
    guards.reverse();
    Guards(guards)
}

/// Calls the hooks' give-up handlers when the state machine gave up with `give_up` after
/// `attempts` attempts and `waited` of waits; does nothing unless a retryable error ended a loop
/// that was allowed to retry (see [`GiveUpReason`]).
pub(crate) fn gave_up<'n, 'e, E: fmt::Debug>(
    name: impl FnOnce() -> &'n str,
    give_up: GiveUp,
    attempts: u32,
    waited: Duration,
    error: &'e E,
    view: impl FnOnce(&'e E) -> ErrorView<'e>,
    local: &LoopHooks,
) {
    let reason = GiveUpReason::reported(give_up, attempts);
    if let Some(reason) = reason.filter(|_| !off(local)) {
        let cause = Cause::new(error, view(error));
        dispatch(local, event(name(), cause, local), |hook, event| {
            hook.gave_up(&GiveUpDetails {
                event,
                reason,
                attempts,
                waited,
            });
        });
    }
}

/// Calls the hooks' hedge handlers: a hedged call sent attempt `attempt` with `in_flight`
/// attempts out, or was won by it.
pub(crate) fn hedged(name: &str, kind: HedgeKind, attempt: u32, in_flight: u32, local: &LoopHooks) {
    if off(local) {
        return;
    }
    let details = |level, traced| HedgeDetails {
        name,
        kind,
        attempt,
        in_flight,
        level,
        traced,
    };
    dispatch(local, details, OnRetryHook::hedged);
}
