//! Retries in a [tower] stack: a [`Layer`](::tower::Layer) whose [`Service`](::tower::Service)
//! retries the calls of the service it wraps, driven by the same state machine as every other
//! loop of this crate.
//!
//! [`RetryLayer`] is configured like an [`AsyncRetryingCaller`](crate::AsyncRetryingCaller):
//! the [policy](crate::RetryPolicy) with its deadline rule, an `on` predicate, an
//! [`attempt_timeout`](RetryLayer::attempt_timeout), a shared [budget](crate::RetryBudget),
//! hooks and a name, [nested-retry suppression](crate::nesting), and the testing switches.
//! What it adds over `tower::retry`:
//!
//! - the `on` predicate sees the whole outcome, `Result<Response, Error>`, and returns a
//!   [`Decision`](crate::Decision): a 503 with `Retry-After` waits what the server asked
//!   ([`retry_after`](crate::retry_after)), a 404 is returned at once;
//! - a total deadline that no wait runs past, and that caps the attempt timeout;
//! - the last response or error comes back unchanged: no wrapper type;
//! - every retry reaches the hooks (`log`, `metrics`, `tracing` and your own), with the failed
//!   response or the error as its cause.
//!
//! Each attempt sends a copy of the request, made with the layer's [`CloneRequest`] before the
//! previous attempt was sent: [`Cloned`] (for `Clone` requests, the default),
//! [`clone_http_request`] (for `http::Request`s with a `Clone` body) or a closure of your own.
//! A request that cannot be cloned (a streaming body) is sent once and its outcome returned as
//! is. Before every retry the wrapped service's [`poll_ready`](::tower::Service::poll_ready) is
//! awaited, so its back-pressure holds for retries too; an error from it ends the call with
//! that error.
//!
//! ```
//! use std::time::Duration;
//! use http::{Request, Response, StatusCode};
//! use stamina::Decision;
//! use tower::{Layer, ServiceExt};
//!
//! /// 5xx and 429 are retried, after `Retry-After` when the server sent one; errors are not.
//! fn on<E>(outcome: &Result<Response<&'static str>, E>) -> Decision {
//!     match outcome {
//!         Ok(response) if response.status().is_server_error() || response.status() == 429 => {
//!             let header = response.headers().get(http::header::RETRY_AFTER);
//!             match header.and_then(|v| v.to_str().ok()).and_then(stamina::retry_after) {
//!                 Some(wait) => Decision::RetryAfter(wait),
//!                 None => Decision::Retry,
//!             }
//!         }
//!         Ok(_) | Err(_) => Decision::DontRetry,
//!     }
//! }
//!
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), std::convert::Infallible> {
//! let calls = std::sync::atomic::AtomicU32::new(0);
//! let flaky = tower::service_fn(|_: Request<&'static str>| {
//!     let n = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!     let status = if n < 2 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
//!     async move { Ok::<_, std::convert::Infallible>(Response::builder().status(status).body("hi").unwrap()) }
//! });
//! let service = stamina::tower::RetryLayer::new(on)
//!     .attempts(5)
//!     .timeout(Duration::from_secs(10))
//!     .clone_requests_with(stamina::tower::clone_http_request)
//!     .layer(flaky);
//! let response = service.oneshot(Request::new("ping")).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(calls.into_inner(), 3);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```

mod clone;
mod future;
mod layer;

pub use clone::{CloneRequest, Cloned, clone_http_request};
pub use future::ResponseFuture;
pub use layer::{Retry, RetryLayer};
