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
//! The same context is an async stream of attempts, and the callers have async twins (here with
//! the `tokio` feature; `async-io` serves smol and async-std):
//!
//! ```
//! use std::{io, time::Duration};
//!
//! fn is_transient(error: &io::Error) -> bool {
//!     matches!(error.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::TimedOut)
//! }
//!
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> io::Result<()> {
//! # let mut flaky = [Err(io::ErrorKind::TimedOut.into()), Ok(200)].into_iter();
//! # let mut fetch = || std::future::ready(flaky.next().unwrap());
//! let mut status = None;
//! let mut attempts = stamina::retry_context(is_transient)
//!     .attempts(5)
//!     .timeout(Duration::from_secs(10))
//!     .into_stream();
//! while let Some(attempt) = attempts.next().await {
//!     status = attempt.run(|| fetch()).await?;
//! }
//! assert_eq!(status, Some(200));
//!
//! let caller = stamina::AsyncRetryingCaller::new().attempts(5).on(is_transient);
//! let status = caller.call(|| async { Ok::<_, io::Error>(204) }).await?;
//! assert_eq!(status, 204);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```
//!
//! # Retrying HTTP calls
//!
//! stamina retries your code, whatever client it calls. Three pieces make HTTP retries right:
//! a predicate on status classes (5xx and 429 are transient, other 4xx are not), the server's
//! `Retry-After` as an exact wait ([`retry_after`] into [`Decision::RetryAfter`], bounded by
//! [`RetryPolicy::retry_after_max`]), and the deadline propagated into each request's timeout
//! ([`Attempt::remaining`]):
//!
//! ```no_run
//! use std::time::Duration;
//! use stamina::Decision;
//!
//! #[derive(Debug)]
//! enum Error {
//!     Status(u16, Option<Duration>),
//!     Transport(ureq::Error),
//! }
//!
//! fn transient(error: &Error) -> Decision {
//!     match error {
//!         Error::Status(429 | 500..=599, Some(wait)) => Decision::RetryAfter(*wait),
//!         Error::Status(429 | 500..=599, None) | Error::Transport(_) => Decision::Retry,
//!         Error::Status(..) => Decision::DontRetry,
//!     }
//! }
//!
//! fn get(agent: &ureq::Agent, url: &str, timeout: Option<Duration>) -> Result<String, Error> {
//!     let request = agent.get(url).config().timeout_global(timeout).build();
//!     let mut response = request.call().map_err(Error::Transport)?;
//!     if !response.status().is_success() {
//!         let header = response.headers().get("retry-after").and_then(|v| v.to_str().ok());
//!         let retry_after = header.and_then(stamina::retry_after);
//!         return Err(Error::Status(response.status().as_u16(), retry_after));
//!     }
//!     response.body_mut().read_to_string().map_err(Error::Transport)
//! }
//!
//! let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
//! for attempt in stamina::retry_context(transient).timeout(Duration::from_secs(30)) {
//!     let timeout = attempt.remaining();
//!     if let Some(body) = attempt.run(|| get(&agent, "http://127.0.0.1:8080/", timeout))? {
//!         println!("{body}");
//!     }
//! }
//! # Ok::<(), Error>(())
//! ```
//!
//! Where calls go through a middleware stack, two adapters drive the same state machine (the
//! deadline, `Retry-After`, budgets, hooks, the switches): `stamina::tower::RetryLayer` for
//! `tower` services (feature `tower`) and `stamina::reqwest_middleware::RetryMiddleware` for
//! `reqwest-middleware` clients (feature `reqwest-middleware`), with one HTTP classification,
//! `stamina::http` (statuses, transport failures, `Retry-After`), whose labels tell an operator
//! what happened (`503`, `timeout`, `reset`).
//!
//! The crate's examples run such calls against a flaky server on 127.0.0.1:
//! `cargo run --example quickstart` (ureq, with the log lines and Prometheus text),
//! `http_sync` (ureq) and `http_async` (reqwest, with an attempt timeout; feature `tokio`).
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
//! evaluated once: `&T` arguments are shared, arguments taken by value are cloned for each
//! attempt, so they must be `Clone`, and `&mut T` arguments and `&mut self` are reborrowed for
//! each attempt, on an `async fn` too (across its `.await`s). Instrumentation names the calls
//! after the function's path (with the type for a method: `module::Type::method`).
//!
//! # Attempt guards
//!
//! [`retry_context`] returns a builder that iterates as [`Attempt`] guards. The loop body is your
//! code; [`Attempt::run`] (or [`Attempt::record`]) records the outcome and returns
//! `Ok(Some(value))` on success, `Ok(None)` when the loop will retry, and the error itself when
//! the loop ends with it, so `?` passes it on unchanged: no wrapper type. A guard dropped without
//! an outcome (`break`, say) counts as a success: it ends the loop and refills a shared budget
//! as a recorded success does. [`Attempt::num`], [`Attempt::next_wait`] and
//! [`Attempt::remaining`] tell the body where it stands.
//!
//! The `on` predicate is mandatory, because retrying on every error is an attractive nuisance:
//! say which errors are transient. It is any `Fn(&E)` returning `bool`, a [`Duration`](std::time::Duration) (retry
//! after exactly that long, for server pushback) or a [`Decision`]; [`on_cause`] and
//! [`has_cause`] match an error type anywhere in a `source()` chain.
//!
//! # Async
//!
//! [`RetryContext::into_stream`] turns the context into an [`AttemptStream`] of
//! [`AsyncAttempt`] guards, with an inherent `next()` (no extension trait to import) and a
//! [`Stream`](futures_core::Stream) implementation for combinators. [`AsyncAttempt::run`] takes a
//! future factory or an async closure and has the sync guard's contract.
//! [`AsyncRetryingCaller`] and [`AsyncRetryContext`] mirror the sync callers. Dropping a
//! stream or a call's future at any point cancels the loop and leaves nothing running; both are
//! `Send` when the futures they run are.
//!
//! An attempt may borrow mutably across `.await`: [`AsyncAttempt::run`] takes async closures
//! (`async || conn.query().await` over a `&mut self` method), and so does
//! [`AsyncRetryingCaller::call_mut`]; `#[stamina::retry]` takes `async fn(&mut self)`.
//!
//! ```
//! struct Connection {
//!     resets_left: u32,
//! }
//!
//! impl Connection {
//!     async fn query(&mut self) -> std::io::Result<u32> {
//!         if self.resets_left > 0 {
//!             self.resets_left -= 1;
//!             return Err(std::io::ErrorKind::ConnectionReset.into());
//!         }
//!         Ok(42)
//!     }
//! }
//!
//! # futures::executor::block_on(async {
//! let mut conn = Connection { resets_left: 2 };
//! let mut attempts = stamina::retry_context(|e: &std::io::Error| e.kind() == std::io::ErrorKind::ConnectionReset)
//!     .into_stream_with(stamina::testing::FakeSleeper::new());
//! let mut answer = None;
//! while let Some(attempt) = attempts.next().await {
//!     answer = attempt.run(async || conn.query().await).await?;
//! }
//! assert_eq!(answer, Some(42));
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```
//!
//! A caller's future over such a closure is `Send` only when the closure owns what it captures:
//! rustc (up to at least 1.95) cannot prove `Send` for a future that holds an async closure's
//! future while the closure captures references. The attempt stream and the attribute do not
//! have this limit; see [`call_mut`](AsyncRetryingCaller::call_mut).
//!
//! Async loops wait on a [`Sleeper`], which also tells the time, so deadlines follow the
//! runtime's clock (tokio's paused clock in tests). The [`DefaultSleeper`] picks the timer when a
//! loop waits: tokio's inside a tokio runtime (feature `tokio`), async-io's elsewhere (feature
//! `async-io`), so both features can be on at once and a loop runs under smol and tokio alike.
//! A zero wait (testing mode, zero waits configured) needs no timer at all, so testing mode works
//! on any executor. Without a runtime feature there is no default sleeper: using an async loop
//! then fails to compile with a message that says to enable a feature or pass a sleeper of your
//! own.
//!
//! An attempt timeout ([`attempt_timeout`](Retrying::attempt_timeout) on async callers, and on
//! contexts before [`into_stream`](Retrying::into_stream)) cancels an attempt that hangs, after that
//! long or at the loop's deadline, whichever comes first. It fails the attempt with
//! [`AttemptTimedOut`] converted into the loop's error type, which the `on` predicate classifies
//! like any other error; only loops with a timeout require `E: From<AttemptTimedOut>`, which
//! `std::io::Error` meets.
//!
//! Three compile errors are common, and say less than they could:
//!
//! - `expected future, found Option<_>` at `while let Some(attempt) = attempts.next()`: add
//!   `.await`, as rustc suggests.
//! - `implementation of FnOnce is not general enough` at `attempt.run(..)`, or `type annotations
//!   needed` at the predicate: give the predicate's argument its type, `|e: &io::Error| ..`. The
//!   loop calls it with references of any lifetime, which rustc does not infer for a closure
//!   stored before it is called, and no bound on [`retry_context`] can fix that without naming
//!   the error type there. (The attribute's `on = |e| ..` is typed for you.)
//! - `` `EnableTheTokioOrAsyncIoFeatureOrProvideASleeper` is not a `Sleeper` ``: enable the
//!   `tokio` or `async-io` feature, or implement [`Sleeper`] for your runtime. rustc reports the
//!   unmet bound at each use of the loop (the call, its future, the `.await`), so the same error
//!   shows two to four times; the first is the one to read.
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
//! # Instrumentation
//!
//! Every scheduled retry is visible without code of your own: with the default features, a
//! `log` record and a `metrics` counter; with `tracing`, an event and a span over the wait. Your
//! application only installs a logger and a metrics recorder. After a call named
//! `inventory.stock` that recovered after two timeouts and one that ran out of its 3 attempts
//! (`cargo run --example prometheus`), `env_logger` (with its `kv` feature) prints:
//!
//! ```text
//! [WARN  stamina] stamina.retry_scheduled: inventory.stock: attempt 1 of 3 failed with prometheus::InventoryError, retrying in 10ms callable=inventory.stock retry_num=1 wait_for=10ms waited_so_far=0s max_attempts=3 remaining=44s999ms error_type=prometheus::InventoryError caused_by=prometheus::InventoryError
//! ...
//! [WARN  stamina] stamina.retries_exhausted: inventory.stock: gave up after 3 attempts (attempts_exhausted) with prometheus::InventoryError callable=inventory.stock reason=attempts_exhausted attempts=3 waited=30ms error_type=prometheus::InventoryError caused_by=prometheus::InventoryError
//! ```
//!
//! and the Prometheus exporter renders:
//!
//! ```text
//! # HELP stamina_retries_total Total number of retries.
//! # TYPE stamina_retries_total counter
//! stamina_retries_total{callable="inventory.stock",retry_num="1",error_type="prometheus::InventoryError"} 2
//! stamina_retries_total{callable="inventory.stock",retry_num="2",error_type="prometheus::InventoryError"} 2
//!
//! # HELP stamina_retries_exhausted_total Total number of retry loops that gave up.
//! # TYPE stamina_retries_exhausted_total counter
//! stamina_retries_exhausted_total{callable="inventory.stock",error_type="prometheus::InventoryError",reason="attempts_exhausted"} 1
//! ```
//!
//! The record's message carries the loop, the attempt, the error and the wait, for loggers that
//! print no key-values; the key-values carry the same and more for those that do. The error is
//! shown by its **type only** unless you choose otherwise
//! ([`ShowError`](instrument::ShowError), per loop with `.show_error(..)`): an error's own
//! output may carry secrets, such as a URL with its query string. `error_type` is a short label
//! of the type (`io::Error`), or one you pick with [`typed`]`(on).error_label(..)`. `callable`
//! is the name given with `.name(..)`, else a name derived from the code that survives edits
//! elsewhere (see [`Event::name`](instrument::Event::name)); name every loop that feeds a dashboard. A give-up
//! (`stamina.retries_exhausted`, `stamina_retries_exhausted_total`) is reported when a loop that
//! was allowed to retry still fails, with the [`GiveUpReason`]; errors that are not worth
//! retrying, deactivated loops, suppressed nested loops and loops allowed a single attempt report
//! nothing. On the success path no hook runs and nothing is recorded; callers allocate nothing
//! there, and guard loops the state they share with their guards, once per loop. What the
//! default hooks allocate per retry is
//! [stated in `instrument`](instrument#what-the-default-hooks-allocate).
//!
//! Hooks are yours to add or replace: [`set_on_retry_hooks`] sets the process-wide list (an
//! empty one turns the built-in instrumentation off, `None` restores it), and `on_retry` adds a
//! loop's own. A hook receives the [`RetryDetails`] before the wait and may return a
//! [`RetryGuard`] that lives over the wait and is dropped right before the next attempt. See the
//! [`instrument`] module.
//!
//! ```
//! use std::time::Instant;
//!
//! # let _quick = stamina::testing::thread_testing(stamina::testing::Testing::new().attempts(2));
//! let caller = stamina::RetryingCaller::new()
//!     .name("payments.charge")
//!     .on_retry(|details: &stamina::RetryDetails<'_>| {
//!         eprintln!("{} failed with {:?}", details.name(), details.caused_by());
//!         // Measured when the wait is over, right before the next attempt.
//!         struct WaitTimer(Instant);
//!         impl Drop for WaitTimer {
//!             fn drop(&mut self) {
//!                 eprintln!("waited {:?}", self.0.elapsed());
//!             }
//!         }
//!         stamina::RetryGuard::new(WaitTimer(Instant::now()))
//!     });
//! let result = caller.call(|_: &std::io::Error| true, || Err::<(), _>(std::io::ErrorKind::TimedOut.into()));
//! assert!(result.is_err());
//! ```
//!
//! # Testing
//!
//! [`set_active(false)`](set_active) makes every loop try once. [`set_testing`] turns on
//! [testing mode](switches#testing-mode): no waits, the testing number of attempts, no deadline
//! and no budget, and every other decision as in production. The [`testing`] module has scoped
//! and thread-scoped forms for `cargo test`, forms scoped to a future for async tests on
//! multi-thread runtimes, whose tasks move between threads, and a
//! [`FakeClock`](testing::FakeClock) and [`FakeSleeper`](testing::FakeSleeper) that record every
//! wait in virtual time.
//!
//! ```
//! use stamina::testing::{with_testing, Testing};
//!
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! // Around every poll of this future, on whatever worker polls it: 2 attempts, no waits.
//! let calls = with_testing(Testing::new().attempts(2), async {
//!     let mut calls = 0;
//!     let _ = stamina::AsyncRetryingCaller::new()
//!         .call(|_: &std::io::Error| true, || {
//!             calls += 1;
//!             async { Err::<(), _>(std::io::Error::other("down")) }
//!         })
//!         .await;
//!     calls
//! })
//! .await;
//! assert_eq!(calls, 2);
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```
//!
//! # Hedged calls
//!
//! Retries answer failures; hedging answers slowness. [`Retrying::hedge`] on an async caller,
//! the tower layer, the reqwest middleware (or `hedge = ".."` in the attribute) sends another
//! copy of a call whose attempt has not answered within a [`Hedging`] delay, fixed or at a
//! percentile of the recent latencies; the first acceptable answer wins and the others are
//! dropped. Hedges are bounded as retries are: they count towards the attempts, pay the budget,
//! stop at the deadline and while a server's `Retry-After` holds, and are off in testing mode.
//! For idempotent calls only.
//!
//! # Retry storms
//!
//! Per-call limits alone let retries multiply the load on a service exactly when it is down.
//! Four tools go further:
//!
//! - a shared [`RetryBudget`] (an AWS-style retry quota or a gRPC-style throttle) attached with
//!   `.budget(&b)` caps retries across every loop that shares it; in the `storm` example's model
//!   of a 2 s stall at 50% load (`cargo run --release --example storm`), plain retries amplify
//!   the load 2.8x to 9.2x and the service never recovers, while either budget keeps it at about
//!   1.0x;
//! - [`Jitter`] families (stamina's additive, full, equal, decorrelated) spread contending
//!   clients apart;
//! - server pushback: the `on` predicate returns [`Decision::RetryAfter`] (or a `Duration`), with
//!   [`retry_after`] parsing RFC 9110 `Retry-After` headers and
//!   [`RetryPolicy::retry_after_max`] capping what a server may ask for;
//! - [nested-retry suppression](nesting): a loop running inside another loop's attempt tries
//!   once, so that layers of retries do not multiply.
//!
//! [`RetryState`] is the state machine itself, driven by hand, for event loops, job queues and
//! simulations.
//!
//! # How the crate is built
//!
//! One pure core, one loop driver, thin front ends; data flows one way, from the configuration
//! through the state machine and the driver to the front end the code uses. Nothing below the
//! front ends sleeps or reads a clock by itself: time comes from the [`Clock`] or [`Sleeper`]
//! in use, so tests on a fake clock or tokio's paused clock never wait for real.
//!
//! | module (file) | holds |
//! |---|---|
//! | `policy`, `config` | [`RetryPolicy`], its defaults and setters, and its config strings |
//! | `backoff` | the wait after each attempt: the exponent without overflow, the [`Jitter`] families, the seedable generator |
//! | `decision`, `typed` | what `on` returns ([`Decision`], [`RetryOn`]) and the functions that build predicates |
//! | `machine` | the state machine: the one place that knows the formula, the limits and the switches |
//! | `driver` | the loop driver: the one place that turns a failed attempt into "wait this long" or "give up", and tells the hooks |
//! | `settings` | [`Retrying`], the configuration every front end embeds, with its setters |
//! | `sync`, `guard` | the blocking front ends: [`retry_context`]'s iterator of guards (sharing their state in `guard`) and [`RetryingCaller`] |
//! | `stream`, `caller`, `timeout`, `hedge` | the async front ends: the [`AttemptStream`], [`AsyncRetryingCaller`], the per-attempt timeout, and the attempts in flight of a hedged call |
//! | `state` | [`RetryState`], the driver by hand |
//! | `tower`, `reqwest_middleware`, `http` | the adapters, each a front end over the same driver, and the HTTP classification they share |
//! | `clock`, `sleep` | [`Clock`] and [`Sleeper`], and the runtimes' sleepers |
//! | [`instrument`] | the hooks, their registry, and the `log`, `metrics` and `tracing` hooks |
//! | [`switches`], [`nesting`], [`testing`], `budget`, `pushback` | the switches, nested-retry suppression, the fakes, [`RetryBudget`], `Retry-After` |
//! | `macro_support`, `name` | what `#[stamina::retry]`'s code calls, and the names loops report |
//!
//! # Features
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `macros` | on | the [`#[stamina::retry]`](retry) attribute |
//! | `log` | on | a warn record per scheduled retry and per give-up, through the `log` facade |
//! | `metrics` | on | the counters `stamina_retries_total` and `stamina_retries_exhausted_total`, through the `metrics` facade |
//! | `tracing` | off | an event per scheduled retry and per give-up and a span over every wait |
//! | `tokio` | off | `TokioSleeper`, and tokio's timer and clock for the default sleeper inside a tokio runtime (`tokio/rt` and `tokio/time` only) |
//! | `async-io` | off | `AsyncIoSleeper`, and async-io's timer for the default sleeper elsewhere: smol, async-std, any executor |
//! | `tower` | off | `stamina::tower`: a `RetryLayer` for `tower` services, and `stamina::http` |
//! | `reqwest-middleware` | off | `stamina::reqwest_middleware`: a `RetryMiddleware` for `reqwest-middleware` clients (turns on `tokio`) |
//!
//! The instrumentation features each enable one built-in hook of the [`instrument`] module; with
//! all three off, hooks of your own still work. Without `tokio` or `async-io`, async loops need a
//! [`Sleeper`] of your own (`.sleeper(..)`, `into_stream_with(..)`); the compiler says so.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85 (edition 2024). Raising it is a minor-version change, noted in the changelog.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod budget;
mod caller;
mod clock;
mod config;
mod decision;
mod driver;
mod guard;
mod hedge;
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "tower", feature = "reqwest-middleware")))
)]
pub mod http;
pub mod instrument;
mod machine;
mod macro_support;
mod name;
pub mod nesting;
mod policy;
mod pushback;
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub mod reqwest_middleware;
mod settings;
mod sleep;
mod state;
mod stream;
pub mod switches;
mod sync;
pub mod testing;
mod timeout;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
mod typed;

pub use backoff::Jitter;
pub use budget::RetryBudget;
pub use caller::{AsyncRetryContext, AsyncRetryingCaller};
pub use clock::{Clock, SystemClock};
pub use config::ConfigError;
pub use decision::{Decision, OnCause, RetryOn, find_cause, has_cause, on_cause};
pub use hedge::Hedging;
pub use instrument::{
    GiveUpReason, OnRetryHook, RetryDetails, RetryGuard, get_on_retry_hooks, set_on_retry_hooks,
};
pub use nesting::{is_suppressing_nested, set_suppress_nested};
pub use policy::RetryPolicy;
pub use pushback::{parse_retry_after, retry_after};
pub use settings::{Async, Blocking, Bound, Front, Retrying, Unbound, Waits};
#[cfg(any(feature = "tokio", feature = "async-io"))]
pub use sleep::DefaultSleep;
#[doc(hidden)]
pub use sleep::MaybeSleeper;
#[cfg(feature = "async-io")]
pub use sleep::{AsyncIoSleep, AsyncIoSleeper};
// `DefaultSleeper` exists with every feature set, only what it names depends on them: no badge.
#[cfg_attr(docsrs, doc(auto_cfg = false))]
pub use sleep::DefaultSleeper;
pub use sleep::{EnableTheTokioOrAsyncIoFeatureOrProvideASleeper, Sleeper};
#[cfg(feature = "tokio")]
pub use sleep::{TokioSleep, TokioSleeper};
pub use state::RetryState;
pub use stream::{AsyncAttempt, AttemptStream};
pub use switches::{Testing, get_testing, is_active, is_testing, set_active, set_testing};
pub use sync::{Attempt, Attempts, RetryContext, RetryingCaller, retry_context};
pub use timeout::{
    AttemptTimedOut, AttemptTimeout, AttemptTimeoutKind, AttemptTimeoutMode, NoAttemptTimeout,
};
pub use typed::{Typed, typed};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use stamina_macros::retry;

/// What the code generated by `#[stamina::retry]` refers to: not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::macro_support::{
        Options, RetryArg, RetryResult, SharedHedging, async_caller, async_context, call, clone_arg,
    };
}

#[cfg(all(doctest, feature = "macros"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
