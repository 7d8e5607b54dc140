//! End to end with `reqwest-middleware`: a `ClientWithMiddleware` with stamina's
//! `RetryMiddleware` against the flaky server of `support` on 127.0.0.1, then the same scenarios
//! with `reqwest-retry`, side by side.
//!
//! Waits are recorded by a `FakeSleeper` (no real sleep) unless a test says otherwise; only the
//! I/O is real. A middleware placed after the retry middleware records what each attempt sends.
#![cfg(feature = "reqwest-middleware")]

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Extensions;
use http_body_util::StreamBody;
use hyper::body::{Bytes, Frame};
use reqwest::{Request, Response};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use stamina::http::Transport;
use stamina::instrument::{GiveUpDetails, GiveUpReason, OnRetryHook};
use stamina::reqwest_middleware::{Outcome, RetryMiddleware, default_on};
use stamina::testing::{FakeSleeper, Testing, thread_active, thread_testing};
use stamina::{AsyncRetryingCaller, AttemptTimedOut, Decision, RetryBudget, parse_retry_after};
use support::{FlakyServer, Reply};

type BoxFuture<'a> =
    Pin<Box<dyn Future<Output = reqwest_middleware::Result<Response>> + Send + 'a>>;

/// Sun, 06 Nov 1994 08:48:20 GMT: the "now" against which HTTP-dates are read in the tests
/// that need exact waits.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(784_111_700)
}

const LATER_BY_77S: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

fn ms(millis: &[u64]) -> Vec<Duration> {
    millis.iter().copied().map(Duration::from_millis).collect()
}

fn reply(status: u16, body: &str) -> Reply {
    Reply::Respond {
        status,
        retry_after: None,
        body: body.to_owned(),
    }
}

/// What each attempt sent past the retry middleware: its timeout, and when it was sent.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Sent>>>);

/// A request's timeout and when it was sent.
type Sent = (Option<Duration>, std::time::Instant);

impl Recorder {
    fn timeouts(&self) -> Vec<Option<Duration>> {
        self.0.lock().unwrap().iter().map(|(t, _)| *t).collect()
    }

    fn attempts(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The real time between the starts of consecutive attempts.
    fn gaps(&self) -> Vec<Duration> {
        let sent = self.0.lock().unwrap();
        sent.windows(2).map(|w| w[1].1 - w[0].1).collect()
    }
}

impl Middleware for Recorder {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        request: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> BoxFuture<'async_trait>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        let sent = (request.timeout().copied(), std::time::Instant::now());
        self.0.lock().unwrap().push(sent);
        Box::pin(next.run(request, extensions))
    }
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a reqwest client")
}

/// A client with `middleware` first, then a recorder.
fn with_recorder(middleware: impl Middleware) -> (ClientWithMiddleware, Recorder) {
    let recorder = Recorder::default();
    let client = ClientBuilder::new(reqwest_client())
        .with(middleware)
        .with(recorder.clone())
        .build();
    (client, recorder)
}

/// The defaults, with a fake sleeper and no jitter.
fn middleware(sleeper: &FakeSleeper) -> RetryMiddleware<fn(&Outcome) -> Decision, FakeSleeper> {
    RetryMiddleware::new()
        .wait_jitter(Duration::ZERO)
        .sleeper(sleeper.clone())
}

async fn status_and_body(result: reqwest_middleware::Result<Response>) -> (u16, String) {
    let response = result.expect("a response");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// A request body that is a stream, which reqwest cannot clone.
fn streaming_body() -> reqwest::Body {
    let chunks = ["stream", "ed"].map(|c| Ok::<_, std::io::Error>(Frame::data(Bytes::from(c))));
    reqwest::Body::wrap(StreamBody::new(futures::stream::iter(chunks)))
}

#[tokio::test]
async fn the_default_transient_statuses_are_retried_with_backoff() {
    let server = FlakyServer::start(
        [408, 429, 500, 502, 503, 504]
            .map(Reply::status)
            .into_iter()
            .chain([Reply::ok("hello")]),
    );
    let sleeper = FakeSleeper::new();
    let (client, recorder) = with_recorder(middleware(&sleeper));
    let result = client.get(server.url("/")).send().await;
    assert_eq!(status_and_body(result).await, (200, "hello".to_owned()));
    assert_eq!(server.hits(), 7);
    assert_eq!(recorder.attempts(), 7);
    assert_eq!(sleeper.sleeps(), ms(&[100, 200, 400, 800, 1600, 3200]));
}

#[tokio::test]
async fn other_statuses_come_back_at_once() {
    for status in [400, 401, 404, 409, 501, 505] {
        let server = FlakyServer::start([Reply::status(status), Reply::ok("never asked for")]);
        let sleeper = FakeSleeper::new();
        let (client, _) = with_recorder(middleware(&sleeper));
        let (got, _) = status_and_body(client.get(server.url("/")).send().await).await;
        assert_eq!(got, status);
        assert_eq!(server.hits(), 1, "{status}");
        assert!(sleeper.sleeps().is_empty(), "{status}");
    }
}

#[tokio::test]
async fn the_last_response_comes_back_unchanged() {
    let server = FlakyServer::start([
        reply(503, "first"),
        reply(502, "second"),
        reply(503, "third"),
    ]);
    let sleeper = FakeSleeper::new();
    let (client, _) = with_recorder(middleware(&sleeper).attempts(3));
    let result = client.get(server.url("/")).send().await;
    assert_eq!(status_and_body(result).await, (503, "third".to_owned()));
    assert_eq!(server.hits(), 3);
    assert_eq!(sleeper.sleeps(), ms(&[100, 200]));
}

#[tokio::test]
async fn retry_after_in_seconds_and_as_an_http_date() {
    // The defaults read the header against the system's clock: seconds, and a date in the past
    // (a zero wait), are exact.
    let server = FlakyServer::start([
        Reply::status(503).retry_after("3"),
        Reply::status(429).retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
        Reply::ok("hello"),
    ]);
    let sleeper = FakeSleeper::new();
    let (client, _) = with_recorder(middleware(&sleeper));
    let result = client.get(server.url("/")).send().await;
    assert_eq!(status_and_body(result).await, (200, "hello".to_owned()));
    assert_eq!(sleeper.sleeps(), [Duration::from_secs(3), Duration::ZERO]);

    // A predicate of one's own reads dates against a clock of its choosing.
    let server = FlakyServer::start([
        Reply::status(503).retry_after(LATER_BY_77S),
        Reply::ok("hello"),
    ]);
    let sleeper = FakeSleeper::new();
    let on = |outcome: &Outcome| match outcome {
        Ok(response) if response.status() == 503 => response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, now()))
            .map_or(Decision::Retry, Decision::RetryAfter),
        _ => default_on(outcome),
    };
    let (client, _) = with_recorder(
        middleware(&sleeper)
            .timeout(Duration::from_secs(120))
            .on(on),
    );
    let result = client.get(server.url("/")).send().await;
    assert_eq!(status_and_body(result).await, (200, "hello".to_owned()));
    assert_eq!(sleeper.sleeps(), [Duration::from_secs(77)]);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_ends_the_call_with_that_response() {
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let hook = OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {}).on_give_up({
        let reasons = Arc::clone(&reasons);
        move |details: &GiveUpDetails<'_>| reasons.lock().unwrap().push(details.reason())
    });
    let server = FlakyServer::start([
        reply(503, "come back in an hour").retry_after("3600"),
        Reply::ok("never asked for"),
    ]);
    let sleeper = FakeSleeper::new();
    let (client, _) = with_recorder(middleware(&sleeper).on_retry_hook(hook));
    let result = client.get(server.url("/")).send().await;
    assert_eq!(
        status_and_body(result).await,
        (503, "come back in an hour".to_owned())
    );
    assert_eq!(server.hits(), 1);
    assert!(sleeper.sleeps().is_empty());
    assert_eq!(*reasons.lock().unwrap(), [GiveUpReason::DeadlineExceeded]);
}

#[tokio::test]
async fn resets_and_refused_connections_are_retried() {
    let server = FlakyServer::start([Reply::Reset, Reply::Reset, Reply::ok("hello")]);
    let sleeper = FakeSleeper::new();
    let (client, _) = with_recorder(middleware(&sleeper));
    let result = client.get(server.url("/")).send().await;
    assert_eq!(status_and_body(result).await, (200, "hello".to_owned()));
    assert_eq!(server.hits(), 3);
    assert_eq!(sleeper.sleeps(), ms(&[100, 200]));

    // A port nobody listens on: the connection is refused, every time; the last error comes
    // back as reqwest made it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let sleeper = FakeSleeper::new();
    let (client, recorder) = with_recorder(middleware(&sleeper).attempts(3));
    let error = client.get(&url).send().await.unwrap_err();
    assert!(
        matches!(&error, reqwest_middleware::Error::Reqwest(e) if e.is_connect()),
        "{error:?}"
    );
    assert_eq!(recorder.attempts(), 3);
    assert_eq!(sleeper.sleeps(), ms(&[100, 200]));
}

/// Reads a request's head from `stream`, up to its blank line (or until the client goes).
async fn read_head(stream: &tokio::net::TcpStream) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") && stream.readable().await.is_ok() {
        let mut buf = [0; 1024];
        match stream.try_read(&mut buf) {
            Ok(0) => break,
            Ok(read) => head.extend_from_slice(&buf[..read]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
}

/// A server on 127.0.0.1 that reads each request and closes the connection without answering,
/// `closes` times, then answers `200 hello` (for closes that are not resets).
async fn closing_server(closes: usize) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            read_head(&stream).await;
            if n >= closes {
                let answer =
                    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";
                if stream.writable().await.is_ok() {
                    let _ = stream.try_write(answer);
                }
            }
        }
    });
    addr
}

/// Asserts what the HTTP defaults make of a reqwest `error`: its class, its label and the
/// decision.
fn assert_class(error: reqwest::Error, class: Transport, label: &str, decision: Decision) {
    assert_eq!(Transport::of(&error), class, "{error:?}");
    let outcome: Outcome = Err(reqwest_middleware::Error::Reqwest(error));
    assert_eq!(stamina::http::label(&outcome), label);
    assert_eq!(default_on(&outcome), decision);
}

/// The error `request` ends with, within 10 s.
async fn error_of(request: reqwest::RequestBuilder) -> reqwest::Error {
    tokio::time::timeout(Duration::from_secs(10), request.send())
        .await
        .expect("the request ends within 10 s")
        .unwrap_err()
}

/// A server on 127.0.0.1 for one request: reads its head, then writes `answer` and closes the
/// connection, or without one holds the connection open, never answering.
async fn serve_once(answer: Option<&'static [u8]>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        read_head(&stream).await;
        let Some(answer) = answer else {
            return std::future::pending().await;
        };
        if stream.writable().await.is_ok() {
            let _ = stream.try_write(answer);
        }
    });
    addr
}

/// A body the server cuts short fails as a body failure (its class and label `body`), which
/// is not transient.
#[tokio::test]
async fn a_body_cut_short_is_a_body_failure() {
    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\nshort";
    let addr = serve_once(Some(answer)).await;
    let response = reqwest::get(format!("http://{addr}/")).await.unwrap();
    let error = response.bytes().await.unwrap_err();
    assert_class(error, Transport::Body, "body", Decision::DontRetry);
}

/// The client's own timeout, on a request the server never answers, is a `timeout` failure:
/// reqwest says so, though nothing in the error's chain is an `io::Error`.
#[tokio::test]
async fn the_client_s_timeout_is_a_timeout_failure() {
    let addr = serve_once(None).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let error = error_of(client.get(format!("http://{addr}/"))).await;
    assert!(error.is_timeout(), "{error:?}");
    assert_class(error, Transport::Timeout, "timeout", Decision::Retry);
}

/// A name that cannot be resolved is a `connect` failure: reqwest says so, though the
/// resolver's error is of no kind this crate knows.
#[tokio::test]
async fn a_name_that_does_not_resolve_is_a_connect_failure() {
    /// Resolves nothing, at once.
    struct NoSuchHost;
    impl reqwest::dns::Resolve for NoSuchHost {
        fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
            Box::pin(async { Err("no such host".into()) })
        }
    }
    let client = reqwest::Client::builder()
        .dns_resolver(NoSuchHost)
        .build()
        .unwrap();
    let error = error_of(client.get("http://stamina.test/")).await;
    assert!(error.is_connect(), "{error:?}");
    assert_class(error, Transport::Connect, "connect", Decision::Retry);
}

#[tokio::test]
async fn connections_closed_without_an_answer_are_retried() {
    let addr = closing_server(2).await;
    let sleeper = FakeSleeper::new();
    let (client, recorder) = with_recorder(middleware(&sleeper));
    let result = client.get(format!("http://{addr}/")).send().await;
    assert_eq!(status_and_body(result).await, (200, "hello".to_owned()));
    assert_eq!(recorder.attempts(), 3);
    assert_eq!(sleeper.sleeps(), ms(&[100, 200]));
}

#[tokio::test]
async fn a_streaming_body_is_sent_once() {
    let server = FlakyServer::start([reply(503, "busy"), Reply::ok("never asked for")]);
    let sleeper = FakeSleeper::new();
    // `on` is not asked about the outcome of a request that cannot be sent again.
    let asked = Arc::new(Mutex::new(0));
    let on = {
        let asked = Arc::clone(&asked);
        move |outcome: &Outcome| {
            *asked.lock().unwrap() += 1;
            default_on(outcome)
        }
    };
    let (client, _) = with_recorder(middleware(&sleeper).on(on));
    let result = client
        .post(server.url("/upload"))
        .body(streaming_body())
        .send()
        .await;
    assert_eq!(status_and_body(result).await, (503, "busy".to_owned()));
    assert_eq!(server.hits(), 1);
    assert!(sleeper.sleeps().is_empty());

    let server = FlakyServer::start([Reply::Reset, Reply::ok("never asked for")]);
    let result = client
        .post(server.url("/upload"))
        .body(streaming_body())
        .send()
        .await;
    assert!(
        matches!(&result, Err(reqwest_middleware::Error::Reqwest(e)) if e.is_request()),
        "{result:?}"
    );
    assert_eq!(server.hits(), 1);
    assert!(sleeper.sleeps().is_empty());
    assert_eq!(*asked.lock().unwrap(), 0);
}

/// The deadline and the attempt timeout cut an attempt still waiting for its response's head,
/// after the time left then (the least of the two): each cut attempt fails with an
/// `AttemptTimedOut` that says after how long, which the defaults retry. The requests keep
/// their own timeouts. (Real time for the cuts, a few tens of milliseconds; virtual time for the
/// waits.)
#[tokio::test]
async fn attempts_still_waiting_for_their_head_are_cut_at_the_time_left() {
    let server = FlakyServer::start([Reply::Hang, Reply::Hang, Reply::Hang, Reply::Hang]);
    let sleeper = FakeSleeper::new();
    let cuts = Arc::new(Mutex::new(Vec::new()));
    let record = {
        let cuts = Arc::clone(&cuts);
        move |details: &stamina::RetryDetails<'_>| {
            let error = details
                .caused_by()
                .downcast_ref::<reqwest_middleware::Error>();
            let Some(reqwest_middleware::Error::Middleware(error)) = error else {
                panic!("not a middleware error: {:?}", details.caused_by());
            };
            let timed_out = error.downcast_ref::<AttemptTimedOut>().unwrap();
            cuts.lock()
                .unwrap()
                .push((timed_out.after(), details.error_type().to_owned()));
        }
    };
    // A 90 ms deadline and a 20 ms backoff, at most 40 ms: the first attempt is cut after 90
    // ms, the second (20 ms of waits later) after 70 ms, the third (60 ms later) after 30 ms;
    // the next wait, 40 ms, would cross the deadline. The waits are virtual: only the hung
    // attempts take real time, 190 ms in all.
    let (client, recorder) = with_recorder(
        middleware(&sleeper)
            .timeout(Duration::from_millis(90))
            .wait_initial(Duration::from_millis(20))
            .wait_max(Duration::from_millis(40))
            .on_retry(record),
    );
    let call = client.get(server.url("/")).send();
    let error = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the deadline ends the call")
        .unwrap_err();
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("not a middleware error: {error:?}");
    };
    let last = error.downcast_ref::<AttemptTimedOut>().unwrap();
    assert_eq!(last.after(), Duration::from_millis(30));
    let cut = |ms| (Duration::from_millis(ms), "timeout".to_owned());
    assert_eq!(*cuts.lock().unwrap(), [cut(90), cut(70)]);
    assert_eq!(sleeper.sleeps(), ms(&[20, 40]));
    assert_eq!(server.hits(), 3);
    assert_eq!(recorder.timeouts(), [None, None, None]);

    // The attempt timeout takes part too, the least limit wins, and a request's own timeout
    // is left as it is.
    let server = FlakyServer::start([Reply::Hang]);
    let (client, recorder) = with_recorder(
        middleware(&sleeper)
            .attempts(2)
            .attempt_timeout(Duration::from_millis(500))
            .on(|_: &Outcome| true),
    );
    let request = client.get(server.url("/")).timeout(Duration::from_secs(3));
    let response = tokio::time::timeout(Duration::from_secs(5), request.send()).await;
    assert_eq!(response.unwrap().unwrap().status(), 200);
    assert_eq!(recorder.timeouts(), [Some(Duration::from_secs(3)); 2]);
    // Without a deadline or limits, nothing is cut and nothing is set.
    let (client, recorder) = with_recorder(
        middleware(&sleeper)
            .no_timeout()
            .attempts(2)
            .on(|_: &Outcome| true),
    );
    assert!(client.get(server.url("/")).send().await.is_ok());
    assert_eq!(recorder.timeouts(), [None, None]);
}

/// The deadline is about the attempts: a response that came back before it is read whole,
/// however long its body takes. (Real time: the body ends 700 ms after a 300 ms deadline.)
#[tokio::test]
async fn a_slow_body_behind_a_short_deadline_is_read_whole() {
    let server = FlakyServer::start([Reply::SlowBody {
        first: "first half, ".to_owned(),
        pause: Duration::from_millis(700),
        rest: "second half".to_owned(),
    }]);
    let client = ClientBuilder::new(reqwest_client())
        .with(RetryMiddleware::new().timeout(Duration::from_millis(300)))
        .build();
    let read = async {
        let response = client.get(server.url("/")).send().await?;
        Ok::<_, reqwest_middleware::Error>(response.text().await?)
    };
    let body = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .unwrap();
    assert_eq!(body.unwrap(), "first half, second half");
}

/// A hung server cannot hold the caller past the deadline: the attempt is cut then, with an
/// `AttemptTimedOut`. (Real time, 200 ms.)
#[tokio::test]
async fn a_hung_request_ends_at_the_deadline() {
    let server = FlakyServer::start([Reply::Hang, Reply::ok("too late")]);
    let (client, recorder) =
        with_recorder(RetryMiddleware::new().timeout(Duration::from_millis(200)));
    let call = client.get(server.url("/slow")).send();
    let error = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the deadline ends the call")
        .unwrap_err();
    let reqwest_middleware::Error::Middleware(error) = &error else {
        panic!("not a middleware error: {error:?}");
    };
    // The time left when the attempt started, on the real clock.
    let after = error.downcast_ref::<AttemptTimedOut>().unwrap().after();
    assert!(after <= Duration::from_millis(200) && after > Duration::from_millis(100));
    assert_eq!(recorder.attempts(), 1);
    assert_eq!(recorder.timeouts(), [None]);
}

#[tokio::test]
async fn hooks_see_the_failed_response_or_error_under_the_call_s_name() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = {
        let seen = Arc::clone(&seen);
        move |details: &stamina::RetryDetails<'_>| {
            seen.lock().unwrap().push((
                details.name().to_owned(),
                details.retry_num(),
                details.wait_for(),
                details.error_type().to_owned(),
            ));
        }
    };
    let server = FlakyServer::start([Reply::status(503).retry_after("2"), Reply::Reset]);
    let sleeper = FakeSleeper::new();
    let (client, _) = with_recorder(middleware(&sleeper).on_retry(record.clone()));
    assert!(client.get(server.url("/")).send().await.is_ok());
    let name = "RetryMiddleware GET".to_owned();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (name.clone(), 1, Duration::from_secs(2), "503".to_owned()),
            (name, 2, Duration::from_millis(200), "reset".to_owned()),
        ]
    );
    seen.lock().unwrap().clear();
    let server = FlakyServer::start([Reply::status(500)]);
    let (client, _) = with_recorder(middleware(&sleeper).name("inventory").on_retry(record));
    assert!(client.post(server.url("/")).send().await.is_ok());
    assert_eq!(seen.lock().unwrap()[0].0, "inventory");
}

#[tokio::test]
async fn a_shared_budget_caps_retries_across_calls() {
    let budget = RetryBudget::quota(10, 5, 10);
    let server = FlakyServer::start((0..10).map(|_| Reply::status(503)));
    let sleeper = FakeSleeper::new();
    let (client, recorder) = with_recorder(middleware(&sleeper).attempts(3).budget(&budget));
    let (status, _) = status_and_body(client.get(server.url("/")).send().await).await;
    assert_eq!((status, recorder.attempts()), (503, 3));
    assert_eq!(budget.available(), 0.0);
    let (status, _) = status_and_body(client.get(server.url("/")).send().await).await;
    assert_eq!((status, recorder.attempts()), (503, 4), "no retry left");
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn the_switches_apply() {
    let server = FlakyServer::start((0..10).map(|_| Reply::status(503)));
    let sleeper = FakeSleeper::new();
    let (client, recorder) = with_recorder(middleware(&sleeper));
    {
        let _off = thread_active(false);
        assert!(client.get(server.url("/")).send().await.is_ok());
        assert_eq!(recorder.attempts(), 1);
    }
    {
        let _fast = thread_testing(Testing::new().attempts(3));
        assert!(client.get(server.url("/")).send().await.is_ok());
        assert_eq!(recorder.attempts(), 4);
        assert_eq!(sleeper.sleeps(), [Duration::ZERO; 2]);
    }
}

#[tokio::test]
async fn a_call_inside_another_loop_s_attempt_tries_once_when_suppressed() {
    let server = FlakyServer::start((0..20).map(|_| Reply::status(503)));
    let sleeper = FakeSleeper::new();
    let (client, recorder) = with_recorder(middleware(&sleeper).attempts(5).suppress_nested(true));
    let outer = AsyncRetryingCaller::new()
        .attempts(3)
        .sleeper(sleeper.clone());
    let url = server.url("/");
    let result = outer
        .call(
            |_: &reqwest_middleware::Error| true,
            || async {
                let response = client.get(&url).send().await?;
                response
                    .error_for_status()
                    .map_err(reqwest_middleware::Error::from)
            },
        )
        .await;
    assert!(result.is_err());
    assert_eq!(
        recorder.attempts(),
        3,
        "3 outer attempts of 1 call each, not 15"
    );
}

#[test]
fn the_middleware_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RetryMiddleware>();
    assert_send_sync::<RetryMiddleware<fn(&Outcome) -> Decision, FakeSleeper>>();
}

/// What a retry middleware did in one scenario.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    /// Requests that left the retry middleware.
    sent: usize,
    /// The waits between attempts, as far as they can be known exactly.
    waits: String,
    /// What the call returned.
    returned: String,
    /// The timeout of each request sent.
    timeouts: Vec<Option<Duration>>,
}

impl Seen {
    fn new(
        sent: usize,
        waits: &str,
        returned: &str,
        timeouts_ms: impl IntoIterator<Item = Option<u64>>,
    ) -> Self {
        Self {
            sent,
            waits: waits.to_owned(),
            returned: returned.to_owned(),
            timeouts: timeouts_ms
                .into_iter()
                .map(|t| t.map(Duration::from_millis))
                .collect(),
        }
    }
}

/// How a scenario's request is made.
type Make = fn(&ClientWithMiddleware, &str) -> reqwest_middleware::RequestBuilder;

fn get_url(client: &ClientWithMiddleware, url: &str) -> reqwest_middleware::RequestBuilder {
    client.get(url)
}

fn post_stream(client: &ClientWithMiddleware, url: &str) -> reqwest_middleware::RequestBuilder {
    client.post(url).body(streaming_body())
}

/// Sends the request `make` makes to `url` through `client`, whose recorder says what was
/// sent and when; `waits` reads the waits.
async fn observe(
    (client, recorder): (ClientWithMiddleware, Recorder),
    make: Make,
    url: &str,
    waits: impl FnOnce(&Recorder) -> String,
) -> Seen {
    let returned = match make(&client, url).send().await {
        Ok(response) => format!("the {} response", response.status().as_u16()),
        Err(reqwest_middleware::Error::Reqwest(error)) if error.is_connect() => {
            "reqwest's connect error".to_owned()
        }
        Err(reqwest_middleware::Error::Reqwest(error)) => format!("reqwest's error: {error}"),
        Err(reqwest_middleware::Error::Middleware(error)) => format!("an error: {error}"),
    };
    Seen {
        sent: recorder.attempts(),
        waits: waits(&recorder),
        returned,
        timeouts: recorder.timeouts(),
    }
}

/// Through stamina's middleware with the defaults and a fake sleeper, as `configure` adjusts.
async fn through_stamina(
    make: Make,
    url: &str,
    configure: impl FnOnce(
        RetryMiddleware<fn(&Outcome) -> Decision, FakeSleeper>,
    ) -> RetryMiddleware<fn(&Outcome) -> Decision, FakeSleeper>,
) -> Seen {
    let sleeper = FakeSleeper::new();
    let client = with_recorder(configure(middleware(&sleeper)));
    observe(client, make, url, |_| format!("{:?}", sleeper.sleeps())).await
}

/// Through reqwest-retry with a fixed backoff of `wait` and at most 3 retries, or retries for
/// at most `total` in all; the waits are the real gaps between attempts, each checked to be at
/// least `wait` (and below `below`) and written as `wait`.
async fn through_reqwest_retry(
    make: Make,
    url: &str,
    wait: Duration,
    total: Option<Duration>,
    below: Duration,
) -> Seen {
    use reqwest_retry::{Jitter, RetryTransientMiddleware, policies::ExponentialBackoff};
    let backoff = ExponentialBackoff::builder()
        .retry_bounds(wait, wait)
        .jitter(Jitter::None);
    let client = match total {
        None => with_recorder(RetryTransientMiddleware::new_with_policy(
            backoff.build_with_max_retries(3),
        )),
        Some(total) => with_recorder(RetryTransientMiddleware::new_with_policy(
            backoff.build_with_total_retry_duration(total),
        )),
    };
    observe(client, make, url, |recorder| {
        let gaps = recorder.gaps();
        if gaps.iter().all(|gap| *gap >= wait && *gap < below) {
            format!("{:?}", vec![wait; gaps.len()])
        } else {
            format!("unexpected: {gaps:?}")
        }
    })
    .await
}

/// The same scenarios through stamina's middleware and through reqwest-retry's: a 503 with
/// `Retry-After: 2`, a streaming body, a deadline shorter than the backoff, and a refused
/// connection. Prints the table
/// (`cargo test --all-features --test reqwest_middleware side_by_side -- --nocapture`).
#[tokio::test]
async fn side_by_side_with_reqwest_retry() {
    let ms = Duration::from_millis;
    let mut table = Vec::new();

    // 1. The server asks for 2 s; reqwest-retry waits its own 10 ms instead.
    let busy = || FlakyServer::start([Reply::status(503).retry_after("2"), Reply::ok("hello")]);
    let (a, b) = (busy(), busy());
    let stamina = through_stamina(get_url, &a.url("/"), |m| m).await;
    let other = through_reqwest_retry(get_url, &b.url("/"), ms(10), None, ms(2000)).await;
    assert_eq!(
        stamina,
        Seen::new(2, "[2s]", "the 200 response", [None, None])
    );
    assert_eq!(
        other,
        Seen::new(2, "[10ms]", "the 200 response", [None, None])
    );
    assert_eq!((a.hits(), b.hits()), (2, 2));
    table.push(("503 with `Retry-After: 2`", stamina, other));

    // 2. A streaming body, and a server that answers 503 once.
    let flaky = || FlakyServer::start([Reply::status(503), Reply::ok("hello")]);
    let (a, b) = (flaky(), flaky());
    let stamina = through_stamina(post_stream, &a.url("/"), |m| m).await;
    let other = through_reqwest_retry(post_stream, &b.url("/"), ms(10), None, ms(2000)).await;
    assert_eq!(stamina, Seen::new(1, "[]", "the 503 response", [None]));
    let not_cloneable =
        "an error: Request object is not cloneable. Are you passing a streaming body?";
    assert_eq!(other, Seen::new(0, "[]", not_cloneable, []));
    assert_eq!((a.hits(), b.hits()), (1, 0));
    table.push(("streaming body, 503 once", stamina, other));

    // 3. A 300 ms deadline, a 1 s backoff, a server that answers 503 twice: stamina does not
    // start a wait that would end past the deadline; reqwest-retry's ends 700 ms past it.
    let down = || FlakyServer::start([Reply::status(503), Reply::status(503)]);
    let (a, b) = (down(), down());
    let stamina = through_stamina(get_url, &a.url("/"), |m| {
        m.wait_initial(ms(1000)).timeout(ms(300))
    })
    .await;
    let other =
        through_reqwest_retry(get_url, &b.url("/"), ms(1000), Some(ms(300)), ms(2000)).await;
    assert_eq!(stamina, Seen::new(1, "[]", "the 503 response", [None]));
    assert_eq!(
        other,
        Seen::new(2, "[1s]", "the 503 response", [None, None])
    );
    table.push(("300 ms deadline, 1 s backoff, 503 twice", stamina, other));

    // 4. Nobody listens: every connection is refused. stamina returns reqwest's error as it
    // is; reqwest-retry wraps it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let stamina = through_stamina(get_url, &url, |m| m.attempts(4)).await;
    let other = through_reqwest_retry(get_url, &url, ms(10), None, ms(2000)).await;
    assert_eq!(
        stamina,
        Seen::new(
            4,
            "[100ms, 200ms, 400ms]",
            "reqwest's connect error",
            [None; 4]
        )
    );
    let wrapped = "an error: Request failed after 3 retries";
    assert_eq!(
        other,
        Seen::new(4, "[10ms, 10ms, 10ms]", wrapped, [None; 4])
    );
    table.push(("connection refused every time", stamina, other));

    // Neither middleware sets a request's timeout: both columns would say "none".
    println!("| scenario | | requests sent | waits | returned |");
    println!("|---|---|---:|---|---|");
    for (scenario, stamina, other) in table {
        for (who, seen) in [("stamina", stamina), ("reqwest-retry", other)] {
            let (sent, waits, returned) = (seen.sent, seen.waits, seen.returned);
            println!("| {scenario} | {who} | {sent} | {waits} | {returned} |");
        }
    }
}

/// `attempt_timeout` is a key of config strings, which the middleware applies: a hung attempt
/// is cut after it and retried. (Real time: two cuts of 40 ms.)
#[tokio::test]
async fn an_attempt_timeout_from_a_config_string_cuts_hung_attempts() {
    let policy: stamina::RetryPolicy =
        "attempts=2 attempt_timeout=40ms wait_initial=0s wait_jitter=0s"
            .parse()
            .unwrap();
    let server = FlakyServer::start([Reply::Hang, Reply::Hang]);
    let (client, recorder) = with_recorder(RetryMiddleware::new().policy(policy));
    let call = client.get(server.url("/")).send();
    let error = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the attempt timeout ends the call")
        .unwrap_err();
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("not a middleware error: {error:?}");
    };
    let timed_out = error.downcast_ref::<AttemptTimedOut>().unwrap();
    assert_eq!(timed_out.after(), Duration::from_millis(40));
    assert_eq!(recorder.attempts(), 2);
    assert_eq!(server.hits(), 2);
}

/// A hedged request: the first attempt's server is slow, the hedge sent after 50 ms answers
/// first and wins; the slow attempt is dropped; the hooks hear of both; the budget holds what
/// it held. (Real time: about 50 ms; the slow reply would take 5 s.)
#[tokio::test]
async fn a_hedge_answers_for_a_slow_attempt() {
    let slow = Reply::Slow {
        after: Duration::from_secs(5),
        body: "slow".to_owned(),
    };
    let server = FlakyServer::start([slow, Reply::ok("fast")]);
    let budget = RetryBudget::quota(20, 5, 10);
    let heard = Arc::new(Mutex::new(Vec::new()));
    let hook =
        stamina::instrument::OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {}).on_hedge({
            let heard = Arc::clone(&heard);
            move |d: &stamina::instrument::HedgeDetails<'_>| {
                heard.lock().unwrap().push((d.kind(), d.attempt()));
            }
        });
    let (client, recorder) = with_recorder(
        RetryMiddleware::new()
            .budget(&budget)
            .hedge(stamina::Hedging::after(Duration::from_millis(50)))
            .on_retry_hook(hook),
    );
    let call = async {
        let response = client.get(server.url("/")).send().await?;
        Ok::<_, reqwest_middleware::Error>(response.text().await?)
    };
    let body = tokio::time::timeout(Duration::from_secs(3), call)
        .await
        .unwrap();
    assert_eq!(body.unwrap(), "fast");
    assert_eq!(server.hits(), 2);
    assert_eq!(recorder.attempts(), 2);
    use stamina::instrument::HedgeKind::{Sent, Won};
    assert_eq!(*heard.lock().unwrap(), [(Sent, 2), (Won, 2)]);
    assert_eq!(budget.available(), 20.0);
}
