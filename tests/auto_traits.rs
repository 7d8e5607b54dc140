//! `Send`, `Sync` and `Unpin` of every public type, where the user's types allow them.

use std::io;

use stamina::testing::{FakeClock, SwitchGuard, Testing, ThreadGuard};
use stamina::{
    Attempt, Attempts, ConfigError, Decision, Jitter, OnCause, RetryBudget, RetryContext,
    RetryPolicy, RetryingCaller, SystemClock,
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
    send_sync_unpin::<stamina::testing::FakeSleep>();
    send_sync_unpin::<Testing>();
    send_sync_unpin::<SwitchGuard>();
    send_sync_unpin::<RetryContext<On>>();
    send_sync_unpin::<RetryContext<On, FakeClock>>();
    send_sync_unpin::<
        stamina::AsyncRetryContext<On, stamina::testing::FakeSleeper, stamina::AttemptTimeout>,
    >();
    send_sync_unpin::<Attempts<On>>();
    send_sync_unpin::<Attempt<On>>();
    send_sync_unpin::<Attempts<On, FakeClock>>();
    send_sync_unpin::<RetryingCaller>();
    send_sync_unpin::<RetryingCaller<FakeClock>>();
    send_sync_unpin::<RetryContext<On, FakeClock>>();
    send_sync_unpin::<stamina::OnRetryHook>();
    send_sync_unpin::<stamina::GiveUpReason>();
    send_sync_unpin::<stamina::instrument::ShowError>();
    send_sync_unpin::<stamina::instrument::Level>();
    send_sync_unpin::<stamina::Typed<On, io::Error>>();
    send_sync_unpin::<stamina::RetryContext<stamina::Typed<On, io::Error>>>();
}

#[test]
fn what_hooks_see_of_an_error_is_unpin() {
    // Borrowed views of an error that is only known to be `Debug`: neither `Send` nor `Sync`.
    fn unpin<T: Unpin>() {}
    unpin::<stamina::instrument::Cause<'static>>();
    unpin::<stamina::instrument::ErrorView<'static>>();
    unpin::<stamina::instrument::Event<'static>>();
    unpin::<stamina::RetryDetails<'static>>();
    unpin::<stamina::instrument::GiveUpDetails<'static>>();
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

/// The async front end's types and futures, so that loops run on multi-threaded executors and in
/// spawned tasks.
mod async_types {

    use std::time::Duration;

    use stamina::testing::FakeSleeper;
    use stamina::{
        AsyncAttempt, AsyncRetryContext, AsyncRetryingCaller, AttemptStream, AttemptTimedOut,
        AttemptTimeout, EnableTheTokioOrAsyncIoFeatureOrProvideASleeper, NoAttemptTimeout,
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
        assert_send::<AsyncRetryingCaller<FakeSleeper>>();
        assert_sync::<AsyncRetryingCaller<FakeSleeper, AttemptTimeout>>();
        assert_send::<AsyncRetryContext<On, FakeSleeper>>();
        assert_sync::<AsyncRetryContext<On, FakeSleeper>>();
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
        assert_sync::<AsyncRetryContext<On, TokioSleeper>>();
        assert_send::<stamina::TokioSleep>();
        assert_sync::<stamina::TokioSleep>();
    }

    #[cfg(any(feature = "tokio", feature = "async-io"))]
    #[test]
    fn the_default_sleeper_is_send_and_sync() {
        use stamina::{DefaultSleep, DefaultSleeper};
        assert_send::<DefaultSleeper>();
        assert_sync::<DefaultSleeper>();
        assert_unpin::<DefaultSleeper>();
        assert_send::<DefaultSleep>();
        assert_sync::<DefaultSleep>();
        assert_send::<AttemptStream<On>>();
        assert_sync::<AttemptStream<On>>();
        assert_unpin::<AttemptStream<On>>();
        assert_send::<AsyncRetryingCaller>();
        assert_sync::<AsyncRetryingCaller>();
    }

    #[cfg(feature = "async-io")]
    #[test]
    fn async_io_types_are_send_and_sync() {
        use stamina::{AsyncIoSleep, AsyncIoSleeper};
        assert_send::<AsyncIoSleeper>();
        assert_sync::<AsyncIoSleeper>();
        assert_send::<AsyncIoSleep>();
        assert_sync::<AsyncIoSleep>();
        assert_unpin::<AsyncIoSleep>();
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
        let bound = caller.clone().on(|_: &Failed| true);
        let bound_call = bound.call(|| async { Ok::<_, Failed>(1) });
        assert_send_value(&bound_call);

        let mut attempts = stamina::retry_context(|_: &Failed| true)
            .attempt_timeout(Duration::from_secs(1))
            .sleeper(FakeSleeper::new())
            .into_stream();
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

    struct Client {
        calls: u32,
    }

    impl Client {
        async fn get(&mut self) -> Result<u32, Failed> {
            self.calls += 1;
            Ok(self.calls)
        }

        async fn peek(&self) -> Result<u32, Failed> {
            Ok(self.calls)
        }
    }

    /// Futures that must be `Send` (as `tokio::spawn` and web handlers require) with what users
    /// write in them: callers over closures that borrow, async closures over owned values, and
    /// attempt loops whose attempts borrow `&mut` across an `.await`.
    #[test]
    fn futures_holding_borrowing_closures_stay_send() {
        let on = |_: &Failed| true;
        let borrowing_call = async move {
            let caller = AsyncRetryingCaller::new().sleeper(FakeSleeper::new());
            let client = Client { calls: 0 };
            let by_ref = &client;
            caller.call(on, || by_ref.peek()).await?;
            caller.call(on, || async { client.peek().await }).await
        };
        assert_send_value(&borrowing_call);

        let owning_async_closure = async move {
            let caller = AsyncRetryingCaller::new().sleeper(FakeSleeper::new());
            let shared = std::sync::Arc::new(std::sync::Mutex::new(Client { calls: 0 }));
            caller
                .call_mut(on, async move || {
                    let calls = &mut shared.lock().unwrap().calls;
                    *calls += 1;
                    Ok::<_, Failed>(*calls)
                })
                .await
        };
        assert_send_value(&owning_async_closure);

        let mut_self_loop = async move {
            let mut client = Client { calls: 0 };
            let mut attempts = stamina::retry_context(on).into_stream_with(FakeSleeper::new());
            while let Some(attempt) = attempts.next().await {
                if let Some(calls) = attempt.run(async || client.get().await).await? {
                    return Ok(calls);
                }
            }
            Ok::<_, Failed>(0)
        };
        assert_send_value(&mut_self_loop);

        assert_eq!(futures::executor::block_on(borrowing_call).unwrap(), 0);
        assert_eq!(
            futures::executor::block_on(owning_async_closure).unwrap(),
            1
        );
        assert_eq!(futures::executor::block_on(mut_self_loop).unwrap(), 1);
    }
}
