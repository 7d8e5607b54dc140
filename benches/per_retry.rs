//! Per-retry costs of stamina and backon, like for like, measured interleaved.
//!
//! `cargo bench --bench per_retry` (see BENCHMARKS.md for the results).
//!
//! On a shared, noisy machine two rows timed one after the other (as criterion does) can land in
//! different conditions and read 20-40 % apart from one run to the next. Here every row runs a
//! short batch in turn, round after round, so that all rows see the same conditions; each row's
//! figure is the median of its batches, and the ratios compare medians of the same rounds.
//!
//! Every call fails 3 times, then succeeds. Both crates hand each computed wait to a sleeper that
//! returns at once (sync) or sleep through `tokio::time::sleep` on a paused current-thread
//! runtime (async); stamina's hooks are off unless a row says otherwise; neither side has a total
//! timeout unless a row says so (backon has none).

use std::hint::black_box;
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, Retryable};
use stamina::{AsyncRetryingCaller, RetryingCaller, retry_context};

mod common;

use common::{NoSleep, TokioSleep, Transient, flaky, flaky_async, is_transient, op};

/// The words of stamina's stream state on 64-bit targets: 384 bytes with its reference count
/// (`tests/alloc.rs` checks the 384 bytes).
const SHARED_WORDS: usize = 47;

/// One row: a name and what it runs `n` times, returning the time taken.
type Row<'a> = (String, Box<dyn Fn(u32) -> Duration + 'a>);

/// A row timing `f`, called through a `dyn` pointer as every row is, so that no row's code is
/// inlined into (and optimised with) its timing loop and not another's.
fn sync_row<'a, T: 'a>(name: impl Into<String>, f: impl Fn() -> T + 'a) -> Row<'a> {
    let f: Box<dyn Fn() -> T + 'a> = Box::new(f);
    let run = move |n: u32| {
        let f = black_box(&f);
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        start.elapsed()
    };
    (name.into(), Box::new(run))
}

fn async_row<'a, F, Fut>(rt: &'a tokio::runtime::Runtime, name: &str, f: F) -> Row<'a>
where
    F: Fn() -> Fut + 'a,
    Fut: Future,
{
    let run = move |n: u32| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..n {
                black_box(f().await);
            }
            start.elapsed()
        })
    };
    (name.to_owned(), Box::new(run))
}

/// Runs `rows` in turn, `rounds` times, each for `n` calls; prints each row's median per call.
/// With `PER_RETRY_ONLY=text` set, runs only the rows whose name contains it, once (for `n`
/// calls, or `PER_RETRY_CALLS` calls when set), for profilers (`perf record`) and instruction
/// counters (`valgrind --tool=callgrind`).
fn interleaved(title: &str, rows: &[Row<'_>], n: u32, rounds: usize) -> Vec<f64> {
    if let Ok(only) = std::env::var("PER_RETRY_ONLY") {
        let calls = std::env::var("PER_RETRY_CALLS")
            .ok()
            .and_then(|calls| calls.parse().ok())
            .unwrap_or(n);
        for (name, run) in rows {
            if name.contains(&only) {
                run(calls);
            }
        }
        return vec![1.0; rows.len()];
    }
    for (_, run) in rows {
        run(n); // warm up
    }
    let mut samples = vec![Vec::with_capacity(rounds); rows.len()];
    for _ in 0..rounds {
        for ((_, run), samples) in rows.iter().zip(&mut samples) {
            samples.push(run(n).as_nanos() as f64 / f64::from(n));
        }
    }
    println!("\n{title} (median of {rounds} interleaved rounds of {n} calls, ns per call)\n");
    println!("| row | median | min |");
    println!("|---|---:|---:|");
    let mut medians = Vec::new();
    for ((name, _), samples) in rows.iter().zip(&mut samples) {
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        println!("| {name} | {median:.1} | {:.1} |", samples[0]);
        medians.push(median);
    }
    medians
}

/// Prints per-retry figures: (row - base) / 3 for each pair, and stamina's over backon's.
fn per_retry(pairs: &[(&str, f64, f64)], base: f64) {
    println!("\n| per retry, (row - direct) / 3 | stamina | backon | stamina / backon |");
    println!("|---|---:|---:|---:|");
    for (scenario, stamina, backon) in pairs {
        let (s, b) = ((stamina - base) / 3.0, (backon - base) / 3.0);
        println!("| {scenario} | {s:.1} ns | {b:.1} ns | {:.2}x |", s / b);
    }
}

fn main() {
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(101);
    stamina::set_on_retry_hooks([]);

    // Sync: four scenarios, stamina's caller next to backon's blocking retry.
    let scenarios = common::scenarios();
    let zero = scenarios[0].1;
    let mut rows: Vec<Row<'_>> = vec![sync_row("direct call (4 calls)", || {
        let mut f = flaky(3);
        loop {
            if let Ok(value) = f() {
                break value;
            }
        }
    })];
    for (scenario, policy, backon) in scenarios {
        let caller = RetryingCaller::from_policy(policy)
            .clock(NoSleep)
            .on(is_transient);
        rows.push(sync_row(format!("{scenario}: stamina caller"), move || {
            caller.call(flaky(3))
        }));
        rows.push(sync_row(
            format!("{scenario}: backon blocking"),
            move || {
                flaky(3)
                    .retry(backon)
                    .sleep(NoSleep)
                    .when(is_transient)
                    .call()
            },
        ));
    }
    let m = interleaved("Sync, 3 failures then a success", &rows, 2000, rounds);
    let pairs: Vec<_> = scenarios
        .iter()
        .enumerate()
        .map(|(i, (scenario, ..))| (*scenario, m[1 + 2 * i], m[2 + 2 * i]))
        .collect();
    per_retry(&pairs, m[0]);

    // The default hooks (log and metrics, no logger or recorder installed) next to hooks off.
    let zero_caller = RetryingCaller::from_policy(zero)
        .clock(NoSleep)
        .on(is_transient);
    let hooked = |defaults: bool| {
        move || {
            if defaults {
                stamina::instrument::reset_on_retry_hooks();
            } else {
                stamina::set_on_retry_hooks([]);
            }
        }
    };
    let rows: Vec<Row<'_>> = vec![
        sync_row("direct call (4 calls)", || {
            let mut f = flaky(3);
            loop {
                if let Ok(value) = f() {
                    break value;
                }
            }
        }),
        {
            let (name, run) = sync_row("stamina caller, zero waits, hooks off", || {
                zero_caller.call(flaky(3))
            });
            let off = hooked(false);
            (
                name,
                Box::new(move |n| {
                    off();
                    run(n)
                }) as Box<dyn Fn(u32) -> Duration>,
            )
        },
        {
            let (name, run) = sync_row("stamina caller, zero waits, default hooks", || {
                zero_caller.call(flaky(3))
            });
            let on = hooked(true);
            (
                name,
                Box::new(move |n| {
                    on();
                    run(n)
                }) as Box<dyn Fn(u32) -> Duration>,
            )
        },
    ];
    let m = interleaved("Hooks, 3 failures then a success", &rows, 2000, rounds);
    println!(
        "\nDefault hooks over hooks off: {:.1} ns per retry",
        (m[2] - m[1]) / 3.0
    );
    stamina::set_on_retry_hooks([]);

    // The success path: a `for attempt` loop next to a caller, both with the default timeout.
    let caller = RetryingCaller::new().on(is_transient);
    let built = RetryingCaller::new().no_timeout().on(is_transient);
    let rows: Vec<Row<'_>> = vec![
        sync_row("direct call", || op(black_box(7))),
        sync_row("Instant::now()", Instant::now),
        sync_row("stamina caller, 45 s timeout", || {
            caller.call(|| op(black_box(7)))
        }),
        sync_row("stamina for attempt loop, 45 s timeout", || {
            for attempt in retry_context(is_transient) {
                if let Some(value) = attempt.run(|| op(black_box(7)))? {
                    return Ok(value);
                }
            }
            Err(Transient)
        }),
        sync_row("stamina caller, no timeout", || {
            RetryingCaller::new()
                .no_timeout()
                .call(is_transient, || op(black_box(7)))
        }),
        sync_row("stamina for attempt loop, no timeout", || {
            for attempt in retry_context(is_transient).no_timeout() {
                if let Some(value) = attempt.run(|| op(black_box(7)))? {
                    return Ok(value);
                }
            }
            Err(Transient)
        }),
        // The same caller built once, as `benches/overhead.rs` times it.
        sync_row("stamina caller built once, no timeout", || {
            built.call(|| op(black_box(7)))
        }),
    ];
    let m = interleaved("Success on the first attempt", &rows, 5000, rounds);
    println!(
        "\n`for attempt` loop over the caller: {:.1} ns with the 45 s timeout, {:.1} ns without",
        m[3] - m[2],
        m[5] - m[4]
    );
    println!(
        "A caller built once, no timeout: {:.2} ns over the direct call",
        m[6] - m[0]
    );

    // Async, on tokio's paused clock: both crates sleep through `tokio::time::sleep`.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let async_scenarios = [scenarios[0], scenarios[2], scenarios[3]];
    let callers: Vec<_> = async_scenarios
        .iter()
        .map(|(_, policy, _)| {
            AsyncRetryingCaller::from_policy(*policy)
                .sleeper(TokioSleep)
                .on(is_transient)
        })
        .collect();
    let mut rows: Vec<Row<'_>> = vec![async_row(&rt, "direct await (4 awaits)", || async {
        let mut f = flaky_async(3);
        loop {
            if let Ok(value) = f().await {
                break value;
            }
        }
    })];
    for ((scenario, policy, backon), caller) in async_scenarios.into_iter().zip(&callers) {
        rows.push(async_row(
            &rt,
            &format!("{scenario}: stamina async caller"),
            move || caller.call(flaky_async(3)),
        ));
        rows.push(async_row(
            &rt,
            &format!("{scenario}: stamina attempt stream"),
            move || async move {
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
            },
        ));
        rows.push(async_row(&rt, &format!("{scenario}: backon"), move || {
            flaky_async(3).retry(backon).when(is_transient)
        }));
    }
    // The same zero-wait loops with 9 failures: the difference from 3 failures is 6 retries'
    // cost alone, without what a loop costs once (its state, the first sleep's allocation).
    let zero = async_scenarios[0].1;
    let zero_caller = &callers[0];
    let zero_backon = async_scenarios[0].2;
    let marginal_from = rows.len();
    rows.push(async_row(
        &rt,
        "9 failures: direct await (10 awaits)",
        || async {
            let mut f = flaky_async(9);
            loop {
                if let Ok(value) = f().await {
                    break value;
                }
            }
        },
    ));
    rows.push(async_row(
        &rt,
        "9 failures: stamina async caller",
        move || zero_caller.call(flaky_async(9)),
    ));
    rows.push(async_row(
        &rt,
        "9 failures: stamina attempt stream",
        move || async move {
            let mut f = flaky_async(9);
            let mut attempts = retry_context(is_transient)
                .policy(zero)
                .into_stream_with(TokioSleep);
            while let Some(attempt) = attempts.next().await {
                if let Some(value) = attempt.run(&mut f).await? {
                    return Ok(value);
                }
            }
            Err(Transient)
        },
    ));
    rows.push(async_row(&rt, "9 failures: backon", move || {
        flaky_async(9).retry(zero_backon).when(is_transient)
    }));
    // backon's zero-wait loop plus only what a stream of owned guards needs and backon does not,
    // at the sizes stamina's stream has on this target: the state shared with the guards (one
    // allocation, a clone and a drop of its count per attempt) and the box that keeps the sleep
    // while the stream stays `Unpin` (one allocation). Everything else of stamina's stream
    // (its bookkeeping, the lock, the futures' state machines) is left out: this is a floor.
    let floor_row = rows.len();
    rows.push(async_row(
        &rt,
        "zero waits: backon + the stream's allocations and counts (a floor)",
        move || async move {
            let state = black_box(triomphe::Arc::new([0u64; SHARED_WORDS]));
            let sleep_box = black_box(Box::new(
                std::mem::MaybeUninit::<tokio::time::Sleep>::uninit(),
            ));
            let mut f = flaky_async(3);
            let state = &state;
            let result = (move || {
                drop(black_box(triomphe::Arc::clone(state)));
                f()
            })
            .retry(zero_backon)
            .when(is_transient)
            .await;
            drop(sleep_box);
            result
        },
    ));
    let m = interleaved(
        "Async on tokio (paused clock), 3 failures then a success",
        &rows,
        500,
        rounds,
    );
    println!(
        "\n| per retry, (row - direct) / 3 | stamina async caller | stamina attempt stream | backon | caller / backon | stream / backon |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (i, (scenario, ..)) in async_scenarios.iter().enumerate() {
        let per = |x: f64| (x - m[0]) / 3.0;
        let (c, s, b) = (per(m[1 + 3 * i]), per(m[2 + 3 * i]), per(m[3 + 3 * i]));
        println!(
            "| {scenario} | {c:.1} ns | {s:.1} ns | {b:.1} ns | {:.2}x | {:.2}x |",
            c / b,
            s / b
        );
    }
    let floor = (m[floor_row] - m[0]) / 3.0;
    let backon_zero = (m[3] - m[0]) / 3.0;
    println!(
        "\nbackon + the stream's allocations and counts (a floor), zero waits: {floor:.1} ns per retry, {:.2}x backon",
        floor / backon_zero
    );
    // Zero waits, no jitter: 6 retries' cost alone, and what the loop costs once.
    let n = marginal_from;
    let (direct3, direct9) = (m[0], m[n]);
    println!(
        "\n| zero waits, no jitter | per retry alone, (9 failures - 3 failures) / 6 | once per loop, 3 failures - 3 retries - direct | per retry / backon |"
    );
    println!("|---|---:|---:|---:|");
    let backon_retry = ((m[n + 3] - direct9) - (m[3] - direct3)) / 6.0;
    for (name, three, nine) in [
        ("stamina async caller", m[1], m[n + 1]),
        ("stamina attempt stream", m[2], m[n + 2]),
        ("backon", m[3], m[n + 3]),
    ] {
        let retry = ((nine - direct9) - (three - direct3)) / 6.0;
        let once = three - direct3 - 3.0 * retry;
        println!(
            "| {name} | {retry:.1} ns | {once:.1} ns | {:.2}x |",
            retry / backon_retry
        );
    }
}
