//! The future of one retried call.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::clone::CloneRequest;
use super::layer::Config;
use crate::driver::CallLoop;
use crate::name::Name;
use crate::timeout::{AttemptTimeoutMode, RunAttempt, run_attempt};
use crate::{RetryOn, Sleeper};

pin_project! {
    /// The future of a [`Retry`](super::Retry) service's call: the last response or error.
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
    pub struct ResponseFuture<Svc, Req, On, S, M, C>
    where
        Svc: ::tower::Service<Req>,
        S: Sleeper,
        M: AttemptTimeoutMode<Svc::Error>,
    {
        #[pin]
        state: State<Svc::Future, S::Sleep, M::Timer<S::Sleep>>,
        service: Svc,
        // The request the next attempt sends; `None` when it could not be copied, which makes
        // the current attempt the last.
        spare: Option<Req>,
        config: Arc<Config<On, S, M, C>>,
        call: CallLoop,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, Sleep, Timer> {
        /// An attempt's response future is running.
        Calling { #[pin] attempt: RunAttempt<F, Timer> },
        /// The wait before the next attempt.
        Waiting { #[pin] sleep: Sleep },
        /// Waiting for the service to be ready for the next attempt.
        Readying,
        /// The output was returned.
        Done,
    }
}

impl<Svc, Req, On, S, M, C> ResponseFuture<Svc, Req, On, S, M, C>
where
    Svc: ::tower::Service<Req>,
    S: Sleeper,
    M: AttemptTimeoutMode<Svc::Error>,
{
    pub(super) fn new(
        attempt: RunAttempt<Svc::Future, M::Timer<S::Sleep>>,
        service: Svc,
        spare: Option<Req>,
        config: Arc<Config<On, S, M, C>>,
        call: CallLoop,
    ) -> Self {
        Self {
            state: State::Calling { attempt },
            service,
            spare,
            config,
            call,
        }
    }
}

impl<Svc, Req, On, S, M, C> Future for ResponseFuture<Svc, Req, On, S, M, C>
where
    Svc: ::tower::Service<Req>,
    Svc::Response: fmt::Debug,
    Svc::Error: fmt::Debug,
    On: RetryOn<Result<Svc::Response, Svc::Error>>,
    S: Sleeper,
    M: AttemptTimeoutMode<Svc::Error>,
    C: CloneRequest<Req>,
{
    type Output = Result<Svc::Response, Svc::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let config = &**this.config;
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { attempt } => {
                    let (outcome, timed_out) = ready!(attempt.poll(cx));
                    let wait = match this.spare {
                        Some(_) => {
                            let name = || Name::for_call::<Svc>(config.name.as_ref());
                            let settings = (&config.policy, &config.extras);
                            let now = || config.sleeper.now();
                            let on = &config.on;
                            this.call
                                .settle(settings, on, &outcome, timed_out, name, now)
                        }
                        // Sent once: the outcome is the call's, whatever it is.
                        None => {
                            this.call.settle_last(&config.extras, &config.on, &outcome);
                            None
                        }
                    };
                    let Some(wait) = wait else {
                        this.state.set(State::Done);
                        return Poll::Ready(outcome);
                    };
                    drop(outcome);
                    let sleep = config.sleeper.sleep(wait);
                    this.state.set(State::Waiting { sleep });
                }
                StateProj::Waiting { sleep } => {
                    ready!(sleep.poll(cx));
                    // The hooks' guards lived over the wait and end before the next attempt.
                    this.call.resume();
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    if let Err(error) = ready!(this.service.poll_ready(cx)) {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(error));
                    }
                    let Some(request) = this.spare.take() else {
                        unreachable!("only a call with a spare request retries")
                    };
                    *this.spare = config.cloner.clone_request(&request);
                    let service = &mut *this.service;
                    let deadline = this.call.deadline();
                    // The call counts as inside the attempt, its synchronous part included.
                    let call = || service.call(request);
                    let attempt = run_attempt(&config.mode, &config.sleeper, deadline, call);
                    this.state.set(State::Calling { attempt });
                }
                StateProj::Done => panic!("`ResponseFuture` polled after completion"),
            }
        }
    }
}

impl<Svc, Req, On, S, M, C> fmt::Debug for ResponseFuture<Svc, Req, On, S, M, C>
where
    Svc: ::tower::Service<Req>,
    S: Sleeper,
    M: AttemptTimeoutMode<Svc::Error>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Calling { .. } => "calling",
            State::Waiting { .. } => "waiting",
            State::Readying => "readying",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &format_args!("{state}"))
            .field("call", &self.call)
            .field("retryable", &self.spare.is_some())
            .finish_non_exhaustive()
    }
}
