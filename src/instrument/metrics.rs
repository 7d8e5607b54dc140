//! The `metrics` backend: counters of retries and give-ups, or nothing without the feature.

use super::OnRetryHook;
use super::hooks::Builtin;

#[cfg(feature = "metrics")]
mod imp {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{PoisonError, RwLock};

    use ::metrics::{Key, KeyName, Label, Metadata, SharedString};

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

    /// Which counter a label set belongs to, with the label that sets it apart from the
    /// loop's other series: the retry number, or the give-up reason.
    #[derive(Clone, Copy, PartialEq, Eq, Hash)]
    enum Series {
        Retry(u32),
        GiveUp(&'static str),
    }

    /// The most label sets kept: beyond, the labels of a new series are made per event (a
    /// loop named anew on every call, say), and memory stays bounded.
    const MAX_SERIES: usize = 10_000;

    type Sets = HashMap<(Series, &'static str), HashMap<Box<str>, &'static [Label]>>;

    /// Counts one event of `series` for the loop `callable` and its `error_type`.
    ///
    /// Every label set is made once and kept for the process (as the recorder keeps the series),
    /// so that an event allocates nothing: the key borrows it, the loop's name included.
    fn count(series: Series, callable: &str, error_type: &'static str) {
        static SETS: RwLock<Option<(Sets, usize)>> = RwLock::new(None);
        static METADATA: Metadata<'static> =
            Metadata::new(module_path!(), ::metrics::Level::INFO, Some(module_path!()));
        describe();
        let name = match series {
            Series::Retry(_) => RETRIES,
            Series::GiveUp(_) => EXHAUSTED,
        };
        let kept = recent(series, callable, error_type).or_else(|| {
            let labels = SETS
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .and_then(|(sets, _)| sets.get(&(series, error_type))?.get(callable).copied())?;
            remember(series, error_type, labels);
            Some(labels)
        });
        let key = match kept {
            Some(labels) => Key::from_static_labels(name, labels),
            None => {
                let labels = labels(series, callable, error_type);
                let mut sets = SETS.write().unwrap_or_else(PoisonError::into_inner);
                let (sets, len) = sets.get_or_insert_with(Default::default);
                if *len >= MAX_SERIES {
                    Key::from_parts(name, labels)
                } else {
                    let labels: &'static [Label] = Box::leak(labels.into_boxed_slice());
                    sets.entry((series, error_type))
                        .or_default()
                        .insert(callable.into(), labels);
                    *len += 1;
                    remember(series, error_type, labels);
                    Key::from_static_labels(name, labels)
                }
            }
        };
        ::metrics::with_recorder(|recorder| {
            recorder.register_counter(&key, &METADATA).increment(1)
        });
    }

    /// How many label sets each thread keeps at hand, so that the retries of a loop (one series
    /// per retry number) find theirs without a lock.
    const RECENT: usize = 8;

    type Recent = [Option<(Series, &'static str, &'static [Label])>; RECENT];

    thread_local! {
        static RECENT_SETS: RefCell<(Recent, usize)> = const { RefCell::new(([None; RECENT], 0)) };
    }

    /// The label set of `series` for `callable` and `error_type`, if this thread used it lately.
    fn recent(
        series: Series,
        callable: &str,
        error_type: &'static str,
    ) -> Option<&'static [Label]> {
        RECENT_SETS.with_borrow(|(recent, _)| {
            recent.iter().flatten().find_map(|&(s, e, labels)| {
                // The name is compared by its text: a name is not always `'static`.
                let same = s == series
                    && std::ptr::eq(e, error_type)
                    && labels.first().is_some_and(|l| l.value() == callable);
                same.then_some(labels)
            })
        })
    }

    /// Keeps `labels` at hand for this thread, in place of the oldest.
    fn remember(series: Series, error_type: &'static str, labels: &'static [Label]) {
        RECENT_SETS.with_borrow_mut(|(recent, next)| {
            recent[*next] = Some((series, error_type, labels));
            *next = (*next + 1) % RECENT;
        });
    }

    /// The labels of `series`, in the order the docs give them.
    fn labels(series: Series, callable: &str, error_type: &'static str) -> Vec<Label> {
        let callable = Label::new("callable", callable.to_owned());
        let error_type = Label::from_static_parts("error_type", error_type);
        match series {
            Series::Retry(num) => vec![
                callable,
                Label::new("retry_num", num.to_string()),
                error_type,
            ],
            Series::GiveUp(reason) => {
                vec![
                    callable,
                    error_type,
                    Label::from_static_parts("reason", reason),
                ]
            }
        }
    }

    pub(super) fn retry_scheduled(details: &RetryDetails<'_>) {
        let series = Series::Retry(details.retry_num());
        count(series, details.name(), details.error_type());
    }

    pub(super) fn gave_up(details: &GiveUpDetails<'_>) {
        let series = Series::GiveUp(details.reason().as_str());
        count(series, details.name(), details.error_type());
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
