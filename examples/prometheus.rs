//! Retries as Prometheus metrics and log lines, with no instrumentation code of your own.
//!
//! `cargo run --example prometheus`
//!
//! The application installs a `metrics` recorder (here the Prometheus exporter, rendering its
//! text instead of serving it over HTTP) and a logger (here `env_logger`); stamina's built-in
//! hooks count and log every retry and every give-up.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use stamina::RetryingCaller;

/// The errors of a pretend inventory service.
#[derive(Debug)]
enum InventoryError {
    /// Worth retrying.
    Timeout,
}

/// Fails with a timeout `failures` times, then answers.
fn flaky_stock(failures: &mut u32) -> Result<u32, InventoryError> {
    if *failures > 0 {
        *failures -= 1;
        return Err(InventoryError::Timeout);
    }
    Ok(42)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .init();
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let caller = RetryingCaller::new()
        .attempts(3)
        .wait_initial(Duration::from_millis(10))
        .wait_jitter(Duration::ZERO)
        .name("inventory.stock")
        .on(|e: &InventoryError| matches!(e, InventoryError::Timeout));

    // Recovers after two retries.
    let mut failures = 2;
    let stock = caller.call(|| flaky_stock(&mut failures));
    assert_eq!(stock.ok(), Some(42));

    // Runs out of attempts: the last error comes back unchanged.
    let mut failures = 5;
    let error = caller.call(|| flaky_stock(&mut failures)).unwrap_err();
    assert!(matches!(error, InventoryError::Timeout));

    print!("{}", prometheus.render());
    Ok(())
}
