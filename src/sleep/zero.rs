//! The wait of zero length, which needs no timer.

use std::task::{Context, Poll};

/// A zero wait: ready on the second poll, after waking the task once, so that a loop of zero
/// waits (testing mode) lets other tasks run without creating a timer.
#[derive(Debug, Default)]
pub(super) struct YieldOnce {
    yielded: bool,
}

impl YieldOnce {
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_wait_yields_once() {
        let mut zero = YieldOnce::default();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert_eq!(zero.poll(&mut cx), Poll::Pending);
        assert_eq!(zero.poll(&mut cx), Poll::Ready(()));
    }
}
