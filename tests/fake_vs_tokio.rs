//! The fake sleeper against tokio's paused clock: the same loops, with and without an attempt
//! timeout, make the same attempts at the same virtual times on both.
#![cfg(feature = "tokio")]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stamina::testing::FakeSleeper;
use stamina::{AsyncRetryingCaller, AttemptTimedOut, RetryPolicy, Sleeper, TokioSleeper};

#[derive(Debug, PartialEq)]
enum Error {
    Failed,
    TimedOut,
}

impl From<AttemptTimedOut> for Error {
    fn from(_: AttemptTimedOut) -> Self {
        Self::TimedOut
    }
}

/// What an attempt does: fail at once, or hang until cancelled.
#[derive(Clone, Copy, Debug)]
enum Body {
    FailAtOnce,
    Hang,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    policy: RetryPolicy,
    attempt_timeout: Option<Duration>,
    /// The body of attempt n (1-based) is `bodies[min(n, len) - 1]`.
    bodies: &'static [Body],
}

/// The virtual time at which each attempt started, measured from the loop's start on the
/// sleeper's own clock, and the outcome.
#[derive(Debug, PartialEq)]
struct Trace {
    starts: Vec<Duration>,
    outcome: Result<(), Error>,
    total: Duration,
}

fn body(case: Case, n: usize) -> impl Future<Output = Result<(), Error>> {
    let body = case.bodies[n.min(case.bodies.len()) - 1];
    async move {
        match body {
            Body::FailAtOnce => Err(Error::Failed),
            Body::Hang => std::future::pending().await,
        }
    }
}

async fn trace_caller<S: Sleeper + Clone>(sleeper: S, case: Case) -> Trace {
    let origin = sleeper.now();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let caller = AsyncRetryingCaller::new()
        .policy(case.policy)
        .sleeper(sleeper.clone());
    let call = {
        let starts = starts.clone();
        let sleeper = sleeper.clone();
        move || {
            let mut starts = starts.lock().unwrap();
            starts.push(sleeper.now() - origin);
            body(case, starts.len())
        }
    };
    let outcome = match case.attempt_timeout {
        Some(t) => caller.attempt_timeout(t).call(|_: &Error| true, call).await,
        None => caller.call(|_: &Error| true, call).await,
    };
    let starts = starts.lock().unwrap().clone();
    Trace {
        starts,
        outcome,
        total: sleeper.now() - origin,
    }
}

async fn trace_stream<S: Sleeper + Clone>(sleeper: S, case: Case) -> Trace {
    let origin = sleeper.now();
    let mut starts = Vec::new();
    let context = stamina::retry_context(|_: &Error| true).policy(case.policy);
    let mut outcome = Ok(());
    match case.attempt_timeout {
        Some(t) => {
            let mut attempts = context
                .attempt_timeout(t)
                .sleeper(sleeper.clone())
                .into_stream();
            while let Some(attempt) = attempts.next().await {
                starts.push(sleeper.now() - origin);
                if let Err(e) = attempt.run(|| body(case, starts.len())).await {
                    outcome = Err(e);
                }
            }
        }
        None => {
            let mut attempts = context.into_stream_with(sleeper.clone());
            while let Some(attempt) = attempts.next().await {
                starts.push(sleeper.now() - origin);
                if let Err(e) = attempt.run(|| body(case, starts.len())).await {
                    outcome = Err(e);
                }
            }
        }
    }
    Trace {
        starts,
        outcome,
        total: sleeper.now() - origin,
    }
}

/// Runs `f` on a fresh current-thread runtime with paused time.
fn paused<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(f)
}

fn cases() -> Vec<Case> {
    let quiet = RetryPolicy::new().wait_jitter(Duration::ZERO);
    let mut cases = Vec::new();
    for attempt_timeout in [
        None,
        Some(Duration::from_secs(10)),
        Some(Duration::from_secs(2)),
    ] {
        for bodies in [
            &[Body::FailAtOnce][..],
            &[Body::Hang][..],
            &[Body::Hang, Body::FailAtOnce][..],
            &[Body::FailAtOnce, Body::Hang, Body::FailAtOnce][..],
        ] {
            if attempt_timeout.is_none() && bodies.contains(&Body::Hang) {
                continue; // a hang without an attempt timeout never ends on either clock
            }
            for policy in [
                quiet,
                quiet.timeout(Duration::from_secs(7)),
                quiet.attempts(4).no_timeout(),
                quiet
                    .wait_initial(Duration::from_secs(1))
                    .wait_max(Duration::from_secs(3)),
            ] {
                cases.push(Case {
                    policy,
                    attempt_timeout,
                    bodies,
                });
            }
        }
    }
    cases
}

impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        matches!(
            (self, other),
            (Body::FailAtOnce, Body::FailAtOnce) | (Body::Hang, Body::Hang)
        )
    }
}

#[test]
fn the_fake_sleeper_and_the_paused_clock_agree_on_every_loop() {
    let cases = cases();
    assert_eq!(cases.len(), 4 + 2 * 4 * 4);
    for case in cases {
        let fake = futures::executor::block_on(trace_caller(FakeSleeper::new(), case));
        let tokio = paused(trace_caller(TokioSleeper, case));
        assert_eq!(fake, tokio, "caller, {case:?}");
        let fake_stream = futures::executor::block_on(trace_stream(FakeSleeper::new(), case));
        let tokio_stream = paused(trace_stream(TokioSleeper, case));
        assert_eq!(fake_stream, tokio_stream, "stream, {case:?}");
        assert_eq!(fake_stream, fake, "stream against caller, {case:?}");
    }
}

#[test]
fn the_defaults_with_a_ten_second_attempt_timeout_make_ten_attempts_in_21_3_seconds() {
    let case = Case {
        policy: RetryPolicy::new().wait_jitter(Duration::ZERO),
        attempt_timeout: Some(Duration::from_secs(10)),
        bodies: &[Body::FailAtOnce],
    };
    let sleeper = FakeSleeper::new();
    let trace = futures::executor::block_on(trace_caller(sleeper.clone(), case));
    let ms = |v: u64| Duration::from_millis(v);
    assert_eq!(
        trace.starts,
        [0, 100, 300, 700, 1500, 3100, 6300, 11300, 16300, 21300].map(ms)
    );
    assert_eq!(trace.outcome, Err(Error::Failed));
    assert_eq!(trace.total, ms(21_300));
    // Only the backoff waits moved time: the attempts' timers were never awaited.
    assert_eq!(
        sleeper.sleeps(),
        [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000].map(ms)
    );
}

#[test]
fn the_sleep_log_shows_no_sleep_crossing_the_deadline() {
    // Hung attempts of 2 s against a 7 s deadline: each sleep (attempt timers included) starts
    // and ends inside the deadline, and the loop gives up instead of sleeping across it.
    let sleeper = FakeSleeper::new();
    let case = Case {
        policy: RetryPolicy::new()
            .wait_jitter(Duration::ZERO)
            .timeout(Duration::from_secs(7)),
        attempt_timeout: Some(Duration::from_secs(2)),
        bodies: &[Body::Hang],
    };
    let trace = futures::executor::block_on(trace_caller(sleeper.clone(), case));
    let deadline = Duration::from_secs(7);
    let log = sleeper.sleep_log();
    assert!(!log.is_empty());
    for (began, length) in &log {
        assert!(
            *began + *length <= deadline,
            "{began:?} + {length:?} in {log:?}"
        );
    }
    let ms = |v: u64| Duration::from_millis(v);
    assert_eq!(
        log,
        [
            (0, 2000),
            (2000, 100),
            (2100, 2000),
            (4100, 200),
            (4300, 2000),
            (6300, 400),
            (6700, 300),
        ]
        .map(|(b, l)| (ms(b), ms(l)))
    );
    assert_eq!(trace.outcome, Err(Error::TimedOut));
    assert_eq!(trace.total, deadline);
}
