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

/// Without the `tokio` and `async-io` features, an async loop with no sleeper of its own fails to
/// compile with an error that says what to enable. Only a build without them can check it:
/// `cargo test --no-default-features --features macros --test macro_ui no_runtime_feature`.
#[cfg(not(any(feature = "tokio", feature = "async-io")))]
#[test]
fn no_runtime_feature() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/no_runtime_feature.rs");
    t.compile_fail("tests/ui/no_sleeper_*.rs");
}
