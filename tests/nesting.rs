//! Nested-retry suppression: retries multiply layer by layer unless inner loops try once.

use std::cell::Cell;
use std::io;

use stamina::testing::{Testing, thread_testing};
use stamina::{RetryingCaller, retry_context};

fn always(_: &io::Error) -> bool {
    true
}

/// More calls than any test here makes: a leaf called this often panics, so that a broken limit
/// fails its test instead of spinning forever.
const BOUND: u32 = 100;

/// A call that fails, counted in `calls`, and panics beyond [`BOUND`] calls.
fn failing(calls: &Cell<u32>) -> io::Result<()> {
    calls.set(calls.get() + 1);
    assert!(calls.get() <= BOUND, "a loop should have ended");
    Err(io::Error::other("down"))
}

/// Three layers of callers, four attempts each; returns the calls that reach the leaf.
fn three_layers(caller: &RetryingCaller) -> u32 {
    let leaf = Cell::new(0);
    let result = caller.call(always, || {
        caller.call(always, || caller.call(always, || failing(&leaf)))
    });
    assert_eq!(result.unwrap_err().to_string(), "down");
    leaf.get()
}

#[test]
fn callers_multiply_without_suppression_and_collapse_with_it() {
    let _fast = thread_testing(Testing::new().attempts(4));
    assert_eq!(three_layers(&RetryingCaller::new()), 64);
    assert_eq!(
        three_layers(&RetryingCaller::new().suppress_nested(true)),
        4
    );
    assert_eq!(
        three_layers(&RetryingCaller::new().suppress_nested(false)),
        64
    );
}

#[test]
fn guard_loops_collapse_too() {
    let _fast = thread_testing(Testing::new().attempts(4));
    let leaf = Cell::new(0);
    let inner = || -> io::Result<()> {
        for attempt in retry_context(always).suppress_nested(true) {
            attempt.run(|| failing(&leaf))?;
        }
        Ok(())
    };
    let mut outer_attempts = 0;
    for attempt in retry_context(always) {
        outer_attempts += 1;
        let _ = attempt.run(|| {
            RetryingCaller::new()
                .suppress_nested(true)
                .call(always, inner)
        });
    }
    assert_eq!(outer_attempts, 4);
    assert_eq!(leaf.get(), 4);
}

#[test]
fn only_the_inner_loops_choice_matters_and_siblings_are_not_nested() {
    let _fast = thread_testing(Testing::new().attempts(3));
    let calls = Cell::new(0);
    let fail = || failing(&calls);
    // Sequential loops are not nested: each retries fully.
    let suppressing = RetryingCaller::new().suppress_nested(true);
    let _ = suppressing.call(always, fail);
    let _ = suppressing.call(always, fail);
    assert_eq!(calls.get(), 6);
    // A suppressing outer loop does not stop a non-suppressing inner one.
    calls.set(0);
    let _ = suppressing.call(always, || RetryingCaller::new().call(always, fail));
    assert_eq!(calls.get(), 9);
}

#[test]
fn the_depth_is_restored_after_a_panic() {
    let _fast = thread_testing(Testing::new().attempts(2));
    let caller = RetryingCaller::new().suppress_nested(true);
    let result = std::panic::catch_unwind(|| {
        caller.call(always, || -> io::Result<()> { panic!("inside an attempt") })
    });
    assert!(result.is_err());
    let calls = Cell::new(0);
    let _ = caller.call(always, || failing(&calls));
    assert_eq!(calls.get(), 2, "not nested anymore");
}

/// A sync loop of three attempts that suppresses itself when nested; counts the calls it makes.
fn inner_sync_loop(leaf: &Cell<u32>) -> io::Result<()> {
    RetryingCaller::new()
        .suppress_nested(true)
        .call(always, || failing(leaf))
}

#[test]
fn an_async_attempt_counts_as_running_while_its_future_is_built() {
    use stamina::AsyncRetryingCaller;
    use stamina::testing::FakeSleeper;

    let _fast = thread_testing(Testing::new().attempts(3));
    let leaf = Cell::new(0);
    // The closure's synchronous part, which runs before its future is first polled, is part of
    // the attempt: the inner loop sees itself nested.
    let caller = AsyncRetryingCaller::new().sleeper(FakeSleeper::new());
    let result = futures::executor::block_on(caller.call(always, || {
        let inner = inner_sync_loop(&leaf);
        async move { inner }
    }));
    assert!(result.is_err());
    assert_eq!(leaf.get(), 3, "9 if the inner loop retried");

    leaf.set(0);
    let bound = caller.on(always);
    let result = futures::executor::block_on(bound.call(|| {
        let inner = inner_sync_loop(&leaf);
        async move { inner }
    }));
    assert!(result.is_err());
    assert_eq!(leaf.get(), 3);

    leaf.set(0);
    let mut attempts = retry_context(always).into_stream_with(FakeSleeper::new());
    let result: io::Result<()> = futures::executor::block_on(async {
        while let Some(attempt) = attempts.next().await {
            attempt
                .run(|| {
                    let inner = inner_sync_loop(&leaf);
                    async move { inner }
                })
                .await?;
        }
        Ok(())
    });
    assert!(result.is_err());
    assert_eq!(leaf.get(), 3);
}
