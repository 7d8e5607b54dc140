//! Switches scoped to a future: they apply around every poll of that future, on whatever thread
//! polls it, and end exactly their own override after each poll.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::executor::block_on;
use stamina::testing::{
    FakeSleeper, Testing, ThreadGuard, get_testing, is_active, thread_active, thread_testing,
    with_active, with_testing,
};
use stamina::{AsyncRetryingCaller, RetryingCaller};

#[derive(Debug, PartialEq)]
struct Down;

fn always(_: &Down) -> bool {
    true
}

/// An async loop that always fails; returns how many calls it made. It yields between attempts,
/// so that a multi-thread runtime may move it to another worker.
async fn calls_of_a_failing_loop() -> u32 {
    let calls = AtomicU32::new(0);
    let result = AsyncRetryingCaller::new()
        .sleeper(FakeSleeper::new())
        .call(always, || {
            calls.fetch_add(1, Ordering::Relaxed);
            async {
                yield_now().await;
                Err::<(), _>(Down)
            }
        })
        .await;
    assert_eq!(result, Err(Down));
    calls.into_inner()
}

/// Yields to the executor once.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// Runs 8 spawned subtasks under `testing` (each wrapped, since a spawned task is a future of
/// its own), each running several failing loops; returns every loop's calls.
async fn subtasks_under(testing: Testing) -> Vec<u32> {
    let mut handles = Vec::new();
    for _ in 0..8 {
        handles.push(tokio::spawn(with_testing(testing, async {
            let mut calls = Vec::new();
            for _ in 0..4 {
                calls.push(calls_of_a_failing_loop().await);
                tokio::task::yield_now().await;
            }
            calls
        })));
    }
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_multi_thread_test_sees_its_own_override_two_attempts() {
    let calls = with_testing(Testing::new().attempts(2), async {
        let mine = calls_of_a_failing_loop().await;
        let subtasks = subtasks_under(get_testing().unwrap()).await;
        (mine, subtasks)
    })
    .await;
    assert_eq!(calls, (2, vec![2; 32]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_multi_thread_test_sees_its_own_override_three_attempts() {
    let calls = with_testing(Testing::new().attempts(3), async {
        let mine = calls_of_a_failing_loop().await;
        let subtasks = subtasks_under(get_testing().unwrap()).await;
        (mine, subtasks)
    })
    .await;
    assert_eq!(calls, (3, vec![3; 32]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_multi_thread_test_deactivates_its_own_loops() {
    let calls = with_active(false, async {
        let mut handles = Vec::new();
        for _ in 0..8 {
            handles.push(tokio::spawn(with_active(is_active(), async {
                calls_of_a_failing_loop().await
            })));
        }
        let mut calls = vec![calls_of_a_failing_loop().await];
        for handle in handles {
            calls.push(handle.await.unwrap());
        }
        calls
    })
    .await;
    assert_eq!(calls, vec![1; 9]);
}

#[test]
fn the_override_is_on_during_polls_only() {
    let wrapped = with_testing(Testing::new().attempts(2), async {
        assert_eq!(get_testing(), Some(Testing::new().attempts(2)));
        yield_now().await;
        assert_eq!(get_testing(), Some(Testing::new().attempts(2)));
        calls_of_a_failing_loop().await
    });
    assert_eq!(get_testing(), None);
    assert_eq!(block_on(wrapped), 2);
    assert_eq!(get_testing(), None);
}

#[test]
fn two_futures_on_one_thread_each_see_their_own() {
    let two = with_testing(Testing::new().attempts(2), calls_of_a_failing_loop());
    let three = with_testing(Testing::new().attempts(3), calls_of_a_failing_loop());
    let plain = calls_of_a_failing_loop();
    let _fast = thread_testing(Testing::new().attempts(4));
    // Interleaved polls: each future's override applies to its own polls only.
    assert_eq!(
        block_on(futures::future::join3(two, three, plain)),
        (2, 3, 4)
    );
}

#[test]
fn it_nests_with_thread_guards_and_other_future_scopes() {
    let _outer = thread_testing(Testing::new().attempts(5));
    let calls = block_on(with_testing(Testing::new().attempts(2), async {
        // The future's override is the newest while it is polled...
        let wrapped = calls_of_a_failing_loop().await;
        // ...a thread guard made inside a poll is newer still while it lives...
        let sync_calls = {
            let _inner = thread_testing(Testing::new().attempts(3));
            let mut calls = 0;
            let _ = RetryingCaller::new().call(always, || {
                calls += 1;
                Err::<(), _>(Down)
            });
            calls
        };
        // ...and a nested future scope wins inside its own polls.
        let nested = with_testing(Testing::new().attempts(4), calls_of_a_failing_loop()).await;
        let deactivated = with_active(false, calls_of_a_failing_loop()).await;
        (
            wrapped,
            sync_calls,
            nested,
            deactivated,
            calls_of_a_failing_loop().await,
        )
    }));
    assert_eq!(calls, (2, 3, 4, 1, 2));
    assert_eq!(get_testing(), Some(Testing::new().attempts(5)));
}

thread_local! {
    static KEPT: RefCell<Option<ThreadGuard>> = const { RefCell::new(None) };
}

#[test]
fn each_poll_ends_exactly_its_own_override() {
    // A thread guard made inside a poll and kept after it is not the future's to end.
    block_on(with_testing(Testing::new(), async {
        KEPT.with(|kept| *kept.borrow_mut() = Some(thread_active(false)));
    }));
    assert!(
        !is_active(),
        "the guard made inside the poll is still alive"
    );
    assert_eq!(get_testing(), None, "the future's own override ended");
    KEPT.with(|kept| kept.borrow_mut().take());
    assert!(is_active());
}

#[test]
fn a_panicking_poll_ends_its_override() {
    let panicked = std::panic::catch_unwind(|| {
        block_on(with_testing(Testing::new().attempts(7), async {
            assert_eq!(get_testing(), Some(Testing::new().attempts(7)));
            panic!("inside the poll");
        }))
    });
    assert!(panicked.is_err());
    assert_eq!(get_testing(), None);
    assert!(is_active());
}

#[test]
fn debug_shows_the_switch() {
    let wrapped = with_testing(Testing::new().attempts(2), std::future::ready(()));
    assert_eq!(
        format!("{wrapped:?}"),
        "WithSwitch { testing: Some(Testing { attempts: 2, cap: false, hedges: false }), .. }"
    );
    let wrapped = with_active(false, std::future::ready(()));
    assert_eq!(format!("{wrapped:?}"), "WithSwitch { active: false, .. }");
}

#[test]
fn the_wrapper_is_send_when_the_future_is() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let wrapped = with_testing(Testing::new(), async { 1 });
    send_sync(&wrapped);
    assert_eq!(block_on(wrapped), 1);
}
