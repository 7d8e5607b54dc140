//! The process-wide hooks (the built-in ones by default) and the call of every hook of a loop.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use super::details::Report;
use super::hooks::Builtin;
use super::{
    Cause, ErrorView, Guards, LoopHooks, OnRetryHook, RetryDetails, log, metrics, tracing,
};
use crate::machine::Retry;

/// The built-in hook that counts retries and give-ups with the `metrics` facade.
///
/// For every scheduled retry it increments the counter `stamina_retries_total` with the labels
/// `callable` (the loop's name), `retry_num` and `error_type`; for every give-up it increments
/// `stamina_retries_exhausted_total` with the labels `callable`, `error_type` and `reason`
/// ([`GiveUpReason::as_str`](super::GiveUpReason::as_str)). Labels never carry an error's
/// text: `error_type` is a short name of its type or the label its loop chose
/// ([`RetryDetails::error_type`](super::RetryDetails::error_type)). Both counters are described
/// to the recorder in use ("Total number of retries.", "Total number of retry loops that gave
/// up."), so that an exporter prints help text such as Prometheus' `# HELP` lines. The
/// application installs the recorder (a Prometheus exporter, say); without one, the counters
/// cost next to nothing (in an optimised build the hook tells the facade's no-op recorder
/// apart and stops there), and nothing is allocated per retry either way (each label set is
/// made once per series and kept for the process, up to 10,000 sets).
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
/// Every scheduled retry is a record at level warn ([`set_level`](super::set_level), or
/// `.log_level(..)` on a loop), target `stamina`, whose message carries the essentials for
/// loggers that print no key-values (`stamina.retry_scheduled: fetch: attempt 1 of 3 failed
/// with io::Error, retrying in 100ms`), with the key-values `callable`, `retry_num`,
/// `wait_for`, `waited_so_far` (durations as `humantime` writes them, to the millisecond, such
/// as `1s500ms`), `max_attempts` (the limit, or `unlimited`), `remaining` (the time left before
/// the deadline, or `none`), `error_type` and `caused_by` (the error as the
/// [`ShowError`](super::ShowError) setting shows it: its type only by default). A give-up is a
/// record at the same level (`stamina.retries_exhausted: fetch: gave up after 3 attempts
/// (attempts_exhausted) with io::Error`), with `callable`, `reason`, `attempts` (made),
/// `waited`, `error_type` and `caused_by`.
///
/// With the `tracing` feature, when a `tracing` subscriber takes stamina's events, this hook
/// leaves them to the `tracing` hook: through a `log`-to-`tracing` bridge (such as the one
/// `tracing_subscriber::fmt().init()` installs) each retry would otherwise arrive twice.
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
/// the next attempt, and emits inside it an event at level warn (see [`Level`](super::Level))
/// with the same message and fields as the `log` records. A give-up is an event with the give-up
/// record's message and fields. Without a subscriber that takes stamina's events, it does
/// nothing, and the `log` hook reports them.
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

/// A list of process-wide hooks as it was set, with what a retry needs to know of it.
pub(super) struct ProcessHooks {
    /// The [`GENERATION`] the list was set at.
    generation: u64,
    pub(super) list: Box<[OnRetryHook]>,
    /// Whether the built-in `tracing` hook is in the list.
    pub(super) traced: bool,
}

impl ProcessHooks {
    fn new(list: Box<[OnRetryHook]>, generation: u64) -> Self {
        let traced = list.iter().any(|hook| hook.is(Builtin::Tracing));
        Self {
            generation,
            list,
            traced,
        }
    }
}

/// The process-wide hooks set with [`set_on_retry_hooks`]; `None` until then and after a
/// reset, meaning the defaults.
static HOOKS: RwLock<Option<Arc<ProcessHooks>>> = RwLock::new(None);

/// The built-in hooks, the process-wide ones until others are set: made once and kept for the
/// process, so that a retry with the defaults in force reads them without a lock, a reference
/// count or a thread-local.
static DEFAULTS: LazyLock<ProcessHooks> =
    LazyLock::new(|| ProcessHooks::new(default_on_retry_hooks().into(), 0));

/// Whether the process-wide hooks are set to none at all: written under `HOOKS`' write lock, so
/// that a retry with instrumentation off skips the lock and the reference count.
static NO_HOOKS: AtomicBool = AtomicBool::new(false);

/// Whether the process-wide hooks are the [`DEFAULTS`] (`HOOKS` holds `None`): written under
/// `HOOKS`' write lock, so that a retry with the defaults skips the lock, the reference count
/// and the thread's kept hooks.
static DEFAULTS_IN_FORCE: AtomicBool = AtomicBool::new(true);

/// How many times the process-wide hooks were set or reset: bumped under `HOOKS`' write lock,
/// so that a thread can tell whether the hooks it kept are still the ones in force.
static GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The process-wide hooks this thread used last: a retry that finds their generation still
    /// current calls them without the lock and without a reference count round trip.
    static KEPT: Cell<Option<Arc<ProcessHooks>>> = const { Cell::new(None) };
}

/// Whether the process-wide hooks are known to be empty (`false` when unsure).
#[inline]
pub(super) fn no_process_hooks() -> bool {
    NO_HOOKS.load(Ordering::Acquire)
}

/// The process-wide hooks in force, as a list to keep.
fn process_hooks() -> Arc<ProcessHooks> {
    if let Some(hooks) = &*HOOKS.read().unwrap_or_else(PoisonError::into_inner) {
        return Arc::clone(hooks);
    }
    // Reset since the caller looked: the defaults, in a list of their own (a race only).
    let generation = GENERATION.load(Ordering::Acquire);
    Arc::new(ProcessHooks::new(DEFAULTS.list.clone(), generation))
}

/// Runs `f` with the process-wide hooks in force: the defaults, else those this thread kept,
/// while no other list was set since.
///
/// The kept hooks are taken out of the thread's slot while `f` runs and put back after, so that
/// `f` may run loops of its own or set the hooks (which then find the slot empty, and fill it);
/// a panic in `f` leaves the slot empty.
#[inline(always)]
pub(super) fn with_process_hooks<R>(f: impl FnOnce(&ProcessHooks) -> R) -> R {
    if DEFAULTS_IN_FORCE.load(Ordering::Acquire) {
        return f(&DEFAULTS);
    }
    let generation = GENERATION.load(Ordering::Acquire);
    let hooks = match KEPT.try_with(Cell::take).ok().flatten() {
        Some(hooks) if hooks.generation == generation => hooks,
        _ => process_hooks(),
    };
    let result = f(&hooks);
    // Fails only while the thread's locals are being destroyed: the hooks are dropped instead.
    let _ = KEPT.try_with(|kept| kept.set(Some(hooks)));
    result
}

/// Replaces the process-wide hooks, which every loop calls before its own: a list turns them
/// into that list (an empty one turns the process-wide instrumentation off, the built-in `log`,
/// `metrics` and `tracing` hooks included), and `None` restores the defaults, as in Python's
/// stamina.
///
/// Loops that are waiting keep the guards they have; the new hooks apply from the next retry
/// on, on every thread. A thread keeps the hooks it last called until its next retry or give-up
/// (or its end), so replaced hooks are dropped when the last thread that called them moves on.
/// The default hooks are made once, at the first retry that needs them, and kept for the
/// process.
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
    let Some(hooks) = hooks.into_on_retry_hooks() else {
        return reset_on_retry_hooks();
    };
    let list = hooks.into_boxed_slice();
    let mut slot = HOOKS.write().unwrap_or_else(PoisonError::into_inner);
    NO_HOOKS.store(list.is_empty(), Ordering::Release);
    let generation = GENERATION.fetch_add(1, Ordering::Release) + 1;
    *slot = Some(Arc::new(ProcessHooks::new(list, generation)));
    DEFAULTS_IN_FORCE.store(false, Ordering::Release);
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
    pub trait Sealed {}
}

impl sealed::Sealed for Vec<OnRetryHook> {}
impl IntoOnRetryHooks for Vec<OnRetryHook> {
    fn into_on_retry_hooks(self) -> Option<Vec<OnRetryHook>> {
        Some(self)
    }
}

impl<const N: usize> sealed::Sealed for [OnRetryHook; N] {}
impl<const N: usize> IntoOnRetryHooks for [OnRetryHook; N] {
    fn into_on_retry_hooks(self) -> Option<Vec<OnRetryHook>> {
        Some(self.into())
    }
}

impl sealed::Sealed for &[OnRetryHook] {}
impl IntoOnRetryHooks for &[OnRetryHook] {
    fn into_on_retry_hooks(self) -> Option<Vec<OnRetryHook>> {
        Some(self.to_vec())
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
    match &*HOOKS.read().unwrap_or_else(PoisonError::into_inner) {
        Some(hooks) => hooks.list.to_vec(),
        None => DEFAULTS.list.to_vec(),
    }
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
    GENERATION.fetch_add(1, Ordering::Release);
    DEFAULTS_IN_FORCE.store(true, Ordering::Release);
}

/// Calls the hooks for a retry the state machine just decided, before the wait: the
/// process-wide hooks, then `local` (the loop's own). Front ends keep the returned guards over
/// the wait and drop them right before the next attempt.
///
/// Costs an atomic load and nothing else when instrumentation is off (`set_on_retry_hooks([])`
/// and no hooks of the loop's own); otherwise, before the hooks themselves, an atomic load and
/// the thread's kept hooks (a lock read when the hooks changed since this thread's last retry).
#[inline]
pub(crate) fn retry_scheduled<'e, E: fmt::Debug>(
    name: &str,
    retry: &Retry,
    error: &'e E,
    view: impl FnOnce(&'e E) -> ErrorView<'e>,
    local: &LoopHooks,
) -> Guards {
    if local.list.is_empty() && no_process_hooks() {
        return Guards::default();
    }
    let cause = Cause::new(error, view(error));
    // A copy made here, on the hooks' way only: the loop's own `retry` is then never borrowed
    // past this inlined function, so that it stays in registers when the hooks are off rather
    // than be written out at every retry.
    call_retry_hooks(name, &{ *retry }, &cause, local)
}

/// The hooks' part of [`retry_scheduled`]: out of line and not generic, so that the loops with
/// the hooks off stay small (inlined, it made their every retry slower).
#[inline(never)]
fn call_retry_hooks(name: &str, retry: &Retry, cause: &Cause<'_>, local: &LoopHooks) -> Guards {
    if DEFAULTS_IN_FORCE.load(Ordering::Acquire) && local.list.is_empty() {
        // The built-in hooks alone, called without walking their list, in the order that
        // `default_on_retry_hooks` gives them.
        let mut guards = Guards::default();
        let report = report(&DEFAULTS, local, name);
        let details = RetryDetails::new(name, retry, cause, report);
        if metrics::ENABLED {
            metrics::retry_scheduled(&details);
        }
        if log::ENABLED {
            log::retry_scheduled(&details);
        }
        if let Some(guard) = tracing::retry_scheduled(&details) {
            guards.0.push(guard);
        }
        return guards;
    }
    with_process_hooks(|process| {
        let mut guards = Guards::default();
        if process.list.is_empty() && local.list.is_empty() {
            return guards;
        }
        let report = report(process, local, name);
        let details = RetryDetails::new(name, retry, cause, report);
        for hook in process.list.iter().chain(local.list.iter()) {
            hook.retry_scheduled(&details, &mut guards);
        }
        guards
    })
}

/// How the built-in hooks report an event of the loop `name` with `local` hooks after the
/// `process` ones: the loop's settings, whether the `tracing` hook is among them and a
/// subscriber takes its events, and the name if it is `'static`.
#[inline(always)]
pub(super) fn report(process: &ProcessHooks, local: &LoopHooks, _name: &str) -> Report {
    let level = local.level();
    let traced = tracing::ENABLED
        && (process.traced || local.list.iter().any(|hook| hook.is(Builtin::Tracing)))
        && tracing::subscribed(level);
    Report {
        show_error: local.show_error,
        level,
        traced,
        static_name: None,
    }
}
