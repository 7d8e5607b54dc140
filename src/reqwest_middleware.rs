//! Retries for `reqwest` clients: a [`Middleware`] for `reqwest-middleware`'s
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
//! - a total deadline that no wait runs past and that cuts an attempt still waiting for its
//!   response, without cutting the body of the response it returns;
//! - a request whose body cannot be cloned (a stream) is sent once and its response or error
//!   returned, where `reqwest-retry` fails it without sending it;
//! - the last response or error comes back unchanged, not wrapped;
//! - shared [budgets](crate::RetryBudget), hooks (`log`, `metrics`, `tracing` and your own),
//!   names, [nested-retry suppression](crate::nesting) and the testing switches.
//!
//! The deadline and the middleware's [`attempt_timeout`](Retrying::attempt_timeout) bound each
//! attempt until its response's head arrives, on tokio's timer as reqwest's timeouts are (the
//! [sleeper](Retrying::sleeper) is for the waits between attempts, so that a
//! [`FakeSleeper`](crate::testing::FakeSleeper) in a test skips the waits without cutting real
//! requests short): an attempt still waiting then is dropped and
//! fails with [`AttemptTimedOut`] (as a middleware error), which [`default_on`] retries. The
//! response the middleware returns is the caller's to read, for as long as it takes: a
//! download or a stream of events is not cut by a deadline that was about the attempts.
//! The request's own timeout (`RequestBuilder::timeout`, or the client's) is left as it is,
//! and covers the body as reqwest says.
//!
//! The hooks report a response by its status code (`503`) and an error by its
//! [`Transport`](crate::http::Transport) class (`connect`, `timeout`, `reset`, `body`,
//! `other`), whatever the predicate, and can downcast the `reqwest::Response` or the
//! [`reqwest_middleware::Error`] from
//! [`Cause::downcast_ref`](crate::instrument::Cause::downcast_ref); no URL appears in a label
//! or a log line unless [`ShowError::Debug`](crate::instrument::ShowError::Debug) is chosen.
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

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::time::Instant;

use ::reqwest_middleware::reqwest::{Method, Request, Response};
use ::reqwest_middleware::{Error, Middleware, Next};

use crate::driver::{Driver, Verdict};
use crate::hedge::{HedgeCtx, Hedger};
use crate::http::HttpOn;
use crate::instrument::ErrorView;
use crate::machine;
use crate::settings::{Bound, Front, Retrying, Settings, Waits, sealed};
use crate::timeout::{AttemptTimeoutKind, AttemptTimeoutMode, RunAttempt, run_attempt};
use crate::{
    AttemptTimedOut, AttemptTimeout, Decision, DefaultSleeper, NoAttemptTimeout, RetryOn,
    RetryPolicy, Sleeper, TokioSleeper,
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

/// The `on` predicate of [`RetryMiddleware::new`]: HTTP's transient failures, as
/// [`stamina::http::default_on`](crate::http::default_on) reads them (the same for the tower
/// layer): 408, 429, 500, 502, 503 and 504 (after the wait a `Retry-After` asks for), a
/// connection that failed, timed out or broke, and an attempt the middleware cut
/// ([`AttemptTimedOut`]); not other responses, nor other errors (a bad URL, a redirect loop, a
/// body or decoding error, another middleware's error).
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
    crate::http::default_on(outcome)
}

/// The front end of reqwest middlewares.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reqwest;

impl sealed::Sealed for Reqwest {}
impl Front for Reqwest {
    const NAMES: [&'static str; 2] = ["RetryMiddleware", "RetryMiddleware"];

    /// The middleware cuts attempts at its attempt timeout, whatever its mode.
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
/// attempt. Its [`attempt_timeout`](Retrying::attempt_timeout) and its deadline bound each
/// attempt until the response's head arrives; an attempt that runs out fails with
/// [`AttemptTimedOut`], which [`default_on`] retries.
///
/// # Default
///
/// [`RetryPolicy::new`]'s configuration (10 attempts, a 45-second deadline, ..),
/// [`default_on`], the [`DefaultSleeper`] (tokio's), no attempt timeout, and the request's
/// method after the middleware's name (`RetryMiddleware GET`) as the name the hooks report:
/// one of ten names whatever the URLs, so that a metric keeps a bounded number of series. Name
/// each middleware after the service it calls (`.name("inventory")`) to tell them apart.
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
        let name = self.name_for(&request);
        if request.try_clone().is_some() && driver.hedges(settings) {
            let mut hedged = Hedged {
                middleware: self,
                template: request,
                extensions: extensions.clone(),
                next,
                name,
            };
            let mut hedger = Hedger::start(&mut hedged, &driver);
            return poll_fn(|cx| hedger.poll(cx, &mut hedged, &mut driver)).await;
        }
        loop {
            // The copy the next attempt sends; `None` for a streaming body, which is sent once.
            let spare = request.try_clone();
            let attempt = || next.clone().run(request, extensions);
            let (outcome, timed_out) = self.attempt(driver.deadline(), attempt).await;
            // A request that could not be copied is sent once: its outcome is the call's,
            // whatever it is, and `on` is not asked.
            let Some(spare) = spare else {
                return outcome;
            };
            let (on, now) = (&self.on.0, || self.time.now());
            let view = || error_view(on, &outcome);
            let wait = driver.settle(settings, || name, on, &outcome, view, timed_out, now);
            let Some(wait) = wait else {
                return outcome;
            };
            drop(outcome);
            self.time.sleep(wait).await;
            // The hooks' guards lived over the wait and end before the next attempt.
            driver.next_attempt();
            request = spare;
        }
    }

    /// Sends the request `send` makes as one attempt. The attempt timeout and `deadline` bound
    /// it until the response's head arrives, on tokio's timer as reqwest's own timeouts are
    /// (the sleeper, a fake one in tests, is for the waits); reading the body is the caller's.
    fn attempt<F>(&self, deadline: Option<Instant>, send: impl FnOnce() -> F) -> RunAttempt<F, Cut>
    where
        F: Future<Output = ::reqwest_middleware::Result<Response>>,
    {
        let timeout = self.settings.policy.get_attempt_timeout();
        let left = machine::remaining(deadline, || self.time.now());
        let limit = [timeout, left].into_iter().flatten().min();
        run_attempt::<_, _, AttemptTimeout, _, _>(&TokioSleeper, limit, None, send)
    }

    /// The name given, else the middleware's and the request's method (`RetryMiddleware GET`):
    /// one of ten, whatever the requests.
    fn name_for(&self, request: &Request) -> &str {
        self.settings.name_or_else(|| match *request.method() {
            Method::GET => "RetryMiddleware GET",
            Method::HEAD => "RetryMiddleware HEAD",
            Method::POST => "RetryMiddleware POST",
            Method::PUT => "RetryMiddleware PUT",
            Method::DELETE => "RetryMiddleware DELETE",
            Method::PATCH => "RetryMiddleware PATCH",
            Method::OPTIONS => "RetryMiddleware OPTIONS",
            Method::CONNECT => "RetryMiddleware CONNECT",
            Method::TRACE => "RetryMiddleware TRACE",
            _ => "RetryMiddleware",
        })
    }
}

/// What the hooks see of `outcome`: what `on` shows, and for the rest the response by its
/// status and the error by its class, as [`HttpOn`] shows them.
fn error_view<'e>(on: &impl RetryOn<Outcome>, outcome: &'e Outcome) -> ErrorView<'e> {
    on.error_view(outcome).or(HttpOn::new().error_view(outcome))
}

/// One attempt of a hedged request: the rest of the chain, with a copy of the request and of
/// its extensions.
type Sent<'a> = Pin<Box<dyn Future<Output = ::reqwest_middleware::Result<Response>> + Send + 'a>>;
type Cut = <AttemptTimeout as AttemptTimeoutMode<Error>>::Timer<<TokioSleeper as Sleeper>::Sleep>;

/// A hedged request: each attempt sends a copy of `template` down the rest of the chain, with a
/// copy of its extensions (the caller's are left as they were).
struct Hedged<'a, On, S, M> {
    middleware: &'a RetryMiddleware<On, S, M>,
    template: Request,
    extensions: http::Extensions,
    next: Next<'a>,
    name: &'a str,
}

impl<'a, On, S, M> HedgeCtx<Response, Error> for Hedged<'a, On, S, M>
where
    On: RetryOn<Outcome>,
    S: Sleeper,
{
    type Attempt = RunAttempt<Sent<'a>, Cut>;
    type Sleeper = S;

    fn settings(&self) -> &Settings {
        &self.middleware.settings
    }

    fn sleeper(&self) -> &S {
        &self.middleware.time
    }

    fn attempt(&mut self, deadline: Option<Instant>) -> Option<Self::Attempt> {
        let request = self.template.try_clone()?;
        let (mut extensions, next) = (self.extensions.clone(), self.next.clone());
        let send =
            || -> Sent<'a> { Box::pin(async move { next.run(request, &mut extensions).await }) };
        Some(self.middleware.attempt(deadline, send))
    }

    fn settle(
        &self,
        driver: &mut Driver,
        (outcome, timed_out): (&Outcome, bool),
        num: u32,
        others: usize,
    ) -> Verdict {
        let on = &self.middleware.on.0;
        let view = || error_view(on, outcome);
        let (settings, now) = (self.settings(), || self.now());
        let outcome = (outcome, view, timed_out);
        driver.hedge_settle(settings, self.name, on, outcome, num, others, now)
    }

    fn name(&self) -> &str {
        self.name
    }
}

/// An attempt that the deadline or the [attempt timeout](Retrying::attempt_timeout) cut, as the
/// middleware returns it: a middleware error holding the [`AttemptTimedOut`], which
/// [`default_on`] retries and [`Transport::of`](crate::http::Transport::of) classes as a
/// timeout.
impl From<AttemptTimedOut> for Error {
    fn from(error: AttemptTimedOut) -> Self {
        Self::middleware(error)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unnamed_middleware_is_named_after_the_request_s_method() {
        let middleware = RetryMiddleware::new();
        let url: ::reqwest_middleware::reqwest::Url = "http://127.0.0.1/".parse().unwrap();
        let name = |method: &str| {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            middleware
                .name_for(&Request::new(method, url.clone()))
                .to_owned()
        };
        for method in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
        ] {
            assert_eq!(name(method), format!("RetryMiddleware {method}"));
        }
        // One name for every other method, so that names stay few.
        assert_eq!(name("PURGE"), "RetryMiddleware");
        let named = RetryMiddleware::new().name("inventory");
        let request = Request::new(Method::POST, url.clone());
        assert_eq!(named.name_for(&request), "inventory");
    }
}
