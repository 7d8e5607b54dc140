//! Retrying a flaky async call on smol (async-io's timer also serves async-std).
//!
//! `cargo run --example async_smol --features async-io`

use std::cell::Cell;
use std::time::Duration;

use stamina::{AsyncIoSleeper, AsyncRetryingCaller, retry_context};

#[derive(Debug)]
struct Unavailable;

fn main() -> Result<(), Unavailable> {
    smol::block_on(async {
        let failures_left = Cell::new(2);
        let flaky = || async {
            if failures_left.get() > 0 {
                failures_left.set(failures_left.get() - 1);
                return Err(Unavailable);
            }
            Ok("ready")
        };

        // With only the `async-io` feature on, the default sleeper is async-io's; naming it
        // keeps this example working when `tokio` is on too.
        let mut attempts = retry_context(|_: &Unavailable| true)
            .attempts(4)
            .wait_initial(Duration::from_millis(10))
            .wait_jitter(Duration::from_millis(50))
            .into_stream_with(AsyncIoSleeper);
        while let Some(attempt) = attempts.next().await {
            println!("attempt {}", attempt.num());
            if let Some(status) = attempt.run(flaky).await? {
                println!("stream: {status}");
            }
        }

        failures_left.set(1);
        let caller = AsyncRetryingCaller::new()
            .attempts(3)
            .wait_initial(Duration::from_millis(10))
            .wait_jitter(Duration::from_millis(50))
            .sleeper(AsyncIoSleeper);
        let status = caller.call(|_: &Unavailable| true, flaky).await?;
        println!("caller: {status}");
        Ok(())
    })
}
