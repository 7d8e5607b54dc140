//! HTTP outcomes, read the same way by both adapters: which are worth another attempt (the
//! statuses, the transport failures, `Retry-After`), and what the hooks report of them.
//!
//! [`default_on`] is the classification of
//! [`RetryMiddleware::new`](crate::reqwest_middleware::RetryMiddleware::new), and the predicate
//! to give a [`RetryLayer`](crate::tower::RetryLayer) over an HTTP client. [`HttpOn`] wraps it,
//! or a predicate of your own, so that the hooks see what happened rather than a type name:
//! the status code of a response (`503`), the [`Transport`] class of an error (`connect`,
//! `timeout`, `reset`, `body`, `other`), as the `error_type` label and in the log line; and so
//! that a hook can downcast the response or the error (see
//! [`Cause`](crate::instrument::Cause)). No URL, and so no query string, appears in either.
//!
//! ```
//! use std::time::Duration;
//! use http::{Response, StatusCode};
//! use stamina::http::HttpOn;
//! use tower::{BoxError, Layer, ServiceExt};
//!
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let calls = std::sync::atomic::AtomicU32::new(0);
//! let flaky = tower::service_fn(|_: http::Request<String>| {
//!     let n = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!     let status = if n < 2 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
//!     async move { Ok::<_, BoxError>(Response::builder().status(status).body(()).unwrap()) }
//! });
//! let service = stamina::tower::RetryLayer::new(HttpOn::new())
//!     .name("inventory")
//!     .on_retry(|details: &stamina::RetryDetails<'_>| assert_eq!(details.error_type(), "503"))
//!     .layer(flaky);
//! let response = service.oneshot(http::Request::new(String::new())).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(calls.into_inner(), 3);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```

use std::error::Error;
use std::fmt;
use std::io;

use http::{HeaderMap, StatusCode};

use crate::instrument::ErrorView;
use crate::{AttemptTimedOut, Decision, RetryOn};

/// A response as the classification reads it: its status and its headers. Implemented for
/// `http::Response` and, with the `reqwest-middleware` feature, `reqwest::Response`.
pub trait HttpResponse {
    /// The response's status.
    fn status(&self) -> StatusCode;
    /// The response's headers.
    fn headers(&self) -> &HeaderMap;
}

impl<B> HttpResponse for http::Response<B> {
    fn status(&self) -> StatusCode {
        self.status()
    }

    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
}

#[cfg(feature = "reqwest-middleware")]
impl HttpResponse for ::reqwest_middleware::reqwest::Response {
    fn status(&self) -> StatusCode {
        self.status()
    }

    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
}

/// An error below HTTP as the classification reads it: as an [`Error`] whose `source()` chain
/// it walks, when it is one.
///
/// Implemented for the boxed errors of tower stacks (`tower::BoxError` and its kin),
/// `std::io::Error`, [`AttemptTimedOut`], `Infallible`, `hyper::Error`, and with the
/// `reqwest-middleware` feature `reqwest::Error` and `reqwest_middleware::Error`. For an error type
/// of your own, return it:
///
/// ```
/// use std::error::Error;
///
/// #[derive(Debug)]
/// struct ClientError(std::io::Error);
/// # impl std::fmt::Display for ClientError {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("client") }
/// # }
/// impl Error for ClientError {
///     fn source(&self) -> Option<&(dyn Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// impl stamina::http::TransportError for ClientError {
///     fn as_error(&self) -> Option<&(dyn Error + 'static)> {
///         Some(self)
///     }
/// }
/// ```
///
/// A client's error type from another crate (hyper-util's, say) cannot be given this trait
/// outside that crate: box it under the layer (`map_err(tower::BoxError::from)`).
pub trait TransportError {
    /// The error as an [`Error`], if it is one.
    fn as_error(&self) -> Option<&(dyn Error + 'static)>;
}

macro_rules! transport_error {
    ($($ty:ty => |$error:ident| $as_error:expr),* $(,)?) => {$(
        impl TransportError for $ty {
            fn as_error(&self) -> Option<&(dyn Error + 'static)> {
                let $error = self;
                Some($as_error)
            }
        }
    )*};
}

transport_error! {
    Box<dyn Error + Send + Sync> => |error| &**error,
    Box<dyn Error + Send> => |error| &**error,
    Box<dyn Error> => |error| &**error,
    io::Error => |error| error,
    AttemptTimedOut => |error| error,
    hyper::Error => |error| error,
}

#[cfg(feature = "reqwest-middleware")]
transport_error! {
    ::reqwest_middleware::reqwest::Error => |error| error,
    ::reqwest_middleware::Error => |error| match error {
        ::reqwest_middleware::Error::Reqwest(error) => error,
        ::reqwest_middleware::Error::Middleware(error) => &**error,
    },
}

impl TransportError for std::convert::Infallible {
    fn as_error(&self) -> Option<&(dyn Error + 'static)> {
        match *self {}
    }
}

/// What went wrong below HTTP, as a short class for labels and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// The connection could not be made (refused, unreachable).
    Connect,
    /// The attempt ran out of time: the client's timeout, an [`AttemptTimedOut`], or the
    /// system's.
    Timeout,
    /// The connection broke or was closed while the request was in flight.
    Reset,
    /// Sending the request's body or reading the response's failed.
    Body,
    /// Anything else: a bad URL, a redirect loop, a middleware's error, an unknown error.
    Other,
}

impl Transport {
    /// The class of `error`: the first class found along its `source()` chain, from the error
    /// itself.
    ///
    /// ```
    /// use std::io;
    /// use stamina::http::Transport;
    ///
    /// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    /// assert_eq!(Transport::of(&refused), Transport::Connect);
    /// assert_eq!(Transport::of(&io::Error::other("?")), Transport::Other);
    /// ```
    pub fn of(error: &(dyn Error + 'static)) -> Self {
        std::iter::successors(Some(error), |&error| error.source())
            .find_map(class_of)
            .unwrap_or(Self::Other)
    }

    /// The class of `error`, [`Other`](Self::Other) when it is not an [`Error`].
    pub fn of_error<E: TransportError + ?Sized>(error: &E) -> Self {
        error.as_error().map_or(Self::Other, Self::of)
    }

    /// Whether another attempt may succeed: a connection that failed, timed out or broke.
    pub const fn is_transient(self) -> bool {
        matches!(self, Self::Connect | Self::Timeout | Self::Reset)
    }

    /// The class as a label: `connect`, `timeout`, `reset`, `body` or `other`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Reset => "reset",
            Self::Body => "body",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The class of one error of a chain, if it tells one.
fn class_of(error: &(dyn Error + 'static)) -> Option<Transport> {
    if error.is::<AttemptTimedOut>() {
        return Some(Transport::Timeout);
    }
    if let Some(error) = error.downcast_ref::<io::Error>() {
        return match error.kind() {
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable => Some(Transport::Connect),
            io::ErrorKind::TimedOut => Some(Transport::Timeout),
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => Some(Transport::Reset),
            _ => None,
        };
    }
    #[cfg(feature = "reqwest-middleware")]
    if let Some(error) = error.downcast_ref::<::reqwest_middleware::reqwest::Error>() {
        return match error {
            _ if error.is_connect() => Some(Transport::Connect),
            _ if error.is_timeout() => Some(Transport::Timeout),
            _ if error.is_body() || error.is_decode() => Some(Transport::Body),
            _ => None,
        };
    }
    // hyper's own timeout (`is_timeout`) is a server's, on a request's head: a client's come
    // as `io::Error`s or an `AttemptTimedOut`.
    let error = error.downcast_ref::<hyper::Error>()?;
    match error {
        _ if error.is_incomplete_message() || error.is_canceled() => Some(Transport::Reset),
        _ if error.is_body_write_aborted() => Some(Transport::Body),
        _ => None,
    }
}

/// HTTP's transient failures: the `on` decision of both adapters' HTTP defaults.
///
/// | outcome | decision |
/// |---|---|
/// | 408, 429, 500, 502, 503, 504 with a valid `Retry-After` | [`Decision::RetryAfter`] the wait it asks for |
/// | 408, 429, 500, 502, 503, 504 otherwise | [`Decision::Retry`] (backoff) |
/// | any other response, other 4xx and 5xx included | [`Decision::DontRetry`] |
/// | an error of class [`Connect`](Transport::Connect), [`Timeout`](Transport::Timeout) or [`Reset`](Transport::Reset) | [`Decision::Retry`] |
/// | any other error (a bad URL, a redirect loop, a body error, a middleware's error) | [`Decision::DontRetry`] |
///
/// It retries every method: narrow it in a predicate of your own for calls that are not
/// idempotent. `Retry-After` is read with [`retry_after`](crate::retry_after) (delay-seconds
/// or an HTTP-date).
///
/// ```
/// use stamina::Decision;
///
/// let busy = http::Response::builder().status(503).header("retry-after", "2").body(()).unwrap();
/// let outcome: Result<_, tower::BoxError> = Ok(busy);
/// assert_eq!(stamina::http::default_on(&outcome), Decision::RetryAfter(std::time::Duration::from_secs(2)));
/// ```
pub fn default_on<R: HttpResponse, E: TransportError>(outcome: &Result<R, E>) -> Decision {
    match outcome {
        Ok(response) => match response.status() {
            StatusCode::REQUEST_TIMEOUT
            | StatusCode::TOO_MANY_REQUESTS
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => {
                let header = response.headers().get(http::header::RETRY_AFTER);
                let wait = header.and_then(|value| crate::retry_after(value.to_str().ok()?));
                wait.map_or(Decision::Retry, Decision::RetryAfter)
            }
            _ => Decision::DontRetry,
        },
        Err(error) => Transport::of_error(error).is_transient().into(),
    }
}

/// The label of an outcome: a response's status code (`"503"`), an error's [`Transport`]
/// class (`"timeout"`).
///
/// ```
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// let outcome: Result<http::Response<()>, _> = Err(refused);
/// assert_eq!(stamina::http::label(&outcome), "connect");
/// let outcome: Result<_, std::io::Error> = Ok(http::Response::builder().status(429).body(()).unwrap());
/// assert_eq!(stamina::http::label(&outcome), "429");
/// ```
pub fn label<R: HttpResponse, E: TransportError>(outcome: &Result<R, E>) -> &'static str {
    match outcome {
        Ok(response) => status_label(response.status()),
        Err(error) => Transport::of_error(error).as_str(),
    }
}

/// The three digits of every status code, `100` to `999`, one after the other.
static CODES: [u8; 2700] = codes();

const fn codes() -> [u8; 2700] {
    let mut digits = [0; 2700];
    let mut i = 0;
    while i < 900 {
        let code = i + 100;
        digits[3 * i] = b'0' + (code / 100) as u8;
        digits[3 * i + 1] = b'0' + (code / 10 % 10) as u8;
        digits[3 * i + 2] = b'0' + (code % 10) as u8;
        i += 1;
    }
    digits
}

/// A status code as a label that lives as long as the program: `"503"`.
///
/// ```
/// assert_eq!(stamina::http::status_label(http::StatusCode::NOT_FOUND), "404");
/// ```
pub fn status_label(status: StatusCode) -> &'static str {
    // `StatusCode` holds 100 to 999.
    let at = usize::from(status.as_u16().saturating_sub(100)) * 3;
    CODES
        .get(at..at + 3)
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .unwrap_or("other")
}

/// An `on` predicate over HTTP outcomes (`Result<Response, Error>`) that shows the hooks what
/// happened: the response or the error itself (for
/// [`Cause::downcast_ref`](crate::instrument::Cause::downcast_ref), and the error's `source()`
/// chain through [`Cause::as_error`](crate::instrument::Cause::as_error)), labelled with
/// [`label`] (or a label of your own, [`error_label`](Self::error_label)).
///
/// [`HttpOn::new`] decides with [`default_on`]; [`HttpOn::with`] with a predicate of yours.
///
/// ```
/// use stamina::Decision;
/// use stamina::http::{HttpOn, default_on};
///
/// // A 404 is retried too (an eventually consistent read), else the defaults; errors are
/// // labelled `transport` on the dashboards.
/// let on = HttpOn::with(|outcome: &Result<http::Response<()>, tower::BoxError>| match outcome {
///     Ok(response) if response.status() == 404 => Decision::Retry,
///     _ => default_on(outcome),
/// })
/// .error_label(|outcome: &Result<http::Response<()>, tower::BoxError>| match outcome {
///     Ok(response) => stamina::http::status_label(response.status()),
///     Err(_) => "transport",
/// });
/// let layer = stamina::tower::RetryLayer::new(on);
/// # let _ = layer;
/// ```
#[derive(Clone, Copy)]
#[must_use = "an `on` predicate does nothing until it is given to a retry loop"]
pub struct HttpOn<On = DefaultOn, L = DefaultLabel> {
    on: On,
    label: L,
}

/// The decisions of [`default_on`], as a type: [`HttpOn`]'s default predicate.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultOn;

impl<R: HttpResponse, E: TransportError> RetryOn<Result<R, E>> for DefaultOn {
    fn decide(&self, outcome: &Result<R, E>) -> Decision {
        default_on(outcome)
    }
}

/// The labels of [`label`], as a type: [`HttpOn`]'s default label.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultLabel;

/// Labels an HTTP outcome for the hooks: [`DefaultLabel`], or any
/// `Fn(&Result<R, E>) -> &'static str`.
pub trait OutcomeLabel<R, E> {
    /// The label of `outcome`.
    fn label(&self, outcome: &Result<R, E>) -> &'static str;
}

impl<R: HttpResponse, E: TransportError> OutcomeLabel<R, E> for DefaultLabel {
    fn label(&self, outcome: &Result<R, E>) -> &'static str {
        label(outcome)
    }
}

impl<R, E, F: Fn(&Result<R, E>) -> &'static str> OutcomeLabel<R, E> for F {
    fn label(&self, outcome: &Result<R, E>) -> &'static str {
        self(outcome)
    }
}

impl HttpOn {
    /// [`default_on`]'s decisions, labelled with [`label`].
    pub const fn new() -> Self {
        Self::with(DefaultOn)
    }
}

impl Default for HttpOn {
    fn default() -> Self {
        Self::new()
    }
}

impl<On> HttpOn<On> {
    /// `on`'s decisions (any predicate over the outcome: see [`RetryOn`]), labelled with
    /// [`label`].
    pub const fn with(on: On) -> Self {
        Self {
            on,
            label: DefaultLabel,
        }
    }
}

impl<On, L> HttpOn<On, L> {
    /// Labels each outcome with `label`'s answer, which the built-in hooks report as
    /// `error_type` (a log field, a metric label): keep it to a few stable values.
    pub fn error_label<L2>(self, label: L2) -> HttpOn<On, L2> {
        HttpOn { on: self.on, label }
    }
}

impl<On, L, R, E> RetryOn<Result<R, E>> for HttpOn<On, L>
where
    On: RetryOn<Result<R, E>>,
    L: OutcomeLabel<R, E>,
    R: 'static,
    E: TransportError + 'static,
{
    fn decide(&self, outcome: &Result<R, E>) -> Decision {
        self.on.decide(outcome)
    }

    fn error_view<'e>(&self, outcome: &'e Result<R, E>) -> ErrorView<'e> {
        let view = match outcome {
            Ok(response) => ErrorView::of_any(response),
            Err(error) => match error.as_error() {
                Some(as_error) => ErrorView::of_any(error).with_error(as_error),
                None => ErrorView::of_any(error),
            },
        };
        view.with_label(self.label.label(outcome))
    }
}

impl<On, L> fmt::Debug for HttpOn<On, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOn")
            .field("on", &format_args!("{}", std::any::type_name::<On>()))
            .field("label", &format_args!("{}", std::any::type_name::<L>()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_code_is_its_own_label() {
        for code in 100..=999_u16 {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_label(status), code.to_string());
        }
    }

    #[test]
    fn classes_are_found_along_the_chain() {
        let wrapped: Box<dyn Error + Send + Sync> =
            Box::new(io::Error::new(io::ErrorKind::ConnectionReset, "peer"));
        assert_eq!(Transport::of_error(&wrapped), Transport::Reset);
        let timed_out = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(Transport::of(&timed_out), Transport::Timeout);
        assert_eq!(Transport::of(&io::Error::other("?")), Transport::Other);
        assert!(!Transport::Body.is_transient());
        assert!(Transport::Connect.is_transient());
    }

    #[test]
    fn classes_print_as_their_labels() {
        let shown =
            [Transport::Connect, Transport::Timeout, Transport::Body].map(|t| t.to_string());
        assert_eq!(shown, ["connect", "timeout", "body"]);
    }

    #[test]
    fn a_response_s_retry_after_is_read_from_its_headers() {
        let busy = http::Response::builder()
            .status(503)
            .header("retry-after", "2")
            .body(())
            .unwrap();
        let outcome: Result<_, io::Error> = Ok(busy);
        assert_eq!(
            default_on(&outcome),
            Decision::RetryAfter(std::time::Duration::from_secs(2))
        );
    }

    #[test]
    fn a_label_of_your_own_is_the_one_the_hooks_see() {
        type Outcome = Result<http::Response<()>, io::Error>;
        let on = HttpOn::new().error_label(|_: &Outcome| "mine");
        let outcome: Outcome = Err(io::Error::other("down"));
        let cause = crate::instrument::Cause::new(&outcome, on.error_view(&outcome));
        assert_eq!(
            cause.show(crate::instrument::ShowError::Type).to_string(),
            "mine"
        );
        assert_eq!(
            format!("{on:?}"),
            format!(
                "HttpOn {{ on: stamina::http::DefaultOn, label: {} }}",
                std::any::type_name_of_val(&on.label)
            )
        );
    }
}
