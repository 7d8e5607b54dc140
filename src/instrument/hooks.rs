//! On-retry hooks: a function per scheduled retry, a give-up handler, lazy factories.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, LazyLock};

use super::{GiveUpDetails, Guards, IntoRetryGuard, RetryDetails, RetryGuard};

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
    builtin: Option<Builtin>,
}

/// Which built-in hook a hook is, if it is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Builtin {
    Log,
    Metrics,
    Tracing,
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
            builtin: None,
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
            builtin: None,
        }
    }

    /// Adds a handler called once when a retryable error ends a loop that was allowed to retry:
    /// its attempts or its time are used up, the server asked for a wait beyond
    /// [`retry_after_max`](crate::RetryPolicy::retry_after_max), or its
    /// [`RetryBudget`](crate::RetryBudget) cannot pay for another retry (see
    /// [`GiveUpReason`](super::GiveUpReason)). Errors that are not worth retrying, deactivated
    /// loops, suppressed nested loops and loops allowed a single attempt call no handler.
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

    /// Marks the hook as the built-in one of a backend.
    pub(super) fn builtin(mut self, builtin: Builtin) -> Self {
        self.builtin = Some(builtin);
        self
    }

    /// Whether the hook is the built-in one of `backend`.
    pub(super) fn is(&self, backend: Builtin) -> bool {
        self.builtin == Some(backend)
    }

    /// Calls the hook for a scheduled retry. Always inlined into the loop over a loop's hooks
    /// (the built-in hooks' calls cost more than their work there), with the lazy hooks' way out
    /// of line.
    #[inline(always)]
    pub(super) fn retry_scheduled(&self, details: &RetryDetails<'_>, guards: &mut Guards) {
        // A built-in hook's function is known: called directly, not through its `Arc`.
        match self.builtin {
            Some(Builtin::Metrics) => return super::metrics::retry_scheduled(details),
            Some(Builtin::Log) => return super::log::retry_scheduled(details),
            Some(Builtin::Tracing) => {
                if let Some(guard) = super::tracing::retry_scheduled(details) {
                    guards.0.push(guard);
                }
                return;
            }
            None => {}
        }
        match &self.retry {
            RetryRepr::Direct(hook) => {
                if let Some(guard) = hook(details) {
                    guards.0.push(guard);
                }
            }
            RetryRepr::Lazy(hook) => Self::lazy_retry_scheduled(hook, details, guards),
        }
    }

    #[inline(never)]
    fn lazy_retry_scheduled(
        hook: &LazyLock<OnRetryHook, Factory>,
        details: &RetryDetails<'_>,
        guards: &mut Guards,
    ) {
        LazyLock::force(hook).retry_scheduled(details, guards);
    }

    pub(super) fn gave_up(&self, details: &GiveUpDetails<'_>) {
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
