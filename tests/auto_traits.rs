//! `Send`, `Sync` and `Unpin` of every public type, where the user's types allow them.

use std::io;

use stamina::testing::{FakeClock, SwitchGuard, Testing, ThreadGuard};
use stamina::{
    Attempt, Attempts, BoundRetryingCaller, ConfigError, Decision, Jitter, OnCause, RetryBudget,
    RetryContext, RetryPolicy, RetryingCaller, SystemClock,
};

fn send_sync_unpin<T: Send + Sync + Unpin>() {}

type On = fn(&io::Error) -> bool;

#[test]
fn public_types_are_send_sync_unpin() {
    send_sync_unpin::<RetryPolicy>();
    send_sync_unpin::<ConfigError>();
    send_sync_unpin::<Decision>();
    send_sync_unpin::<Jitter>();
    send_sync_unpin::<RetryBudget>();
    send_sync_unpin::<OnCause<io::Error>>();
    send_sync_unpin::<SystemClock>();
    send_sync_unpin::<FakeClock>();
    send_sync_unpin::<Testing>();
    send_sync_unpin::<SwitchGuard>();
    send_sync_unpin::<RetryContext<On>>();
    send_sync_unpin::<RetryContext<On, FakeClock>>();
    send_sync_unpin::<Attempts<On>>();
    send_sync_unpin::<Attempt<On>>();
    send_sync_unpin::<Attempts<On, FakeClock>>();
    send_sync_unpin::<RetryingCaller>();
    send_sync_unpin::<RetryingCaller<FakeClock>>();
    send_sync_unpin::<BoundRetryingCaller<On>>();
    send_sync_unpin::<stamina::OnRetryHook>();
    send_sync_unpin::<stamina::GiveUpReason>();
}

#[test]
fn retry_guards_are_send() {
    fn send_unpin<T: Send + Unpin>() {}
    send_unpin::<stamina::RetryGuard>();
}

#[test]
fn closures_keep_their_auto_traits() {
    fn check<T: Send + Sync>(_: &T) {}
    let threshold = 3;
    let ctx = stamina::retry_context(move |e: &io::Error| e.raw_os_error() == Some(threshold));
    check(&ctx);
    check(&ctx.into_iter());
}

/// Compiles only if `T` is not `Send`: with a `Send` type, the call would be ambiguous.
trait AmbiguousIfSend<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

trait AmbiguousIfSync<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}

#[test]
fn thread_guards_stay_on_their_thread() {
    <ThreadGuard as AmbiguousIfSend<_>>::check();
    <ThreadGuard as AmbiguousIfSync<_>>::check();
}
