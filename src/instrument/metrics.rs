//! The `metrics` hook: a counter of retries and one of give-ups.

use ::metrics::{Key, KeyName, Label, Metadata, SharedString};

use super::event::short_type_name;
use super::{Event, GiveUpDetails, OnRetryHook, RetryDetails};

/// The built-in hook that counts retries and give-ups with the `metrics` facade.
///
/// For every scheduled retry it increments the counter `stamina_retries_total` with the labels
/// `callable` (the loop's name), `retry_num` and `error_type`; for every give-up it increments
/// `stamina_retries_exhausted_total` with the labels `callable`, `error_type` and `reason`
/// ([`GiveUpReason::as_str`](super::GiveUpReason::as_str)). Labels never carry an error's
/// text: `error_type` is a short name of its type or the label its loop chose
/// ([`Event::error_type`]). Both counters are described to the recorder in use at every
/// event ("Total number of retries.", "Total number of retry loops that gave up."), so that an
/// exporter prints help text such as Prometheus' `# HELP` lines, even one installed after the
/// first retry. The application installs the recorder (a Prometheus exporter, say); the labels
/// are made at every event, recorder or not (see [what the default hooks
/// allocate](super#what-the-default-hooks-allocate)).
///
/// ```
/// let hooks = stamina::get_on_retry_hooks();
/// assert!(hooks.iter().any(|h| h.name() == stamina::instrument::metrics_hook().name()));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub fn metrics_hook() -> OnRetryHook {
    OnRetryHook::new(retry_scheduled)
        .on_give_up(gave_up)
        .named("stamina::metrics")
}

/// A counter's name and its description.
type Counter = (&'static str, &'static str);

const RETRIES: Counter = ("stamina_retries_total", "Total number of retries.");
const EXHAUSTED: Counter = (
    "stamina_retries_exhausted_total",
    "Total number of retry loops that gave up.",
);

fn retry_scheduled(d: &RetryDetails<'_>) {
    let retry_num = Label::new("retry_num", d.retry_num().to_string());
    increment(RETRIES, vec![callable(d), retry_num, error_type(d)]);
}

fn gave_up(d: &GiveUpDetails<'_>) {
    let reason = Label::from_static_parts("reason", d.reason().as_str());
    increment(EXHAUSTED, vec![callable(d), error_type(d), reason]);
}

fn callable(event: &Event<'_>) -> Label {
    Label::new("callable", event.name().to_owned())
}

fn error_type(event: &Event<'_>) -> Label {
    let cause = event.caused_by();
    match cause.label() {
        Some(label) => Label::from_static_parts("error_type", label),
        None => Label::new("error_type", short_type_name(cause.type_name())),
    }
}

/// Describes `counter` to the recorder in use and adds one to its series with `labels`. Both
/// are asked of the recorder at every event: a handle kept across events could outlive its
/// series (an exporter's idle timeout drops it) or belong to a recorder no longer in use.
fn increment((name, description): Counter, labels: Vec<Label>) {
    static METADATA: Metadata<'static> =
        Metadata::new(module_path!(), ::metrics::Level::INFO, Some(module_path!()));
    ::metrics::with_recorder(|recorder| {
        let help = SharedString::const_str(description);
        recorder.describe_counter(KeyName::from_const_str(name), None, help);
        let key = Key::from_parts(name, labels);
        recorder.register_counter(&key, &METADATA).increment(1);
    });
}
