//! The `metrics` hook: a counter of retries and one of give-ups.

use ::metrics::{SharedString, counter, describe_counter};

use super::event::short_type_name;
use super::{Event, GiveUpDetails, HedgeDetails, HedgeKind, OnRetryHook, RetryDetails};

/// The built-in hook that counts retries and give-ups with the `metrics` facade.
///
/// For every scheduled retry it increments the counter `stamina_retries_total` with the labels
/// `callable` (the loop's name), `retry_num` and `error_type`; for every give-up it increments
/// `stamina_retries_exhausted_total` with the labels `callable`, `error_type` and `reason`
/// ([`GiveUpReason::as_str`](super::GiveUpReason::as_str)); for every hedge a hedged call
/// sends, `stamina_hedges_total` with the labels `callable` and `hedge_num` (the number of the
/// attempt sent). Labels never carry an error's
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
        .on_hedge(hedged)
        .named("stamina::metrics")
}

// The counters are described and asked of the recorder in use at every event: a handle kept
// across events could outlive its series (an exporter's idle timeout drops it) or belong to a
// recorder no longer in use.

fn retry_scheduled(d: &RetryDetails<'_>) {
    describe_counter!("stamina_retries_total", "Total number of retries.");
    counter!("stamina_retries_total", "callable" => d.name().to_owned(),
        "retry_num" => d.retry_num().to_string(), "error_type" => error_type(d))
    .increment(1);
}

fn gave_up(d: &GiveUpDetails<'_>) {
    let help = "Total number of retry loops that gave up.";
    describe_counter!("stamina_retries_exhausted_total", help);
    counter!("stamina_retries_exhausted_total", "callable" => d.name().to_owned(),
        "error_type" => error_type(d), "reason" => d.reason().as_str())
    .increment(1);
}

/// The `error_type` label: the one the loop's predicate chose, else the error type's short name.
fn error_type(event: &Event<'_>) -> SharedString {
    let cause = event.caused_by();
    match cause.label() {
        Some(label) => SharedString::const_str(label),
        None => short_type_name(cause.type_name()).into(),
    }
}

fn hedged(d: &HedgeDetails<'_>) {
    if d.kind() != HedgeKind::Sent {
        return;
    }
    let (callable, hedge_num) = (d.name().to_owned(), d.attempt().to_string());
    describe_counter!("stamina_hedges_total", "Total number of hedges sent.");
    counter!("stamina_hedges_total", "callable" => callable, "hedge_num" => hedge_num).increment(1);
}
