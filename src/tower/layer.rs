//! The layer (the configuration) and the service it wraps around another.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::clone::{CloneRequest, Cloned};
use super::future::ResponseFuture;
use crate::driver::CallLoop;
use crate::guard::{Extras, extras_setters};
use crate::name::Name;
use crate::setters::policy_setters;
use crate::timeout::{AttemptTimeout, AttemptTimeoutMode, NoAttemptTimeout, run_attempt};
use crate::{DefaultSleeper, RetryOn, RetryPolicy, Sleeper};

/// A [`Layer`](::tower::Layer) that retries the calls of the service it wraps (see the
/// [module docs](super)).
///
/// `on` decides about every outcome, a response as well as an error: it is any
/// `Fn(&Result<Response, Error>)` returning `bool`, a `Duration` or a
/// [`Decision`](crate::Decision) (see [`RetryOn`]). A response it does not retry is the call's
/// response.
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
#[derive(Clone)]
#[must_use = "a RetryLayer does nothing until it wraps a service"]
pub struct RetryLayer<On, S = DefaultSleeper, M = NoAttemptTimeout, C = Cloned> {
    policy: RetryPolicy,
    extras: Extras,
    name: Option<Name>,
    on: On,
    sleeper: S,
    mode: M,
    cloner: C,
}

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
    pub const fn from_policy(policy: RetryPolicy, on: On) -> Self {
        Self {
            policy,
            extras: Extras::new(),
            name: None,
            on,
            sleeper: DefaultSleeper {},
            mode: NoAttemptTimeout,
            cloner: Cloned,
        }
    }
}

impl<On, S, M, C> RetryLayer<On, S, M, C> {
    policy_setters!();
    extras_setters!();

    /// Names the calls for instrumentation and `Debug` output (by default, the wrapped
    /// service's type).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(Name::given(name));
        self
    }

    /// Makes the calls wait on `sleeper` and measure their deadline on its clock (a
    /// [`FakeSleeper`](crate::testing::FakeSleeper) in tests, say).
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::testing::FakeSleeper;
    /// use tower::{Layer, ServiceExt};
    ///
    /// let sleeper = FakeSleeper::new();
    /// let service = stamina::tower::RetryLayer::new(|_: &Result<(), &str>| true)
    ///     .attempts(3)
    ///     .wait_jitter(Duration::ZERO)
    ///     .sleeper(sleeper.clone())
    ///     .layer(tower::service_fn(|()| async { Err::<(), _>("down") }));
    /// let result = futures::executor::block_on(service.oneshot(()));
    /// assert_eq!(result, Err("down"));
    /// assert_eq!(sleeper.sleeps(), [100, 200].map(Duration::from_millis));
    /// ```
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> RetryLayer<On, S2, M, C> {
        RetryLayer {
            policy: self.policy,
            extras: self.extras,
            name: self.name,
            on: self.on,
            sleeper,
            mode: self.mode,
            cloner: self.cloner,
        }
    }

    /// Cancels (drops) each attempt's response future after `timeout`, or at the call's
    /// deadline if that comes first, and fails it with
    /// [`AttemptTimedOut`](crate::AttemptTimedOut) converted into the service's error type,
    /// which `on` then classifies.
    ///
    /// The wrapped service's error type must then implement `From<AttemptTimedOut>`: a
    /// `tower::BoxError` (`Box<dyn Error + Send + Sync>`) does, so map the errors into one
    /// first (`ServiceBuilder::map_err`). Waiting for the service to be ready is not part of the
    /// attempt.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::AttemptTimedOut;
    /// use tower::{BoxError, ServiceBuilder, ServiceExt};
    ///
    /// # #[cfg(feature = "tokio")]
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let retry = stamina::tower::RetryLayer::new(|outcome: &Result<(), BoxError>| {
    ///     matches!(outcome, Err(e) if e.is::<AttemptTimedOut>())
    /// })
    /// .attempts(2)
    /// .attempt_timeout(Duration::from_secs(1));
    /// let hung = tower::service_fn(|()| std::future::pending::<Result<(), std::io::Error>>());
    /// let service = ServiceBuilder::new().layer(retry).map_err(BoxError::from).service(hung);
    /// let error = service.oneshot(()).await.unwrap_err();
    /// assert_eq!(error.to_string(), "attempt timed out after 1s");
    /// # }
    /// # #[cfg(not(feature = "tokio"))]
    /// # fn main() {}
    /// ```
    pub fn attempt_timeout(self, timeout: Duration) -> RetryLayer<On, S, AttemptTimeout, C> {
        RetryLayer {
            policy: self.policy,
            extras: self.extras,
            name: self.name,
            on: self.on,
            sleeper: self.sleeper,
            mode: AttemptTimeout::new(timeout),
            cloner: self.cloner,
        }
    }

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
    ///
    /// [`clone_http_request`]: super::clone_http_request
    pub fn clone_requests_with<C2>(self, cloner: C2) -> RetryLayer<On, S, M, C2> {
        RetryLayer {
            policy: self.policy,
            extras: self.extras,
            name: self.name,
            on: self.on,
            sleeper: self.sleeper,
            mode: self.mode,
            cloner,
        }
    }
}

impl<Svc, On, S, M, C> ::tower::Layer<Svc> for RetryLayer<On, S, M, C>
where
    On: Clone,
    S: Clone,
    M: Clone,
    C: Clone,
{
    type Service = Retry<Svc, On, S, M, C>;

    fn layer(&self, inner: Svc) -> Self::Service {
        Retry {
            inner,
            config: Arc::new(Config {
                policy: self.policy,
                extras: self.extras.clone(),
                name: self.name.clone(),
                on: self.on.clone(),
                sleeper: self.sleeper.clone(),
                mode: self.mode.clone(),
                cloner: self.cloner.clone(),
            }),
        }
    }
}

impl<On, S, M: fmt::Debug, C> fmt::Debug for RetryLayer<On, S, M, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RetryLayer");
        debug_config(&mut d, &self.name, &self.policy, &self.extras, &self.mode);
        d.field("on", &format_args!("{}", std::any::type_name::<On>()))
            .finish_non_exhaustive()
    }
}

fn debug_config(
    d: &mut fmt::DebugStruct<'_, '_>,
    name: &Option<Name>,
    policy: &RetryPolicy,
    extras: &Extras,
    mode: &dyn fmt::Debug,
) {
    if let Some(name) = name {
        d.field("name", name);
    }
    policy.debug_fields(d);
    extras.debug_fields(d);
    d.field("attempt_timeout", mode);
}

/// What every call of a [`Retry`] service reads, shared by its clones and its futures.
pub(super) struct Config<On, S, M, C> {
    pub(super) policy: RetryPolicy,
    pub(super) extras: Extras,
    pub(super) name: Option<Name>,
    pub(super) on: On,
    pub(super) sleeper: S,
    pub(super) mode: M,
    pub(super) cloner: C,
}

/// The service made by a [`RetryLayer`]: calls the wrapped service until `on` accepts the
/// outcome or the attempts, the time or the budget are used up, and returns the last response
/// or error unchanged.
///
/// Clones share the configuration. Each call takes the wrapped service that
/// [`poll_ready`](::tower::Service::poll_ready) made ready, and leaves a clone of it in its
/// place (so the wrapped service must be `Clone`, and cheap to clone, as clients are); the call
/// awaits that service's readiness again before each retry.
///
/// ```
/// use tower::Layer;
///
/// let echo = tower::service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n) });
/// let service = stamina::tower::RetryLayer::new(|outcome: &Result<u32, std::io::Error>| outcome.is_err())
///     .layer(echo);
/// let echo = service.into_inner(); // the wrapped service, unchanged
/// # let _ = echo;
/// ```
pub struct Retry<Svc, On, S = DefaultSleeper, M = NoAttemptTimeout, C = Cloned> {
    inner: Svc,
    config: Arc<Config<On, S, M, C>>,
}

impl<Svc, On, S, M, C> Retry<Svc, On, S, M, C> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &Svc {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut Svc {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> Svc {
        self.inner
    }
}

impl<Svc: Clone, On, S, M, C> Clone for Retry<Svc, On, S, M, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<Svc: fmt::Debug, On, S, M: fmt::Debug, C> fmt::Debug for Retry<Svc, On, S, M, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Retry");
        d.field("inner", &self.inner);
        let config = &*self.config;
        debug_config(
            &mut d,
            &config.name,
            &config.policy,
            &config.extras,
            &config.mode,
        );
        d.field("on", &format_args!("{}", std::any::type_name::<On>()))
            .finish_non_exhaustive()
    }
}

impl<Svc, Req, On, S, M, C> ::tower::Service<Req> for Retry<Svc, On, S, M, C>
where
    Svc: ::tower::Service<Req> + Clone,
    Svc::Response: fmt::Debug,
    Svc::Error: fmt::Debug,
    On: RetryOn<Result<Svc::Response, Svc::Error>>,
    S: Sleeper,
    M: AttemptTimeoutMode<Svc::Error>,
    C: CloneRequest<Req>,
{
    type Response = Svc::Response;
    type Error = Svc::Error;
    type Future = ResponseFuture<Svc, Req, On, S, M, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // The service that `poll_ready` made ready goes with the call; a clone takes its place
        // until the next `poll_ready`.
        let fresh = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, fresh);
        let config = Arc::clone(&self.config);
        let call = CallLoop::start(&config.policy, || config.sleeper.now());
        let spare = config.cloner.clone_request(&request);
        // The call counts as inside the attempt, its synchronous part included.
        let make = || service.call(request);
        let attempt = run_attempt(&config.mode, &config.sleeper, call.deadline(), make);
        ResponseFuture::new(attempt, service, spare, config, call)
    }
}
