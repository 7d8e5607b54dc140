//! What the built-in hooks show of an error and at which level they report, process-wide and
//! per loop.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{PoisonError, RwLock};

use super::{Cause, OnRetryHook};

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

impl fmt::Debug for ShowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Type => f.write_str("Type"),
            Self::Display => f.write_str("Display"),
            Self::Debug => f.write_str("Debug"),
            Self::With(_) => f.write_str("With(..)"),
        }
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

impl Level {
    /// Every level, in the order of their discriminants.
    const ALL: [Self; 5] = [
        Self::Error,
        Self::Warn,
        Self::Info,
        Self::Debug,
        Self::Trace,
    ];
}

static SHOW_ERROR: RwLock<ShowError> = RwLock::new(ShowError::Type);
/// Whether [`SHOW_ERROR`] holds a function, so that reading another setting takes no lock.
static SHOW_KIND: AtomicU8 = AtomicU8::new(0);
static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

impl ShowError {
    /// The setting as a number, or `None` for a function.
    fn kind(self) -> Option<u8> {
        match self {
            Self::Type => Some(0),
            Self::Display => Some(1),
            Self::Debug => Some(2),
            Self::With(_) => None,
        }
    }
}

/// Sets what the built-in hooks show of errors, for every loop without a setting of its own
/// (see [`ShowError`], whose default is the error's type only).
pub fn set_show_error(show: ShowError) {
    let mut slot = SHOW_ERROR.write().unwrap_or_else(PoisonError::into_inner);
    *slot = show;
    SHOW_KIND.store(show.kind().unwrap_or(u8::MAX), Ordering::Relaxed);
}

/// What the built-in hooks show of errors, for loops without a setting of their own.
///
/// ```
/// use stamina::instrument::{self, ShowError};
///
/// assert!(matches!(instrument::get_show_error(), ShowError::Type));
/// ```
#[inline]
pub fn get_show_error() -> ShowError {
    match SHOW_KIND.load(Ordering::Relaxed) {
        0 => ShowError::Type,
        1 => ShowError::Display,
        2 => ShowError::Debug,
        _ => *SHOW_ERROR.read().unwrap_or_else(PoisonError::into_inner),
    }
}

/// Sets the level of the built-in hooks' records and events, for every loop without a level of
/// its own (see [`Level`], whose default is warn).
pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// The level of the built-in hooks' records and events, for loops without a level of their own.
#[inline]
pub fn get_level() -> Level {
    // `ALL` is in the order of the discriminants, from 0.
    let level = LEVEL.load(Ordering::Relaxed);
    Level::ALL
        .get(usize::from(level))
        .copied()
        .unwrap_or_default()
}

/// A loop's own instrumentation: its hooks (called after the process-wide ones) and its
/// settings for the built-in hooks. The hooks are borrowed when they live in a `static` (those
/// of `#[stamina::retry(on_retry = ..)]`), so that a loop made per call allocates nothing.
///
/// A field that owns something to drop must be checked in [`owns_nothing`](Self::owns_nothing).
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

    /// The level in force: the loop's, else the process-wide one.
    #[inline]
    pub(super) fn level(&self) -> Level {
        self.level.unwrap_or_else(get_level)
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
