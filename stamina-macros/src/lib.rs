//! The `#[stamina::retry]` attribute. Use it through the `stamina` crate, which re-exports it
//! as `stamina::retry` (feature `macros`, on by default); the generated code refers to
//! `stamina` and to nothing else.

mod args;
mod expand;

use proc_macro::TokenStream;

/// Retries a function that returns `Result<T, E>` on the errors that `on` says are worth it,
/// with exponential backoff and jitter, within an attempts limit and a total timeout.
///
/// ```
/// use std::io;
///
/// fn is_transient(error: &io::Error) -> bool {
///     matches!(error.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::TimedOut)
/// }
///
/// /// Fetches a page, retrying on transient errors: at most 3 calls within 10 seconds.
/// #[stamina::retry(on = is_transient, attempts = 3, timeout = "10s", wait_initial = "10ms", wait_jitter = "10ms")]
/// fn fetch(url: &str, failures: &mut u32) -> io::Result<String> {
///     if *failures > 0 {
///         *failures -= 1;
///         return Err(io::ErrorKind::ConnectionReset.into());
///     }
///     Ok(format!("<html>{url}</html>"))
/// }
///
/// let mut failures = 2;
/// assert_eq!(fetch("example.com", &mut failures)?, "<html>example.com</html>");
///
/// let mut failures = 3; // one more than the attempts: the last error comes back unchanged
/// let error = fetch("example.com", &mut failures).unwrap_err();
/// assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
/// # Ok::<(), io::Error>(())
/// ```
///
/// # Keys
///
/// | key | value | default |
/// |---|---|---|
/// | `on` (required) | a function or closure over `&E` returning `bool`, a `Duration` or a `stamina::Decision`, or any `stamina::RetryOn<E>` value such as `stamina::on_cause::<T>()` or `stamina::typed(..)` | none: say which errors are transient |
/// | `policy` | a `stamina::RetryPolicy` expression, evaluated per call (a `const`, a policy parsed from an environment variable at startup); the other keys override its settings | `RetryPolicy::new()` |
/// | `attempts` | a `u32` expression; `None` or `"unlimited"` for no limit | `10` |
/// | `timeout` | a duration; `None` for no total timeout | `"45s"` |
/// | `wait_initial` | a duration | `"100ms"` |
/// | `wait_max` | a duration | `"5s"` |
/// | `wait_jitter` | a duration | `"1s"` |
/// | `wait_exp_base` | an `f64` expression; a literal must be finite and >= 1 | `2.0` |
/// | `jitter` | `"additive"`, `"full"`, `"equal"`, `"decorrelated"`, or a `stamina::Jitter` expression | `"additive"` |
/// | `retry_after_max` | a duration: a server wait (`on` returning a `Duration`) beyond it ends the loop | none |
/// | `seed` | a `u64` expression: reproducible jitter | none |
/// | `attempt_timeout` | a duration (`async fn` only): each attempt is cut after it, failing with `stamina::AttemptTimedOut` converted into `E` | none |
/// | `name` | a `&'static str` or `String` expression, the name instrumentation reports | the function's path, with the type for a method (`module::Type::method`) |
/// | `budget` | an expression of type `RetryBudget` (or a reference to one, such as `&self.budget`), evaluated per call: every retry pays from it | none |
/// | `suppress_nested` | a `bool` expression: `true` makes one attempt inside another loop's attempt | the process-wide choice |
/// | `on_retry` | a function (or closure without captures) `Fn(&stamina::RetryDetails<'_>) -> R`, a hook of the function's own, made once | none |
/// | `hedge` | a duration (the delay of a `stamina::Hedging::after`) or a `stamina::Hedging` expression, made once for all calls (`async fn` without `&mut` arguments only): another attempt when one has not answered in time (see `stamina::Retrying::hedge`) | none |
///
/// A duration is a string in humantime's format (`"250ms"`, `"10s"`, `"1m 30s"`), parsed when
/// the crate compiles, so a typo is a compile error; or any `std::time::Duration` expression.
/// A closure given as `on` may leave its parameter's type out (`on = |e| e.is_timeout()`): it
/// is the function's error type.
///
/// The configuration is that of `stamina::RetryingCaller`, and so are the semantics: the
/// switches of `stamina::testing` apply, the last error is returned unchanged, and an error
/// that `on` rejects returns at once.
///
/// The return type may hide its success type: `Result<impl Display, E>` works (the error type
/// must be written out, since `on` is asked about it).
///
/// # Testing attributed functions
///
/// An attributed function takes no clock or sleeper: it waits on the system clock (`fn`) or the
/// default sleeper (`async fn`). Test it in testing mode, whose switches are in
/// `stamina::testing` (`thread_testing` for the test's own thread, `with_testing` for a test's
/// future on a multi-thread runtime; what testing mode changes is stated in the docs of
/// `stamina::switches`), or on tokio's paused clock (`#[tokio::test(start_paused = true)]`),
/// where waits and attempt timeouts pass in virtual time. Give it an `on_retry` hook to see each
/// retry.
///
/// ```
/// use std::cell::Cell;
///
/// #[stamina::retry(on = |_| true, attempts = 5)]
/// fn flaky(calls: &Cell<u32>) -> Result<u32, String> {
///     calls.set(calls.get() + 1);
///     if calls.get() < 3 { Err("busy".into()) } else { Ok(calls.get()) }
/// }
///
/// // In a test: no waits, and at most 3 attempts, on this thread only.
/// let _testing = stamina::testing::thread_testing(stamina::testing::Testing::new().attempts(3).cap(true));
/// let calls = Cell::new(0);
/// assert_eq!(flaky(&calls), Ok(3));
/// ```
///
/// # What runs several times
///
/// The body of the function runs once per attempt, inside a closure; `return` and `?` in it
/// end the attempt with that result. The arguments are evaluated once, by the caller of the
/// function, so every attempt gets its own view of them:
///
/// - `&T` arguments and `&self` are shared by all attempts;
/// - `&mut T` arguments and `&mut self` are reborrowed for each attempt (on an `async fn`, across
///   its `.await`s), so the body may use them freely; its result cannot borrow from them, since
///   the next attempt needs them;
/// - an argument taken by value is cloned for each attempt (so the body may consume it), which
///   requires `Clone`: a compile error points at an argument that is not. Take it by reference
///   instead if cloning is not wanted. A `_` argument is not cloned.
/// - a method taking `self` by value is rejected.
///
/// ```
/// #[derive(Debug, PartialEq)]
/// struct Busy;
///
/// struct Queue {
///     sent: Vec<String>,
///     busy_for: u32,
/// }
///
/// impl Queue {
///     /// `message` is consumed by each attempt, so each attempt gets a clone of it.
///     #[stamina::retry(on = |_| true, attempts = 5, wait_initial = "1ms", wait_jitter = "0s")]
///     fn send(&mut self, message: String) -> Result<usize, Busy> {
///         if self.busy_for > 0 {
///             self.busy_for -= 1;
///             return Err(Busy);
///         }
///         self.sent.push(message);
///         Ok(self.sent.len())
///     }
/// }
///
/// let mut queue = Queue { sent: Vec::new(), busy_for: 2 };
/// assert_eq!(queue.send("hello".to_owned()), Ok(1));
/// assert_eq!(queue.sent, ["hello"]);
/// ```
///
/// # `async fn`
///
/// On an `async fn` the attribute retries with `stamina::AsyncRetryingCaller` (which needs an
/// async sleeper feature of `stamina`), which allocates nothing of its own. A function with
/// `&mut T` arguments or `&mut self` runs on an attempt stream instead
/// (`stamina::retry_context(..).into_stream()`, one allocation per call for the state it shares
/// with its attempts), which keeps its future `Send` when the arguments are. What the default
/// hooks allocate per retry is stated in the docs of `stamina::instrument`.
///
/// # Errors at compile time
///
/// A missing `on`, an unknown or repeated key, an invalid duration or a bare number given as
/// one, an unknown jitter name, a number of attempts beyond `u32` or a seed beyond `u64`, a
/// literal `wait_exp_base` below 1, a value of the wrong type, `attempt_timeout` or `hedge` on
/// a sync function, `hedge` on a function with `&mut` arguments, a function that does not
/// return a `Result`, an argument taken by value that is not `Clone`, a method taking `self` by
/// value, a `const fn`, a function without a body, and an item that is not a function are
/// compile errors that point at the culprit.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::retry(args.into(), item.into()).into()
}
