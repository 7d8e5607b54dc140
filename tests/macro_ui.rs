//! Compile-time behaviour of `#[stamina::retry]`: the shapes it accepts, and the errors it gives,
//! with the checked-in `tests/ui/*.stderr` files. Regenerate those with `TRYBUILD=overwrite` and
//! review the diff.
#![cfg(feature = "macros")]

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
