//! Retries for [reqwest] clients: a [`Middleware`] for `reqwest-middleware`'s
//! `ClientWithMiddleware`, driven by the same state machine as every other loop of this crate.
//!
//! [`RetryMiddleware::new`] has HTTP defaults ([`default_on`]): connection failures, timeouts,
//! resets and the statuses 408, 429, 500, 502, 503 and 504 are retried, after the wait a
//! `Retry-After` header asks for (delay-seconds or an HTTP-date, read with
//! [`retry_after`](crate::retry_after)); every other response, other 4xx included, is returned
//! at once. [`RetryMiddleware::on`] replaces the defaults with a predicate of your own.
//!
//! What it adds over `reqwest-retry`:
//!
//! - `Retry-After` is honoured, bounded by the attempts, the deadline and
//!   [`retry_after_max`](crate::RetryPolicy::retry_after_max);
//! - a total deadline that no wait runs past, and whose time left caps each request's timeout;
//! - a request whose body cannot be cloned (a stream) is sent once and its response or error
//!   returned, where `reqwest-retry` fails it without sending it;
//! - the last response or error comes back unchanged, not wrapped;
//! - shared [budgets](crate::RetryBudget), hooks (`log`, `metrics`, `tracing` and your own),
//!   names, [nested-retry suppression](crate::nesting) and the testing switches.
//!
//! Each request's timeout becomes the least of its own timeout, the middleware's
//! [`attempt_timeout`](RetryMiddleware::attempt_timeout) and the time left before the deadline.
//! reqwest lets a request's timeout replace the client's (`ClientBuilder::timeout`), so give
//! the per-attempt limit to the middleware or to the requests, not to the client.
//!
//! ```no_run
//! use std::time::Duration;
//! use stamina::reqwest_middleware::RetryMiddleware;
//!
//! # async fn run() -> reqwest_middleware::Result<()> {
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(
//!         RetryMiddleware::new()
//!             .attempts(5)
//!             .timeout(Duration::from_secs(30))
//!             .attempt_timeout(Duration::from_secs(5)),
//!     )
//!     .build();
//! let body = client.get("http://127.0.0.1:8080/items").send().await?.text().await?;
//! # let _ = body;
//! # Ok(())
//! # }
//! ```
//!
//! [`Middleware`]: ::reqwest_middleware::Middleware

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use ::reqwest_middleware::reqwest::{self, Request, Response, StatusCode};
use ::reqwest_middleware::{Error, Middleware, Next};

use crate::driver::CallLoop;
use crate::guard::{Extras, extras_setters};
use crate::name::Name;
use crate::setters::policy_setters;
use crate::{Decision, DefaultSleeper, RetryOn, RetryPolicy, Sleeper, find_cause, nesting};

/// The outcome of one attempt, which the `on` predicate classifies: the response, whatever its
/// status, or the error of the rest of the chain.
///
/// ```
/// use stamina::reqwest_middleware::Outcome;
///
/// fn is_server_error(outcome: &Outcome) -> bool {
///     matches!(outcome, Ok(response) if response.status().is_server_error())
/// }
/// # let _ = is_server_error;
/// ```
pub type Outcome = Result<Response, Error>;

/// The `on` predicate of [`RetryMiddleware::new`]: HTTP's transient failures.
///
/// | outcome | decision |
/// |---|---|
/// | 408, 429, 500, 502, 503, 504 with a valid `Retry-After` | [`Decision::RetryAfter`] the wait it asks for |
/// | 408, 429, 500, 502, 503, 504 otherwise | [`Decision::Retry`] (backoff) |
/// | any other response, other 4xx and 5xx included | [`Decision::DontRetry`] |
/// | a connection that failed, timed out or was reset or closed mid-request | [`Decision::Retry`] |
/// | any other error (a bad URL, a redirect loop, a body or decoding error, a middleware's error) | [`Decision::DontRetry`] |
///
/// It retries every method. Compose it in a predicate of your own to narrow it, for instance to
/// never resend a `POST` after it may have reached the server:
///
/// ```
/// use stamina::Decision;
/// use stamina::reqwest_middleware::{Outcome, RetryMiddleware, default_on};
///
/// // Retry a 404 as well (an eventually consistent read), else the defaults.
/// let middleware = RetryMiddleware::new().on(|outcome: &Outcome| match outcome {
///     Ok(response) if response.status() == 404 => Decision::Retry,
///     _ => default_on(outcome),
/// });
/// # let _ = middleware;
/// ```
pub fn default_on(outcome: &Outcome) -> Decision {
    match outcome {
        Ok(response) => {
            let retryable = matches!(
                response.status(),
                StatusCode::REQUEST_TIMEOUT
                    | StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::INTERNAL_SERVER_ERROR
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            );
            if !retryable {
                return Decision::DontRetry;
            }
            let header = response.headers().get(reqwest::header::RETRY_AFTER);
            match header.and_then(|value| value.to_str().ok()) {
                Some(value) => {
                    crate::retry_after(value).map_or(Decision::Retry, Decision::RetryAfter)
                }
                None => Decision::Retry,
            }
        }
        Err(Error::Reqwest(error)) => transient(error).into(),
        Err(Error::Middleware(_)) => Decision::DontRetry,
    }
}

/// Whether a transport error is worth another attempt: the connection failed, timed out, or
/// broke or was closed while the request was in flight.
fn transient(error: &reqwest::Error) -> bool {
    if error.is_connect() || error.is_timeout() {
        return true;
    }
    if !error.is_request() {
        return false;
    }
    let closed = find_cause::<hyper::Error>(error)
        .is_some_and(|cause| cause.is_incomplete_message() || cause.is_canceled());
    closed
        || find_cause::<io::Error>(error).is_some_and(|cause| {
            matches!(
                cause.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            )
        })
}

/// A [`Middleware`] that retries a `ClientWithMiddleware`'s requests (see the
/// [module docs](self)).
///
/// `on` decides about every [`Outcome`], a response as well as an error, returning `bool`, a
/// `Duration` or a [`Decision`] (see [`RetryOn`]); the default is [`default_on`]. Place it
/// first in the chain (`ClientBuilder::with`) so that the middlewares after it run for every
/// attempt.
///
/// # Default
///
/// [`RetryPolicy::new`]'s configuration (10 attempts, a 45-second deadline, ..),
/// [`default_on`], the [`DefaultSleeper`] (tokio's), no attempt timeout, and the request's
/// method and host (`GET example.com`) as the name the hooks report.
///
/// ```
/// use std::time::Duration;
///
/// let middleware = stamina::reqwest_middleware::RetryMiddleware::new()
///     .name("inventory")
///     .attempts(3)
///     .timeout(Duration::from_secs(10))
///     .attempt_timeout(Duration::from_secs(2));
/// assert!(format!("{middleware:?}").starts_with(
///     r#"RetryMiddleware { name: "inventory", attempts: 3, timeout: 10s"#
/// ));
/// ```
#[derive(Clone)]
#[must_use = "a RetryMiddleware does nothing until it is added to a client"]
pub struct RetryMiddleware<On = fn(&Outcome) -> Decision, S = DefaultSleeper> {
    policy: RetryPolicy,
    extras: Extras,
    name: Option<Name>,
    on: On,
    sleeper: S,
    attempt_timeout: Option<Duration>,
}

impl RetryMiddleware {
    /// A middleware with the [default configuration](RetryPolicy#default) and [`default_on`].
    pub const fn new() -> Self {
        Self::from_policy(RetryPolicy::new())
    }

    /// A middleware with `policy`'s configuration and [`default_on`].
    ///
    /// ```
    /// const POLICY: stamina::RetryPolicy = stamina::RetryPolicy::new().attempts(3);
    /// let middleware = stamina::reqwest_middleware::RetryMiddleware::from_policy(POLICY);
    /// assert_eq!(middleware.get_policy().get_attempts(), Some(3));
    /// ```
    pub const fn from_policy(policy: RetryPolicy) -> Self {
        Self {
            policy,
            extras: Extras::new(),
            name: None,
            on: default_on,
            sleeper: DefaultSleeper {},
            attempt_timeout: None,
        }
    }
}

impl Default for RetryMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

impl<On, S> RetryMiddleware<On, S> {
    policy_setters!();
    extras_setters!();

    /// Replaces the `on` predicate (see [`default_on`] for composing with the defaults).
    ///
    /// ```
    /// use stamina::reqwest_middleware::{Outcome, RetryMiddleware};
    ///
    /// // Only connection failures: whatever the server answers is the answer.
    /// let middleware = RetryMiddleware::new().on(|outcome: &Outcome| {
    ///     matches!(outcome, Err(error) if error.is_connect())
    /// });
    /// # let _ = middleware;
    /// ```
    pub fn on<On2>(self, on: On2) -> RetryMiddleware<On2, S>
    where
        On2: RetryOn<Outcome>,
    {
        RetryMiddleware {
            policy: self.policy,
            extras: self.extras,
            name: self.name,
            on,
            sleeper: self.sleeper,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Names the calls for instrumentation and `Debug` output (by default, the request's
    /// method and host).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(Name::given(name));
        self
    }

    /// Makes the calls wait on `sleeper` and measure their deadline on its clock (a
    /// [`FakeSleeper`](crate::testing::FakeSleeper) in tests, say).
    ///
    /// ```
    /// use stamina::testing::FakeSleeper;
    ///
    /// let sleeper = FakeSleeper::new();
    /// let middleware = stamina::reqwest_middleware::RetryMiddleware::new().sleeper(sleeper.clone());
    /// // ... send requests through a client with it, then:
    /// assert!(sleeper.sleeps().is_empty());
    /// # let _ = middleware;
    /// ```
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> RetryMiddleware<On, S2> {
        RetryMiddleware {
            policy: self.policy,
            extras: self.extras,
            name: self.name,
            on: self.on,
            sleeper,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Gives each attempt at most `timeout`, as the request's reqwest timeout (or less: the
    /// time left before the deadline, or the request's own timeout). An attempt that runs out
    /// fails with reqwest's timeout error, which [`default_on`] retries.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }
}

impl<On, S> RetryMiddleware<On, S>
where
    On: RetryOn<Outcome>,
    S: Sleeper,
{
    /// The loop over the attempts of one request.
    async fn retry(
        &self,
        mut request: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> ::reqwest_middleware::Result<Response> {
        let mut call = CallLoop::start(&self.policy, || self.sleeper.now());
        // The copy the next attempt sends; `None` for a streaming body, which is sent once.
        let mut spare = request.try_clone();
        loop {
            let limit = [
                request.timeout().copied(),
                self.attempt_timeout,
                call.remaining(|| self.sleeper.now()),
            ];
            if let Some(limit) = limit.into_iter().flatten().min() {
                *request.timeout_mut() = Some(limit);
            }
            let attempt = next.clone().run(request, extensions);
            let outcome = nesting::InAttemptFuture::new(attempt).await;
            let wait = match &spare {
                Some(copy) => {
                    let timed_out = matches!(&outcome, Err(error) if error.is_timeout());
                    let name = || self.name_for(copy);
                    let settings = (&self.policy, &self.extras);
                    let now = || self.sleeper.now();
                    call.settle(settings, &self.on, &outcome, timed_out, name, now)
                }
                // Sent once: the outcome is the call's, whatever it is.
                None => {
                    call.settle_last(&self.extras, &self.on, &outcome);
                    None
                }
            };
            let (Some(wait), Some(next_request)) = (wait, spare.take()) else {
                return outcome;
            };
            drop(outcome);
            self.sleeper.sleep(wait).await;
            // The hooks' guards lived over the wait and end before the next attempt.
            call.resume();
            spare = next_request.try_clone();
            request = next_request;
        }
    }

    /// The name given, else the request's method and host (made for the hooks only).
    fn name_for(&self, request: &Request) -> Cow<'_, Name> {
        if let Some(name) = &self.name {
            return Cow::Borrowed(name);
        }
        let url = request.url();
        let host = url.host_str().unwrap_or_default();
        Cow::Owned(Name::given(match url.port() {
            Some(port) => format!("{} {host}:{port}", request.method()),
            None => format!("{} {host}", request.method()),
        }))
    }
}

impl<On, S> Middleware for RetryMiddleware<On, S>
where
    On: RetryOn<Outcome> + Send + Sync + 'static,
    S: Sleeper + Send + Sync + 'static,
    S::Sleep: Send,
{
    // The signature `#[async_trait]` gives the trait's `async fn handle`.
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        request: Request,
        extensions: &'life1 mut http::Extensions,
        next: Next<'life2>,
    ) -> Pin<Box<dyn Future<Output = ::reqwest_middleware::Result<Response>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.retry(request, extensions, next))
    }
}

impl<On, S> fmt::Debug for RetryMiddleware<On, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RetryMiddleware");
        if let Some(name) = &self.name {
            d.field("name", name);
        }
        self.policy.debug_fields(&mut d);
        self.extras.debug_fields(&mut d);
        if let Some(timeout) = self.attempt_timeout {
            d.field("attempt_timeout", &crate::config::HumanDuration(timeout));
        }
        d.field("on", &format_args!("{}", std::any::type_name::<On>()))
            .finish_non_exhaustive()
    }
}
