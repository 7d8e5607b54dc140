//! Short, readable labels for error types: what the built-in hooks report as `error_type`.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// The label of the type whose [`std::any::type_name`] is `full`: every path shortened to what
/// people write (`io::Error`, not `std::io::error::Error`; `Box<dyn Error + Send + Sync>`, not
/// `alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>`;
/// `my_app::FetchError` for `my_app::client::FetchError`), one per type, so that the label's
/// cardinality is bounded by the number of error types.
///
/// Made once per type and kept for the life of the process; later calls only look it up, and a
/// thread that asks for the same type as last time gets it from its own cache, without a lock.
#[inline]
pub(crate) fn short_type_name(full: &'static str) -> &'static str {
    thread_local! {
        static LAST: Cell<Option<(&'static str, &'static str)>> = const { Cell::new(None) };
    }
    let last = LAST.try_with(Cell::get).ok().flatten();
    match last {
        // The same type name (the same string, not only equal text).
        Some((seen, short)) if std::ptr::eq(seen, full) => short,
        _ => {
            let short = shared_short_type_name(full);
            let _ = LAST.try_with(|last| last.set(Some((full, short))));
            short
        }
    }
}

#[cold]
#[inline(never)]
fn shared_short_type_name(full: &'static str) -> &'static str {
    static SHORT: RwLock<Option<HashMap<&'static str, &'static str>>> = RwLock::new(None);
    let cached = SHORT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|short| short.get(full).copied());
    if let Some(short) = cached {
        return short;
    }
    let short = shorten(full);
    let short: &'static str = if short == full {
        full
    } else {
        Box::leak(short.into_boxed_str())
    };
    SHORT
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(full, short);
    short
}

/// The crates of the standard library, whose module paths nobody writes out.
const STD: [&str; 3] = ["std", "core", "alloc"];

/// Shortens every path in the type name `full`.
fn shorten(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut rest = full;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        if end == 0 {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        } else {
            shorten_path(&rest[..end], &mut out);
            rest = &rest[end..];
        }
    }
    out
}

/// Writes the short form of one path: the last segment for the standard library's types
/// (`io::Error` for its several `Error`s), else the crate and the last segment.
fn shorten_path(path: &str, out: &mut String) {
    let segments: Vec<&str> = path.split("::").collect();
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return out.push_str(path);
    };
    if segments.len() == 1 || segments.iter().any(|s| s.is_empty()) {
        return out.push_str(path);
    }
    if STD.contains(first) {
        // `error` modules are private: `std::io::error::Error` is `std::io::Error`.
        let modules: Vec<&str> = segments[1..segments.len() - 1]
            .iter()
            .copied()
            .filter(|s| *s != "error")
            .collect();
        if *last == "Error" {
            if let Some(module) = modules.last() {
                out.push_str(module);
                out.push_str("::");
            }
        }
        out.push_str(last);
    } else {
        out.push_str(first);
        out.push_str("::");
        out.push_str(last);
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
            assert_eq!(shorten(full), short, "{full}");
        }
    }

    #[test]
    fn labels_are_made_once_per_type() {
        let first = short_type_name("std::io::error::Error");
        let again = short_type_name("std::io::error::Error");
        assert_eq!(first, "io::Error");
        assert!(std::ptr::eq(first, again));
        let same = "plain::Error";
        assert!(std::ptr::eq(short_type_name(same), same));
    }
}
