//! The service a [`RetryLayer`](super::RetryLayer) wraps around another, and the future of one
//! retried call.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use pin_project_lite::pin_project;

use super::clone::CloneRequest;
use crate::driver::{Driver, Verdict};
use crate::hedge::{HedgeCtx, Hedger};
use crate::settings::{Bound, Front, Retrying, Settings, Waits, sealed};
use crate::timeout::{AttemptTimeoutKind, AttemptTimeoutMode, RunAttempt, run_attempt};
use crate::{AttemptTimeout, NoAttemptTimeout, RetryOn, Sleeper};

/// The error type of tower stacks: any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The front end of tower layers, which copies requests with `C` (see
/// [`CloneRequest`](super::CloneRequest)).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tower<C> {
    pub(crate) cloner: C,
}

impl<C> sealed::Sealed for Tower<C> {}
impl<C> Front for Tower<C> {
    const NAMES: [&'static str; 2] = ["RetryLayer", "RetryLayer"];
}
impl<C> Waits for Tower<C> {}

/// What a [`Retry`] service and its futures need to know of their configuration's type: its
/// sleeper and attempt timeout mode. Implemented by [`RetryLayer`](super::RetryLayer) only.
pub trait Config: sealed::Sealed {
    /// The sleeper the calls wait on.
    #[doc(hidden)]
    type Sleeper: Sleeper;
    /// The attempt timeout mode.
    #[doc(hidden)]
    type Mode: AttemptTimeoutKind;
}

impl<On, S, M, C> sealed::Sealed for Retrying<Tower<C>, Bound<On>, S, M> {}
impl<On, S: Sleeper, M: AttemptTimeoutKind, C> Config for Retrying<Tower<C>, Bound<On>, S, M> {
    type Sleeper = S;
    type Mode = M;
}

/// The errors of a [`Retry`] service over a service whose errors are `E`: without an attempt
/// timeout, `E` itself; with one ([`RetryLayer::attempt_timeout`](super::RetryLayer)),
/// [`BoxError`], as tower's own timeout returns them: the wrapped service's error in the box,
/// or the [`AttemptTimedOut`](crate::AttemptTimedOut) of an attempt that was cut. So an attempt
/// timeout works over any error that converts into a `BoxError`, which every
/// `Error + Send + Sync` does. Sealed: it shows up in bounds only.
#[diagnostic::on_unimplemented(
    message = "with an attempt timeout, the layer's errors are `tower::BoxError`: `{E}` must convert into one",
    label = "`{E}` does not convert into a `BoxError`"
)]
pub trait ErrorMode<E>: AttemptTimeoutMode<Self::Error> {
    /// The service's error type.
    type Error;

    /// The wrapped service's `error` as the service's.
    #[doc(hidden)]
    fn convert(error: E) -> Self::Error;
}

impl<E> ErrorMode<E> for NoAttemptTimeout {
    type Error = E;

    fn convert(error: E) -> E {
        error
    }
}

impl<E: Into<BoxError>> ErrorMode<E> for AttemptTimeout {
    type Error = BoxError;

    fn convert(error: E) -> BoxError {
        error.into()
    }
}

/// The service made by a [`RetryLayer`](super::RetryLayer) `L`: calls the wrapped service until
/// `on` accepts the outcome or the attempts, the time or the budget are used up, and returns the
/// last response or error unchanged.
///
/// Clones share the configuration. Each call takes the wrapped service that
/// [`poll_ready`](::tower::Service::poll_ready) made ready, and leaves a clone of it in its
/// place (so the wrapped service must be `Clone`, and cheap to clone, as clients are); the call
/// awaits that service's readiness again before each retry.
///
/// ```
/// use tower::Layer;
///
/// let echo = tower::service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n) });
/// let service = stamina::tower::RetryLayer::new(|outcome: &Result<u32, std::io::Error>| outcome.is_err())
///     .layer(echo);
/// let echo = service.into_inner(); // the wrapped service, unchanged
/// # let _ = echo;
/// ```
#[derive(Debug)]
pub struct Retry<Svc, L> {
    pub(super) inner: Svc,
    pub(super) layer: Arc<L>,
}

impl<Svc, L> Retry<Svc, L> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &Svc {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut Svc {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> Svc {
        self.inner
    }
}

impl<Svc: Clone, L> Clone for Retry<Svc, L> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<Svc, Req, On, S, M, C> ::tower::Service<Req>
    for Retry<Svc, Retrying<Tower<C>, Bound<On>, S, M>>
where
    Svc: ::tower::Service<Req> + Clone,
    Svc::Response: fmt::Debug,
    M: ErrorMode<Svc::Error>,
    M::Error: fmt::Debug,
    On: RetryOn<Result<Svc::Response, M::Error>>,
    S: Sleeper,
    C: CloneRequest<Req>,
{
    type Response = Svc::Response;
    type Error = M::Error;
    type Future = ResponseFuture<Svc, Req, Retrying<Tower<C>, Bound<On>, S, M>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::convert)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // The service that `poll_ready` made ready goes with the call; a clone takes its place
        // until the next `poll_ready`.
        let fresh = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, fresh);
        let layer = Arc::clone(&self.layer);
        let mut driver = Driver::start(&layer.settings.policy, || layer.time.now());
        let spare = layer.front.cloner.clone_request(&request);
        let (state, spare) = if spare.is_some() && driver.hedges(&layer.settings) {
            // Hedged: every attempt sends a copy of the request, kept as `spare`, on a clone of
            // the service made ready for it.
            let mut hedged = Hedged {
                layer: &*layer,
                service: &service,
                template: &request,
            };
            let hedger = Hedger::start(&mut hedged, &driver);
            (State::Hedging { hedger }, Some(request))
        } else {
            let attempt = attempt(&layer, driver.deadline(), || service.call(request));
            (State::Calling { attempt }, spare)
        };
        ResponseFuture {
            state,
            service,
            spare,
            layer,
            driver,
        }
    }
}

/// Runs the future `call` makes as one attempt, its error converted as `M` says, cut at the
/// layer's attempt timeout or at `deadline`. `call` counts as inside the attempt, its
/// synchronous part included.
fn attempt<F, T, E, S, M>(
    layer: &Retrying<impl Sized, impl Sized, S, M>,
    deadline: Option<Instant>,
    call: impl FnOnce() -> F,
) -> RunAttempt<Converted<F, M>, M::Timer<S::Sleep>>
where
    F: Future<Output = Result<T, E>>,
    S: Sleeper,
    M: ErrorMode<E>,
{
    let timeout = layer.settings.policy.get_attempt_timeout();
    let make = || Converted {
        future: call(),
        mode: PhantomData,
    };
    run_attempt::<_, _, M, S, _>(&layer.time, timeout, deadline, make)
}

pin_project! {
    /// The wrapped service's response future, its error converted as `M` says.
    struct Converted<F, M> {
        #[pin]
        future: F,
        mode: PhantomData<fn() -> M>,
    }
}

impl<F, M, T, E> Future for Converted<F, M>
where
    F: Future<Output = Result<T, E>>,
    M: ErrorMode<E>,
{
    type Output = Result<T, M::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map_err(M::convert)
    }
}

type Sleep<L> = <<L as Config>::Sleeper as Sleeper>::Sleep;
type Error<L, E> = <<L as Config>::Mode as ErrorMode<E>>::Error;
type Timer<L, E> = <<L as Config>::Mode as AttemptTimeoutMode<Error<L, E>>>::Timer<Sleep<L>>;
/// One attempt of a hedged call.
type HedgedAttempt<Svc, Req, L> = RunAttempt<
    Converted<ReadyCall<Svc, Req>, <L as Config>::Mode>,
    Timer<L, <Svc as ::tower::Service<Req>>::Error>,
>;

pin_project! {
    /// A call on a clone of the service made ready for it first, as each attempt of a hedged
    /// call makes.
    struct ReadyCall<Svc, Req>
    where
        Svc: ::tower::Service<Req>,
    {
        service: Svc,
        request: Option<Req>,
        #[pin]
        call: Option<Svc::Future>,
    }
}

impl<Svc: ::tower::Service<Req>, Req> Future for ReadyCall<Svc, Req> {
    type Output = Result<Svc::Response, Svc::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.call.is_none() {
            ready!(this.service.poll_ready(cx))?;
            if let Some(request) = this.request.take() {
                this.call.set(Some(this.service.call(request)));
            }
        }
        this.call
            .as_pin_mut()
            .map_or(Poll::Pending, |call| call.poll(cx))
    }
}

/// A hedged call of a [`Retry`] service: each attempt sends a copy of `template` on a clone of
/// `service`.
struct Hedged<'a, Svc, Req, L> {
    layer: &'a L,
    service: &'a Svc,
    template: &'a Req,
}

impl<Svc, Req, On, S, M, C> HedgeCtx<Svc::Response, M::Error>
    for Hedged<'_, Svc, Req, Retrying<Tower<C>, Bound<On>, S, M>>
where
    Svc: ::tower::Service<Req> + Clone,
    Svc::Response: fmt::Debug,
    M: ErrorMode<Svc::Error>,
    M::Error: fmt::Debug,
    On: RetryOn<Result<Svc::Response, M::Error>>,
    S: Sleeper,
    C: CloneRequest<Req>,
{
    type Attempt = HedgedAttempt<Svc, Req, Retrying<Tower<C>, Bound<On>, S, M>>;
    type Sleeper = S;

    fn settings(&self) -> &Settings {
        &self.layer.settings
    }

    fn sleeper(&self) -> &S {
        &self.layer.time
    }

    fn attempt(&mut self, deadline: Option<Instant>) -> Option<Self::Attempt> {
        let request = self.layer.front.cloner.clone_request(self.template)?;
        let call = || ReadyCall {
            service: self.service.clone(),
            request: Some(request),
            call: None,
        };
        Some(attempt(self.layer, deadline, call))
    }

    fn settle(
        &self,
        driver: &mut Driver,
        (outcome, timed_out): (&Result<Svc::Response, M::Error>, bool),
        num: u32,
        others: usize,
    ) -> Verdict {
        let on = &self.layer.on.0;
        let view = || on.error_view(outcome);
        let (settings, now) = (&self.layer.settings, || self.now());
        let outcome = (outcome, view, timed_out);
        driver.hedge_settle(settings, self.name(), on, outcome, num, others, now)
    }

    fn name(&self) -> &str {
        self.layer.settings.name_or_else(|| "RetryLayer")
    }
}

pin_project! {
    /// The future of a [`Retry`] service's call: the last response or error.
    ///
    /// Dropping it at any point cancels the call: the attempt's future or the wait is dropped,
    /// and the hooks' guards with it, exactly once. It is `Send` when the wrapped service, its
    /// future, the request, the outcome, the configuration and the sleep future are.
    ///
    /// # Panics
    ///
    /// Polling it again after it returned its output panics; a panic in the wrapped service,
    /// the `on` predicate, the request cloner or a hook propagates.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ResponseFuture<Svc, Req, L>
    where
        Svc: ::tower::Service<Req>,
        L: Config,
        L::Mode: ErrorMode<Svc::Error>,
    {
        #[pin]
        state: State<
            Converted<Svc::Future, L::Mode>,
            Sleep<L>,
            Timer<L, Svc::Error>,
            Hedger<HedgedAttempt<Svc, Req, L>, Sleep<L>>,
        >,
        service: Svc,
        // The request the next attempt sends; `None` when it could not be copied, which makes
        // the current attempt the last.
        spare: Option<Req>,
        layer: Arc<L>,
        driver: Driver,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, Sleep, Timer, Hedger> {
        /// An attempt's response future is running.
        Calling { #[pin] attempt: RunAttempt<F, Timer> },
        /// A hedged call's attempts are running.
        Hedging { hedger: Hedger },
        /// The wait before the next attempt.
        Waiting { #[pin] sleep: Sleep },
        /// Waiting for the service to be ready for the next attempt.
        Readying,
        /// The output was returned.
        Done,
    }
}

impl<Svc, Req, On, S, M, C> Future for ResponseFuture<Svc, Req, Retrying<Tower<C>, Bound<On>, S, M>>
where
    Svc: ::tower::Service<Req> + Clone,
    Svc::Response: fmt::Debug,
    M: ErrorMode<Svc::Error>,
    M::Error: fmt::Debug,
    On: RetryOn<Result<Svc::Response, M::Error>>,
    S: Sleeper,
    C: CloneRequest<Req>,
{
    type Output = Result<Svc::Response, M::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let layer = &**this.layer;
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { attempt } => {
                    let (outcome, timed_out) = ready!(attempt.poll(cx));
                    // A request that could not be copied is sent once: its outcome is the
                    // call's, whatever it is, and `on` is not asked.
                    let wait = if this.spare.is_some() {
                        let name = || layer.settings.name_or_else(|| "RetryLayer");
                        let now = || layer.time.now();
                        let (on, settings) = (&layer.on.0, &layer.settings);
                        let view = || on.error_view(&outcome);
                        this.driver
                            .settle(settings, name, on, &outcome, view, timed_out, now)
                    } else {
                        None
                    };
                    let Some(wait) = wait else {
                        this.state.set(State::Done);
                        return Poll::Ready(outcome);
                    };
                    drop(outcome);
                    let sleep = layer.time.sleep(wait);
                    this.state.set(State::Waiting { sleep });
                }
                StateProj::Waiting { sleep } => {
                    ready!(sleep.poll(cx));
                    // The hooks' guards lived over the wait and end before the next attempt.
                    this.driver.next_attempt();
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    if let Err(error) = ready!(this.service.poll_ready(cx)) {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(M::convert(error)));
                    }
                    let request = this.spare.take().expect("a retried call has a spare");
                    *this.spare = layer.front.cloner.clone_request(&request);
                    let call = || this.service.call(request);
                    let attempt = attempt(layer, this.driver.deadline(), call);
                    this.state.set(State::Calling { attempt });
                }
                StateProj::Hedging { hedger } => {
                    let template = this.spare.as_ref().expect("a hedged call's request");
                    let mut hedged = Hedged {
                        layer,
                        service: &*this.service,
                        template,
                    };
                    let outcome = ready!(hedger.poll(cx, &mut hedged, this.driver));
                    this.state.set(State::Done);
                    return Poll::Ready(outcome);
                }
                StateProj::Done => panic!("`ResponseFuture` polled after completion"),
            }
        }
    }
}

impl<Svc, Req, L> fmt::Debug for ResponseFuture<Svc, Req, L>
where
    Svc: ::tower::Service<Req>,
    L: Config,
    L::Mode: ErrorMode<Svc::Error>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Calling { .. } => "calling",
            State::Waiting { .. } => "waiting",
            State::Readying => "readying",
            State::Hedging { .. } => "hedging",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &format_args!("{state}"))
            .field("driver", &self.driver)
            .field("retryable", &self.spare.is_some())
            .finish_non_exhaustive()
    }
}
