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
mod service;

use std::sync::Arc;

pub use clone::{CloneRequest, Cloned, clone_http_request};
pub use service::{Config, ResponseFuture, Retry, Tower};

use crate::settings::{Bound, Retrying, Settings};
use crate::{DefaultSleeper, NoAttemptTimeout, RetryPolicy};

/// A [`Layer`](::tower::Layer) that retries the calls of the service it wraps (see the
/// [module docs](self)); its setters are [`Retrying`]'s.
///
/// `on` decides about every outcome, a response as well as an error: it is any
/// `Fn(&Result<Response, Error>)` returning `bool`, a `Duration` or a
/// [`Decision`](crate::Decision) (see [`RetryOn`](crate::RetryOn)). A response it does not retry
/// is the call's response.
///
/// # Default
///
/// [`RetryPolicy::new`]'s configuration (10 attempts, a 45-second deadline, ..), the
/// [`DefaultSleeper`], no attempt timeout, requests copied with [`Cloned`], and the wrapped
/// service's type as the name the hooks report.
///
/// ```
/// use std::time::Duration;
/// use tower::Layer;
///
/// let layer = stamina::tower::RetryLayer::new(|outcome: &Result<u16, std::io::Error>| {
///     matches!(outcome, Ok(503) | Err(_))
/// })
/// .name("inventory")
/// .attempts(3)
/// .timeout(Duration::from_secs(5));
/// let service = layer.layer(tower::service_fn(|_: ()| async { Ok::<u16, std::io::Error>(200) }));
/// # let _ = service;
/// assert!(format!("{layer:?}").starts_with(r#"RetryLayer { name: "inventory", attempts: 3, timeout: 5s"#));
/// ```
pub type RetryLayer<On, S = DefaultSleeper, M = NoAttemptTimeout, C = Cloned> =
    Retrying<Tower<C>, Bound<On>, S, M>;

impl<On> RetryLayer<On> {
    /// A layer that retries the outcomes `on` says are worth it, with the
    /// [default configuration](RetryPolicy#default) and the [`DefaultSleeper`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::Decision;
    ///
    /// /// A service that answers with a status and, for a 503, the seconds to wait.
    /// fn on(outcome: &Result<(u16, Option<u64>), std::io::Error>) -> Decision {
    ///     match outcome {
    ///         Ok((503, Some(secs))) => Decision::RetryAfter(Duration::from_secs(*secs)),
    ///         Ok((500..=599, _)) | Err(_) => Decision::Retry,
    ///         Ok(_) => Decision::DontRetry,
    ///     }
    /// }
    ///
    /// let layer = stamina::tower::RetryLayer::new(on);
    /// # let _ = layer;
    /// ```
    pub const fn new(on: On) -> Self {
        Self::from_policy(RetryPolicy::new(), on)
    }

    /// A layer with `policy`'s configuration.
    ///
    /// ```
    /// const POLICY: stamina::RetryPolicy = stamina::RetryPolicy::new().attempts(3);
    /// let layer = stamina::tower::RetryLayer::from_policy(POLICY, |_: &Result<(), ()>| true);
    /// assert_eq!(layer.get_policy().get_attempts(), Some(3));
    /// ```
    ///
    /// # Panics
    ///
    /// If `policy` has an [attempt timeout](RetryPolicy::attempt_timeout): give the layer one
    /// with [`attempt_timeout`](Retrying::attempt_timeout), then the policy.
    pub const fn from_policy(policy: RetryPolicy, on: On) -> Self {
        assert!(
            policy.get_attempt_timeout().is_none(),
            "stamina: this layer cannot cut an attempt short: call `.attempt_timeout(..)` on it before giving it a policy with an attempt_timeout",
        );
        Retrying {
            settings: Settings::new(policy),
            on: Bound(on),
            time: DefaultSleeper {},
            mode: NoAttemptTimeout,
            front: Tower { cloner: Cloned },
        }
    }
}

impl<On, S, M, C> RetryLayer<On, S, M, C> {
    /// Copies requests with `cloner` instead of [`Clone`]: [`clone_http_request`] for
    /// `http::Request`s, or a closure `Fn(&Req) -> Option<Req>` that returns `None` for a
    /// request that must not be sent twice (see [`CloneRequest`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use tower::{Layer, ServiceExt};
    ///
    /// let calls = AtomicU32::new(0);
    /// let flaky = tower::service_fn(|request: http::Request<String>| {
    ///     let first = calls.fetch_add(1, Ordering::Relaxed) == 0;
    ///     async move {
    ///         if first {
    ///             return Err(std::io::Error::other("reset"));
    ///         }
    ///         Ok(http::Response::new(request.into_body()))
    ///     }
    /// });
    /// let service = stamina::tower::RetryLayer::new(
    ///     |outcome: &Result<http::Response<String>, std::io::Error>| outcome.is_err(),
    /// )
    /// .sleeper(stamina::testing::FakeSleeper::new())
    /// .clone_requests_with(stamina::tower::clone_http_request)
    /// .layer(flaky);
    /// let response = futures::executor::block_on(service.oneshot(http::Request::new("hi".into())))?;
    /// assert_eq!(response.body(), "hi"); // sent twice
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clone_requests_with<C2>(self, cloner: C2) -> RetryLayer<On, S, M, C2> {
        Retrying {
            settings: self.settings,
            on: self.on,
            time: self.time,
            mode: self.mode,
            front: Tower { cloner },
        }
    }
}

impl<Svc, On: Clone, S: Clone, M: Clone, C: Clone> ::tower::Layer<Svc> for RetryLayer<On, S, M, C> {
    type Service = Retry<Svc, Self>;

    fn layer(&self, inner: Svc) -> Self::Service {
        Retry {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}
