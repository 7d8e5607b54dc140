//! Compile-time tests of `stamina` and `#[stamina::retry]`, in `tests/ui.rs`; nothing here.
//!
//! A crate of their own, so that each case compiles against `stamina` and its own dependencies
//! only, and so that its features choose `stamina`'s: see `tests/ui.rs`.
