//! Retrying HTTP calls with a blocking client (ureq): the idioms to copy.
//!
//! - a predicate on status classes: 5xx and 429 are transient, other 4xx are not;
//! - `Retry-After` honoured through `Decision::RetryAfter` and `stamina::retry_after`;
//! - the loop's deadline propagated into each request's timeout with `attempt.remaining()`;
//! - a bound caller kept in a client struct, for one-line calls.
//!
//! `cargo run --example http_sync` (against a flaky server on 127.0.0.1)

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use stamina::{Decision, RetryContext, RetryingCaller};
use support::{FlakyServer, Reply};

/// An HTTP call that failed.
#[derive(Debug)]
enum HttpError {
    /// The server answered with a status that is not 2xx.
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The request got no answer: connection refused or reset, timeout.
    Transport(ureq::Error),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status { status, .. } => write!(f, "HTTP {status}"),
            Self::Transport(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// What is worth retrying, by status class. The server's `Retry-After` wins over the backoff.
fn classify(error: &HttpError) -> Decision {
    match error {
        HttpError::Status {
            status: 429 | 500..=599,
            retry_after: Some(wait),
        } => Decision::RetryAfter(*wait),
        HttpError::Status {
            status: 429 | 500..=599,
            ..
        } => Decision::Retry,
        // Any other 4xx is the request's fault: sending it again will not help.
        HttpError::Status { .. } => Decision::DontRetry,
        HttpError::Transport(_) => Decision::Retry,
    }
}

/// One GET, bounded by `timeout` from connecting to the last byte of the body.
fn get(agent: &ureq::Agent, url: &str, timeout: Option<Duration>) -> Result<String, HttpError> {
    let mut response = agent
        .get(url)
        .config()
        .timeout_global(timeout)
        .build()
        .call()
        .map_err(HttpError::Transport)?;
    let status = response.status();
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(stamina::retry_after);
        return Err(HttpError::Status {
            status: status.as_u16(),
            retry_after,
        });
    }
    response
        .body_mut()
        .read_to_string()
        .map_err(HttpError::Transport)
}

/// A client with its retry policy built once.
struct Client {
    agent: ureq::Agent,
    retrying: RetryContext<fn(&HttpError) -> Decision>,
}

impl Client {
    fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            // Statuses are answers, not transport errors: `get` classifies them.
            .http_status_as_error(false)
            .build()
            .new_agent();
        let retrying = RetryingCaller::new()
            .name("http_sync.get")
            .attempts(4)
            .timeout(Duration::from_secs(5))
            .wait_initial(Duration::from_millis(50))
            .on(classify as fn(&HttpError) -> Decision);
        Self { agent, retrying }
    }

    /// A GET retried by the bound caller: one line per call.
    fn get(&self, url: &str) -> Result<String, HttpError> {
        self.retrying
            .call(|| get(&self.agent, url, Some(Duration::from_secs(2))))
    }

    /// A GET that never outlives `budget`: each attempt gets the time the loop has left.
    fn get_within(&self, url: &str, budget: Duration) -> Result<String, HttpError> {
        for attempt in stamina::retry_context(classify)
            .timeout(budget)
            .wait_initial(Duration::from_millis(50))
        {
            let timeout = attempt.remaining();
            if let Some(body) = attempt.run(|| get(&self.agent, url, timeout))? {
                return Ok(body);
            }
        }
        unreachable!("the loop ends with a value or an error")
    }
}

fn main() -> Result<(), HttpError> {
    let server = FlakyServer::start([
        // client.get(/orders)
        Reply::status(503),
        Reply::status(429).retry_after("1"),
        Reply::ok("[order 1, order 2]"),
        // client.get(/orders/3)
        Reply::status(404),
        // client.get_within(/report, 300 ms)
        Reply::Hang,
    ]);
    let client = Client::new();

    let orders = client.get(&server.url("/orders"))?;
    println!("orders after a 503 and a 429 (Retry-After: 1): {orders}");

    match client.get(&server.url("/orders/3")) {
        Err(error) => println!("order 3: {error}, not retried"),
        Ok(body) => println!("order 3: {body}"),
    }

    match client.get_within(&server.url("/report"), Duration::from_millis(300)) {
        Err(error) => println!("report: {error}, within the 300 ms budget"),
        Ok(body) => println!("report: {body}"),
    }
    println!("requests served: {}", server.hits());
    Ok(())
}
