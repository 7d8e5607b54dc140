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
//! previous attempt was sent: [`Cloned`] (the default, for `Clone` requests: an
//! `http::Request` is `Clone` when its body is) or a closure of your own. A request that
//! cannot be copied (a streaming body) is sent once and its outcome returned as it is, without
//! asking `on`. Before every retry the wrapped service's [`poll_ready`](::tower::Service::poll_ready) is
//! awaited, so its back-pressure holds for retries too; an error from it ends the call with
//! that error.
//!
//! For an HTTP client, [`HttpOn`](crate::http::HttpOn) is the predicate: the classification
//! the reqwest middleware uses too ([`stamina::http::default_on`](crate::http::default_on):
//! 408, 429 and 5xx gateways and unavailability after `Retry-After`, connection failures,
//! timeouts and resets), with labels the hooks report (`503`, `connect`, `timeout`, ..). Its
//! errors are read through [`TransportError`](crate::http::TransportError), which the boxed
//! errors of tower stacks have: box a client's own error type under the layer
//! (`map_err(BoxError::from)`), or set an [`attempt_timeout`](RetryLayer::attempt_timeout),
//! which makes the service's errors `BoxError`s.
//!
//! ```
//! use std::time::Duration;
//! use http::{Request, Response, StatusCode};
//! use stamina::http::HttpOn;
//! use tower::{BoxError, Layer, ServiceExt};
//!
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let calls = std::sync::atomic::AtomicU32::new(0);
//! let flaky = tower::service_fn(|_: Request<String>| {
//!     let n = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!     let busy = Response::builder().status(StatusCode::SERVICE_UNAVAILABLE).header("retry-after", "2");
//!     let response = if n < 2 { busy.body("busy") } else { Response::builder().body("hi") };
//!     async move { Ok::<_, BoxError>(response.unwrap()) }
//! });
//! let service = stamina::tower::RetryLayer::new(HttpOn::new())
//!     .name("greeter")
//!     .attempts(5)
//!     .timeout(Duration::from_secs(10))
//!     .layer(flaky);
//! let started = tokio::time::Instant::now();
//! let response = service.oneshot(Request::new("ping".to_owned())).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(calls.into_inner(), 3);
//! assert_eq!(started.elapsed(), Duration::from_secs(4)); // as the server asked, twice
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```

mod clone;
mod service;

use std::sync::Arc;

pub use clone::{CloneRequest, Cloned};
pub use service::{BoxError, Config, ErrorMode, ResponseFuture, Retry, Tower};

use crate::name::Name;
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
/// [`DefaultSleeper`], no attempt timeout, requests copied with [`Cloned`], and as the name the
/// hooks report the wrapped service's type as people write it, without its generic arguments
/// and at most 64 bytes (`hyper_util::Client`): one name per service type, so that a metric
/// keeps a bounded number of series. Name each layer after what it calls
/// (`.name("inventory")`) to tell them apart.
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
    /// Copies requests with `cloner` instead of [`Clone`]: a closure `Fn(&Req) -> Option<Req>`
    /// that returns `None` for a request that must not be sent twice (see [`CloneRequest`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use tower::{Layer, ServiceExt};
    ///
    /// /// A payload that is bytes, which can be sent again, or a one-shot stream.
    /// enum Payload {
    ///     Bytes(Vec<u8>),
    ///     Stream(Box<dyn Iterator<Item = u8> + Send>),
    /// }
    ///
    /// let calls = AtomicU32::new(0);
    /// let flaky = tower::service_fn(|_: Payload| {
    ///     let first = calls.fetch_add(1, Ordering::Relaxed) == 0;
    ///     async move { if first { Err(std::io::Error::other("reset")) } else { Ok(200) } }
    /// });
    /// let service = stamina::tower::RetryLayer::new(|outcome: &Result<u16, std::io::Error>| {
    ///     outcome.is_err()
    /// })
    /// .sleeper(stamina::testing::FakeSleeper::new())
    /// .clone_requests_with(|payload: &Payload| match payload {
    ///     Payload::Bytes(bytes) => Some(Payload::Bytes(bytes.clone())),
    ///     Payload::Stream(_) => None,
    /// })
    /// .layer(flaky);
    /// let status = futures::executor::block_on(service.oneshot(Payload::Bytes(vec![1])))?;
    /// assert_eq!((status, calls.into_inner()), (200, 2)); // sent twice
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
        let mut layer = self.clone();
        let name = &mut layer.settings.name;
        name.get_or_insert_with(Name::for_service::<Svc>);
        Retry {
            inner,
            layer: Arc::new(layer),
        }
    }
}
