//! What hooks learn of an event: the [`Event`] every kind shares (the loop, the error, the
//! built-in hooks' settings), the [`RetryDetails`] and [`GiveUpDetails`] around it, and how the
//! built-in hooks write it.

use std::any::Any;
use std::cell::OnceCell;
use std::error::Error;
use std::fmt;
use std::ops::Deref;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use crate::machine::{GiveUp, Retry};

/// What the built-in hooks (`log`, `tracing`) show of an error, in the `caused_by` field and in
/// the message.
///
/// # Default
///
/// [`ShowError::Type`]: the error's type only (the `error_type` label). An error's `Debug` and
/// `Display` output often carry what must not be logged: a `reqwest::Error` writes the full URL,
/// query string included (`?api_key=...`), a database error the query and its parameters. Choose
/// [`Debug`](Self::Debug) or [`Display`](Self::Display) only for error types whose output you
/// know to be safe, or a [function](Self::With) that writes what is.
///
/// Set it process-wide with [`set_show_error`] and per loop with `.show_error(..)` on contexts
/// and callers. Metric labels never carry the error's text: its type or label only.
///
/// ```
/// use std::fmt;
/// use stamina::instrument::{self, Cause, ShowError};
///
/// // Only the kind of an I/O error, for every loop:
/// fn kind(cause: Cause<'_>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///     match cause.downcast_ref::<std::io::Error>() {
///         Some(error) => write!(f, "{:?}", error.kind()),
///         None => f.write_str(cause.type_name()),
///     }
/// }
/// instrument::set_show_error(ShowError::With(kind));
/// # instrument::set_show_error(ShowError::Type);
/// ```
#[derive(Clone, Copy, Default)]
pub enum ShowError {
    /// The error's type (or its label, see [`Typed::error_label`](crate::Typed::error_label)),
    /// never its contents.
    #[default]
    Type,
    /// The error's `Display` output, where the loop's predicate shows the error as an `Error`
    /// (see [`Cause`]); elsewhere its type.
    Display,
    /// The error's `Debug` output.
    Debug,
    /// What the function writes.
    With(fn(Cause<'_>, &mut fmt::Formatter<'_>) -> fmt::Result),
}

/// Names the variant; a function shows as `With(..)`, not as an address.
impl fmt::Debug for ShowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Type => "Type",
            Self::Display => "Display",
            Self::Debug => "Debug",
            Self::With(_) => "With(..)",
        })
    }
}

/// The level of the built-in hooks' `log` records and `tracing` events.
///
/// # Default
///
/// [`Level::Warn`], for retries and give-ups alike. Set it process-wide with [`set_level`] and
/// per loop with `.log_level(..)` on contexts and callers.
///
/// ```
/// use stamina::instrument::{self, Level};
///
/// // Retries are routine here: report them at info.
/// instrument::set_level(Level::Info);
/// assert_eq!(instrument::get_level(), Level::Info);
/// # instrument::set_level(Level::Warn);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// The most severe.
    Error,
    /// The default.
    #[default]
    Warn,
    /// Routine events.
    Info,
    /// Details.
    Debug,
    /// Everything.
    Trace,
}

static SHOW_ERROR: RwLock<ShowError> = RwLock::new(ShowError::Type);
static LEVEL: RwLock<Level> = RwLock::new(Level::Warn);

/// Sets what the built-in hooks show of errors, for every loop without a setting of its own
/// (see [`ShowError`], whose default is the error's type only).
pub fn set_show_error(show: ShowError) {
    *SHOW_ERROR.write().unwrap_or_else(PoisonError::into_inner) = show;
}

/// What the built-in hooks show of errors, for loops without a setting of their own.
///
/// ```
/// use stamina::instrument::{self, ShowError};
///
/// assert!(matches!(instrument::get_show_error(), ShowError::Type));
/// ```
pub fn get_show_error() -> ShowError {
    *SHOW_ERROR.read().unwrap_or_else(PoisonError::into_inner)
}

/// Sets the level of the built-in hooks' records and events, for every loop without a level of
/// its own (see [`Level`], whose default is warn).
pub fn set_level(level: Level) {
    *LEVEL.write().unwrap_or_else(PoisonError::into_inner) = level;
}

/// The level of the built-in hooks' records and events, for loops without a level of their own.
pub fn get_level() -> Level {
    *LEVEL.read().unwrap_or_else(PoisonError::into_inner)
}

/// The error a retry or give-up is about, as hooks see it.
///
/// It is always the error's `Debug` output (this type's own `Debug` writes it), and its type
/// name. Hooks can also reach the error itself, to downcast it or walk its `source()` chain,
/// when the loop's `on` predicate shows it (see [`ErrorView`]): predicates wrapped in
/// [`typed`] (in a loop, a caller or `#[stamina::retry(on = stamina::typed(..))]`) and the
/// [`on_cause`] matchers do. Elsewhere [`downcast_ref`](Self::downcast_ref) and
/// [`as_error`](Self::as_error) return `None`.
///
/// Why a wrapper: the loops require only `E: Debug` of an error, so that errors which are not
/// `'static` (or not [`Error`]s) can be retried, and generic code cannot see more of a value
/// than its bounds say; the `on` predicate is the one place that knows the error's type, so it
/// is where a loop opts in.
///
/// [`on_cause`]: crate::on_cause
/// [`typed`]: crate::typed
///
/// ```
/// use std::{io, time::Duration};
///
/// let caller = stamina::RetryingCaller::new()
///     .attempts(2)
///     .wait_initial(Duration::ZERO)
///     .wait_jitter(Duration::ZERO)
///     .on_retry(|details: &stamina::RetryDetails<'_>| {
///         let cause = details.caused_by();
///         assert_eq!(format!("{cause:?}"), "Kind(TimedOut)");
///         let io = cause.downcast_ref::<io::Error>().unwrap();
///         assert_eq!(io.kind(), io::ErrorKind::TimedOut);
///         assert_eq!(cause.as_error().unwrap().to_string(), "timed out");
///     });
/// let on = stamina::typed(|e: &io::Error| e.kind() == io::ErrorKind::TimedOut);
/// let result = caller.call(on, || Err::<(), _>(io::Error::from(io::ErrorKind::TimedOut)));
/// assert!(result.is_err());
/// ```
#[derive(Clone, Copy)]
pub struct Cause<'a> {
    debug: &'a dyn fmt::Debug,
    view: ErrorView<'a>,
    type_name: &'static str,
}

impl<'a> Cause<'a> {
    pub(crate) fn new<E: fmt::Debug>(error: &'a E, view: ErrorView<'a>) -> Self {
        Self {
            debug: error,
            view,
            type_name: std::any::type_name::<E>(),
        }
    }

    /// The error as a `T`, when it is one and the loop's predicate shows it (see the
    /// [type-level docs](Self)).
    pub fn downcast_ref<T: 'static>(&self) -> Option<&'a T> {
        self.view.any?.downcast_ref()
    }

    /// The error as an [`Error`], to display it or walk its `source()` chain, when the loop's
    /// predicate shows it (see the [type-level docs](Self)). For a boxed error, the error in
    /// the box.
    pub fn as_error(&self) -> Option<&'a (dyn Error + 'static)> {
        self.view.error
    }

    /// The error's type, as [`std::any::type_name`] writes it.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The error as `how` shows it, as the built-in hooks write it (see [`ShowError`]).
    ///
    /// ```
    /// use stamina::instrument::ShowError;
    ///
    /// let caller = stamina::RetryingCaller::new()
    ///     .attempts(2)
    ///     .wait_initial(std::time::Duration::ZERO)
    ///     .on_retry(|details: &stamina::RetryDetails<'_>| {
    ///         let cause = details.caused_by();
    ///         assert_eq!(cause.show(ShowError::Type).to_string(), "fmt::Error");
    ///         assert_eq!(cause.show(ShowError::Debug).to_string(), "Error");
    ///         // `Display` needs the error itself, which `typed` shows.
    ///         let text = cause.show(ShowError::Display).to_string();
    ///         assert_eq!(text, "an error occurred when formatting an argument");
    ///     });
    /// let on = stamina::typed(|_: &std::fmt::Error| true);
    /// let _ = caller.call(on, || Err::<(), _>(std::fmt::Error));
    /// ```
    pub fn show(&self, how: ShowError) -> impl fmt::Display + use<'a> {
        Shown(*self, how)
    }

    /// The error's `Debug` output, as a trait object.
    pub fn as_debug(&self) -> &'a dyn fmt::Debug {
        self.debug
    }

    /// The label the predicate chose for the error, if any.
    pub(super) fn label(&self) -> Option<&'static str> {
        self.view.label
    }
}

impl fmt::Debug for Cause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.debug.fmt(f)
    }
}

/// A cause as a [`ShowError`] setting shows it.
struct Shown<'a>(Cause<'a>, ShowError);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(cause, how) = *self;
        match (how, cause.as_error(), cause.label()) {
            (ShowError::Debug, ..) => cause.debug.fmt(f),
            (ShowError::Display, Some(error), _) => fmt::Display::fmt(error, f),
            (ShowError::With(show), ..) => show(cause, f),
            (_, _, Some(label)) => f.write_str(label),
            (_, _, None) => write_short_type_name(cause.type_name, f),
        }
    }
}

/// What an `on` predicate shows hooks of an error beyond its `Debug` output: the error as an
/// [`Error`] and as [`Any`] (for [`Cause::as_error`] and [`Cause::downcast_ref`]), and the
/// label the built-in hooks report as `error_type`.
///
/// Returned by [`RetryOn::error_view`](crate::RetryOn::error_view), which shows nothing unless
/// a predicate says otherwise; [`typed`](crate::typed) wraps any predicate into one that shows
/// the error.
///
/// ```
/// use std::io;
/// use stamina::instrument::ErrorView;
///
/// let error = io::Error::from(io::ErrorKind::TimedOut);
/// let view = ErrorView::of(&error).with_label("timeout");
/// assert_eq!(
///     format!("{view:?}"),
///     r#"ErrorView { error: true, any: true, label: Some("timeout") }"#,
/// );
/// ```
#[derive(Clone, Copy, Default)]
pub struct ErrorView<'e> {
    error: Option<&'e (dyn Error + 'static)>,
    any: Option<&'e dyn Any>,
    label: Option<&'static str>,
}

impl<'e> ErrorView<'e> {
    /// Shows nothing: hooks see the error's `Debug` output only.
    pub const fn new() -> Self {
        Self {
            error: None,
            any: None,
            label: None,
        }
    }

    /// Shows `error` as an [`Error`] and as itself.
    pub fn of<E: Error + 'static>(error: &'e E) -> Self {
        Self::of_any(error).with_error(error)
    }

    /// Shows `error` as itself, for downcasting (for an error type that is not an [`Error`]).
    pub fn of_any<E: 'static>(error: &'e E) -> Self {
        let mut view = Self::new();
        view.any = Some(error);
        view
    }

    /// Shows `error` as an [`Error`] (such as the error inside a box).
    pub fn with_error(mut self, error: &'e (dyn Error + 'static)) -> Self {
        self.error = Some(error);
        self
    }

    /// Sets the label the built-in hooks report as `error_type` (instead of the type's name).
    pub fn with_label(mut self, label: &'static str) -> Self {
        self.label = Some(label);
        self
    }

    /// This view, with what it lacks taken from `other`.
    pub(crate) fn or(self, other: Self) -> Self {
        Self {
            error: self.error.or(other.error),
            any: self.any.or(other.any),
            label: self.label.or(other.label),
        }
    }
}

impl fmt::Debug for ErrorView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorView")
            .field("error", &self.error.is_some())
            .field("any", &self.any.is_some())
            .field("label", &self.label)
            .finish()
    }
}

/// What every event tells hooks: the loop, the error, and how the built-in hooks report it.
///
/// [`RetryDetails`] and [`GiveUpDetails`] dereference to it, so that these accessors read the
/// same on both: `details.name()`, `details.caused_by()`, `details.error_type()`.
#[derive(Debug)]
pub struct Event<'a> {
    pub(super) name: &'a str,
    pub(super) caused_by: Cause<'a>,
    /// The short name of the error's type, made when a hook first asks for it.
    pub(super) error_type: OnceCell<String>,
    pub(super) show_error: ShowError,
    pub(super) level: Level,
    /// Whether the `tracing` hook is in force and a subscriber takes this event, so that the
    /// `log` hook leaves it (the `log`-to-`tracing` bridge would write it a second time).
    #[cfg_attr(not(feature = "log"), allow(dead_code))]
    pub(super) traced: bool,
}

impl<'a> Event<'a> {
    /// The name of the loop: the name it was given, else a name derived from the code that
    /// stays the same when other code is edited: for callers the path of the called function
    /// (for a closure, of the function that contains it), for the attribute the function's path
    /// (`module::Type::method` for a method), for [`retry_context`](crate::retry_context) the
    /// function that holds its `on` closure, or the file of the call.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The error the attempt failed with (for a give-up, the last error, which the loop
    /// returns): its `Debug` output, and the error itself where the loop's predicate shows it
    /// (see [`Cause`]).
    pub fn caused_by(&self) -> Cause<'a> {
        self.caused_by
    }

    /// The label of the error, the one the built-in hooks report: the one the loop's predicate
    /// chose (see [`Typed::error_label`](crate::Typed::error_label)), else the type of the
    /// error as a short, readable label: every path in [`std::any::type_name`]'s form cut to
    /// what people write (`io::Error` for `std::io::error::Error`, `Box<dyn Error + Send +
    /// Sync>`, `my_app::FetchError` for `my_app::client::FetchError`). One label per type, so
    /// that a metric labelled with it has as many series as there are error types.
    ///
    /// Made for this event when first asked for.
    pub fn error_type(&self) -> &str {
        self.caused_by.label().unwrap_or_else(|| {
            self.error_type
                .get_or_init(|| short_type_name(self.caused_by.type_name))
        })
    }

    /// What the built-in hooks show of the error for this loop (its own setting, else the
    /// process-wide one): see [`ShowError`], and [`Cause::show`] to write it the same way.
    pub fn show_error(&self) -> ShowError {
        self.show_error
    }

    /// The level the built-in hooks report this event at (the loop's own, else the
    /// process-wide one).
    pub fn level(&self) -> Level {
        self.level
    }
}

/// What a hook learns about a retry that was just scheduled: the [`Event`] (to which it
/// dereferences: the loop's name, the error), and the retry's figures.
///
/// Made by the retry loops; hooks receive it by reference, before the wait.
///
/// ```
/// # let _quiet = stamina::testing::thread_testing(stamina::testing::Testing::new().attempts(2));
/// let caller = stamina::RetryingCaller::new()
///     .attempts(2)
///     .on_retry(|details: &stamina::RetryDetails<'_>| {
///         assert_eq!(details.retry_num(), 1);
///         assert_eq!(details.error_type(), "fmt::Error");
///         assert_eq!(format!("{:?}", details.caused_by()), "Error");
///         assert_eq!(details.attempts_limit(), Some(2));
///     });
/// let _ = caller.call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RetryDetails<'a> {
    pub(super) event: &'a Event<'a>,
    pub(super) retry: &'a Retry,
}

impl<'a> Deref for RetryDetails<'a> {
    type Target = Event<'a>;

    fn deref(&self) -> &Event<'a> {
        self.event
    }
}

impl RetryDetails<'_> {
    /// The number of the attempt that just failed (1-based); the next attempt is one more.
    pub fn retry_num(&self) -> u32 {
        self.retry.retry_num
    }

    /// How long the loop is about to wait before the next attempt (zero in testing mode).
    pub fn wait_for(&self) -> Duration {
        self.retry.wait
    }

    /// The sum of the loop's earlier waits, this one excluded.
    pub fn waited_so_far(&self) -> Duration {
        self.retry.waited_so_far
    }

    /// The attempts limit in force (the testing one in testing mode), `None` when unlimited.
    pub fn attempts_limit(&self) -> Option<u32> {
        self.retry.attempts_limit
    }

    /// The time that was left before the loop's deadline when the retry was scheduled (before
    /// the wait); `None` without a timeout and in testing mode.
    pub fn remaining(&self) -> Option<Duration> {
        self.retry.remaining
    }
}

/// Why a retryable error ended a loop.
///
/// The give-up signal is for loops that were allowed to retry and still failed. So there is none
/// when:
///
/// - the error is not worth retrying, or retrying is switched off: no retry failed;
/// - a loop allowed a single attempt ran out of it (`attempts = 1`, or testing mode's default
///   of one attempt): no retry was ever possible, and a failing test should not fill its log
///   with warnings.
///
/// A loop that wanted to retry after its first attempt but could not (its deadline, its budget
/// or a server's wait beyond `retry_after_max` stopped it) does report, with that reason.
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

    /// The reason to report when the state machine gave up with `give_up` after `attempts`
    /// attempts, if there is one to report (see the type-level docs).
    pub(super) fn reported(give_up: GiveUp, attempts: u32) -> Option<Self> {
        match give_up {
            GiveUp::AttemptsExhausted if attempts > 1 => Some(Self::AttemptsExhausted),
            GiveUp::DeadlineExceeded => Some(Self::DeadlineExceeded),
            GiveUp::RetryAfterTooLong => Some(Self::RetryAfterTooLong),
            GiveUp::BudgetExhausted => Some(Self::BudgetExhausted),
            // A nested loop hands its error to the enclosing loop, which reports on it.
            GiveUp::AttemptsExhausted
            | GiveUp::Inactive
            | GiveUp::NotRetryable
            | GiveUp::Nested => None,
        }
    }
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a give-up handler learns about a loop that a retryable error ended: the [`Event`] (to
/// which it dereferences: the loop's name, the last error), and why and when the loop ended.
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
    pub(super) event: &'a Event<'a>,
    pub(super) reason: GiveUpReason,
    pub(super) attempts: u32,
    pub(super) waited: Duration,
}

impl<'a> Deref for GiveUpDetails<'a> {
    type Target = Event<'a>;

    fn deref(&self) -> &Event<'a> {
        self.event
    }
}

impl GiveUpDetails<'_> {
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
}

/// What happened to a hedged call (see [`Hedging`](crate::Hedging)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HedgeKind {
    /// A hedge was sent: an attempt started while others were still in flight.
    Sent,
    /// The call's answer came from an attempt other than the first, or while hedges were out.
    Won,
}

impl HedgeKind {
    /// `sent` or `won`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Won => "won",
        }
    }
}

/// What a hedge handler learns about a hedged call: the loop's name, what happened
/// ([`HedgeKind`]), the attempt it is about (the hedge sent, or the winner) and how many
/// attempts were in flight then.
///
/// ```
/// use stamina::instrument::{HedgeDetails, HedgeKind, OnRetryHook};
///
/// let hook = OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {}).on_hedge(
///     |details: &HedgeDetails<'_>| {
///         if details.kind() == HedgeKind::Won {
///             println!("{}: attempt {} won", details.name(), details.attempt());
///         }
///     },
/// );
/// # let _ = hook;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct HedgeDetails<'a> {
    pub(super) name: &'a str,
    pub(super) kind: HedgeKind,
    pub(super) attempt: u32,
    pub(super) in_flight: u32,
    pub(super) level: Level,
    /// As [`Event`]'s: whether the `tracing` hook takes this event.
    #[cfg_attr(not(feature = "log"), allow(dead_code))]
    pub(super) traced: bool,
}

impl HedgeDetails<'_> {
    /// The name of the loop (see [`Event::name`]).
    pub fn name(&self) -> &str {
        self.name
    }

    /// Whether a hedge was sent or the call was won.
    pub fn kind(&self) -> HedgeKind {
        self.kind
    }

    /// The number of the attempt (1-based): the one sent, or the one that won.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The attempts in flight: with the one sent, or before the winner answered.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The level the built-in hooks report this event at (see [`Event::level`]).
    pub fn level(&self) -> Level {
        self.level
    }
}

/// The short name of the type whose [`std::any::type_name`] is `full`, in one allocation.
pub(crate) fn short_type_name(full: &str) -> String {
    // Never longer than the full name.
    let mut short = String::with_capacity(full.len());
    let _ = write_short_type_name(full, &mut short);
    short
}

/// Writes the type name `full` with every path in it shortened to what people write:
/// `io::Error`, not `std::io::error::Error`; `Box<dyn Error + Send + Sync>`, not
/// `alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>`;
/// `my_app::FetchError` for `my_app::client::FetchError`.
fn write_short_type_name(full: &str, out: &mut impl fmt::Write) -> fmt::Result {
    let not_path = |c: char| !(c.is_alphanumeric() || c == '_' || c == ':');
    // Each piece is a path (perhaps empty) and the character that ends it.
    for piece in full.split_inclusive(not_path) {
        let path = piece.trim_end_matches(not_path);
        write_short_path(path, out)?;
        out.write_str(&piece[path.len()..])?;
    }
    Ok(())
}

/// Writes the short form of one path: the last segment for the standard library's types
/// (`io::Error` for its several `Error`s), else the crate and the last segment.
fn write_short_path(path: &str, out: &mut impl fmt::Write) -> fmt::Result {
    let Some((first, rest)) = path.split_once("::") else {
        return out.write_str(path);
    };
    let (modules, last) = rest.rsplit_once("::").unwrap_or(("", rest));
    // `error` modules are private: `std::io::error::Error` is `std::io::Error`.
    let module = modules.rsplit("::").find(|m| !["", "error"].contains(m));
    match module {
        // A segment left empty (as in `main::{{closure}}`): as it is.
        _ if path.split("::").any(str::is_empty) => out.write_str(path),
        _ if !["std", "core", "alloc"].contains(&first) => write!(out, "{first}::{last}"),
        Some(module) if last == "Error" => write!(out, "{module}::{last}"),
        _ => out.write_str(last),
    }
}

/// Writes a duration for people: `humantime`'s form without its spaces, cut to whole
/// milliseconds from one millisecond up (`1s234ms` rather than `1s 234ms 567us 890ns`).
#[cfg(any(feature = "log", feature = "tracing"))]
pub(super) struct Readable(pub(super) Duration);

#[cfg(any(feature = "log", feature = "tracing"))]
impl fmt::Display for Readable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        /// Passes on what it is given but the spaces.
        struct Unspaced<'a, 'b>(&'a mut fmt::Formatter<'b>);
        impl fmt::Write for Unspaced<'_, '_> {
            fn write_str(&mut self, text: &str) -> fmt::Result {
                text.split(' ').try_for_each(|part| self.0.write_str(part))
            }
        }
        let millis = Duration::from_millis(self.0.as_millis().try_into().unwrap_or(u64::MAX));
        let shown = if millis.is_zero() { self.0 } else { millis };
        write!(Unspaced(f), "{}", humantime::format_duration(shown))
    }
}

/// Writes an optional value, or `none` in its place: `unlimited` for an attempts limit.
#[cfg(any(feature = "log", feature = "tracing"))]
pub(super) struct Or<T>(pub(super) Option<T>, pub(super) &'static str);

#[cfg(any(feature = "log", feature = "tracing"))]
impl<T: fmt::Display> fmt::Display for Or<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(value) => value.fmt(f),
            None => f.write_str(self.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shortened_to_what_people_write() {
        let cases = [
            ("std::io::error::Error", "io::Error"),
            ("core::fmt::Error", "fmt::Error"),
            ("core::num::error::ParseIntError", "ParseIntError"),
            (
                "alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>",
                "Box<dyn Error + Send + Sync>",
            ),
            (
                "std::sync::poison::PoisonError<std::sync::poison::mutex::MutexGuard<'_, u8>>",
                "PoisonError<MutexGuard<'_, u8>>",
            ),
            ("reqwest::error::Error", "reqwest::Error"),
            ("anyhow::Error", "anyhow::Error"),
            ("tokio::time::error::Elapsed", "tokio::Elapsed"),
            ("my_app::client::FetchError", "my_app::FetchError"),
            ("quickstart::FetchError", "quickstart::FetchError"),
            // A closure's path keeps every segment.
            ("my_app::client::{{closure}}", "my_app::client::{{closure}}"),
            (
                "core::result::Result<u32, alloc::string::String>",
                "Result<u32, String>",
            ),
            ("&str", "&str"),
            ("()", "()"),
            ("(u8, [i32; 4])", "(u8, [i32; 4])"),
            ("", ""),
        ];
        for (full, short) in cases {
            assert_eq!(short_type_name(full), short, "{full}");
        }
    }

    #[cfg(any(feature = "log", feature = "tracing"))]
    #[test]
    fn durations_read_to_the_millisecond() {
        let read = |d: Duration| Readable(d).to_string();
        assert_eq!(read(Duration::ZERO), "0s");
        assert_eq!(read(Duration::from_nanos(1_234_567_890)), "1s234ms");
        assert_eq!(read(Duration::from_micros(999)), "999us");
        assert_eq!(read(Duration::from_secs(90)), "1m30s");
        assert_eq!(read(Duration::from_secs(3_723)), "1h2m3s");
        assert_eq!(read(Duration::MAX), read(Duration::from_millis(u64::MAX)));
        assert_eq!(Or(None::<u32>, "unlimited").to_string(), "unlimited");
        assert_eq!(Or(Some(3), "unlimited").to_string(), "3");
        assert_eq!(
            Or(Some(Readable(Duration::from_millis(44_999))), "none").to_string(),
            "44s999ms"
        );
    }

    #[test]
    fn only_retryable_errors_that_could_be_retried_give_up() {
        assert_eq!(GiveUpReason::reported(GiveUp::Inactive, 3), None);
        assert_eq!(GiveUpReason::reported(GiveUp::NotRetryable, 3), None);
        assert_eq!(GiveUpReason::reported(GiveUp::Nested, 3), None);
        assert_eq!(GiveUpReason::reported(GiveUp::AttemptsExhausted, 1), None);
        assert_eq!(
            GiveUpReason::reported(GiveUp::AttemptsExhausted, 2),
            Some(GiveUpReason::AttemptsExhausted)
        );
        assert_eq!(
            GiveUpReason::reported(GiveUp::DeadlineExceeded, 1),
            Some(GiveUpReason::DeadlineExceeded)
        );
    }
}
