//! The `metrics` backend: counters of retries and give-ups, or nothing without the feature.

use super::OnRetryHook;
use super::hooks::Builtin;

#[cfg(feature = "metrics")]
mod imp {
    use std::borrow::Cow;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{PoisonError, RwLock};

    use ::metrics::{Key, KeyName, Label, Metadata, NoopRecorder, Recorder, SharedString};

    use crate::instrument::{GiveUpDetails, GiveUpReason, RetryDetails};

    pub(super) const ENABLED: bool = true;

    const RETRIES: &str = "stamina_retries_total";
    const EXHAUSTED: &str = "stamina_retries_exhausted_total";

    /// Describes both counters to `recorder`, once per recorder, so that an exporter prints
    /// help text (Prometheus' `# HELP` lines). A recorder is told by its address: an atomic
    /// load per event, and the descriptions again when another recorder takes over.
    fn describe(recorder: &dyn Recorder) {
        static DESCRIBED: AtomicUsize = AtomicUsize::new(0);
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
    }

    /// Which counter a key belongs to, with the label that sets it apart from the loop's other
    /// series: the retry number, or the give-up reason.
    #[derive(Clone, Copy, PartialEq, Eq, Hash)]
    enum Series {
        Retry(u32),
        GiveUp(GiveUpReason),
    }

    /// The most keys kept: beyond, the key of a new series is made per event (a loop named anew
    /// on every call, say), and memory stays bounded.
    const MAX_SERIES: usize = 10_000;

    type Keys = HashMap<(Series, &'static str), HashMap<Box<str>, &'static Key>>;

    /// Every key made, by series and error type, then by the loop's name, and how many.
    static KEYS: RwLock<Option<(Keys, usize)>> = RwLock::new(None);

    /// Counts one event of `series` for the loop `callable` and its `error_type`.
    ///
    /// Every key (its labels, the loop's name among them, and its hash) is made once and kept
    /// for the process, as the recorder keeps the series, so that an event allocates nothing
    /// and hashes nothing, and nor does a recorder's copy of the key. The counter is registered
    /// with the recorder in use at every event: a handle kept across events could outlive the
    /// series (an exporter's idle timeout drops it) or belong to another recorder.
    ///
    /// `static_name` gives the loop's name when it is `'static`; it is read only to make a key.
    ///
    /// With no recorder installed, the facade's no-op recorder is in force: the event is
    /// dropped before its key, or its error type, is looked up.
    #[inline]
    fn count(
        series: Series,
        callable: &str,
        error_type: impl FnOnce() -> &'static str,
        static_name: impl FnOnce() -> Option<&'static str>,
    ) {
        ::metrics::with_recorder(|recorder| {
            if is_noop(recorder) {
                return;
            }
            let error_type = error_type();
            match recent(series, callable, error_type) {
                Some(key) => increment(recorder, key),
                None => increment(recorder, &key(series, callable, static_name(), error_type)),
            }
        });
    }

    /// Whether `recorder` is a [`NoopRecorder`], which the facade hands out while no recorder
    /// is installed: told by its table of methods, which only a type whose methods are the
    /// no-op recorder's own has. The compiler may make more than one copy of the table, so
    /// this may miss a no-op recorder (which is then called as any other), never mistake
    /// another one for it.
    #[inline]
    fn is_noop(recorder: &dyn Recorder) -> bool {
        let theirs: *const dyn Recorder = recorder;
        let noop: *const dyn Recorder = &NoopRecorder;
        // The same address on both sides, so that only the tables are compared.
        std::ptr::eq(theirs, noop.with_addr(theirs.addr()))
    }

    /// Adds one to the counter of `key` in `recorder`.
    #[inline]
    fn increment(recorder: &dyn Recorder, key: &Key) {
        static METADATA: Metadata<'static> =
            Metadata::new(module_path!(), ::metrics::Level::INFO, Some(module_path!()));
        describe(recorder);
        recorder.register_counter(key, &METADATA).increment(1);
    }

    /// The key of `series` for `callable` and `error_type` that this thread did not use lately:
    /// the one kept, else a new one, kept unless [`MAX_SERIES`] keys are.
    #[cold]
    #[inline(never)]
    fn key(
        series: Series,
        callable: &str,
        static_name: Option<&'static str>,
        error_type: &'static str,
    ) -> Cow<'static, Key> {
        let shared = KEYS
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|(keys, _)| keys.get(&(series, error_type))?.get(callable).copied());
        if let Some(key) = shared {
            remember(series, error_type, key);
            return Cow::Borrowed(key);
        }
        let mut keys = KEYS.write().unwrap_or_else(PoisonError::into_inner);
        let (keys, len) = keys.get_or_insert_with(Default::default);
        let loop_keys = keys.entry((series, error_type)).or_default();
        // Another thread may have made it meanwhile.
        if let Some(&key) = loop_keys.get(callable) {
            remember(series, error_type, key);
            return Cow::Borrowed(key);
        }
        let name = match series {
            Series::Retry(_) => RETRIES,
            Series::GiveUp(_) => EXHAUSTED,
        };
        let labels = labels(series, callable, static_name, error_type);
        if *len >= MAX_SERIES {
            return Cow::Owned(Key::from_parts(name, labels));
        }
        // Static labels, so that a recorder's copy of the key (a clone) allocates nothing.
        let labels: &'static [Label] = Box::leak(labels.into_boxed_slice());
        let key: &'static Key = Box::leak(Box::new(Key::from_static_labels(name, labels)));
        loop_keys.insert(callable.into(), key);
        *len += 1;
        remember(series, error_type, key);
        Cow::Borrowed(key)
    }

    /// How many retry numbers, and then give-up reasons, each thread keeps keys at hand for:
    /// a set of places per number (modulo) and per reason, so that a retry looks at one set.
    const RETRY_SETS: usize = 8;
    const SETS: usize = RETRY_SETS + 4;

    /// How many keys each set holds (the most recently used first), so that two loops that
    /// take turns on a thread (one inside the other's attempt, say) both find theirs.
    const WAYS: usize = 2;

    /// A key at hand, with what tells it apart: its series, its error type (a `'static` label,
    /// one per type, so told by its address) and its loop's name (the key's own).
    #[derive(Clone, Copy)]
    struct Kept {
        series: Series,
        error_type: &'static str,
        callable: &'static str,
        key: &'static Key,
    }

    thread_local! {
        static RECENT_KEYS: RefCell<[[Option<Kept>; WAYS]; SETS]> =
            const { RefCell::new([[None; WAYS]; SETS]) };
    }

    impl Series {
        /// The set of this thread's keys at hand where the series' key goes.
        fn set(self) -> usize {
            match self {
                Self::Retry(num) => num as usize % RETRY_SETS,
                Self::GiveUp(reason) => RETRY_SETS + reason as usize % (SETS - RETRY_SETS),
            }
        }
    }

    /// The key of `series` for `callable` and `error_type`, if this thread used it lately.
    #[inline]
    fn recent(series: Series, callable: &str, error_type: &'static str) -> Option<&'static Key> {
        // Compared in place: a copy of the set costs more than the comparisons.
        RECENT_KEYS
            .try_with(|sets| {
                let sets = sets.try_borrow().ok()?;
                sets[series.set()].iter().flatten().find_map(|kept| {
                    // The cheap comparisons first. The name is the key's own, which lives for
                    // the process: the same address means the same text (a `'static` name is
                    // used as it is); another address may still hold the same text.
                    let same = kept.series == series
                        && std::ptr::eq(kept.error_type, error_type)
                        && (std::ptr::eq(kept.callable, callable) || kept.callable == callable);
                    same.then_some(kept.key)
                })
            })
            .ok()
            .flatten()
    }

    /// Keeps `key` at hand for this thread, first in its set.
    fn remember(series: Series, error_type: &'static str, key: &'static Key) {
        // The first label is the loop's name.
        let Some(callable) = key.labels().next().map(Label::value) else {
            return;
        };
        let kept = Kept {
            series,
            error_type,
            callable,
            key,
        };
        let _ = RECENT_KEYS.try_with(|sets| {
            if let Ok(mut sets) = sets.try_borrow_mut() {
                let ways = &mut sets[series.set()];
                ways.rotate_right(1);
                ways[0] = Some(kept);
            }
        });
    }

    /// The labels of `series`, in the order the docs give them.
    fn labels(
        series: Series,
        callable: &str,
        static_name: Option<&'static str>,
        error_type: &'static str,
    ) -> Vec<Label> {
        let callable = match static_name {
            Some(name) => Label::from_static_parts("callable", name),
            None => Label::new("callable", callable.to_owned()),
        };
        let error_type = Label::from_static_parts("error_type", error_type);
        match series {
            Series::Retry(num) => vec![
                callable,
                Label::new("retry_num", num.to_string()),
                error_type,
            ],
            Series::GiveUp(reason) => vec![
                callable,
                error_type,
                Label::from_static_parts("reason", reason.as_str()),
            ],
        }
    }

    #[inline]
    pub(super) fn retry_scheduled(details: &RetryDetails<'_>) {
        let series = Series::Retry(details.retry_num());
        // The `'static` name is read where a key is made, not copied ahead: a copy of it, read
        // back whole from where it was written in halves, stalled every retry.
        count(
            series,
            details.name(),
            || details.error_type(),
            || details.static_name(),
        );
    }

    pub(super) fn gave_up(details: &GiveUpDetails<'_>) {
        let series = Series::GiveUp(details.reason());
        count(
            series,
            details.name(),
            || details.error_type(),
            || details.static_name(),
        );
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn only_the_no_op_recorder_is_told_apart() {
            // Where the compiler made one table of the no-op recorder's methods, which an
            // optimised build of this crate does (a debug build makes one per unit).
            #[cfg(not(debug_assertions))]
            {
                assert!(is_noop(&NoopRecorder));
                assert!(::metrics::with_recorder(is_noop));
            }
            let recorder = metrics_util::debugging::DebuggingRecorder::new();
            assert!(!is_noop(&recorder));
            // A recorder that is a no-op of its own is not the facade's: it is called.
            struct Quiet;
            impl Recorder for Quiet {
                fn describe_counter(
                    &self,
                    _: KeyName,
                    _: Option<::metrics::Unit>,
                    _: SharedString,
                ) {
                }
                fn describe_gauge(&self, _: KeyName, _: Option<::metrics::Unit>, _: SharedString) {}
                fn describe_histogram(
                    &self,
                    _: KeyName,
                    _: Option<::metrics::Unit>,
                    _: SharedString,
                ) {
                }
                fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> ::metrics::Counter {
                    ::metrics::Counter::from_arc(std::sync::Arc::new(
                        std::sync::atomic::AtomicU64::new(0),
                    ))
                }
                fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> ::metrics::Gauge {
                    ::metrics::Gauge::noop()
                }
                fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> ::metrics::Histogram {
                    ::metrics::Histogram::noop()
                }
            }
            assert!(!is_noop(&Quiet));
        }
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

/// What the built-in hook does for a scheduled retry, for a direct call.
#[inline]
pub(super) fn retry_scheduled(details: &super::RetryDetails<'_>) {
    imp::retry_scheduled(details)
}

/// The built-in `metrics` hook (which does nothing without the feature).
pub(super) fn hook() -> OnRetryHook {
    OnRetryHook::new(imp::retry_scheduled)
        .on_give_up(imp::gave_up)
        .named("stamina::metrics")
        .builtin(Builtin::Metrics)
}
