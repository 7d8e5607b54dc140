//! Compile-time behaviour of `#[stamina::retry]` and of the errors users meet first: the shapes it
//! accepts, and the errors it gives, with the checked-in `tests/ui/*.stderr` files. Regenerate
//! those with `TRYBUILD=overwrite` and review the diff.
#![cfg(feature = "macros")]

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}

/// The missing sleeper's errors, which only a build without the `tokio` and `async-io` features
/// shows: `cargo test --test macro_ui` (default features).
#[cfg(not(any(feature = "tokio", feature = "async-io")))]
#[test]
fn ui_without_a_runtime_feature() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/no_sleeper_*.rs");
}
