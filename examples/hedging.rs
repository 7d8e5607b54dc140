//! Hedged requests, measured side by side against a server on 127.0.0.1 whose latency is
//! heavy-tailed: 98% of its answers take 1 ms, 2% take 100 ms.
//!
//! Each row sends the same number of requests through a hyper client, from a few concurrent
//! workers: without hedging, with stamina's tower layer hedging after a fixed delay and after a
//! percentile of the recent latencies, and with tower's own `hedge` middleware. Then a partial
//! outage (every answer takes 100 ms): hedges without a budget double the load, a throttle
//! budget stops them.
//!
//! `cargo run --release --example hedging --features tower,tokio [requests]`
//!
//! The table gives the latency percentiles a caller saw and the extra requests the server
//! served (`served / calls - 1`). Times are real, on a shared machine: compare the rows of one
//! run, not runs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use stamina::http::HttpOn;
use stamina::tower::RetryLayer;
use stamina::{Hedging, RetryBudget};
use tower::util::BoxCloneService;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

type Body = Full<Bytes>;
type HyperClient = Client<HttpConnector, Body>;

const FAST: Duration = Duration::from_millis(1);
const SLOW: Duration = Duration::from_millis(100);
const WORKERS: usize = 8;

/// The server: counts requests, and answers each after 1 ms, or 100 ms for 2% of them (or all
/// of them during an outage), drawn from a seeded sequence.
struct Server {
    addr: SocketAddr,
    served: Arc<AtomicU64>,
    outage: Arc<AtomicBool>,
}

impl Server {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the listener's address");
        let (served, outage) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (counter, down) = (Arc::clone(&served), Arc::clone(&outage));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the server's runtime");
            runtime.block_on(serve(listener, counter, down));
        });
        Self {
            addr,
            served,
            outage,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

async fn serve(listener: std::net::TcpListener, served: Arc<AtomicU64>, outage: Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (served, outage) = (Arc::clone(&served), Arc::clone(&outage));
        let service = hyper::service::service_fn(move |_: Request<Incoming>| {
            let n = served.fetch_add(1, Ordering::Relaxed);
            let slow = outage.load(Ordering::Relaxed) || draw(n) % 100 < 2;
            async move {
                tokio::time::sleep(if slow { SLOW } else { FAST }).await;
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
            }
        });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let _ = connection.await;
        });
    }
}

/// A seeded sequence (splitmix64), so that every run slows the same requests.
fn draw(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the callers of one row saw.
struct Row {
    name: String,
    latencies: Vec<Duration>,
    extra: f64,
}

/// Sends `calls` requests from [`WORKERS`] workers, each through a service `make` makes.
async fn measure<S>(name: &str, server: &Server, calls: usize, make: impl Fn() -> S) -> Row
where
    S: Service<Request<Body>, Response = Response<Incoming>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    let before = server.served.load(Ordering::Relaxed);
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (mut service, url) = (make(), server.url());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for _ in 0..calls / WORKERS {
                let request = Request::get(&url).body(Body::default()).expect("a request");
                let started = Instant::now();
                let ready = service
                    .ready()
                    .await
                    .map_err(Into::into)
                    .expect("a ready service");
                let response = ready.call(request).await.map_err(Into::into);
                let body = response.expect("an answer").into_body().collect().await;
                body.expect("a body");
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("a worker"));
    }
    latencies.sort_unstable();
    let served = server.served.load(Ordering::Relaxed) - before;
    Row {
        name: name.to_owned(),
        extra: served as f64 / latencies.len() as f64 - 1.0,
        latencies,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn print(title: &str, rows: &[Row]) {
    println!("\n{title}\n");
    println!("| | p50 | p99 | p99.9 | extra requests |");
    println!("|---|---:|---:|---:|---:|");
    for row in rows {
        let p = |q| {
            format!(
                "{:.1} ms",
                percentile(&row.latencies, q).as_secs_f64() * 1e3
            )
        };
        let extra = row.extra * 100.0;
        println!(
            "| {} | {} | {} | {} | {extra:.1}% |",
            row.name,
            p(0.5),
            p(0.99),
            p(0.999)
        );
    }
}

/// tower's `hedge` middleware needs to know which requests it may send twice: all of them.
#[derive(Clone)]
struct Idempotent;

impl tower::hedge::Policy<Request<Body>> for Idempotent {
    fn clone_request(&self, request: &Request<Body>) -> Option<Request<Body>> {
        Some(request.clone())
    }

    fn can_retry(&self, _: &Request<Body>) -> bool {
        true
    }
}

/// stamina's layer with `hedging` over the client, shared by every worker (so is its
/// percentile's window).
fn stamina(
    client: &HyperClient,
    hedging: Hedging,
    budget: Option<&RetryBudget>,
) -> impl Fn() -> Shared + use<> {
    let mut layer = RetryLayer::new(HttpOn::new()).hedge(hedging);
    if let Some(budget) = budget {
        layer = layer.budget(budget);
    }
    let service = ServiceBuilder::new()
        .layer(layer)
        .map_err(BoxError::from)
        .service(client.clone());
    let service = BoxCloneService::new(service);
    move || service.clone()
}

type Shared = BoxCloneService<Request<Body>, Response<Incoming>, BoxError>;

/// tower's `hedge` over the client, one per worker (it cannot be cloned), each with its own
/// window.
fn tower_hedge(
    client: &HyperClient,
    percentile: f32,
    window: Duration,
) -> impl Fn() -> tower::hedge::Hedge<HyperClient, Idempotent> + use<> {
    let client = client.clone();
    move || tower::hedge::Hedge::new(client.clone(), Idempotent, 20, percentile, window)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .map_or(16_000, |n| n.parse().expect("a number of requests"));
    let server = Server::start();
    let client: HyperClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http();
    let plain = || {
        let client = client.clone();
        move || client.clone()
    };
    let window = Duration::from_secs(1);
    let _ = window;

    // Warms the connections, uncounted.
    let _ = measure("", &server, 800, plain()).await;
    let mut rows = vec![measure("no hedging", &server, calls, plain()).await];
    for delay in [5, 10] {
        let fixed = Hedging::after(Duration::from_millis(delay));
        let name = format!("stamina, after {delay} ms");
        rows.push(measure(&name, &server, calls, stamina(&client, fixed, None)).await);
    }
    // A throttle that stops hedges in an outage (below) leaves them alone here.
    let throttle = RetryBudget::throttle(20, 0.05);
    let fixed = Hedging::after(Duration::from_millis(5));
    let name = "stamina, after 5 ms, throttle budget (20 tokens, 0.05 per call)";
    rows.push(
        measure(
            name,
            &server,
            calls,
            stamina(&client, fixed, Some(&throttle)),
        )
        .await,
    );
    for (p, window) in [(0.95, 1), (0.98, 1), (0.99, 1), (0.95, 10)] {
        // The first window fills before the row is counted.
        let window = Duration::from_secs(window);
        let make = stamina(&client, Hedging::at_percentile(p, window), None);
        let _ = measure("", &server, 800, &make).await;
        tokio::time::sleep(window).await;
        let name = format!("stamina, at p{}, {} s windows", p * 100.0, window.as_secs());
        rows.push(measure(&name, &server, calls, &make).await);
    }
    for p in [0.95_f32, 0.98, 0.99] {
        let name = format!("tower `hedge`, at p{}, 1 s windows", p * 100.0);
        rows.push(measure(&name, &server, calls, tower_hedge(&client, p, window)).await);
    }
    print("Heavy tail: 98% of answers in 1 ms, 2% in 100 ms", &rows);

    // A partial outage: every answer takes 100 ms.
    server.outage.store(true, Ordering::Relaxed);
    let outage_calls = calls / 10;
    let fixed = || Hedging::after(Duration::from_millis(10));
    let throttle = RetryBudget::throttle(20, 0.05);
    let rows = [
        measure("no hedging", &server, outage_calls, plain()).await,
        measure(
            "stamina, after 10 ms, no budget",
            &server,
            outage_calls,
            stamina(&client, fixed(), None),
        )
        .await,
        measure(
            "stamina, after 10 ms, throttle budget (20 tokens, 0.05 per call)",
            &server,
            outage_calls,
            stamina(&client, fixed(), Some(&throttle)),
        )
        .await,
    ];
    print("Partial outage: every answer in 100 ms", &rows);
}
