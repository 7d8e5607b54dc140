//! Production-grade retries made easy: attempt guards around your own code, exponential backoff
//! with jitter, a total deadline that is never overslept, and switches that turn retries and
//! waits off in tests.
//!
//! ```
//! use std::{io, time::Duration};
//!
//! fn is_transient(error: &io::Error) -> bool {
//!     matches!(error.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::TimedOut)
//! }
//!
//! # let mut flaky = [Err(io::ErrorKind::TimedOut.into()), Ok(200)].into_iter();
//! # let mut fetch = || flaky.next().unwrap();
//! # let _quick = stamina::testing::thread_testing(stamina::testing::Testing::new().attempts(3));
//! // A loop of attempt guards around any code (it may borrow locals and `&mut self`):
//! let mut status = None;
//! for attempt in stamina::retry_context(is_transient)
//!     .attempts(5)
//!     .timeout(Duration::from_secs(10))
//! {
//!     status = attempt.run(|| fetch())?;
//! }
//! assert_eq!(status, Some(200));
//!
//! // Or a reusable caller:
//! let caller = stamina::RetryingCaller::new().attempts(5).on(is_transient);
//! let status = caller.call(|| Ok::<_, io::Error>(204))?;
//! assert_eq!(status, 204);
//! # Ok::<(), io::Error>(())
//! ```
//!
//! # The attribute
//!
//! [`#[stamina::retry]`](retry) (feature `macros`, on by default) is the decorator of Python
//! stamina: on a `fn` or `async fn` returning a `Result`, it retries the body on the errors
//! that `on` accepts, with the keys of [`RetryPolicy`] and durations written as humantime
//! strings, which are checked when the crate compiles.
//!
//! ```
//! use std::io;
//!
//! #[stamina::retry(
//!     on = |e| e.kind() == io::ErrorKind::TimedOut,
//!     attempts = 3,
//!     timeout = "10s",
//!     wait_initial = "10ms",
//!     wait_jitter = "10ms",
//! )]
//! fn handshake(peer: &str, timeouts: &mut u32) -> io::Result<String> {
//!     if *timeouts > 0 {
//!         *timeouts -= 1;
//!         return Err(io::ErrorKind::TimedOut.into());
//!     }
//!     Ok(format!("hello, {peer}"))
//! }
//!
//! let mut timeouts = 2;
//! assert_eq!(handshake("db", &mut timeouts)?, "hello, db");
//! # Ok::<(), io::Error>(())
//! ```
//!
//! The body runs once per attempt, where `return` and `?` end the attempt. The arguments are
//! evaluated once: `&T` arguments are shared, `&mut T` arguments and `&mut self` are reborrowed
//! for each attempt, and arguments taken by value are cloned for each attempt, so they must be
//! `Clone`. Instrumentation names the calls after the function's module path and name.
//!
//! # Attempt guards
//!
//! [`retry_context`] returns a builder that iterates as [`Attempt`] guards. The loop body is your
//! code; [`Attempt::run`] (or [`Attempt::record`]) records the outcome and returns
//! `Ok(Some(value))` on success, `Ok(None)` when the loop will retry, and the error itself when
//! the loop ends with it, so `?` passes it on unchanged: no wrapper type. A guard dropped without
//! an outcome ends the loop as a success does. [`Attempt::num`], [`Attempt::next_wait`] and
//! [`Attempt::remaining`] tell the body where it stands.
//!
//! The `on` predicate is mandatory, because retrying on every error is an attractive nuisance:
//! say which errors are transient. It is any `Fn(&E)` returning `bool`, a [`Duration`](std::time::Duration) (retry
//! after exactly that long, for server pushback) or a [`Decision`]; [`on_cause`] and
//! [`has_cause`] match an error type anywhere in a `source()` chain.
//!
//! # Backoff
//!
//! The wait after failed attempt `n` (1-based) is
//! `min(wait_max, wait_initial * wait_exp_base^(n - 1) + U(0, wait_jitter))`: the cap comes after
//! the jitter, so once the exponential part reaches `wait_max` every wait is exactly `wait_max`.
//! Without jitter, the defaults wait 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5 and 5 s. The computation
//! saturates: no attempt number or duration overflows or panics. [`RetryPolicy::seed`] makes the
//! jitter reproducible.
//!
//! # Limits
//!
//! | limit | default | rule |
//! |---|---|---|
//! | attempts | 10 | every call counts, the first included; `0` behaves as `1`; unlimited on request |
//! | timeout | 45 s | measured on the loop's clock from the start of the first attempt; a wait that would end at or after the deadline is not started: the loop returns the last error at once; `0` means one attempt |
//!
//! The configuration is a [`RetryPolicy`], a `Copy` value that also parses from and prints to a
//! config string such as `"attempts=5 timeout=30s wait_initial=100ms"`, for env vars and CLI flags.
//!
//! # Testing
//!
//! [`set_active(false)`](set_active) makes every loop try once; [`set_testing`] makes waits
//! zero, ignores the timeout and forces (or caps) the attempts. The [`testing`] module has scoped
//! and thread-scoped forms for `cargo test`, and a [`FakeClock`](testing::FakeClock) that records
//! every wait in virtual time.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85 (edition 2024). Raising it is a minor-version change, noted in the changelog.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod clock;
mod decision;
mod machine;
mod macro_support;
mod name;
mod policy;
mod sync;
pub mod testing;

pub use clock::{Clock, SystemClock};
pub use decision::{Decision, OnCause, RetryOn, find_cause, has_cause, on_cause};
pub use policy::{ConfigError, RetryPolicy};
pub use sync::{
    Attempt, Attempts, BoundRetryingCaller, RetryContext, RetryingCaller, retry_context,
};
pub use testing::{is_active, is_testing, set_active, set_testing};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use stamina_macros::retry;

/// What the code generated by `#[stamina::retry]` refers to: not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::RetryingCaller;
    pub use crate::macro_support::{RetryArg, RetryResult, call, clone_arg};
}

#[cfg(all(doctest, feature = "macros"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
