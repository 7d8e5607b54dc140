//! The `log` hook: a record per retry and per give-up.

use super::event::{Or, Readable};
use super::{GiveUpDetails, HedgeDetails, Level, OnRetryHook, RetryDetails, ShowError};

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
/// `waited`, `error_type` and `caused_by`. A hedged call's hedge is a record
/// `stamina.hedge_sent: fetch: attempt 2 sent, 2 in flight`, and its win by another attempt
/// than the first `stamina.hedge_won: fetch: attempt 2 won, 2 in flight`, with `callable`,
/// `attempt` and `in_flight`.
///
/// With the `tracing` feature, when the `tracing` hook (`tracing_hook()`, under any name) is in
/// force (it is among the defaults) and a `tracing` subscriber takes stamina's events, this hook
/// leaves them to it: through a `log`-to-`tracing` bridge (such as the one
/// `tracing_subscriber::fmt().init()` installs) each retry would otherwise arrive twice.
///
/// ```
/// let hooks = stamina::get_on_retry_hooks();
/// assert!(hooks.iter().any(|h| h.name() == stamina::instrument::log_hook().name()));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
pub fn log_hook() -> OnRetryHook {
    OnRetryHook::new(retry_scheduled)
        .on_give_up(gave_up)
        .on_hedge(hedged)
        .named("stamina::log")
}

/// `log`'s level for an event at `level` (both list theirs from the most severe), unless the
/// `tracing` hook takes the event (`traced`).
fn level(level: Level, traced: bool) -> Option<::log::Level> {
    ::log::Level::iter().nth(level as usize).filter(|_| !traced)
}

fn retry_scheduled(d: &RetryDetails<'_>) {
    let Some(level) = level(d.level(), d.traced) else {
        return;
    };
    let (limit, caused_by) = (d.attempts_limit(), d.caused_by().show(d.show_error()));
    ::log::log!(target: "stamina", level,
        callable = d.name(), retry_num = d.retry_num(), wait_for:% = Readable(d.wait_for()),
        waited_so_far:% = Readable(d.waited_so_far()), max_attempts:% = Or(limit, "unlimited"),
        remaining:% = Or(d.remaining().map(Readable), "none"),
        error_type:% = d.caused_by().show(ShowError::Type), caused_by:% = caused_by;
        "stamina.retry_scheduled: {}: attempt {}{}{} failed with {caused_by}, retrying in {}",
        d.name(), d.retry_num(), if limit.is_some() { " of " } else { "" }, Or(limit, ""),
        Readable(d.wait_for()),
    );
}

fn gave_up(d: &GiveUpDetails<'_>) {
    let Some(level) = level(d.level(), d.traced) else {
        return;
    };
    let caused_by = d.caused_by().show(d.show_error());
    ::log::log!(target: "stamina", level,
        callable = d.name(), reason = d.reason().as_str(), attempts = d.attempts(),
        waited:% = Readable(d.waited()), error_type:% = d.caused_by().show(ShowError::Type),
        caused_by:% = caused_by;
        "stamina.retries_exhausted: {}: gave up after {} attempt{} ({}) with {caused_by}",
        d.name(), d.attempts(), if d.attempts() == 1 { "" } else { "s" }, d.reason(),
    );
}

fn hedged(d: &HedgeDetails<'_>) {
    let Some(level) = level(d.level(), d.traced) else {
        return;
    };
    let (name, attempt, in_flight, kind) =
        (d.name(), d.attempt(), d.in_flight(), d.kind().as_str());
    // `stamina.hedge_sent: fetch: attempt 2 sent, ...` or `stamina.hedge_won: ... won, ...`.
    ::log::log!(target: "stamina", level,
        callable = name, attempt, in_flight;
        "stamina.hedge_{kind}: {name}: attempt {attempt} {kind}, {in_flight} in flight");
}
