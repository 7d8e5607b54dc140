//! Retrying HTTP calls with an async client (reqwest on tokio): the idioms to copy.
//!
//! - a predicate on status classes: 5xx and 429 are transient, other 4xx are not;
//! - `Retry-After` honoured through `Decision::RetryAfter` and `stamina::retry_after`;
//! - a per-attempt timeout that cuts a hung request, and the loop's deadline propagated into
//!   each request's timeout with `attempt.remaining()`;
//! - a client struct holding its retrying caller and the retry budget its calls share, and the
//!   attribute on an `async fn(&self)` method paying from that budget;
//! - a bound async caller shared by spawned tasks.
//!
//! `cargo run --example http_async --features tokio` (against a flaky server on 127.0.0.1; the
//! attribute needs the default `macros` feature)

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use stamina::{
    AsyncRetryContext, AsyncRetryingCaller, AttemptTimedOut, AttemptTimeout, Decision,
    DefaultSleeper, RetryBudget,
};
use support::{FlakyServer, Reply};

/// An HTTP call that failed.
#[derive(Debug)]
enum HttpError {
    /// The server answered with a status that is not 2xx.
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The request got no answer: connection refused or reset, the client's timeout.
    Transport(reqwest::Error),
    /// stamina's attempt timeout dropped the request.
    TimedOut(AttemptTimedOut),
}

/// Required by `attempt_timeout`: the loop reports a cut attempt as one of your errors.
impl From<AttemptTimedOut> for HttpError {
    fn from(error: AttemptTimedOut) -> Self {
        Self::TimedOut(error)
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status { status, .. } => write!(f, "HTTP {status}"),
            Self::Transport(error) if error.is_timeout() => write!(f, "the request timed out"),
            Self::Transport(error) => write!(f, "{error}"),
            Self::TimedOut(error) => write!(f, "{error}"),
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
        HttpError::Transport(_) | HttpError::TimedOut(_) => Decision::Retry,
    }
}

/// One GET, bounded by `timeout` (if any) from connecting to the last byte of the body.
async fn get(
    client: &reqwest::Client,
    url: &str,
    timeout: Option<Duration>,
) -> Result<String, HttpError> {
    let mut request = client.get(url);
    if let Some(timeout) = timeout {
        request = request.timeout(timeout);
    }
    let response = request.send().await.map_err(HttpError::Transport)?;
    let status = response.status();
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(stamina::retry_after);
        return Err(HttpError::Status {
            status: status.as_u16(),
            retry_after,
        });
    }
    response.text().await.map_err(HttpError::Transport)
}

/// A client of the orders service, holding its retrying caller and the budget its retries
/// share: in an outage, retries stop instead of multiplying the load.
struct Orders {
    http: reqwest::Client,
    base: String,
    budget: RetryBudget,
    /// Each attempt gets at most 500 ms, the whole call at most 5 s.
    retrying: AsyncRetryContext<fn(&HttpError) -> Decision, DefaultSleeper, AttemptTimeout>,
}

impl Orders {
    fn new(http: reqwest::Client, base: String) -> Self {
        let budget = RetryBudget::retry_quota();
        let retrying = AsyncRetryingCaller::new()
            .name("orders.list")
            .attempts(4)
            .timeout(Duration::from_secs(5))
            .wait_initial(Duration::from_millis(50))
            .attempt_timeout(Duration::from_millis(500))
            .budget(&budget)
            .on(classify as fn(&HttpError) -> Decision);
        Self {
            http,
            base,
            budget,
            retrying,
        }
    }

    /// With the stored caller.
    async fn list(&self) -> Result<String, HttpError> {
        let url = format!("{}/orders", self.base);
        self.retrying.call(|| get(&self.http, &url, None)).await
    }

    /// With the attribute: the same settings on the method itself, paying from the same budget.
    #[stamina::retry(
        on = classify,
        attempts = 4,
        timeout = "5s",
        wait_initial = "50ms",
        attempt_timeout = "500ms",
        budget = &self.budget,
        name = "orders.item",
    )]
    async fn item(&self, id: u32) -> Result<String, HttpError> {
        get(&self.http, &format!("{}/orders/{id}", self.base), None).await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), HttpError> {
    let server = FlakyServer::start([
        // GET /orders
        Reply::status(503),
        Reply::status(429).retry_after("1"),
        Reply::ok("[order 1, order 2]"),
        // GET /slow
        Reply::Hang,
        Reply::ok("finally"),
        // GET /orders/7
        Reply::status(502),
        Reply::ok("order 7"),
        // GET /report
        Reply::Hang,
    ]);
    let client = reqwest::Client::new();
    let orders = Orders::new(client.clone(), server.url(""));

    let list = orders.list().await?;
    println!("orders after a 503 and a 429 (Retry-After: 1): {list}");

    // The caller is `Clone + Send + Sync`: share it with spawned tasks.
    let task = tokio::spawn({
        let (retrying, client, url) =
            (orders.retrying.clone(), client.clone(), server.url("/slow"));
        async move { retrying.call(|| get(&client, &url, None)).await }
    });
    let slow = task.await.expect("the task ran")?;
    println!("slow after one hung attempt was cut at 500 ms: {slow}");

    let item = orders.item(7).await?;
    println!("item after a 502: {item}");
    println!("retry budget left: {} tokens", orders.budget.available());

    // The stream: the deadline goes into each request's own timeout.
    let url = server.url("/report");
    let mut attempts = stamina::retry_context(classify)
        .timeout(Duration::from_millis(300))
        .into_stream();
    while let Some(attempt) = attempts.next().await {
        let timeout = attempt.remaining();
        match attempt.run(|| get(&client, &url, timeout)).await {
            Ok(Some(report)) => println!("report: {report}"),
            Ok(None) => {}
            Err(error) => println!("report: {error}, within the 300 ms budget"),
        }
    }
    println!("requests served: {}", server.hits());
    Ok(())
}
