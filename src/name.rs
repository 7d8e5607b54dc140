//! The names loops and callers report themselves under.

use std::borrow::Cow;
use std::sync::Arc;

/// What a loop is called in instrumentation and `Debug` output: a name given by the user, or
/// the best one that can be derived without one (a function path or a file), which stays the
/// same when code above the loop is edited, so that it can label a time series.
#[derive(Clone)]
pub(crate) enum Name {
    Static(&'static str),
    Owned(Arc<str>),
}

impl Name {
    pub(crate) fn given(name: impl Into<Cow<'static, str>>) -> Self {
        match name.into() {
            Cow::Borrowed(name) => Self::Static(name),
            Cow::Owned(name) => Self::Owned(name.into()),
        }
    }

    /// The name as text, borrowed.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Static(name) => name,
            Self::Owned(name) => name,
        }
    }

    /// The name of a loop whose `on` predicate is an `On`, made in `file`: for a closure, the
    /// path of the function that contains it; else the file (a line number would change with
    /// every edit above the loop).
    #[inline]
    pub(crate) fn for_loop<On>(file: &'static str) -> Self {
        let on = std::any::type_name::<On>();
        Self::Static(if on.ends_with(CLOSURE) {
            strip_closures(on)
        } else {
            file
        })
    }
}

/// The path of `T` without the closure segments that end it: for a closure, the path of the
/// function that contains it (`app::Client::get`, not `app::Client::get::{{closure}}`).
#[inline]
pub(crate) fn path_of<T>() -> &'static str {
    strip_closures(std::any::type_name::<T>())
}

const CLOSURE: &str = "::{{closure}}";

#[inline]
fn strip_closures(mut path: &str) -> &str {
    while let Some(outer) = path.strip_suffix(CLOSURE) {
        path = outer;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_segments_are_stripped() {
        assert_eq!(
            strip_closures("app::handler::{{closure}}::{{closure}}"),
            "app::handler"
        );
        assert_eq!(strip_closures("app::Client::get"), "app::Client::get");
        assert_eq!(
            strip_closures("<app::Foo as app::Tr>::t::{{closure}}"),
            "<app::Foo as app::Tr>::t"
        );
        let closure = || ();
        fn type_of<T>(_: &T) -> &'static str {
            path_of::<T>()
        }
        assert_eq!(
            type_of(&closure),
            "stamina::name::tests::closure_segments_are_stripped"
        );
        assert_eq!(
            Name::for_loop::<fn(&u32) -> bool>("src/main.rs").as_str(),
            "src/main.rs"
        );
    }
}
