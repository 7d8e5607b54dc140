//! The `tracing` hook: a span over every wait with an event in it, and an event per give-up.

use super::event::{Or, Readable};
use super::{
    Event, GiveUpDetails, HedgeDetails, Level, OnRetryHook, RetryDetails, RetryGuard, ShowError,
};

/// The built-in hook that traces retries and give-ups with `tracing`.
///
/// Every scheduled retry opens a span `stamina.retry_wait` (target `stamina`, fields
/// `callable`, `retry_num` and `wait_for`) that stays open over the wait and closes right
/// before the next attempt, and emits inside it an event `retrying` with the rest of the `log`
/// record's fields (`waited_so_far`, `max_attempts`, `remaining`, `error_type`, and `caused_by`
/// where it shows more than `error_type`), so that a formatted line states each once. A
/// give-up is an event `gave up` with the give-up record's fields, a hedge an event `hedge`
/// (`callable`, `attempt`, `in_flight`, `outcome` `sent` or `won`); each attempt of a hedged call
/// runs in a span `stamina.attempt` (`callable`, `attempt`) at level info. Both are at level warn (see
/// [`Level`](super::Level)), the span at the level of its event. Without a subscriber that
/// takes stamina's events, it does nothing, and the `log` hook reports them.
///
/// ```
/// let hooks = stamina::get_on_retry_hooks();
/// assert!(hooks.iter().any(|h| h.name() == stamina::instrument::tracing_hook().name()));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub fn tracing_hook() -> OnRetryHook {
    let mut hook = OnRetryHook::new(retry_scheduled)
        .on_give_up(gave_up)
        .on_hedge(hedged)
        .named("stamina::tracing");
    hook.traces = Some(subscribed);
    hook
}

/// `tracing`'s macros take their level as a constant: one call site per level.
macro_rules! at_level {
    ($level:expr, $macro:ident!($($args:tt)*)) => {
        match $level {
            Level::Error => ::tracing::$macro!(target: "stamina", ::tracing::Level::ERROR, $($args)*),
            Level::Warn => ::tracing::$macro!(target: "stamina", ::tracing::Level::WARN, $($args)*),
            Level::Info => ::tracing::$macro!(target: "stamina", ::tracing::Level::INFO, $($args)*),
            Level::Debug => ::tracing::$macro!(target: "stamina", ::tracing::Level::DEBUG, $($args)*),
            Level::Trace => ::tracing::$macro!(target: "stamina", ::tracing::Level::TRACE, $($args)*),
        }
    };
}

/// Whether a subscriber takes stamina's events at `level`.
fn subscribed(level: Level) -> bool {
    at_level!(level, enabled!())
}

/// The error as the event's setting shows it, unless that is its `error_type` again.
fn caused_by<'a>(event: &Event<'a>) -> Option<impl ::tracing::Value + use<'a>> {
    let (cause, how) = (event.caused_by(), event.show_error());
    let as_type = matches!(
        (how, cause.as_error()),
        (ShowError::Type, _) | (ShowError::Display, None)
    );
    (!as_type).then(|| ::tracing::field::display(cause.show(how)))
}

fn retry_scheduled(d: &RetryDetails<'_>) -> Option<RetryGuard> {
    // Without a subscriber that takes the event, no span either: not even a dead one to keep.
    if !subscribed(d.level()) {
        return None;
    }
    let span = at_level!(
        d.level(),
        span!(
            "stamina.retry_wait",
            callable = %d.name(), retry_num = d.retry_num(), wait_for = %Readable(d.wait_for()),
        )
    );
    span.in_scope(|| {
        at_level!(
            d.level(),
            event!(
                waited_so_far = %Readable(d.waited_so_far()),
                max_attempts = %Or(d.attempts_limit(), "unlimited"),
                remaining = %Or(d.remaining().map(Readable), "none"),
                error_type = %d.caused_by().show(ShowError::Type),
                caused_by = caused_by(d),
                "retrying"
            )
        )
    });
    // The span closes when the guard is dropped, right before the next attempt.
    (!span.is_none()).then(|| RetryGuard::new(span))
}

fn gave_up(d: &GiveUpDetails<'_>) {
    at_level!(
        d.level(),
        event!(
            callable = %d.name(), reason = %d.reason(), attempts = d.attempts(),
            waited = %Readable(d.waited()), error_type = %d.caused_by().show(ShowError::Type),
            caused_by = caused_by(d), "gave up"
        )
    );
}

fn hedged(d: &HedgeDetails<'_>) {
    at_level!(
        d.level(),
        event!(
            callable = %d.name(), attempt = d.attempt(), in_flight = d.in_flight(),
            outcome = d.kind().as_str(), "hedge"
        )
    );
}
