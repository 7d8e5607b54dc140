//! The quickstart: a flaky HTTP server on 127.0.0.1, and a client that retries through its
//! failures with `retry_context`, logging each retry and counting it in Prometheus.
//!
//! `cargo run --example quickstart`
//!
//! The server is the test suite's (`tests/support`); the client is ureq. Nothing leaves the
//! machine, and the whole run takes about two seconds.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusBuilder;
use stamina::instrument::ShowError;
use stamina::{Decision, RetryDetails};
use support::{FlakyServer, Reply};

/// Why a request failed.
#[derive(Debug)]
enum FetchError {
    /// The server answered with an error status.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// No answer: refused, reset, timed out.
    Transport(ureq::Error),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status {
                code,
                retry_after: Some(after),
            } => write!(f, "HTTP {code} (Retry-After: {after})"),
            Self::Status { code, .. } => write!(f, "HTTP {code}"),
            Self::Transport(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Say what is transient: server errors, 429 and failed connections are; other 4xx are not.
/// A `Retry-After` header sets the wait exactly.
fn on(error: &FetchError) -> Decision {
    match error {
        FetchError::Status { code, retry_after } if *code == 429 || *code >= 500 => retry_after
            .as_deref()
            .and_then(stamina::retry_after)
            .map_or(Decision::Retry, Decision::RetryAfter),
        FetchError::Status { .. } => Decision::DontRetry,
        FetchError::Transport(_) => Decision::Retry,
    }
}

/// A label per kind of failure for the metrics: a handful of values to chart, not one per
/// error type.
fn label(error: &FetchError) -> &'static str {
    match error {
        FetchError::Status { code: 429, .. } => "throttled",
        FetchError::Status { .. } => "status",
        FetchError::Transport(_) => "transport",
    }
}

/// A GET that must finish within `timeout`, answer included.
fn get(agent: &ureq::Agent, url: &str, timeout: Option<Duration>) -> Result<String, FetchError> {
    let mut response = agent
        .get(url)
        .config()
        .timeout_global(timeout)
        .build()
        .call()
        .map_err(FetchError::Transport)?;
    if !response.status().is_success() {
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        return Err(FetchError::Status {
            code: response.status().as_u16(),
            retry_after,
        });
    }
    response
        .body_mut()
        .read_to_string()
        .map_err(FetchError::Transport)
}

/// Fetches `path` with retries, printing every attempt and every wait.
fn fetch(agent: &ureq::Agent, server: &FlakyServer, path: &str) -> Result<String, FetchError> {
    let start = Instant::now();
    let url = server.url(path);
    // `typed` shows the hooks the error itself: its label, and its `Display` text, which holds
    // no secret here, so the logs may show it (by default they show the error's type only).
    for attempt in stamina::retry_context(stamina::typed(on).error_label(label))
        .name(format!("GET {path}"))
        .show_error(ShowError::Display)
        .attempts(3)
        .timeout(Duration::from_secs(10))
        .wait_initial(Duration::from_millis(100))
        .wait_jitter(Duration::from_millis(50))
        .on_retry(|details: &RetryDetails<'_>| {
            let wait = details.wait_for().as_millis();
            println!(
                "  ...waiting {wait} ms before attempt {}",
                details.retry_num() + 1
            );
        })
    {
        // Propagate the deadline: no request outlives the loop's time budget.
        let result = get(agent, &url, attempt.remaining());
        match &result {
            Ok(body) => println!("  attempt {}: 200 {body:?}", attempt.num()),
            Err(error) => println!("  attempt {}: {error}", attempt.num()),
        }
        if let Some(body) = attempt.record(result)? {
            println!("  done in {:.1?}", start.elapsed());
            return Ok(body);
        }
    }
    unreachable!("the loop ends with a value or an error")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A real logger shows stamina's warn records (target `stamina`)...
    // The records' key-values are left out here, as a logger without key-value support does:
    // the message itself carries the loop, the attempt, the error and the wait.
    env_logger::Builder::new()
        .parse_filters("stamina=warn")
        .format_timestamp(None)
        .format_key_values(|_, _| Ok(()))
        .target(env_logger::Target::Stdout)
        .init();
    // ...and a metrics recorder counts the retries; here it renders Prometheus text.
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    // One reply per request, in the order of the requests below.
    let server = FlakyServer::start([
        // GET /flaky
        Reply::status(503),
        Reply::Reset,
        Reply::ok("hello"),
        // GET /busy
        Reply::status(429).retry_after("1"),
        Reply::ok("welcome back"),
        // GET /missing
        Reply::status(404),
        // GET /down
        Reply::status(502),
        Reply::status(503),
        Reply::status(502),
    ]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    println!("flaky server on http://{}\n", server.addr());

    println!("GET /flaky: a 503 and a reset, then it recovers");
    fetch(&agent, &server, "/flaky")?;

    println!("\nGET /busy: a 429 asks to come back in 1 s, which is exactly the wait");
    fetch(&agent, &server, "/busy")?;

    println!("\nGET /missing: a 404 is not transient, so it is not retried");
    if let Err(error) = fetch(&agent, &server, "/missing") {
        println!("  gave up at once: {error}");
    }

    println!("\nGET /down: still failing after 3 attempts");
    if let Err(error) = fetch(&agent, &server, "/down") {
        println!("  gave up: {error} (the last error, unchanged)");
    }

    println!("\nPrometheus text (what a /metrics endpoint serves):\n");
    print!("{}", prometheus.render());
    Ok(())
}
