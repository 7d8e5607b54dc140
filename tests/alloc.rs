//! Exact heap allocation counts and type sizes.
//!
//! The counting allocator sees every thread of the process, so this binary holds a single test
//! that measures each case in turn.

use std::alloc::System;
use std::hint::black_box;
use std::io;
use std::time::Duration;

use stamina::{RetryBudget, RetryPolicy, RetryingCaller, retry_context};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn always(_: &io::Error) -> bool {
    true
}

/// Allocations made by `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    f();
    region.change().allocations
}

/// Fails `failures` times (with an error that does not allocate), then succeeds.
fn flaky(failures: u32) -> impl FnMut() -> io::Result<u32> {
    let mut left = failures;
    move || {
        if left > 0 {
            left -= 1;
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(black_box(7))
    }
}

#[test]
fn allocation_counts_and_sizes() {
    const ZERO_WAITS: RetryPolicy = RetryPolicy::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);

    let caller = RetryingCaller::new();
    let no_timeout = RetryingCaller::new().no_timeout();
    let bound = RetryingCaller::new().on(always);
    let zero = RetryingCaller::from_policy(ZERO_WAITS);
    let budget = RetryBudget::retry_quota();
    let budgeted = RetryingCaller::from_policy(ZERO_WAITS).budget(&budget);
    // Warm up thread-locals and the clock before counting.
    let _ = caller.call(always, flaky(0));

    // Callers: nothing on the success path, nothing per retry.
    assert_eq!(allocations(|| drop(caller.call(always, flaky(0)))), 0);
    assert_eq!(allocations(|| drop(no_timeout.call(always, flaky(0)))), 0);
    assert_eq!(allocations(|| drop(bound.call(flaky(0)))), 0);

    // Retries allocate nothing in the loop itself; instrumentation is the hooks' business (the
    // built-in metrics hook builds its label set per retry), so it is off for these counts.
    stamina::set_on_retry_hooks([]);
    assert_eq!(allocations(|| drop(zero.call(always, flaky(3)))), 0);
    assert_eq!(allocations(|| drop(budgeted.call(always, flaky(3)))), 0);

    // Guard loops: one allocation per loop, none per attempt.
    let guard_loop = |policy: RetryPolicy, failures: u32| {
        let mut op = flaky(failures);
        for attempt in retry_context(always).policy(policy) {
            if attempt.run(&mut op).unwrap().is_some() {
                break;
            }
        }
    };
    assert_eq!(allocations(|| guard_loop(RetryPolicy::new(), 0)), 1);
    assert_eq!(allocations(|| guard_loop(ZERO_WAITS, 5)), 1);
    stamina::instrument::reset_on_retry_hooks();
    assert_eq!(allocations(|| guard_loop(RetryPolicy::new(), 0)), 1);

    // Sizes: the configuration is a small `Copy` value; callers add a name, a budget and a
    // nesting choice to it.
    assert_eq!(std::mem::size_of::<RetryPolicy>(), 112);
    assert_eq!(std::mem::size_of::<RetryingCaller>(), 176);
    assert_eq!(std::mem::size_of::<RetryBudget>(), 8);
}
