//! The retries scheduled on the current thread, seen through a process-wide hook that files
//! each retry under the thread it ran on: the tests of a binary, which run in parallel, each see
//! exactly their own (a current-thread runtime runs an async test on its thread).

use std::cell::RefCell;
use std::sync::Once;
use std::time::Duration;

/// A scheduled retry: the loop's name, the number of the failed attempt, the wait.
pub(crate) type Retries = Vec<(String, u32, Duration)>;

thread_local! {
    static RETRIES: RefCell<Retries> = const { RefCell::new(Vec::new()) };
}

/// Installs the recording hook (once) and forgets this thread's earlier retries.
pub(crate) fn start() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        stamina::set_on_retry_hooks([stamina::OnRetryHook::new(
            |d: &stamina::RetryDetails<'_>| {
                let retry = (d.name().to_owned(), d.retry_num(), d.wait_for());
                RETRIES.with(|r| r.borrow_mut().push(retry));
            },
        )]);
    });
    RETRIES.with(|r| r.borrow_mut().clear());
}

/// The retries this thread scheduled since [`start`].
pub(crate) fn take() -> Retries {
    RETRIES.with(RefCell::take)
}
