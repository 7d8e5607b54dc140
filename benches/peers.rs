//! This crate side by side with a direct call and the Rust retry crates: backon (blocking and
//! tokio), backoff, exponential-backoff, tokio-retry and retry.
//!
//! `cargo bench --bench peers` (see BENCHMARKS.md for what each row means and the results).
//!
//! Every crate is configured as close to stamina's defaults as it allows (10 attempts, waits from
//! 100 ms doubling up to 5 s, a 45 s total budget where the crate has one); the rows say which
//! knobs differ. The function retried is the same `#[inline(never)]` one everywhere, and every
//! async row runs on one tokio current-thread runtime, timed inside a single `block_on`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, Retryable};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use stamina::testing::FakeClock;
use stamina::{AsyncRetryingCaller, RetryPolicy, RetryingCaller, retry_context};

mod common;

use common::{
    NoSleep, RETRIES, TokioSleep, Transient, WAIT_INITIAL, WAIT_MAX, backon_builder, flaky,
    flaky_async, is_transient, op,
};

/// Times `iters` awaits of `f()` inside one `block_on` on `rt`, so that entering the runtime is
/// not counted per call.
fn run_async<F, Fut, T>(b: &mut criterion::Bencher<'_>, rt: &tokio::runtime::Runtime, f: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    b.iter_custom(|iters| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(f().await);
            }
            start.elapsed()
        })
    });
}

const TIMEOUT: Duration = Duration::from_secs(45);

/// backon with its jitter, next to stamina's default (jittered) policy.
fn backon_config() -> backon::ExponentialBuilder {
    backon_builder(true)
}

fn backoff_config() -> backoff::ExponentialBackoff {
    backoff::ExponentialBackoffBuilder::new()
        .with_initial_interval(WAIT_INITIAL)
        .with_multiplier(2.0)
        .with_max_interval(WAIT_MAX)
        .with_max_elapsed_time(Some(TIMEOUT))
        .build()
}

fn exponential_backoff_config() -> exponential_backoff::Backoff {
    exponential_backoff::Backoff::new(RETRIES as u32 + 1, WAIT_INITIAL, WAIT_MAX)
}

fn tokio_retry_config() -> impl Iterator<Item = Duration> {
    // 2^n * 50 ms: 100 ms, 200 ms, ... capped at 5 s.
    tokio_retry::strategy::ExponentialBackoff::from_millis(2)
        .factor(50)
        .max_delay(WAIT_MAX)
        .take(RETRIES)
}

fn retry_config() -> impl Iterator<Item = Duration> {
    retry::delay::Exponential::from_millis(100)
        .map(|wait| wait.min(WAIT_MAX))
        .take(RETRIES)
}

fn backoff_classify(error: Transient) -> backoff::Error<Transient> {
    if is_transient(&error) {
        backoff::Error::transient(error)
    } else {
        backoff::Error::permanent(error)
    }
}

fn backoff_unwrap(error: backoff::Error<Transient>) -> Transient {
    match error {
        backoff::Error::Permanent(error) | backoff::Error::Transient { err: error, .. } => error,
    }
}

fn retry_classify(result: Result<u64, Transient>) -> retry::OperationResult<u64, Transient> {
    match result {
        Ok(value) => retry::OperationResult::Ok(value),
        Err(error) if is_transient(&error) => retry::OperationResult::Retry(error),
        Err(error) => retry::OperationResult::Err(error),
    }
}

/// A hand-written loop over exponential-backoff's iterator, the way its docs use it.
fn exponential_backoff_loop(
    backoff: &exponential_backoff::Backoff,
    mut f: impl FnMut() -> Result<u64, Transient>,
    sleep: impl Fn(Duration),
) -> Result<u64, Transient> {
    let mut waits = backoff.iter();
    loop {
        match f() {
            Ok(value) => return Ok(value),
            Err(error) if !is_transient(&error) => return Err(error),
            Err(error) => match waits.next().flatten() {
                Some(wait) => sleep(wait),
                None => return Err(error),
            },
        }
    }
}

#[stamina::retry(on = is_transient)]
fn attributed(x: u64) -> Result<u64, Transient> {
    op(x)
}

#[stamina::retry(on = is_transient, timeout = None)]
fn attributed_no_timeout(x: u64) -> Result<u64, Transient> {
    op(x)
}

/// The sync rows of one retry scenario: `failures` failures before the success.
fn sync_rows(group: &mut BenchmarkGroup<'_, WallTime>, failures: u32, zero_waits: bool) {
    let stamina_policy = if zero_waits {
        RetryPolicy::new()
            .wait_initial(Duration::ZERO)
            .wait_jitter(Duration::ZERO)
    } else {
        RetryPolicy::new()
    };
    // stamina's zero-wait policy has no jitter: neither has backon's (like for like).
    let backon = if zero_waits {
        backon_builder(false).with_min_delay(Duration::ZERO)
    } else {
        backon_config()
    };
    let mut backoff = backoff_config();
    let mut exp = exponential_backoff_config();
    if zero_waits {
        backoff.initial_interval = Duration::ZERO;
        backoff.current_interval = Duration::ZERO;
        exp.set_min(Duration::ZERO);
        exp.set_max(Duration::ZERO);
    }
    let waits =
        move || retry_config().map(move |wait| if zero_waits { Duration::ZERO } else { wait });

    group.bench_function("direct call", |b| {
        b.iter(|| {
            let mut f = flaky(failures);
            loop {
                if let Ok(value) = f() {
                    break value;
                }
            }
        })
    });
    if failures == 0 {
        // The yardstick of the rows with a deadline: what one read of the monotonic clock costs.
        group.bench_function("Instant::now()", |b| b.iter(Instant::now));
    }
    let no_timeout = RetryingCaller::from_policy(stamina_policy.no_timeout()).on(is_transient);
    group.bench_function("stamina caller, no timeout", |b| {
        b.iter(|| no_timeout.call(flaky(failures)))
    });
    let with_timeout = RetryingCaller::from_policy(stamina_policy).on(is_transient);
    group.bench_function("stamina caller, 45 s timeout", |b| {
        b.iter(|| with_timeout.call(flaky(failures)))
    });
    let for_loop = |policy: RetryPolicy| {
        let mut f = flaky(failures);
        for attempt in retry_context(is_transient).policy(policy) {
            if let Some(value) = attempt.run(&mut f)? {
                return Ok(value);
            }
        }
        Err(Transient)
    };
    group.bench_function("stamina for attempt loop, no timeout", |b| {
        b.iter(|| for_loop(stamina_policy.no_timeout()))
    });
    group.bench_function("stamina for attempt loop, 45 s timeout", |b| {
        b.iter(|| for_loop(stamina_policy))
    });
    if failures == 0 {
        group.bench_function("stamina #[retry], no timeout", |b| {
            b.iter(|| attributed_no_timeout(black_box(7)))
        });
        group.bench_function("stamina #[retry], 45 s timeout", |b| {
            b.iter(|| attributed(black_box(7)))
        });
    }
    group.bench_function("backon blocking", |b| {
        b.iter(|| flaky(failures).retry(backon).when(is_transient).call())
    });
    group.bench_function("backoff, 45 s max elapsed", |b| {
        b.iter(|| {
            let mut f = flaky(failures);
            backoff::retry(backoff.clone(), || f().map_err(backoff_classify))
                .map_err(backoff_unwrap)
        })
    });
    group.bench_function("exponential-backoff loop", |b| {
        b.iter(|| exponential_backoff_loop(&exp, flaky(failures), std::thread::sleep))
    });
    group.bench_function("retry", |b| {
        b.iter(|| {
            let mut f = flaky(failures);
            retry::retry(waits(), || retry_classify(f())).map_err(|e| e.error)
        })
    });
}

/// The async rows of one retry scenario, all on the same current-thread runtime.
///
/// With failures the runtime's clock is paused: a real tokio timer rounds even a zero sleep up to
/// its 1 ms tick (every crate here sleeps through tokio, so each call would take 3 ms and measure
/// only the timer), while a paused clock completes it at once.
fn async_rows(group: &mut BenchmarkGroup<'_, WallTime>, failures: u32, zero_waits: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(failures > 0)
        .build()
        .unwrap();
    let stamina_policy = if zero_waits {
        RetryPolicy::new()
            .wait_initial(Duration::ZERO)
            .wait_jitter(Duration::ZERO)
    } else {
        RetryPolicy::new()
    };
    // stamina's zero-wait policy has no jitter: neither has backon's (like for like).
    let backon = if zero_waits {
        backon_builder(false).with_min_delay(Duration::ZERO)
    } else {
        backon_config()
    };
    let mut backoff = backoff_config();
    if zero_waits {
        backoff.initial_interval = Duration::ZERO;
        backoff.current_interval = Duration::ZERO;
    }
    let waits = move || {
        tokio_retry_config().map(move |wait| if zero_waits { Duration::ZERO } else { wait })
    };

    group.bench_function("direct await", |b| {
        run_async(b, &rt, || async move {
            let mut f = flaky_async(failures);
            loop {
                if let Ok(value) = f().await {
                    break value;
                }
            }
        })
    });
    let no_timeout = AsyncRetryingCaller::from_policy(stamina_policy.no_timeout())
        .sleeper(TokioSleep)
        .on(is_transient);
    group.bench_function("stamina async caller, no timeout", |b| {
        run_async(b, &rt, || no_timeout.call(flaky_async(failures)))
    });
    let with_timeout = AsyncRetryingCaller::from_policy(stamina_policy)
        .sleeper(TokioSleep)
        .on(is_transient);
    group.bench_function("stamina async caller, 45 s timeout", |b| {
        run_async(b, &rt, || with_timeout.call(flaky_async(failures)))
    });
    group.bench_function("stamina attempt stream, 45 s timeout", |b| {
        run_async(b, &rt, || async move {
            let mut f = flaky_async(failures);
            let mut attempts = retry_context(is_transient)
                .policy(stamina_policy)
                .into_stream_with(TokioSleep);
            while let Some(attempt) = attempts.next().await {
                if let Some(value) = attempt.run(&mut f).await? {
                    return Ok(value);
                }
            }
            Err(Transient)
        })
    });
    group.bench_function("backon", |b| {
        run_async(b, &rt, || {
            flaky_async(failures).retry(backon).when(is_transient)
        })
    });
    group.bench_function("backoff, 45 s max elapsed", |b| {
        run_async(b, &rt, || {
            let mut f = flaky_async(failures);
            backoff::future::retry(backoff.clone(), move || {
                let attempt = f();
                async move { attempt.await.map_err(backoff_classify) }
            })
        })
    });
    group.bench_function("tokio-retry", |b| {
        run_async(b, &rt, || {
            tokio_retry::RetryIf::start(waits(), flaky_async(failures), is_transient)
        })
    });
}

fn success(c: &mut Criterion) {
    let mut group = c.benchmark_group("success");
    sync_rows(&mut group, 0, false);
    group.finish();
    let mut group = c.benchmark_group("async_success");
    async_rows(&mut group, 0, false);
    group.finish();
}

fn three_failures(c: &mut Criterion) {
    // Hooks off: instrumentation is the hooks' cost, measured in its own rows below.
    stamina::set_on_retry_hooks([]);
    let mut group = c.benchmark_group("fails_3_times_zero_waits");
    sync_rows(&mut group, 3, true);
    group.finish();
    let mut group = c.benchmark_group("async_fails_3_times_zero_waits");
    async_rows(&mut group, 3, true);
    group.finish();

    // The default hooks (log and metrics, with no logger or recorder installed) next to hooks
    // off, in one group: each row sets the process-wide hooks before it runs.
    let mut group = c.benchmark_group("fails_3_times_zero_waits_hooks");
    let policy = RetryPolicy::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);
    group.bench_function("direct call", |b| {
        b.iter(|| {
            let mut f = flaky(3);
            loop {
                if let Ok(value) = f() {
                    break value;
                }
            }
        })
    });
    for (timeout, policy) in [
        ("no timeout", policy.no_timeout()),
        ("45 s timeout", policy),
    ] {
        let caller = RetryingCaller::from_policy(policy).on(is_transient);
        group.bench_function(format!("stamina caller, {timeout}, hooks off"), |b| {
            stamina::set_on_retry_hooks([]);
            b.iter(|| caller.call(flaky(3)))
        });
        group.bench_function(format!("stamina caller, {timeout}, default hooks"), |b| {
            stamina::instrument::reset_on_retry_hooks();
            b.iter(|| caller.call(flaky(3)))
        });
    }
    group.finish();
    stamina::set_on_retry_hooks([]);
}

/// Per retry, like for like: stamina's caller and backon's blocking retry, 3 failures then a
/// success, both handing every wait to a sleeper that returns at once (so that the rows measure
/// the retry machinery, not the sleep), hooks off, no total timeout (backon has none).
///
/// | scenario | stamina | backon |
/// |---|---|---|
/// | zero waits, no jitter | `wait_initial` 0, `wait_jitter` 0 | min delay 0, no jitter |
/// | zero waits, jitter drawn | `wait_initial` 0, `wait_jitter` 1 ns (draws `U(0, 1 ns)`) | min delay 0, jitter (draws, times 0) |
/// | default waits, no jitter | 100 ms x 2 up to 5 s, `wait_jitter` 0 | min 100 ms, max 5 s, no jitter |
/// | default waits, jitter | the defaults (`+ U(0, 1 s)`) | min 100 ms, max 5 s, jitter (`+ U(0, 1) x` the wait) |
fn like_for_like(c: &mut Criterion) {
    stamina::set_on_retry_hooks([]);
    let scenarios = common::scenarios();
    let mut group = c.benchmark_group("per_retry_like_for_like");
    group.bench_function("direct call", |b| {
        b.iter(|| {
            let mut f = flaky(3);
            loop {
                if let Ok(value) = f() {
                    break value;
                }
            }
        })
    });
    for (scenario, policy, backon) in scenarios {
        let caller = RetryingCaller::from_policy(policy)
            .clock(NoSleep)
            .on(is_transient);
        group.bench_function(format!("{scenario}: stamina caller"), |b| {
            b.iter(|| caller.call(flaky(3)))
        });
        group.bench_function(format!("{scenario}: stamina for attempt loop"), |b| {
            b.iter(|| {
                let mut f = flaky(3);
                for attempt in retry_context(is_transient).policy(policy).clock(NoSleep) {
                    if let Some(value) = attempt.run(&mut f)? {
                        return Ok(value);
                    }
                }
                Err(Transient)
            })
        });
        group.bench_function(format!("{scenario}: backon blocking"), |b| {
            b.iter(|| {
                flaky(3)
                    .retry(backon)
                    .sleep(NoSleep)
                    .when(is_transient)
                    .call()
            })
        });
    }
    group.finish();

    // The same on tokio (current-thread runtime, paused clock): both crates sleep through
    // `tokio::time::sleep`. Not the scenario with jitter drawn on zero waits: stamina's 1 ns wait
    // would be a timer to tokio's next 1 ms tick where backon's stays a zero sleep.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("async_per_retry_like_for_like");
    group.bench_function("direct await", |b| {
        run_async(b, &rt, || async move {
            let mut f = flaky_async(3);
            loop {
                if let Ok(value) = f().await {
                    break value;
                }
            }
        })
    });
    for (scenario, policy, backon) in [scenarios[0], scenarios[2], scenarios[3]] {
        let caller = AsyncRetryingCaller::from_policy(policy)
            .sleeper(TokioSleep)
            .on(is_transient);
        group.bench_function(format!("{scenario}: stamina async caller"), |b| {
            run_async(b, &rt, || caller.call(flaky_async(3)))
        });
        group.bench_function(format!("{scenario}: stamina attempt stream"), |b| {
            run_async(b, &rt, || async move {
                let mut f = flaky_async(3);
                let mut attempts = retry_context(is_transient)
                    .policy(policy)
                    .into_stream_with(TokioSleep);
                while let Some(attempt) = attempts.next().await {
                    if let Some(value) = attempt.run(&mut f).await? {
                        return Ok(value);
                    }
                }
                Err(Transient)
            })
        });
        group.bench_function(format!("{scenario}: backon"), |b| {
            run_async(b, &rt, || flaky_async(3).retry(backon).when(is_transient))
        });
    }
    group.finish();
}

fn wait_step(c: &mut Criterion) {
    stamina::set_on_retry_hooks([]);
    let mut group = c.benchmark_group("wait_step");
    // The 4th wait of each crate's default-like schedule, computed once per iteration.
    let clock = FakeClock::new();
    let mut attempts = retry_context(is_transient).clock(clock).into_iter();
    for _ in 0..3 {
        let _ = attempts.next().unwrap().record(Err::<(), _>(Transient));
    }
    let fourth = attempts.next().unwrap();
    group.bench_function("stamina Attempt::next_wait (no jitter)", |b| {
        b.iter(|| black_box(&fourth).next_wait())
    });
    drop(fourth);

    group.bench_function("backon (jitter)", |b| {
        b.iter_batched_ref(
            || backon_clone(&backon_config()),
            |b| b.next(),
            criterion::BatchSize::SmallInput,
        )
    });
    let mut backoff = backoff_config();
    backoff.max_elapsed_time = None;
    for _ in 0..3 {
        backoff::backoff::Backoff::next_backoff(&mut backoff);
    }
    group.bench_function("backoff (jitter, no max elapsed)", |b| {
        b.iter_batched_ref(
            || backoff.clone(),
            backoff::backoff::Backoff::next_backoff,
            criterion::BatchSize::SmallInput,
        )
    });
    let exp = exponential_backoff_config();
    let mut exp_iter = exp.iter();
    exp_iter.by_ref().take(3).for_each(drop);
    group.bench_function("exponential-backoff (jitter)", |b| {
        b.iter_batched_ref(
            || exp_iter.clone(),
            Iterator::next,
            criterion::BatchSize::SmallInput,
        )
    });
    let mut tokio_retry = tokio_retry::strategy::ExponentialBackoff::from_millis(2)
        .factor(50)
        .max_delay(WAIT_MAX);
    tokio_retry.by_ref().take(3).for_each(drop);
    group.bench_function("tokio-retry (no jitter)", |b| {
        b.iter_batched_ref(
            || tokio_retry.clone(),
            Iterator::next,
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// backon's backoff is not `Clone`: build it and take it to its 4th wait.
fn backon_clone(config: &backon::ExponentialBuilder) -> backon::ExponentialBackoff {
    let mut backoff = backon::BackoffBuilder::build(*config);
    backoff.by_ref().take(3).for_each(drop);
    backoff
}

criterion_group!(benches, success, three_failures, like_for_like, wait_step);
criterion_main!(benches);
