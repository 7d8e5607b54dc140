//! The tower layer: a hyper client `Service` wrapped by `RetryLayer` against the flaky server of
//! `support` on 127.0.0.1, and test services for back-pressure, cancellation, budgets, switches
//! and nesting.
//!
//! Waits are recorded by a `FakeSleeper` against the real server, and run on tokio's paused
//! clock against test services (which do no I/O).
#![cfg(all(feature = "tower", feature = "tokio"))]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use stamina::http::{HttpOn, Transport};
use stamina::instrument::{GiveUpDetails, GiveUpReason, OnRetryHook};
use stamina::testing::{FakeSleeper, Testing, thread_active, thread_testing};
use stamina::tower::RetryLayer;
use stamina::{
    AsyncRetryingCaller, AttemptTimedOut, Decision, NoAttemptTimeout, RetryBudget,
    parse_retry_after,
};
use support::{FlakyServer, Reply};
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt};

type HyperClient = Client<HttpConnector, Full<Bytes>>;
type Outcome = Result<Response<Incoming>, hyper_util::client::legacy::Error>;
type OnFn = fn(&Outcome) -> Decision;

/// Sun, 06 Nov 1994 08:48:20 GMT: the "now" against which HTTP-dates are read.
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

fn hyper_client() -> HyperClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http()
}

/// 5xx and 429 are retried (after the server's `Retry-After` if it sent one), other statuses
/// are the call's response, and every transport error is retried.
fn on_status<E>(outcome: &Result<Response<Incoming>, E>) -> Decision {
    match outcome {
        Ok(response) if response.status().is_server_error() || response.status() == 429 => response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, now()))
            .map_or(Decision::Retry, Decision::RetryAfter),
        Ok(_) => Decision::DontRetry,
        Err(_) => Decision::Retry,
    }
}

fn get(url: &str) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::default()).unwrap()
}

/// The status and body of a response.
async fn read(response: Response<Incoming>) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The layer for the hyper client: no jitter, a fake sleeper; `http` requests whose body is
/// `Clone` are `Clone`.
fn layer(sleeper: &FakeSleeper) -> RetryLayer<OnFn, FakeSleeper, NoAttemptTimeout> {
    RetryLayer::new(on_status as OnFn)
        .wait_jitter(Duration::ZERO)
        .sleeper(sleeper.clone())
}

#[tokio::test]
async fn a_hyper_client_retries_5xx_and_429_with_backoff() {
    let server = FlakyServer::start([
        Reply::status(503),
        Reply::status(500),
        Reply::status(429),
        Reply::ok("hello"),
    ]);
    let sleeper = FakeSleeper::new();
    let service = layer(&sleeper).layer(hyper_client());
    let response = service.oneshot(get(&server.url("/"))).await.unwrap();
    assert_eq!(read(response).await, (200, "hello".to_owned()));
    assert_eq!(server.hits(), 4);
    assert_eq!(sleeper.sleeps(), ms(&[100, 200, 400]));
}

#[tokio::test]
async fn a_client_error_is_the_response_at_once() {
    let server = FlakyServer::start([Reply::status(404), Reply::ok("never asked for")]);
    let sleeper = FakeSleeper::new();
    let service = layer(&sleeper).layer(hyper_client());
    let response = service.oneshot(get(&server.url("/"))).await.unwrap();
    assert_eq!(read(response).await, (404, "Not Found".to_owned()));
    assert_eq!(server.hits(), 1);
    assert!(sleeper.sleeps().is_empty());
}

#[tokio::test]
async fn retry_after_in_seconds_and_as_an_http_date() {
    let server = FlakyServer::start([
        Reply::status(503).retry_after("3"),
        Reply::status(429).retry_after(LATER_BY_77S),
        Reply::ok("hello"),
    ]);
    let sleeper = FakeSleeper::new();
    let service = layer(&sleeper)
        .timeout(Duration::from_secs(120))
        .layer(hyper_client());
    let response = service.oneshot(get(&server.url("/"))).await.unwrap();
    assert_eq!(read(response).await, (200, "hello".to_owned()));
    assert_eq!(
        sleeper.sleeps(),
        [Duration::from_secs(3), Duration::from_secs(77)]
    );
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn the_last_response_or_error_comes_back_unchanged() {
    let server = FlakyServer::start([
        reply(503, "first"),
        reply(500, "second"),
        reply(503, "third"),
    ]);
    let sleeper = FakeSleeper::new();
    let service = layer(&sleeper).attempts(3).layer(hyper_client());
    let response = service.oneshot(get(&server.url("/"))).await.unwrap();
    assert_eq!(read(response).await, (503, "third".to_owned()));
    assert_eq!(server.hits(), 3);

    let server = FlakyServer::start([Reply::Reset, Reply::Reset, Reply::Reset]);
    let sleeper = FakeSleeper::new();
    let service = layer(&sleeper).attempts(3).layer(hyper_client());
    let error = service.oneshot(get(&server.url("/"))).await.unwrap_err();
    // hyper's own error, not a wrapper.
    let error: &hyper_util::client::legacy::Error = &error;
    assert!(!error.is_connect(), "{error:?}");
    assert_eq!(server.hits(), 3);
    assert_eq!(sleeper.sleeps(), ms(&[100, 200]));
}

/// A request that cannot be copied is sent once and its outcome returned as it is: `on` is not
/// asked about it, for a response or an error.
#[tokio::test]
async fn a_request_that_cannot_be_cloned_is_sent_once() {
    let server = FlakyServer::start([Reply::status(503), Reply::Reset, Reply::ok("hello")]);
    let sleeper = FakeSleeper::new();
    let asked = Arc::new(AtomicU32::new(0));
    let on = {
        let asked = Arc::clone(&asked);
        move |outcome: &Outcome| {
            asked.fetch_add(1, Ordering::SeqCst);
            on_status(outcome)
        }
    };
    let service = RetryLayer::new(on)
        .sleeper(sleeper.clone())
        .clone_requests_with(|_: &Request<Full<Bytes>>| None)
        .layer(hyper_client());
    let response = service
        .clone()
        .oneshot(get(&server.url("/")))
        .await
        .unwrap();
    assert_eq!(read(response).await.0, 503);
    assert!(service.oneshot(get(&server.url("/"))).await.is_err());
    assert_eq!(server.hits(), 2);
    assert!(sleeper.sleeps().is_empty());
    assert_eq!(asked.load(Ordering::SeqCst), 0);
}

/// The attempt timeout cuts a hung request, which is retried. With an attempt timeout the
/// service's errors are `BoxError`s, whatever the wrapped service's (here hyper-util's), so no
/// `map_err` is needed. (Real time: the timeout races real I/O; the wait between the attempts
/// is 1 ms.)
#[tokio::test]
async fn a_hung_request_is_cut_by_the_attempt_timeout() {
    let server = FlakyServer::start([Reply::Hang, Reply::ok("hello")]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let retry = RetryLayer::new(|outcome: &Result<Response<Incoming>, BoxError>| {
        matches!(outcome, Err(e) if e.is::<AttemptTimedOut>())
    })
    .wait_initial(Duration::from_millis(1))
    .wait_jitter(Duration::ZERO)
    .attempt_timeout(Duration::from_millis(200))
    .on_retry({
        let seen = Arc::clone(&seen);
        move |details: &stamina::RetryDetails<'_>| {
            seen.lock()
                .unwrap()
                .push(format!("{:?}", details.caused_by()));
        }
    });
    let service = ServiceBuilder::new().layer(retry).service(hyper_client());
    let start = std::time::Instant::now();
    let response = service.oneshot(get(&server.url("/slow"))).await.unwrap();
    assert_eq!(read(response).await, (200, "hello".to_owned()));
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(server.hits(), 2);
    assert_eq!(*seen.lock().unwrap(), ["AttemptTimedOut { after: 200ms }"]);
}

/// The deadline cuts the attempt timeout short, and no retry starts without time left.
#[tokio::test(start_paused = true)]
async fn the_deadline_caps_the_attempt_timeout() {
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let hook = OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {}).on_give_up({
        let reasons = Arc::clone(&reasons);
        move |details: &GiveUpDetails<'_>| reasons.lock().unwrap().push(details.reason())
    });
    let calls = Arc::new(AtomicU32::new(0));
    let hung = tower::service_fn({
        let calls = Arc::clone(&calls);
        move |_: ()| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<(), BoxError>>()
        }
    });
    let service = RetryLayer::new(|_: &Result<(), BoxError>| true)
        .timeout(Duration::from_millis(150))
        .attempt_timeout(Duration::from_secs(10))
        .on_retry_hook(hook)
        .layer(hung);
    let start = tokio::time::Instant::now();
    let call = tokio::time::timeout(Duration::from_secs(60), service.oneshot(()));
    let error = call.await.expect("the deadline ends the call").unwrap_err();
    let timed_out = error.downcast_ref::<AttemptTimedOut>().expect("a timeout");
    assert_eq!(timed_out.after(), Duration::from_millis(150));
    assert_eq!(start.elapsed(), Duration::from_millis(150));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(*reasons.lock().unwrap(), [GiveUpReason::DeadlineExceeded]);
}

/// A service that is not ready for its first `pending` polls after each call, and fails its
/// first `failures` calls; it logs every poll and call, and panics if called when not ready.
#[derive(Clone)]
struct Gate {
    pending: u32,
    ready: bool,
    left: u32,
    failures: Arc<AtomicU32>,
    log: Arc<Mutex<Vec<&'static str>>>,
}

impl Gate {
    fn new(pending: u32, failures: u32) -> Self {
        Self {
            pending,
            ready: false,
            left: pending,
            failures: Arc::new(AtomicU32::new(failures)),
            log: Arc::default(),
        }
    }
}

impl Service<u32> for Gate {
    type Response = u32;
    type Error = &'static str;
    type Future = std::future::Ready<Result<u32, &'static str>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.left > 0 {
            self.left -= 1;
            self.log.lock().unwrap().push("pending");
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.log.lock().unwrap().push("ready");
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: u32) -> Self::Future {
        assert!(self.ready, "called before `poll_ready` said ready");
        self.ready = false;
        self.left = self.pending;
        self.log.lock().unwrap().push("call");
        let fail = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        std::future::ready(if fail { Err("busy") } else { Ok(request) })
    }
}

#[tokio::test(start_paused = true)]
async fn poll_ready_back_pressure_holds_for_every_attempt() {
    let gate = Gate::new(2, 2);
    let log = Arc::clone(&gate.log);
    let service = RetryLayer::new(|outcome: &Result<u32, &str>| outcome.is_err())
        .wait_jitter(Duration::ZERO)
        .layer(gate);
    let start = tokio::time::Instant::now();
    assert_eq!(service.oneshot(7).await, Ok(7));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    let attempt = ["pending", "pending", "ready", "call"];
    assert_eq!(*log.lock().unwrap(), attempt.repeat(3));
}

#[tokio::test(start_paused = true)]
async fn a_readiness_error_ends_the_call() {
    #[derive(Clone)]
    struct Broken;
    impl Service<()> for Broken {
        type Response = ();
        type Error = &'static str;
        type Future = std::future::Ready<Result<(), &'static str>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Err("closed"))
        }
        fn call(&mut self, (): ()) -> Self::Future {
            std::future::ready(Err("unavailable"))
        }
    }
    // The first call happens on a service made ready by hand; its retry finds it broken.
    let mut service = RetryLayer::new(|_: &Result<(), &str>| true).layer(Broken);
    assert_eq!(service.call(()).await, Err("closed"));
}

#[tokio::test(start_paused = true)]
async fn cancelling_mid_wait_drops_the_hook_guard_once_and_stops_the_call() {
    struct Counted(Arc<AtomicU32>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicU32::new(0));
    let calls = Arc::new(AtomicU32::new(0));
    let failing = tower::service_fn({
        let calls = Arc::clone(&calls);
        move |_: ()| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Err::<(), _>("down"))
        }
    });
    let service = RetryLayer::new(|_: &Result<(), &str>| true)
        .wait_initial(Duration::from_secs(1))
        .wait_jitter(Duration::ZERO)
        .on_retry({
            let dropped = Arc::clone(&dropped);
            move |_: &stamina::RetryDetails<'_>| {
                stamina::RetryGuard::new(Counted(Arc::clone(&dropped)))
            }
        })
        .layer(failing);
    let mut call = Box::pin(service.oneshot(()));
    tokio::select! {
        biased;
        _ = &mut call => panic!("the call ended during its first wait"),
        () = tokio::time::sleep(Duration::from_millis(500)) => {}
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        0,
        "the guard lives over the wait"
    );
    drop(call);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "nothing left running");
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

/// A service that answers `503` (as a response) and counts its calls.
fn unavailable(
    calls: &Arc<AtomicU32>,
) -> impl Service<(), Response = u16, Error = Infallible> + Clone {
    let calls = Arc::clone(calls);
    tower::service_fn(move |()| {
        calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok::<u16, Infallible>(503))
    })
}

fn on_503(outcome: &Result<u16, Infallible>) -> bool {
    matches!(outcome, Ok(503))
}

/// A service that answers its `status` (as a response) and counts its calls in a counter its
/// clones share.
#[derive(Clone, Debug, Default)]
struct Status {
    status: u16,
    calls: Arc<AtomicU32>,
}

impl Status {
    fn new(status: u16) -> Self {
        Self {
            status,
            calls: Arc::default(),
        }
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<()> for Status {
    type Response = u16;
    type Error = Infallible;
    type Future = std::future::Ready<Result<u16, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(self.status))
    }
}

#[tokio::test(start_paused = true)]
async fn get_ref_reads_the_wrapped_service() {
    let mut service = RetryLayer::new(on_503).attempts(3).layer(Status::new(503));
    assert_eq!(service.get_ref().status, 503);
    assert_eq!(service.get_ref().calls(), 0);
    assert_eq!(service.ready().await.unwrap().call(()).await, Ok(503));
    assert_eq!(
        service.get_ref().calls(),
        3,
        "the first attempt and two retries"
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_changed_through_get_mut_answers_the_next_calls() {
    let mut service = RetryLayer::new(on_503).attempts(3).layer(Status::new(503));
    service.get_mut().status = 200;
    assert_eq!(service.get_ref().status, 200);
    assert_eq!(service.ready().await.unwrap().call(()).await, Ok(200));
    assert_eq!(service.get_ref().calls(), 1, "accepted at once");
    service.get_mut().status = 503;
    assert_eq!(service.ready().await.unwrap().call(()).await, Ok(503));
    assert_eq!(service.get_ref().calls(), 4, "retried again");
}

#[tokio::test(start_paused = true)]
async fn into_inner_returns_the_wrapped_service_with_its_state() {
    let wrapped = Status::new(503);
    let calls = Arc::clone(&wrapped.calls);
    let mut service = RetryLayer::new(on_503).attempts(3).layer(wrapped);
    assert_eq!(service.ready().await.unwrap().call(()).await, Ok(503));
    let mut inner = service.into_inner();
    assert_eq!(inner.status, 503);
    assert!(
        Arc::ptr_eq(&inner.calls, &calls),
        "the same service's counter"
    );
    assert_eq!(inner.calls(), 3);
    // Unwrapped, a call is made once: no retry.
    assert_eq!(inner.ready().await.unwrap().call(()).await, Ok(503));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_shared_budget_caps_retries_across_calls() {
    let budget = RetryBudget::quota(10, 5, 10);
    let calls = Arc::new(AtomicU32::new(0));
    let service = RetryLayer::new(on_503)
        .attempts(3)
        .budget(&budget)
        .layer(unavailable(&calls));
    assert_eq!(service.clone().oneshot(()).await, Ok(503));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(budget.available(), 0.0);
    assert_eq!(service.oneshot(()).await, Ok(503));
    assert_eq!(calls.load(Ordering::SeqCst), 4, "no retry left");
}

#[tokio::test(start_paused = true)]
async fn the_switches_apply() {
    let calls = Arc::new(AtomicU32::new(0));
    let sleeper = FakeSleeper::new();
    let service = RetryLayer::new(on_503)
        .sleeper(sleeper.clone())
        .layer(unavailable(&calls));
    {
        let _off = thread_active(false);
        assert_eq!(service.clone().oneshot(()).await, Ok(503));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
    {
        let _fast = thread_testing(Testing::new().attempts(3));
        assert_eq!(service.oneshot(()).await, Ok(503));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(sleeper.sleeps(), [Duration::ZERO; 2]);
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_inside_another_loop_s_attempt_tries_once_when_suppressed() {
    let calls = Arc::new(AtomicU32::new(0));
    let inner = RetryLayer::new(on_503)
        .attempts(5)
        .suppress_nested(true)
        .layer(unavailable(&calls));
    let outer = AsyncRetryingCaller::new().attempts(3);
    let result = outer
        .call(
            |status: &u16| *status == 503,
            || {
                let inner = inner.clone();
                async move {
                    match inner.oneshot(()).await {
                        Ok(503) => Err(503),
                        Ok(status) => Ok(status),
                        Err(never) => match never {},
                    }
                }
            },
        )
        .await;
    assert_eq!(result, Err(503));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "3 outer attempts of 1 call each, not 15"
    );
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
    let service = layer(&sleeper)
        .on_retry(record.clone())
        .layer(hyper_client());
    assert!(service.oneshot(get(&server.url("/"))).await.is_ok());
    // Named after the wrapped service's type, without its arguments.
    let name = "hyper_util::Client".to_owned();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (
                name.clone(),
                1,
                Duration::from_secs(2),
                "http::Response<hyper::Incoming>".to_owned()
            ),
            (
                name,
                2,
                Duration::from_millis(200),
                "hyper_util::Error".to_owned()
            ),
        ]
    );
    seen.lock().unwrap().clear();
    let server = FlakyServer::start([Reply::status(500)]);
    let service = layer(&sleeper)
        .name("inventory")
        .on_retry(record)
        .layer(hyper_client());
    assert!(service.oneshot(get(&server.url("/"))).await.is_ok());
    assert_eq!(seen.lock().unwrap()[0].0, "inventory");
}

/// A server on 127.0.0.1 that reads one request's head, then writes `answer` and holds the
/// connection open.
async fn one_shot_server(answer: &'static [u8]) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0];
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let _ = stream.write_all(answer).await;
        std::future::pending::<()>().await;
    });
    addr
}

/// What hyper's errors are, below HTTP: an answer that is not HTTP is no transport failure
/// (`other`, not retried), a request body shorter than its `content-length` a `body` failure.
#[tokio::test]
async fn hyper_s_errors_are_classed_by_what_went_wrong() {
    let addr = one_shot_server(b"NOT HTTP AT ALL\r\n\r\n").await;
    let call = hyper_client().request(get(&format!("http://{addr}/")));
    let error = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the answer ends the request")
        .unwrap_err();
    assert_eq!(Transport::of(&error), Transport::Other, "{error:?}");
    assert!(!Transport::of(&error).is_transient());

    // A body of unknown length, so that hyper sends the `content-length` it is given.
    let addr = one_shot_server(b"").await;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
    let short = Request::post(format!("http://{addr}/"))
        .header(http::header::CONTENT_LENGTH, "10")
        .body(http_body_util::StreamBody::new(futures::stream::iter([
            Ok::<_, Infallible>(hyper::body::Frame::data(Bytes::from_static(b"12345"))),
        ])))
        .unwrap();
    let call = async { tokio::join!(connection, sender.send_request(short)).1 };
    let error = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the body's early end ends the request")
        .unwrap_err();
    assert!(error.is_body_write_aborted(), "{error:?}");
    assert_eq!(Transport::of(&error), Transport::Body, "{error:?}");
}

/// Over a boxed-error stack, `HttpOn` shows the hooks what happened: a response's status code
/// and an error's transport class as the label, and the response or the error to downcast.
#[tokio::test]
async fn http_outcomes_are_labelled_by_status_and_transport_class() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = {
        let seen = Arc::clone(&seen);
        move |details: &stamina::RetryDetails<'_>| {
            let cause = details.caused_by();
            let status = cause
                .downcast_ref::<Response<Incoming>>()
                .map(|response| response.status().as_u16());
            let class = cause
                .downcast_ref::<BoxError>()
                .map(|e| Transport::of(&**e));
            let label = details.error_type().to_owned();
            seen.lock().unwrap().push((label, status, class));
        }
    };
    let server = FlakyServer::start([Reply::status(503), Reply::Reset, Reply::status(429)]);
    let sleeper = FakeSleeper::new();
    let service = ServiceBuilder::new()
        .layer(
            RetryLayer::new(HttpOn::new())
                .sleeper(sleeper.clone())
                .on_retry(record),
        )
        .map_err(BoxError::from)
        .service(hyper_client());
    let response = service.oneshot(get(&server.url("/"))).await.unwrap();
    assert_eq!(read(response).await, (200, "ok".to_owned()));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("503".to_owned(), Some(503), None),
            ("reset".to_owned(), None, Some(Transport::Reset)),
            ("429".to_owned(), Some(429), None),
        ]
    );
    // Nobody listens: every connection is refused, a `connect` failure retried to the end.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    seen.lock().unwrap().clear();
    let labels = Arc::new(Mutex::new(Vec::new()));
    let service = ServiceBuilder::new()
        .layer(
            RetryLayer::new(HttpOn::new())
                .attempts(2)
                .sleeper(sleeper.clone())
                .on_retry({
                    let labels = Arc::clone(&labels);
                    move |details: &stamina::RetryDetails<'_>| {
                        labels.lock().unwrap().push(details.error_type().to_owned());
                    }
                }),
        )
        .map_err(BoxError::from)
        .service(hyper_client());
    let error = service.oneshot(get(&url)).await.unwrap_err();
    assert_eq!(Transport::of(&*error), Transport::Connect);
    assert_eq!(*labels.lock().unwrap(), ["connect"]);
}

/// `attempt_timeout` is a key of config strings: a layer with an attempt timeout applies one
/// from a policy (a hung request is cut after it and retried), a layer without refuses it with
/// an error that names the key.
#[tokio::test]
async fn an_attempt_timeout_from_a_config_string_applies_where_it_can() {
    let policy: stamina::RetryPolicy =
        "attempts=2 attempt_timeout=500ms wait_initial=0s wait_jitter=0s"
            .parse()
            .unwrap();
    let refused = RetryLayer::new(HttpOn::new())
        .try_policy(policy)
        .unwrap_err();
    assert_eq!(refused.key(), Some("attempt_timeout"));
    let server = FlakyServer::start([Reply::Hang, Reply::ok("hello")]);
    let retry = RetryLayer::new(HttpOn::new())
        .attempt_timeout(Duration::from_secs(60))
        .try_policy(policy)
        .unwrap();
    let service = ServiceBuilder::new().layer(retry).service(hyper_client());
    let call = service.oneshot(get(&server.url("/")));
    let response = tokio::time::timeout(Duration::from_secs(5), call).await;
    assert_eq!(
        read(response.unwrap().unwrap()).await,
        (200, "hello".to_owned())
    );
    assert_eq!(server.hits(), 2);
}

/// A hedged call through the layer: the first attempt's server is slow, the hedge sent after
/// 50 ms on a clone of the client answers first and wins. (Real time: about 50 ms; the slow
/// reply would take 5 s.)
#[tokio::test]
async fn a_hedge_answers_for_a_slow_attempt() {
    let slow = Reply::Slow {
        after: Duration::from_secs(5),
        body: "slow".to_owned(),
    };
    let server = FlakyServer::start([slow, Reply::ok("fast")]);
    let won = Arc::new(Mutex::new(Vec::new()));
    let retry = RetryLayer::new(HttpOn::new())
        .hedge(stamina::Hedging::after(Duration::from_millis(50)))
        .on_retry_hook(
            OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {}).on_hedge({
                let won = Arc::clone(&won);
                move |d: &stamina::instrument::HedgeDetails<'_>| {
                    won.lock().unwrap().push((d.kind(), d.attempt()));
                }
            }),
        );
    let service = ServiceBuilder::new()
        .layer(retry)
        .map_err(BoxError::from)
        .service(hyper_client());
    let call = service.oneshot(get(&server.url("/")));
    let response = tokio::time::timeout(Duration::from_secs(3), call).await;
    assert_eq!(
        read(response.unwrap().unwrap()).await,
        (200, "fast".to_owned())
    );
    assert_eq!(server.hits(), 2);
    use stamina::instrument::HedgeKind::{Sent, Won};
    assert_eq!(*won.lock().unwrap(), [(Sent, 2), (Won, 2)]);
}

/// The layer's hedges on tokio's paused clock: a test service whose first call takes a second
/// and later calls 10 ms. The hedge sent at 50 ms wins at 60 ms; the budget pays for it and gets
/// it back; the slow call is dropped.
#[tokio::test(start_paused = true)]
async fn a_hedged_call_through_the_layer_on_a_paused_clock() {
    let calls = Arc::new(AtomicU32::new(0));
    let dropped = Arc::new(AtomicU32::new(0));
    struct Dropped(Arc<AtomicU32>, bool);
    impl Drop for Dropped {
        fn drop(&mut self) {
            if !self.1 {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    let service = tower::service_fn({
        let (calls, dropped) = (Arc::clone(&calls), Arc::clone(&dropped));
        move |_: u32| {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            let dropped = Arc::clone(&dropped);
            async move {
                let mut guard = Dropped(dropped, false);
                let took = if n == 1 { 1000 } else { 10 };
                tokio::time::sleep(Duration::from_millis(took)).await;
                guard.1 = true;
                Ok::<_, Infallible>(n)
            }
        }
    });
    let budget = RetryBudget::quota(20, 5, 10);
    let heard = Arc::new(Mutex::new(Vec::new()));
    let hook = OnRetryHook::new(|_: &stamina::RetryDetails<'_>| {}).on_hedge({
        let heard = Arc::clone(&heard);
        move |d: &stamina::instrument::HedgeDetails<'_>| {
            heard
                .lock()
                .unwrap()
                .push((d.kind(), d.attempt(), d.name().to_owned()));
        }
    });
    let layer = RetryLayer::new(|outcome: &Result<u32, Infallible>| outcome.is_err())
        .name("lookup")
        .budget(&budget)
        .hedge(stamina::Hedging::after(Duration::from_millis(50)))
        .on_retry_hook(hook);
    let started = tokio::time::Instant::now();
    let call = layer.layer(service).oneshot(7);
    let answer = tokio::time::timeout(Duration::from_secs(60), call).await;
    assert_eq!(answer, Ok(Ok(2)));
    assert_eq!(started.elapsed(), Duration::from_millis(60));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(budget.available(), 20.0);
    use stamina::instrument::HedgeKind::{Sent, Won};
    let lookup = || "lookup".to_owned();
    assert_eq!(
        *heard.lock().unwrap(),
        [(Sent, 2, lookup()), (Won, 2, lookup())]
    );
}

#[test]
fn layers_services_and_futures_are_send() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let sleeper = FakeSleeper::new();
    let layer = layer(&sleeper);
    assert_send_sync(&layer);
    let mut service = layer.layer(hyper_client());
    assert_send_sync(&service);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let future = service.call(get("http://127.0.0.1:9/"));
    assert_send(&future);
    assert!(format!("{future:?}").starts_with("ResponseFuture { state: calling"));
}
