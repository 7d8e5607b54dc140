//! 100,000 concurrent async retry loops on tokio's multi-threaded runtime: the memory each loop
//! holds while it waits, and the total time.
//!
//! `cargo run --release --example scale --features tokio`
//!
//! Every loop fails twice, then succeeds; it waits 200 ms and then 400 ms (no jitter), so that all
//! the loops are waiting at once when the memory is measured. The memory is counted by a counting
//! global allocator (bytes allocated and not yet freed), and cross-checked with the resident set
//! size from `/proc/self/statm` on Linux. Instrumentation is off, as in a service without a
//! logger or metrics recorder the built-in hooks would only cost time.

use std::alloc::System;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use stamina::AsyncRetryingCaller;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const LOOPS: usize = 100_000;

/// Bytes allocated and not yet freed.
fn live_bytes() -> isize {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated
}

/// The resident set size in bytes, where `/proc` has it.
fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn is_transient(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::ConnectionReset
}

fn main() {
    stamina::set_on_retry_hooks([]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let caller = Arc::new(
        AsyncRetryingCaller::new()
            .attempts(3)
            .wait_initial(Duration::from_millis(200))
            .wait_jitter(Duration::ZERO)
            .on(is_transient),
    );
    let attempts = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(LOOPS);
    let (live_before, rss_before) = (live_bytes(), rss_bytes());
    let start = Instant::now();

    for _ in 0..LOOPS {
        let caller = Arc::clone(&caller);
        let attempts = Arc::clone(&attempts);
        handles.push(tokio::spawn(async move {
            let mut failures_left = 2;
            caller
                .call(|| {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    let fail = failures_left > 0;
                    failures_left -= u32::from(fail);
                    async move {
                        if fail {
                            return Err(io::Error::from(io::ErrorKind::ConnectionReset));
                        }
                        Ok(())
                    }
                })
                .await
        }));
    }
    // Every loop has made its first attempt and waits its first 200 ms.
    while attempts.load(Ordering::Relaxed) < LOOPS {
        tokio::task::yield_now().await;
    }
    let spawned = start.elapsed();
    let (live_waiting, rss_waiting) = (live_bytes(), rss_bytes());

    let mut succeeded = 0;
    for handle in handles {
        if handle.await.expect("no loop panics").is_ok() {
            succeeded += 1;
        }
    }
    let total = start.elapsed();

    assert_eq!(succeeded, LOOPS);
    assert_eq!(attempts.load(Ordering::Relaxed), 3 * LOOPS);
    let per_loop = (live_waiting - live_before) as f64 / LOOPS as f64;
    println!("{LOOPS} concurrent retry loops, each failing twice then succeeding");
    println!("  spawned, all waiting after:   {spawned:?}");
    println!("  all done after:               {total:?} (of which 600 ms are the two waits)");
    println!(
        "  heap per waiting loop:        {per_loop:.0} bytes (tokio task, the caller's future with its sleep, and the join handle)"
    );
    if let (Some(before), Some(waiting)) = (rss_before, rss_waiting) {
        let rss_per_loop = waiting.saturating_sub(before) as f64 / LOOPS as f64;
        println!("  resident memory per loop:     {rss_per_loop:.0} bytes");
    }
}
