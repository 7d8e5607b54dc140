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

    /// The name of a layer's service when it has none: the wrapped service's type `T` as people
    /// write it (see [`short_type_name`](crate::instrument::short_type_name)), without its
    /// generic arguments, and at most 64 bytes from its end (`hyper_util::Client` for
    /// `hyper_util::client::legacy::client::Client<HttpConnector, Full<Bytes>>`). One name per
    /// type, whatever its arguments.
    #[cfg(feature = "tower")]
    pub(crate) fn for_service<T>() -> Self {
        let full = std::any::type_name::<T>();
        let path = strip_closures(full.split('<').next().unwrap_or(full));
        let short = crate::instrument::short_type_name(path);
        let mut cut = short.len().saturating_sub(64);
        while !short.is_char_boundary(cut) {
            cut += 1;
        }
        match &short[cut..] {
            "" => Self::Static("service"),
            short => Self::Owned(short.into()),
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

    /// A service type whose name is 30 characters of 3 bytes each.
    #[cfg(feature = "tower")]
    struct 服務服務服務服務服務服務服務服務服務服務服務服務服務服務服務;

    #[cfg(feature = "tower")]
    #[test]
    fn a_long_service_name_is_cut_to_64_bytes_at_a_character() {
        // Computed on a thread of its own, so that a cut that never finds a character's start
        // fails the test instead of spinning.
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let name = Name::for_service::<服務服務服務服務服務服務服務服務服務服務服務服務服務服務服務>();
            send.send(name.as_str().to_owned())
        });
        let name = receive.recv_timeout(std::time::Duration::from_secs(10));
        // `stamina::` and 90 bytes: the last 64 bytes start inside a character, so the name
        // keeps the 21 whole characters after it.
        assert_eq!(
            name.as_deref(),
            Ok("服務".repeat(11).strip_prefix("服").unwrap())
        );
    }

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

    #[test]
    #[cfg(feature = "tower")]
    fn services_are_named_after_their_type_without_arguments_in_64_bytes_at_most() {
        struct Client<T>(T);
        let name = |name: Name| name.as_str().to_owned();
        assert_eq!(
            name(Name::for_service::<Client<Vec<String>>>()),
            "stamina::Client"
        );
        assert_eq!(name(Name::for_service::<std::vec::Vec<u8>>()), "Vec");
        assert_eq!(name(Name::for_service::<(u8, u8)>()), "(u8, u8)");
        struct AVeryLongNameIndeedForATypeThatTakesMoreThanSixtyFourBytesToWrite;
        let long = name(Name::for_service::<
            AVeryLongNameIndeedForATypeThatTakesMoreThanSixtyFourBytesToWrite,
        >());
        assert_eq!(long.len(), 64);
        assert!(long.ends_with("ForATypeThatTakesMoreThanSixtyFourBytesToWrite"));
    }
}
