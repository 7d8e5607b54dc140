//! End to end with a blocking HTTP client (ureq) against a flaky server on 127.0.0.1: the
//! `for attempt in retry_context(on)` loop and the sync callers.
//!
//! Waits are measured on a `FakeClock` (no real sleep); only the I/O is real.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stamina::testing::FakeClock;
use stamina::{Decision, RetryingCaller, parse_retry_after, retry_context};
use support::{FlakyServer, Reply};

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
    /// No answer: refused, reset, timed out.
    Transport(ureq::Error),
}

/// 5xx and 429 are transient (after the server's `Retry-After` if it sent one), other 4xx are
/// not, and so are transport errors.
fn on(error: &FetchError) -> Decision {
    match error {
        FetchError::Status { code, retry_after } if *code == 429 || *code >= 500 => retry_after
            .as_deref()
            .and_then(|value| parse_retry_after(value, now()))
            .map_or(Decision::Retry, Decision::RetryAfter),
        FetchError::Status { .. } => Decision::DontRetry,
        FetchError::Transport(_) => Decision::Retry,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(0)
        .build()
        .new_agent()
}

/// A GET whose timeout covers the whole request, answer included.
fn get(agent: &ureq::Agent, url: &str, timeout: Option<Duration>) -> Result<String, FetchError> {
    let mut response = agent
        .get(url)
        .config()
        .timeout_global(timeout)
        .build()
        .call()
        .map_err(FetchError::Transport)?;
    let code = response.status().as_u16();
    if !response.status().is_success() {
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        return Err(FetchError::Status { code, retry_after });
    }
    response
        .body_mut()
        .read_to_string()
        .map_err(FetchError::Transport)
}

fn context() -> stamina::RetryContext<fn(&FetchError) -> Decision> {
    retry_context(on as fn(&FetchError) -> Decision).wait_jitter(Duration::ZERO)
}

/// Runs the loop against `server` and returns the outcome and each attempt's failure, in a
/// short form (`503`, `transport`).
fn fetch(
    server: &FlakyServer,
    context: stamina::RetryContext<fn(&FetchError) -> Decision, FakeClock>,
) -> (Result<String, FetchError>, Vec<String>) {
    let agent = agent();
    let url = server.url("/resource");
    let mut failures = Vec::new();
    for attempt in context {
        let result = get(&agent, &url, attempt.remaining());
        if let Err(error) = &result {
            failures.push(match error {
                FetchError::Status { code, .. } => code.to_string(),
                FetchError::Transport(_) => "transport".to_owned(),
            });
        }
        match attempt.record(result) {
            Ok(Some(body)) => return (Ok(body), failures),
            Ok(None) => {}
            Err(error) => return (Err(error), failures),
        }
    }
    unreachable!("the loop ends with a value or an error")
}

fn ms(millis: &[u64]) -> Vec<Duration> {
    millis.iter().copied().map(Duration::from_millis).collect()
}

#[test]
fn server_errors_and_429_are_retried_with_backoff() {
    let server = FlakyServer::start([
        Reply::status(503),
        Reply::status(500),
        Reply::status(429),
        Reply::ok("hello"),
    ]);
    let clock = FakeClock::new();
    let (result, failures) = fetch(&server, context().clock(clock.clone()));
    assert_eq!(result.unwrap(), "hello");
    assert_eq!(failures, ["503", "500", "429"]);
    assert_eq!(server.hits(), 4);
    assert_eq!(clock.sleeps(), ms(&[100, 200, 400]));
}

#[test]
fn client_errors_are_not_retried() {
    let server = FlakyServer::start([Reply::status(404), Reply::ok("never asked for")]);
    let clock = FakeClock::new();
    let (result, failures) = fetch(&server, context().clock(clock.clone()));
    assert!(
        matches!(result, Err(FetchError::Status { code: 404, .. })),
        "{result:?}"
    );
    assert_eq!(failures, ["404"]);
    assert_eq!(server.hits(), 1);
    assert!(clock.sleeps().is_empty());
}

#[test]
fn retry_after_sets_the_wait_in_seconds_and_as_an_http_date() {
    let server = FlakyServer::start([
        Reply::status(503).retry_after("3"),
        Reply::status(429).retry_after(LATER_BY_77S),
        Reply::status(503).retry_after("soon"),
        Reply::ok("hello"),
    ]);
    let clock = FakeClock::new();
    let context = context().timeout(Duration::from_secs(120));
    let (result, failures) = fetch(&server, context.clock(clock.clone()));
    assert_eq!(result.unwrap(), "hello");
    assert_eq!(failures, ["503", "429", "503"]);
    // The header's waits exactly (no jitter, no cap), then the own backoff for an unreadable
    // header (the third attempt's exponential wait: 100 ms * 2^2).
    assert_eq!(
        clock.sleeps(),
        [
            Duration::from_secs(3),
            Duration::from_secs(77),
            Duration::from_millis(400)
        ]
    );
    assert_eq!(server.hits(), 4);
}

#[test]
fn retry_after_beyond_the_ceiling_or_the_deadline_gives_up_at_once() {
    let server = FlakyServer::start([Reply::status(503).retry_after("120")]);
    let clock = FakeClock::new();
    let capped = context()
        .timeout(Duration::from_secs(600))
        .retry_after_max(Duration::from_secs(60));
    let (result, _) = fetch(&server, capped.clock(clock.clone()));
    assert!(matches!(result, Err(FetchError::Status { code: 503, .. })));
    assert_eq!(server.hits(), 1);
    assert!(clock.sleeps().is_empty());

    // Within the ceiling but past the 45 s deadline: no point in waiting.
    let server = FlakyServer::start([Reply::status(503).retry_after("50")]);
    let clock = FakeClock::new();
    let (result, _) = fetch(&server, context().clock(clock.clone()));
    assert!(matches!(result, Err(FetchError::Status { code: 503, .. })));
    assert_eq!(server.hits(), 1);
    assert!(clock.sleeps().is_empty());
}

#[test]
fn connection_resets_are_retried() {
    let server = FlakyServer::start([Reply::Reset, Reply::Reset, Reply::ok("hello")]);
    let clock = FakeClock::new();
    let (result, failures) = fetch(&server, context().clock(clock.clone()));
    assert_eq!(result.unwrap(), "hello");
    assert_eq!(failures, ["transport", "transport"]);
    assert_eq!(server.hits(), 3);
    assert_eq!(clock.sleeps(), ms(&[100, 200]));
    assert_eq!(
        server.served(),
        [Reply::Reset, Reply::Reset, Reply::ok("hello")]
    );
}

#[test]
fn out_of_attempts_returns_the_last_error() {
    let server = FlakyServer::start([Reply::status(502), Reply::Reset, Reply::status(503)]);
    let clock = FakeClock::new();
    let (result, failures) = fetch(&server, context().attempts(3).clock(clock.clone()));
    assert!(matches!(result, Err(FetchError::Status { code: 503, .. })));
    assert_eq!(failures, ["502", "transport", "503"]);
    assert_eq!(server.hits(), 3);
    assert_eq!(clock.sleeps(), ms(&[100, 200]));
}

/// The loop's remaining time becomes the request's timeout, so a hung server cannot hold the
/// caller past the deadline, and the loop does not retry with no time left. (Real time: this is
/// the client's own I/O timeout.)
#[test]
fn the_deadline_propagates_into_the_request_timeout() {
    let server = FlakyServer::start([Reply::Hang, Reply::ok("too late")]);
    let agent = agent();
    let url = server.url("/slow");
    let mut calls = 0;
    let mut timeouts = Vec::new();
    let mut outcome = None;
    for attempt in retry_context(on).timeout(Duration::from_millis(200)) {
        calls += 1;
        let timeout = attempt.remaining();
        timeouts.push(timeout);
        outcome = Some(attempt.run(|| get(&agent, &url, timeout)));
    }
    assert_eq!(calls, 1);
    let timeout = timeouts[0].expect("a deadline");
    assert!(timeout > Duration::ZERO && timeout <= Duration::from_millis(200));
    let error = outcome.unwrap().unwrap_err();
    assert!(
        matches!(error, FetchError::Transport(ureq::Error::Timeout(_))),
        "{error:?}"
    );
    assert_eq!(server.hits(), 1);
}

#[test]
fn bound_caller_retries_a_request() {
    let server = FlakyServer::start([Reply::status(503), Reply::Reset, Reply::ok("hello")]);
    let clock = FakeClock::new();
    let caller = RetryingCaller::new()
        .wait_jitter(Duration::ZERO)
        .clock(clock.clone())
        .on(on);
    let agent = agent();
    let url = server.url("/resource");
    let body = caller.call(|| get(&agent, &url, None)).unwrap();
    assert_eq!(body, "hello");
    assert_eq!(server.hits(), 3);
    assert_eq!(clock.sleeps(), ms(&[100, 200]));
}

#[test]
fn caller_with_a_predicate_per_call() {
    let server = FlakyServer::start([
        Reply::status(503).retry_after("1"),
        Reply::status(403),
        Reply::ok("never asked for"),
    ]);
    let clock = FakeClock::new();
    let caller = RetryingCaller::new().clock(clock.clone());
    let agent = agent();
    let url = server.url("/resource");
    let error = caller.call(on, || get(&agent, &url, None)).unwrap_err();
    assert!(matches!(error, FetchError::Status { code: 403, .. }));
    assert_eq!(server.hits(), 2);
    assert_eq!(clock.sleeps(), [Duration::from_secs(1)]);
}

#[test]
fn each_retry_reaches_the_hooks() {
    let server = FlakyServer::start([
        Reply::status(503).retry_after("2"),
        Reply::Reset,
        Reply::ok("hello"),
    ]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let clock = FakeClock::new();
    let context = context()
        .name("http.get")
        .on_retry({
            let seen = Arc::clone(&seen);
            move |details: &stamina::RetryDetails<'_>| {
                let cause = format!("{:?}", details.caused_by());
                let kind = cause.split([' ', '(']).next().unwrap_or("").to_owned();
                seen.lock().unwrap().push((
                    details.name().to_owned(),
                    details.retry_num(),
                    details.wait_for(),
                    details.waited_so_far(),
                    kind,
                ));
            }
        })
        .clock(clock.clone());
    let (result, _) = fetch(&server, context);
    assert_eq!(result.unwrap(), "hello");
    let name = "http.get".to_owned();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (
                name.clone(),
                1,
                Duration::from_secs(2),
                Duration::ZERO,
                "Status".to_owned()
            ),
            (
                name,
                2,
                Duration::from_millis(200),
                Duration::from_secs(2),
                "Transport".to_owned()
            ),
        ]
    );
}

#[cfg(feature = "metrics")]
#[test]
fn each_retry_is_counted_in_stamina_retries_total() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let server = FlakyServer::start([Reply::status(503), Reply::Reset, Reply::ok("hello")]);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let context = context().name("http.get").clock(FakeClock::new());
        assert_eq!(fetch(&server, context).0.unwrap(), "hello");
    });
    let mut counters: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let labels: Vec<_> = key
                .key()
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            (key.key().name().to_owned(), labels.join(","), value)
        })
        .collect();
    counters.sort_by(|a, b| a.1.cmp(&b.1));
    let labels =
        |n: u32| format!("callable=http.get,retry_num={n},error_type=http_sync::FetchError");
    assert_eq!(
        counters,
        [
            (
                "stamina_retries_total".to_owned(),
                labels(1),
                DebugValue::Counter(1)
            ),
            (
                "stamina_retries_total".to_owned(),
                labels(2),
                DebugValue::Counter(1)
            ),
        ]
    );
}
