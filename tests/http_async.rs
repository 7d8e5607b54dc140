//! End to end with an async HTTP client (reqwest on tokio) against a flaky server on 127.0.0.1:
//! the attempt stream and the async callers.
//!
//! Waits are recorded by a `FakeSleeper` (no real sleep); only the I/O is real. Attempt timeouts
//! are cut by a sleeper that watches the server ([`CutsHangs`]), so that no answer has to beat a
//! real timer on a busy machine; the deadline test alone runs on real time, where only a hung
//! request has to time out.
#![cfg(feature = "tokio")]

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stamina::testing::FakeSleeper;
use stamina::{
    AsyncRetryingCaller, AttemptTimedOut, Decision, Sleeper, parse_retry_after, retry_context,
};
use support::{FlakyServer, Reply};

/// The attempt timeout of the tests that cut hung requests.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// A sleeper whose attempt timeouts (sleeps of [`ATTEMPT_TIMEOUT`]) end when the server holds a
/// hung request, and never for a request it answers: the n-th timeout ends once the server has
/// taken n hung requests. Other sleeps (the waits between attempts) are recorded and skipped, as
/// by a [`FakeSleeper`].
#[derive(Clone)]
struct CutsHangs<'a> {
    server: &'a FlakyServer,
    timeouts: Arc<AtomicUsize>,
    waits: FakeSleeper,
}

impl<'a> CutsHangs<'a> {
    fn new(server: &'a FlakyServer) -> Self {
        Self {
            server,
            timeouts: Arc::default(),
            waits: FakeSleeper::new(),
        }
    }
}

impl<'a> Sleeper for CutsHangs<'a> {
    type Sleep = Pin<Box<dyn Future<Output = ()> + 'a>>;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        if duration != ATTEMPT_TIMEOUT {
            return Box::pin(self.waits.sleep(duration));
        }
        let nth = self.timeouts.fetch_add(1, Ordering::SeqCst) + 1;
        let server = self.server;
        Box::pin(async move {
            let hung = || {
                server
                    .served()
                    .iter()
                    .filter(|r| **r == Reply::Hang)
                    .count()
            };
            while hung() < nth {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    }

    fn now(&self) -> Instant {
        self.waits.now()
    }
}

/// Sun, 06 Nov 1994 08:48:20 GMT: the "now" against which HTTP-dates are read, so that the
/// waits they ask for are exact.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(784_111_700)
}

const LATER_BY_77S: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

#[derive(Debug)]
enum FetchError {
    /// The server answered with a status other than 2xx.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// No answer: refused, reset, or the client's own timeout.
    Transport(reqwest::Error),
    /// The attempt timeout dropped the request.
    TimedOut(AttemptTimedOut),
}

impl From<AttemptTimedOut> for FetchError {
    fn from(error: AttemptTimedOut) -> Self {
        Self::TimedOut(error)
    }
}

/// 5xx and 429 are transient (after the server's `Retry-After` if it sent one), other 4xx are
/// not; transport errors and attempt timeouts are.
fn on(error: &FetchError) -> Decision {
    match error {
        FetchError::Status { code, retry_after } if *code == 429 || *code >= 500 => retry_after
            .as_deref()
            .and_then(|value| parse_retry_after(value, now()))
            .map_or(Decision::Retry, Decision::RetryAfter),
        FetchError::Status { .. } => Decision::DontRetry,
        FetchError::Transport(_) | FetchError::TimedOut(_) => Decision::Retry,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a reqwest client")
}

/// A GET whose timeout, if any, covers the whole request, answer included.
async fn get(
    client: &reqwest::Client,
    url: &str,
    timeout: Option<Duration>,
) -> Result<String, FetchError> {
    let mut request = client.get(url);
    if let Some(timeout) = timeout {
        request = request.timeout(timeout);
    }
    let response = request.send().await.map_err(FetchError::Transport)?;
    if !response.status().is_success() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        return Err(FetchError::Status {
            code: response.status().as_u16(),
            retry_after,
        });
    }
    response.text().await.map_err(FetchError::Transport)
}

fn short(error: &FetchError) -> String {
    match error {
        FetchError::Status { code, .. } => code.to_string(),
        FetchError::Transport(_) => "transport".to_owned(),
        FetchError::TimedOut(_) => "timed out".to_owned(),
    }
}

/// Runs the stream against `server` with a `FakeSleeper`; returns the outcome, each attempt's
/// failure in short form and the sleeper.
async fn fetch(
    server: &FlakyServer,
    context: stamina::RetryContext<fn(&FetchError) -> Decision>,
) -> (Result<String, FetchError>, Vec<String>, FakeSleeper) {
    let client = client();
    let url = server.url("/resource");
    let sleeper = FakeSleeper::new();
    let mut attempts = context.into_stream_with(sleeper.clone());
    let mut failures = Vec::new();
    while let Some(attempt) = attempts.next().await {
        let result = get(&client, &url, attempt.remaining()).await;
        if let Err(error) = &result {
            failures.push(short(error));
        }
        match attempt.record(result) {
            Ok(Some(body)) => return (Ok(body), failures, sleeper),
            Ok(None) => {}
            Err(error) => return (Err(error), failures, sleeper),
        }
    }
    unreachable!("the loop ends with a value or an error")
}

fn context() -> stamina::RetryContext<fn(&FetchError) -> Decision> {
    retry_context(on as fn(&FetchError) -> Decision).wait_jitter(Duration::ZERO)
}

fn ms(millis: &[u64]) -> Vec<Duration> {
    millis.iter().copied().map(Duration::from_millis).collect()
}

#[tokio::test]
async fn server_errors_and_429_are_retried_with_backoff() {
    let server = FlakyServer::start([
        Reply::status(503),
        Reply::status(500),
        Reply::status(429),
        Reply::ok("hello"),
    ]);
    let (result, failures, sleeper) = fetch(&server, context()).await;
    assert_eq!(result.unwrap(), "hello");
    assert_eq!(failures, ["503", "500", "429"]);
    assert_eq!(server.hits(), 4);
    assert_eq!(sleeper.sleeps(), ms(&[100, 200, 400]));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = FlakyServer::start([Reply::status(404), Reply::ok("never asked for")]);
    let (result, failures, sleeper) = fetch(&server, context()).await;
    assert!(matches!(result, Err(FetchError::Status { code: 404, .. })));
    assert_eq!(failures, ["404"]);
    assert_eq!(server.hits(), 1);
    assert!(sleeper.sleeps().is_empty());
}

#[tokio::test]
async fn retry_after_sets_the_wait_in_seconds_and_as_an_http_date() {
    let server = FlakyServer::start([
        Reply::status(503).retry_after("3"),
        Reply::status(429).retry_after(LATER_BY_77S),
        Reply::ok("hello"),
    ]);
    let context = context().timeout(Duration::from_secs(120));
    let (result, failures, sleeper) = fetch(&server, context).await;
    assert_eq!(result.unwrap(), "hello");
    assert_eq!(failures, ["503", "429"]);
    assert_eq!(
        sleeper.sleeps(),
        [Duration::from_secs(3), Duration::from_secs(77)]
    );
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn connection_resets_are_retried() {
    let server = FlakyServer::start([Reply::Reset, Reply::Reset, Reply::ok("hello")]);
    let (result, failures, sleeper) = fetch(&server, context()).await;
    assert_eq!(result.unwrap(), "hello");
    assert_eq!(failures, ["transport", "transport"]);
    assert_eq!(server.hits(), 3);
    assert_eq!(sleeper.sleeps(), ms(&[100, 200]));
}

#[tokio::test]
async fn bound_async_caller_retries_a_request() {
    let server = FlakyServer::start([
        Reply::status(503).retry_after("1"),
        Reply::Reset,
        Reply::status(502),
        Reply::ok("hello"),
    ]);
    let sleeper = FakeSleeper::new();
    let caller = AsyncRetryingCaller::new()
        .wait_jitter(Duration::ZERO)
        .sleeper(sleeper.clone())
        .on(on);
    let client = client();
    let url = server.url("/resource");
    let body = caller.call(|| get(&client, &url, None)).await.unwrap();
    assert_eq!(body, "hello");
    assert_eq!(server.hits(), 4);
    // The header's second, then the backoff of attempts 2 and 3.
    assert_eq!(sleeper.sleeps(), ms(&[1000, 200, 400]));
}

#[tokio::test]
async fn async_caller_gives_up_on_a_client_error() {
    let server = FlakyServer::start([Reply::status(500), Reply::status(401)]);
    let sleeper = FakeSleeper::new();
    let caller = AsyncRetryingCaller::new()
        .wait_jitter(Duration::ZERO)
        .sleeper(sleeper.clone());
    let client = client();
    let url = server.url("/resource");
    let error = caller
        .call(on, || get(&client, &url, None))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Status { code: 401, .. }));
    assert_eq!(server.hits(), 2);
    assert_eq!(sleeper.sleeps(), ms(&[100]));
}

/// A hung request is cut by the attempt timeout and retried.
#[tokio::test]
async fn a_hung_request_is_cut_by_the_attempt_timeout() {
    let server = FlakyServer::start([Reply::Hang, Reply::Hang, Reply::ok("hello")]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sleeper = CutsHangs::new(&server);
    let caller = AsyncRetryingCaller::new()
        .wait_initial(Duration::from_millis(1))
        .wait_jitter(Duration::ZERO)
        .sleeper(sleeper.clone())
        .attempt_timeout(ATTEMPT_TIMEOUT)
        .on_retry({
            let seen = Arc::clone(&seen);
            move |details: &stamina::RetryDetails<'_>| {
                seen.lock()
                    .unwrap()
                    .push((details.retry_num(), details.wait_for()));
            }
        })
        .on(on);
    let client = client();
    let url = server.url("/slow");
    let failures = std::cell::RefCell::new(Vec::new());
    let body = caller
        .call(|| async {
            let result = get(&client, &url, None).await;
            if let Err(error) = &result {
                failures.borrow_mut().push(short(error));
            }
            result
        })
        .await
        .unwrap();
    assert_eq!(body, "hello");
    // The timed-out attempts were dropped before they could record anything themselves.
    assert!(failures.borrow().is_empty(), "{failures:?}");
    assert_eq!(server.hits(), 3);
    assert_eq!(
        *seen.lock().unwrap(),
        [(1, Duration::from_millis(1)), (2, Duration::from_millis(2))]
    );
    assert_eq!(sleeper.waits.sleeps(), ms(&[1, 2]));
    assert_eq!(sleeper.timeouts.load(Ordering::SeqCst), 3);
}

/// The stream's attempt timeout gives the loop an `AttemptTimedOut` error to classify.
#[tokio::test]
async fn the_stream_classifies_a_timed_out_attempt() {
    let server = FlakyServer::start([Reply::Hang, Reply::ok("hello")]);
    let client = client();
    let url = server.url("/slow");
    let mut attempts = retry_context(|error: &FetchError| {
        assert!(
            matches!(error, FetchError::TimedOut(e) if e.after() == ATTEMPT_TIMEOUT),
            "{error:?}"
        );
        true
    })
    .wait_initial(Duration::from_millis(1))
    .wait_jitter(Duration::ZERO)
    .attempt_timeout(ATTEMPT_TIMEOUT)
    .sleeper(CutsHangs::new(&server))
    .into_stream();
    let mut calls = 0;
    let mut body = None;
    while let Some(attempt) = attempts.next().await {
        calls += 1;
        body = attempt.run(|| get(&client, &url, None)).await.unwrap();
    }
    assert_eq!(body.as_deref(), Some("hello"));
    assert_eq!(calls, 2);
    assert_eq!(server.hits(), 2);
}

/// The loop's remaining time becomes the request's timeout: a hung server cannot hold the
/// caller past the deadline, and no retry starts with no time left.
#[tokio::test]
async fn the_deadline_propagates_into_the_request_timeout() {
    let server = FlakyServer::start([Reply::Hang, Reply::ok("too late")]);
    let client = client();
    let url = server.url("/slow");
    let mut attempts = retry_context(on)
        .timeout(Duration::from_millis(200))
        .into_stream();
    let mut calls = 0;
    let mut outcome = None;
    while let Some(attempt) = attempts.next().await {
        calls += 1;
        let timeout = attempt.remaining().expect("a deadline");
        assert!(timeout > Duration::ZERO && timeout <= Duration::from_millis(200));
        outcome = Some(attempt.run(|| get(&client, &url, Some(timeout))).await);
    }
    assert_eq!(calls, 1);
    let error = outcome.unwrap().unwrap_err();
    assert!(
        matches!(&error, FetchError::Transport(e) if e.is_timeout()),
        "{error:?}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn each_retry_reaches_the_hooks() {
    let server = FlakyServer::start([
        Reply::status(503).retry_after("2"),
        Reply::Reset,
        Reply::ok("hello"),
    ]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let context = context().name("http.get").on_retry({
        let seen = Arc::clone(&seen);
        move |details: &stamina::RetryDetails<'_>| {
            seen.lock().unwrap().push((
                details.name().to_owned(),
                details.retry_num(),
                details.wait_for(),
                details.waited_so_far(),
                details.error_type().to_owned(),
            ));
        }
    });
    let (result, _, sleeper) = fetch(&server, context).await;
    assert_eq!(result.unwrap(), "hello");
    assert_eq!(sleeper.sleeps(), ms(&[2000, 200]));
    let name = "http.get".to_owned();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (
                name.clone(),
                1,
                Duration::from_secs(2),
                Duration::ZERO,
                "http_async::FetchError".to_owned()
            ),
            (
                name,
                2,
                Duration::from_millis(200),
                Duration::from_secs(2),
                "http_async::FetchError".to_owned()
            ),
        ]
    );
}
