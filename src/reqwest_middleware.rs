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
//! [`attempt_timeout`](Retrying::attempt_timeout) and the time left before the deadline.
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
use std::future::Future;
use std::io;
use std::pin::Pin;

use ::reqwest_middleware::reqwest::{self, Request, Response, StatusCode};
use ::reqwest_middleware::{Error, Middleware, Next};

use crate::driver::Driver;
use crate::machine;
use crate::settings::{Bound, Front, Retrying, Settings, Waits, sealed};
use crate::timeout::AttemptTimeoutKind;
use crate::{
    Decision, DefaultSleeper, NoAttemptTimeout, RetryOn, RetryPolicy, Sleeper, find_cause, nesting,
};

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

/// The front end of reqwest middlewares.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reqwest;

impl sealed::Sealed for Reqwest {}
impl Front for Reqwest {
    const NAMES: [&'static str; 2] = ["RetryMiddleware", "RetryMiddleware"];

    /// The middleware applies an attempt timeout as the request's reqwest timeout, whatever
    /// its mode.
    fn cuts<M: AttemptTimeoutKind>() -> bool {
        true
    }
}
impl Waits for Reqwest {}

/// A [`Middleware`] that retries a `ClientWithMiddleware`'s requests (see the
/// [module docs](self)); its setters are [`Retrying`]'s.
///
/// `on` decides about every [`Outcome`], a response as well as an error, returning `bool`, a
/// `Duration` or a [`Decision`] (see [`RetryOn`]); the default is [`default_on`]. Place it
/// first in the chain (`ClientBuilder::with`) so that the middlewares after it run for every
/// attempt. Its [`attempt_timeout`](Retrying::attempt_timeout) becomes each request's reqwest
/// timeout (or less: the time left before the deadline, or the request's own timeout); an
/// attempt that runs out fails with reqwest's timeout error, which [`default_on`] retries.
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
pub type RetryMiddleware<On = fn(&Outcome) -> Decision, S = DefaultSleeper, M = NoAttemptTimeout> =
    Retrying<Reqwest, Bound<On>, S, M>;

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
        Retrying {
            settings: Settings::new(policy),
            on: Bound(default_on),
            time: DefaultSleeper {},
            mode: NoAttemptTimeout,
            front: Reqwest,
        }
    }
}

impl Default for RetryMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

impl<On, S, M> RetryMiddleware<On, S, M>
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
        let settings = &self.settings;
        let mut driver = Driver::start(&settings.policy, || self.time.now());
        // The copy the next attempt sends; `None` for a streaming body, which is sent once.
        let mut spare = request.try_clone();
        loop {
            let remaining = machine::remaining(driver.deadline(), || self.time.now());
            let limit = [
                request.timeout().copied(),
                settings.policy.get_attempt_timeout(),
                remaining,
            ];
            if let Some(limit) = limit.into_iter().flatten().min() {
                *request.timeout_mut() = Some(limit);
            }
            let attempt = next.clone().run(request, extensions);
            let outcome = nesting::InAttemptFuture::new(attempt).await;
            // A request that could not be copied is sent once: its outcome is the call's,
            // whatever it is, and `on` is not asked.
            let Some(copy) = &spare else {
                return outcome;
            };
            let timed_out = matches!(&outcome, Err(error) if error.is_timeout());
            let name = self.name_for(copy);
            let (on, now) = (&self.on.0, || self.time.now());
            let wait = driver.settle(settings, || &name, on, &outcome, timed_out, now);
            let (Some(wait), Some(next_request)) = (wait, spare.take()) else {
                return outcome;
            };
            drop(outcome);
            self.time.sleep(wait).await;
            // The hooks' guards lived over the wait and end before the next attempt.
            driver.next_attempt();
            spare = next_request.try_clone();
            request = next_request;
        }
    }

    /// The name given, else the request's method and host (made for the hooks only).
    fn name_for(&self, request: &Request) -> Cow<'_, str> {
        if let Some(name) = &self.settings.name {
            return Cow::Borrowed(name.as_str());
        }
        let url = request.url();
        let host = url.host_str().unwrap_or_default();
        Cow::Owned(match url.port() {
            Some(port) => format!("{} {host}:{port}", request.method()),
            None => format!("{} {host}", request.method()),
        })
    }
}

impl<On, S, M> Middleware for RetryMiddleware<On, S, M>
where
    On: RetryOn<Outcome> + Send + Sync + 'static,
    S: Sleeper + Send + Sync + 'static,
    S::Sleep: Send,
    M: Send + Sync + 'static,
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
