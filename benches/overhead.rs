//! The success-path cost of the crate's front ends next to a direct call.
//!
//! `cargo bench --bench overhead`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use stamina::{AsyncRetryingCaller, RetryPolicy, RetryingCaller, Sleeper, retry_context};

#[derive(Debug)]
struct Transient;

fn is_transient(_: &Transient) -> bool {
    true
}

#[inline(never)]
fn op(x: u64) -> Result<u64, Transient> {
    Ok(black_box(x).wrapping_mul(3))
}

fn success_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("success_path");
    group.bench_function("direct call", |b| b.iter(|| op(black_box(7))));

    let no_timeout = RetryingCaller::from_policy(RetryPolicy::new().no_timeout()).on(is_transient);
    group.bench_function("caller, no timeout", |b| {
        b.iter(|| no_timeout.call(|| op(black_box(7))))
    });

    let default = RetryingCaller::new().on(is_transient);
    group.bench_function("caller, 45 s timeout", |b| {
        b.iter(|| default.call(|| op(black_box(7))))
    });

    // Hooks cost nothing until an attempt fails: no dispatch, no allocation, no metrics call.
    let hooked =
        RetryingCaller::new()
            .on(is_transient)
            .on_retry(|d: &stamina::RetryDetails<'_>| {
                black_box(d.retry_num());
            });
    group.bench_function("caller with an on_retry hook, 45 s timeout", |b| {
        b.iter(|| hooked.call(|| op(black_box(7))))
    });

    group.bench_function("for attempt loop, 45 s timeout", |b| {
        b.iter(|| {
            for attempt in retry_context(is_transient) {
                if let Some(v) = attempt.run(|| op(black_box(7)))? {
                    return Ok(v);
                }
            }
            Err(Transient)
        })
    });
    group.finish();
}

#[inline(never)]
async fn op_async(x: u64) -> Result<u64, Transient> {
    op(x)
}

/// Reads the system clock like the runtime sleepers do, and is never asked to sleep on the
/// success path; it keeps the bench free of any runtime feature.
#[derive(Clone, Copy, Debug)]
struct SystemSleeper;

impl Sleeper for SystemSleeper {
    type Sleep = std::future::Ready<()>;

    fn sleep(&self, _: Duration) -> Self::Sleep {
        std::future::ready(())
    }

    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }
}

/// Both rows run under the same minimal executor, so the difference is the caller's own cost.
fn async_success_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("async_success_path");
    group.bench_function("direct await", |b| {
        b.iter(|| block_on(async { op_async(black_box(7)).await }))
    });

    let caller = AsyncRetryingCaller::new()
        .sleeper(SystemSleeper)
        .on(is_transient);
    group.bench_function("async caller, 45 s timeout", |b| {
        b.iter(|| block_on(caller.call(|| op_async(black_box(7)))))
    });

    group.bench_function("attempt stream, 45 s timeout", |b| {
        b.iter(|| {
            block_on(async {
                let mut attempts = retry_context(is_transient).into_stream_with(SystemSleeper);
                while let Some(attempt) = attempts.next().await {
                    if let Some(v) = attempt.run(|| op_async(black_box(7))).await? {
                        return Ok(v);
                    }
                }
                Err(Transient)
            })
        })
    });
    group.finish();
}

fn retry_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_retry");
    let zero = RetryingCaller::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO)
        .attempts(4)
        .on(is_transient);
    group.bench_function("caller, fails 3 times with zero waits", |b| {
        b.iter(|| {
            let mut left = 3;
            zero.call(|| {
                if left > 0 {
                    left -= 1;
                    return Err(Transient);
                }
                op(black_box(7))
            })
        })
    });
    group.finish();
}

criterion_group!(benches, success_path, async_success_path, retry_path);
criterion_main!(benches);
