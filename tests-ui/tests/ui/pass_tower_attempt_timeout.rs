//! An attempt timeout on a tower layer over a service whose error type knows nothing of
//! `AttemptTimedOut`: the service's errors become `tower::BoxError`s, the wrapped service's in
//! the box, so the usual stack needs no `map_err` under the layer.

use std::fmt;
use std::time::Duration;

use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

#[derive(Debug)]
struct ClientError;

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("client error")
    }
}

impl std::error::Error for ClientError {}

fn boxed_errors<S: Service<u32, Error = BoxError>>(_: &S) {}

fn main() {
    let client = tower::service_fn(|n: u32| async move {
        if n == 0 { Err(ClientError) } else { Ok(n) }
    });
    let retry = stamina::tower::RetryLayer::new(|outcome: &Result<u32, BoxError>| outcome.is_err())
        .attempt_timeout(Duration::from_secs(1));
    let service = ServiceBuilder::new().layer(retry).service(client);
    boxed_errors(&service);
    let _call = service.oneshot(1);
}
