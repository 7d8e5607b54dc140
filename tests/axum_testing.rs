//! Testing switches and a server: the handlers behind `axum::serve` run in tasks of their own,
//! which neither a `with_testing` scope around the test's future nor a thread override reaches.
//! Two ways that do: a layer that wraps each request's future in `with_testing`, and the
//! process-wide switch. End to end: axum on 127.0.0.1, reqwest as the client.
//!
//! One test in this binary: the process-wide switch would reach every other test's loops.
#![cfg(feature = "tokio")]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use stamina::AsyncRetryingCaller;
use stamina::testing::{Testing, scoped_testing, with_testing};
use tower::util::MapFutureLayer;

/// A handler that retries a call that always fails: 3 attempts with its own settings, as many
/// as testing mode says in testing mode. It answers with the number of attempts made.
async fn handler() -> String {
    let mut attempts = 0;
    let result = AsyncRetryingCaller::new()
        .attempts(3)
        .wait_initial(Duration::from_millis(1))
        .wait_jitter(Duration::ZERO)
        .call(
            |_: &std::fmt::Error| true,
            || {
                attempts += 1;
                async { Err::<(), _>(std::fmt::Error) }
            },
        )
        .await;
    assert!(result.is_err());
    attempts.to_string()
}

/// Serves `app` on 127.0.0.1 and returns its URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn attempts_made(url: &str) -> String {
    let request = reqwest::get(url);
    let response = tokio::time::timeout(Duration::from_secs(5), request).await;
    response.unwrap().unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testing_mode_reaches_handlers_through_a_layer_or_the_process_wide_switch() {
    let plain = serve(Router::new().route("/", get(handler))).await;
    // The test's own scope does not reach the server's tasks: the handler makes its 3 attempts.
    let scoped = with_testing(Testing::new(), attempts_made(&plain)).await;
    assert_eq!(scoped, "3");

    // A layer that scopes each request's future reaches its handler: 1 attempt.
    let testing = |future| with_testing(Testing::new(), future);
    let layered = serve(
        Router::new()
            .route("/", get(handler))
            .layer(MapFutureLayer::new(testing)),
    )
    .await;
    assert_eq!(attempts_made(&layered).await, "1");

    // So does the process-wide switch, for every server in the process, while it is on.
    {
        let _testing = scoped_testing(Testing::new().attempts(2));
        assert_eq!(attempts_made(&plain).await, "2");
    }
    assert_eq!(attempts_made(&plain).await, "3");
}
