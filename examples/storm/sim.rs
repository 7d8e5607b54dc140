//! Two deterministic virtual-time simulations driven through stamina's real state machine
//! (`RetryState`) and budgets: nothing sleeps, every run with the same seed prints the same
//! numbers.
//!
//! 1. A retry storm: Poisson clients call a server that serves `capacity` requests a second,
//!    one at a time, first come first served; each attempt has a timeout; the server stalls for
//!    a few seconds. Requests that time out are still served when their turn comes (wasted
//!    work), and the retries they cause queue up behind them.
//! 2. Contention: clients all update one row with optimistic concurrency at the same moment;
//!    a write fails when another write landed between its read and its write.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use stamina::{Hedging, Jitter, RetryBudget, RetryPolicy, RetryState};

/// A small deterministic generator (SplitMix64) for arrivals.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Exponentially distributed with the given mean.
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.unit().ln()
    }
}

/// The storm model's parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Storm {
    /// Requests the server completes per second.
    pub(crate) capacity: f64,
    /// Offered load, as a fraction of capacity (new logical requests only).
    pub(crate) load: f64,
    /// The client's per-attempt timeout.
    pub(crate) attempt_timeout: Duration,
    /// When the stall starts, and how long it lasts.
    pub(crate) stall_at: Duration,
    pub(crate) stall: Duration,
    /// When new requests stop arriving; the run goes on until every loop has ended.
    pub(crate) arrivals_until: Duration,
    pub(crate) seed: u64,
}

impl Storm {
    /// The model the storm example prints: 100 requests/s, 50% load, 1 s attempt timeout, a
    /// 2 s stall after 10 s, 120 s of arrivals.
    pub(crate) fn standard() -> Self {
        Self {
            capacity: 100.0,
            load: 0.5,
            attempt_timeout: Duration::from_secs(1),
            stall_at: Duration::from_secs(10),
            stall: Duration::from_secs(2),
            arrivals_until: Duration::from_secs(120),
            seed: 7,
        }
    }
}

/// What a storm run measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct StormReport {
    pub(crate) requests: u64,
    pub(crate) attempts: u64,
    pub(crate) succeeded: u64,
    /// Attempts per logical request.
    pub(crate) amplification: f64,
    /// Server seconds spent on attempts whose client had already given up on them, as a share
    /// of all server seconds.
    pub(crate) wasted: f64,
    /// Seconds from the end of the stall until attempts stop timing out for good; `None` if they
    /// never do before arrivals stop.
    pub(crate) recovery: Option<f64>,
}

enum Event {
    Arrival,
    /// An attempt of request `id` is sent.
    Send(usize),
    /// Request `id` has waited its hedge delay since its latest attempt was sent.
    Hedge(usize),
    /// An attempt of request `id` failed (timed out at the client).
    Fail(usize),
    /// An attempt of request `id` got its response.
    Done(usize),
}

/// Events in time order (ties in the order they were scheduled).
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    payloads: Vec<Option<Event>>,
}

impl Queue {
    fn push(&mut self, secs: f64, event: Event) {
        self.payloads.push(Some(event));
        let index = (self.payloads.len() - 1) as u64;
        // Nanosecond timestamps keep the order exact; the index breaks ties.
        self.heap.push(Reverse(((secs * 1e9) as u64, index)));
    }

    fn pop(&mut self) -> Option<(f64, Event)> {
        let Reverse((nanos, index)) = self.heap.pop()?;
        let event = self.payloads[index as usize].take()?;
        Some((nanos as f64 / 1e9, event))
    }
}

/// How the storm's clients call: their retry policy, an optional hedge delay (one hedge at
/// most in flight, through `RetryState::hedge`), and an optional shared budget.
pub(crate) struct Clients {
    pub(crate) policy: RetryPolicy,
    pub(crate) hedge_after: Option<Duration>,
    pub(crate) budget: Option<RetryBudget>,
}

/// One logical request: its loop, its attempts in flight, whether it was answered.
struct Request {
    state: RetryState,
    in_flight: u32,
    answered: bool,
}

/// Runs the storm model with `clients`.
pub(crate) fn storm(model: Storm, clients: &Clients) -> StormReport {
    let origin = Instant::now();
    let at = |secs: f64| origin + Duration::from_secs_f64(secs);
    let service = 1.0 / model.capacity;
    let timeout = model.attempt_timeout.as_secs_f64();
    let (stall_start, stall_end) = (
        model.stall_at.as_secs_f64(),
        (model.stall_at + model.stall).as_secs_f64(),
    );
    let mut rng = Rng::new(model.seed);
    let mut events = Queue::default();
    let mut requests: Vec<Request> = Vec::new();
    let mut server_free = 0.0f64;
    let (mut attempts, mut succeeded, mut busy, mut wasted) = (0u64, 0u64, 0.0f64, 0.0f64);
    let mut last_timeout_after_stall: Option<f64> = None;

    let first = rng.exponential(1.0 / (model.capacity * model.load));
    events.push(first, Event::Arrival);
    while let Some((now, event)) = events.pop() {
        match event {
            Event::Arrival => {
                let id = requests.len();
                let mut state = RetryState::new(clients.policy.seed(model.seed ^ id as u64));
                if let Some(budget) = &clients.budget {
                    state = state.budget(budget);
                }
                if let Some(delay) = clients.hedge_after {
                    state = state.hedging(Hedging::after(delay));
                }
                state.start(at(now));
                requests.push(Request {
                    state,
                    in_flight: 0,
                    answered: false,
                });
                events.push(now, Event::Send(id));
                let next = now + rng.exponential(1.0 / (model.capacity * model.load));
                if next < model.arrivals_until.as_secs_f64() {
                    events.push(next, Event::Arrival);
                }
            }
            Event::Send(id) => {
                attempts += 1;
                requests[id].in_flight += 1;
                // FIFO: the attempt starts when the server is free, and not during the stall.
                let mut start = now.max(server_free);
                if start >= stall_start && start < stall_end {
                    start = stall_end;
                }
                let done = start + service;
                server_free = done;
                busy += service;
                if done - now <= timeout {
                    events.push(done, Event::Done(id));
                } else {
                    wasted += service;
                    if now >= stall_end {
                        last_timeout_after_stall = Some(now);
                    }
                    events.push(now + timeout, Event::Fail(id));
                }
                if let Some(delay) = clients.hedge_after {
                    events.push(now + delay.as_secs_f64(), Event::Hedge(id));
                }
            }
            Event::Hedge(id) => {
                let request = &mut requests[id];
                if !request.answered && request.in_flight == 1 && request.state.hedge(at(now)) {
                    events.push(now, Event::Send(id));
                }
            }
            Event::Done(id) => {
                let request = &mut requests[id];
                request.in_flight -= 1;
                if request.answered {
                    // A hedge's loser: served for nothing.
                    wasted += service;
                } else {
                    request.answered = true;
                    succeeded += 1;
                    request.state.on_success();
                }
            }
            Event::Fail(id) => {
                let request = &mut requests[id];
                request.in_flight -= 1;
                if request.answered {
                    continue;
                }
                request.state.mark_timed_out();
                if let Some(wait) = request.state.on_failure(true, at(now)) {
                    request.state.next_attempt();
                    events.push(now + wait.as_secs_f64(), Event::Send(id));
                }
            }
        }
    }
    let horizon = model.arrivals_until.as_secs_f64();
    let requests = requests.len() as u64;
    StormReport {
        requests,
        attempts,
        succeeded,
        amplification: attempts as f64 / requests as f64,
        wasted: if busy > 0.0 { wasted / busy } else { 0.0 },
        recovery: match last_timeout_after_stall {
            None => Some(0.0),
            // Still timing out near the end of the arrivals: not recovered.
            Some(t) if t > horizon - 10.0 => None,
            Some(t) => Some(t - stall_end),
        },
    }
}

/// What a contention run measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ContentionReport {
    /// Write attempts in all.
    pub(crate) calls: u64,
    /// When the last client's write succeeded.
    pub(crate) completion: Duration,
}

/// `clients` clients read a row at time zero and write it back `op` later; a write succeeds only
/// if no other write landed since its read, else the client retries after its backoff.
pub(crate) fn contention(clients: usize, op: Duration, policy: RetryPolicy) -> ContentionReport {
    let origin = Instant::now();
    let op = op.as_nanos() as u64;
    // (write time, read time, client): writes are resolved in time order.
    let mut writes: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
    let mut states: Vec<RetryState> = (0..clients)
        .map(|i| {
            let mut s = RetryState::new(policy.seed(i as u64));
            s.start(origin);
            s
        })
        .collect();
    for client in 0..clients {
        writes.push(Reverse((op, 0, client)));
    }
    let (mut calls, mut last_write, mut completion) = (0u64, None::<u64>, 0u64);
    while let Some(Reverse((write_at, read_at, client))) = writes.pop() {
        calls += 1;
        let conflict = last_write.is_some_and(|t| t > read_at);
        if !conflict {
            last_write = Some(write_at);
            completion = completion.max(write_at);
            states[client].on_success();
            continue;
        }
        let now = origin + Duration::from_nanos(write_at);
        let state = &mut states[client];
        match state.on_failure(true, now) {
            Some(wait) => {
                state.next_attempt();
                let read = write_at + wait.as_nanos() as u64;
                writes.push(Reverse((read + op, read, client)));
            }
            None => unreachable!("contention loops have no limits"),
        }
    }
    ContentionReport {
        calls,
        completion: Duration::from_nanos(completion),
    }
}

/// The policies the contention model compares: AWS's 5 ms base and 2 s cap, no limits.
pub(crate) fn contention_policies() -> Vec<(&'static str, RetryPolicy)> {
    let base = RetryPolicy::new()
        .unlimited_attempts()
        .no_timeout()
        .wait_initial(Duration::from_millis(5))
        .wait_max(Duration::from_secs(2));
    vec![
        ("no jitter", base.wait_jitter(Duration::ZERO)),
        (
            "additive (+U(0, 5 ms))",
            base.wait_jitter(Duration::from_millis(5)),
        ),
        ("full", base.jitter(Jitter::Full)),
        ("equal", base.jitter(Jitter::Equal)),
        ("decorrelated", base.jitter(Jitter::Decorrelated)),
    ]
}

/// The clients the storm model compares, each with a fresh budget where one is used.
pub(crate) fn storm_clients() -> Vec<(&'static str, Clients)> {
    let defaults = RetryPolicy::new();
    let hedge_after = Some(Duration::from_millis(100));
    let clients = |policy, hedge_after, budget| Clients {
        policy,
        hedge_after,
        budget,
    };
    vec![
        ("no retries", clients(defaults.attempts(1), None, None)),
        ("3 attempts", clients(defaults.attempts(3), None, None)),
        (
            "stamina defaults (10 attempts, 45 s)",
            clients(defaults, None, None),
        ),
        (
            "defaults + retry quota (500/5/10)",
            clients(defaults, None, Some(RetryBudget::retry_quota())),
        ),
        (
            "defaults + throttle (10, 0.1)",
            clients(defaults, None, Some(RetryBudget::throttle(10, 0.1))),
        ),
        (
            "defaults + hedges after 100 ms",
            clients(defaults, hedge_after, None),
        ),
        (
            "defaults + hedges after 100 ms + throttle (10, 0.1)",
            clients(defaults, hedge_after, Some(RetryBudget::throttle(10, 0.1))),
        ),
        (
            "defaults + hedges after 100 ms + throttle (10, 0.01)",
            clients(defaults, hedge_after, Some(RetryBudget::throttle(10, 0.01))),
        ),
    ]
}

/// One row of the storm table, as the example prints it and the README shows it.
pub(crate) fn storm_row(load: f64, name: &str, r: &StormReport) -> String {
    let recovery = match r.recovery {
        Some(s) => format!("{s:.1} s"),
        None => "never".to_owned(),
    };
    format!(
        "| {:.0}% | {name} | {:.2}x | {:.0}% | {recovery} | {:.1}% |",
        load * 100.0,
        r.amplification,
        r.wasted * 100.0,
        (r.requests - r.succeeded) as f64 * 100.0 / r.requests as f64,
    )
}

/// One row of the contention table, as the example prints it and the README shows it.
pub(crate) fn contention_row(name: &str, clients: usize, r: &ContentionReport) -> String {
    format!(
        "| {name} | {} | {:.1} | {:.2} s |",
        r.calls,
        r.calls as f64 / clients as f64,
        r.completion.as_secs_f64(),
    )
}
