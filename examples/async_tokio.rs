//! Retrying a flaky async call on tokio: an attempt loop, a caller with a per-attempt timeout,
//! and a spawned task.
//!
//! `cargo run --example async_tokio --features tokio`

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stamina::{AsyncRetryingCaller, AttemptTimedOut, retry_context};

#[derive(Debug)]
enum FetchError {
    Unavailable,
    TimedOut(AttemptTimedOut),
    NotFound,
}

impl From<AttemptTimedOut> for FetchError {
    fn from(error: AttemptTimedOut) -> Self {
        Self::TimedOut(error)
    }
}

fn is_transient(error: &FetchError) -> bool {
    match error {
        FetchError::Unavailable => true,
        FetchError::TimedOut(timed_out) => {
            println!("  {timed_out}: retrying");
            true
        }
        FetchError::NotFound => false,
    }
}

/// A service that is unavailable for its first `failures` requests, then hangs once, then answers.
struct Service {
    requests: AtomicU32,
    failures: u32,
}

impl Service {
    async fn fetch(&self, path: &str) -> Result<String, FetchError> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if path == "/missing" {
            return Err(FetchError::NotFound);
        }
        if n <= self.failures {
            return Err(FetchError::Unavailable);
        }
        if n == self.failures + 1 {
            std::future::pending::<()>().await; // a hung request
        }
        Ok(format!("contents of {path} (request {n})"))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), FetchError> {
    let service = Arc::new(Service {
        requests: AtomicU32::new(0),
        failures: 2,
    });

    // 1. A loop of attempt guards: the body is your own code.
    let mut attempts = retry_context(is_transient)
        .attempts(5)
        .wait_initial(Duration::from_millis(10))
        .wait_jitter(Duration::from_millis(50))
        .timeout(Duration::from_secs(5))
        .attempt_timeout(Duration::from_millis(200))
        .into_stream();
    while let Some(attempt) = attempts.next().await {
        println!("attempt {} ({:?} left)", attempt.num(), attempt.remaining());
        if let Some(body) = attempt.run(|| service.fetch("/index.html")).await? {
            println!("stream: {body}");
        }
    }

    // 2. A reusable caller bound to its predicate, cloned into a spawned task.
    let fetch = AsyncRetryingCaller::new()
        .attempts(3)
        .wait_initial(Duration::from_millis(10))
        .wait_jitter(Duration::from_millis(50))
        .attempt_timeout(Duration::from_millis(200))
        .on(is_transient);
    let task = tokio::spawn({
        let service = Arc::clone(&service);
        let fetch = fetch.clone();
        async move { fetch.call(|| service.fetch("/about.html")).await }
    });
    println!("caller: {}", task.await.expect("the task ran")?);

    // 3. Errors that are not transient come back at once, unchanged.
    let missing = fetch.call(|| service.fetch("/missing")).await;
    println!("caller: {missing:?}");
    assert!(matches!(missing, Err(FetchError::NotFound)));
    Ok(())
}
