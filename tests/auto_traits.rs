//! `Send`, `Sync` and `Unpin` of the public types, and of the futures they return, so that loops
//! run on multi-threaded executors and in spawned tasks.

use std::time::Duration;

use stamina::testing::FakeSleeper;
use stamina::{
    AsyncAttempt, AsyncRetryingCaller, AttemptStream, AttemptTimedOut, AttemptTimeout,
    BoundAsyncRetryingCaller, EnableTheTokioOrAsyncIoFeatureOrProvideASleeper, NoAttemptTimeout,
};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_unpin<T: Unpin>() {}
fn assert_send_value<T: Send>(_: &T) {}

type On = fn(&std::io::Error) -> bool;

#[test]
fn async_types_are_send_sync_and_unpin() {
    assert_send::<AttemptStream<On, FakeSleeper>>();
    assert_sync::<AttemptStream<On, FakeSleeper>>();
    assert_unpin::<AttemptStream<On, FakeSleeper>>();
    assert_send::<AttemptStream<On, FakeSleeper, AttemptTimeout>>();
    assert_send::<AsyncAttempt<On, FakeSleeper>>();
    assert_sync::<AsyncAttempt<On, FakeSleeper>>();
    assert_send::<stamina::Next<'static, On, FakeSleeper, NoAttemptTimeout>>();
    assert_send::<AsyncRetryingCaller<FakeSleeper>>();
    assert_sync::<AsyncRetryingCaller<FakeSleeper, AttemptTimeout>>();
    assert_send::<BoundAsyncRetryingCaller<On, FakeSleeper>>();
    assert_sync::<BoundAsyncRetryingCaller<On, FakeSleeper>>();
    assert_send::<AttemptTimedOut>();
    assert_sync::<AttemptTimedOut>();
    assert_send::<FakeSleeper>();
    assert_sync::<FakeSleeper>();
    assert_send::<EnableTheTokioOrAsyncIoFeatureOrProvideASleeper>();
    assert_send::<AttemptTimeout>();
    assert_sync::<AttemptTimeout>();
    assert_send::<NoAttemptTimeout>();
    assert_sync::<NoAttemptTimeout>();
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_types_are_send_and_sync() {
    use stamina::TokioSleeper;
    assert_send::<TokioSleeper>();
    assert_sync::<TokioSleeper>();
    assert_send::<AttemptStream<On, TokioSleeper>>();
    assert_sync::<AttemptStream<On, TokioSleeper>>();
    assert_unpin::<AttemptStream<On, TokioSleeper>>();
    assert_send::<AsyncAttempt<On, TokioSleeper>>();
    assert_send::<AsyncRetryingCaller<TokioSleeper>>();
    assert_sync::<BoundAsyncRetryingCaller<On, TokioSleeper>>();
}

#[cfg(feature = "async-io")]
#[test]
fn async_io_types_are_send_and_sync() {
    use stamina::{AsyncIoSleep, AsyncIoSleeper};
    assert_send::<AsyncIoSleeper>();
    assert_sync::<AsyncIoSleeper>();
    assert_send::<AsyncIoSleep>();
    assert_send::<AttemptStream<On, AsyncIoSleeper>>();
    assert_unpin::<AttemptStream<On, AsyncIoSleeper>>();
    assert_send::<AsyncRetryingCaller<AsyncIoSleeper>>();
}

#[derive(Debug)]
struct Failed;

impl From<AttemptTimedOut> for Failed {
    fn from(_: AttemptTimedOut) -> Self {
        Self
    }
}

#[test]
fn returned_futures_are_send_when_the_user_future_is() {
    let caller = AsyncRetryingCaller::new()
        .sleeper(FakeSleeper::new())
        .attempt_timeout(Duration::from_secs(1));
    let call = caller.call(|_: &Failed| true, || async { Ok::<_, Failed>(1) });
    assert_send_value(&call);
    let bound = caller.on(|_: &Failed| true);
    let bound_call = bound.call(|| async { Ok::<_, Failed>(1) });
    assert_send_value(&bound_call);

    let mut attempts = stamina::retry_context(|_: &Failed| true)
        .into_stream_with(FakeSleeper::new())
        .attempt_timeout(Duration::from_secs(1));
    let next = attempts.next();
    assert_send_value(&next);
    drop(next);
    let attempt = futures::executor::block_on(attempts.next()).unwrap();
    let run = attempt.run(|| async { Ok::<_, Failed>(1) });
    assert_send_value(&run);
    assert_eq!(futures::executor::block_on(run).unwrap(), Some(1));
    assert_eq!(futures::executor::block_on(call).unwrap(), 1);
    assert_eq!(futures::executor::block_on(bound_call).unwrap(), 1);
}
