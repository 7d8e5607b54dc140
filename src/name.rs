//! The names loops and callers report themselves under.

use std::borrow::Cow;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;

/// What a loop is called in instrumentation and `Debug` output: a name given by the user, or
/// the best one that can be derived without one (a call site, a function or closure path).
#[derive(Clone)]
pub(crate) enum Name {
    Static(&'static str),
    Owned(Arc<str>),
    Location(&'static Location<'static>),
}

impl Name {
    pub(crate) fn given(name: impl Into<Cow<'static, str>>) -> Self {
        match name.into() {
            Cow::Borrowed(name) => Self::Static(name),
            Cow::Owned(name) => Self::Owned(name.into()),
        }
    }
}

impl Name {
    /// The name as text, borrowed unless it must be formatted (a call site).
    pub(crate) fn as_str(&self) -> Cow<'_, str> {
        match self {
            Self::Static(name) => Cow::Borrowed(name),
            Self::Owned(name) => Cow::Borrowed(name),
            Self::Location(location) => Cow::Owned(location.to_string()),
        }
    }
}

impl Name {
    /// The name of a call of `F`: the given one, else the type of `F` (for a closure, the path of
    /// the function that contains it).
    pub(crate) fn for_call<F>(given: Option<&Name>) -> Cow<'_, Name> {
        match given {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(Name::Static(std::any::type_name::<F>())),
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(name) => f.write_str(name),
            Self::Owned(name) => f.write_str(name),
            Self::Location(location) => write!(f, "{location}"),
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}
