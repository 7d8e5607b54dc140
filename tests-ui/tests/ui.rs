//! Compile-time behaviour of `stamina` and `#[stamina::retry]`: the shapes the attribute accepts
//! (`ui/pass*.rs`) and the errors users get (`ui/fail_*.rs`, each next to the `.stderr` the
//! compiler must print).
//!
//! The cases compile against this crate's `[dependencies]` only (`stamina` with `macros`, and
//! `tokio` by default so that async cases have a default sleeper), not against the root crate's
//! test tree: that keeps this test quick. `cargo test --all-features` at the root runs it.
//!
//! To add a case:
//!
//! 1. write `tests/ui/fail_<what>.rs`, a small program with a `fn main() {}` (one file per kind
//!    of mistake; several related functions in it are fine), or add the shape to
//!    `tests/ui/pass.rs` (or a new `tests/ui/pass_<what>.rs`, which must compile without a
//!    warning);
//! 2. run `TRYBUILD=overwrite cargo test -p stamina-tests-ui --test ui`, which writes
//!    `tests/ui/fail_<what>.stderr`;
//! 3. read that file: it is the message users will see, checked in and reviewed like code. Paths
//!    in it are relative to this crate (`tests/ui/...`); `stamina`'s own sources show as
//!    `$WORKSPACE/src/...`.
//!
//! A case that needs a build without a runtime feature goes in the `no_runtime_feature` test
//! below and runs with `cargo test -p stamina-tests-ui --no-default-features --test ui` (as
//! `.ci/run` does). The `.stderr` files follow the stable compiler's wording; when a Rust release
//! rewords a message, regenerate them the same way.

#[cfg(feature = "tokio")]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}

/// Without the `tokio` and `async-io` features, an async loop with no sleeper of its own fails to
/// compile with an error that says what to enable (and lists no test double as a fix), for
/// callers and attempt streams, awaited or not.
#[cfg(not(feature = "tokio"))]
#[test]
fn no_runtime_feature() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/no_runtime_feature.rs");
    t.compile_fail("tests/ui/no_sleeper_*.rs");
}
