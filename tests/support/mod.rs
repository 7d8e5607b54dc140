//! A flaky HTTP server on 127.0.0.1, for the end-to-end tests and the examples.
//!
//! Each connection gets the next reply of a script: a status (with a `Retry-After` header if
//! asked), a reset connection or a hung request. The server answers one request per connection
//! (`Connection: close`), so a script step is a request, whatever the client's pooling. It runs
//! hyper on a current-thread tokio runtime of its own thread, so sync and async clients alike can
//! use it, and it stops when dropped.

#![allow(
    dead_code,
    reason = "each test file and example uses a part of this module"
)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The longest a hung request is held, so that a forgotten server thread ends by itself.
const HANG_LIMIT: Duration = Duration::from_secs(10);

/// What the server does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Answers with this status, a `Retry-After` header if given, and a body.
    Respond {
        status: u16,
        retry_after: Option<String>,
        body: String,
    },
    /// Closes the connection without answering while the request is still unread, which makes
    /// the kernel send a TCP reset: the client sees "connection reset by peer".
    Reset,
    /// Holds the request without answering, until the server is dropped (or [`HANG_LIMIT`]).
    Hang,
    /// Answers `200 OK` with `body` after `after`.
    Slow { after: Duration, body: String },
    /// Answers `200 OK` with the head and `first` at once, then the `rest` of the body after
    /// `pause`.
    SlowBody {
        first: String,
        pause: Duration,
        rest: String,
    },
}

impl Reply {
    /// `200 OK` with this body.
    pub(crate) fn ok(body: &str) -> Self {
        Self::Respond {
            status: 200,
            retry_after: None,
            body: body.to_owned(),
        }
    }

    /// This status, with its reason phrase as the body.
    pub(crate) fn status(status: u16) -> Self {
        let body = hyper::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_owned();
        Self::Respond {
            status,
            retry_after: None,
            body,
        }
    }

    /// Adds a `Retry-After` header: delay-seconds (`"2"`) or an HTTP-date.
    pub(crate) fn retry_after(self, value: &str) -> Self {
        match self {
            Self::Respond { status, body, .. } => Self::Respond {
                status,
                retry_after: Some(value.to_owned()),
                body,
            },
            other => other,
        }
    }
}

/// The script and what was served, shared with the server thread.
#[derive(Debug)]
struct Script {
    replies: VecDeque<Reply>,
    /// The reply once the script is used up.
    otherwise: Reply,
    served: Vec<Reply>,
}

/// A scripted HTTP server on 127.0.0.1; dropping it stops it.
#[derive(Debug)]
pub(crate) struct FlakyServer {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    shutdown: Option<watch::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FlakyServer {
    /// Starts a server that gives `replies` in order, one per request, then `200 OK` with the
    /// body `"ok"` to every later request.
    pub(crate) fn start(replies: impl IntoIterator<Item = Reply>) -> Self {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port on 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the listener's address");
        let script = Arc::new(Mutex::new(Script {
            replies: replies.into_iter().collect(),
            otherwise: Reply::ok("ok"),
            served: Vec::new(),
        }));
        let (shutdown, stop) = watch::channel(());
        let thread = std::thread::Builder::new()
            .name(format!("flaky-server-{}", addr.port()))
            .spawn({
                let script = Arc::clone(&script);
                move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a tokio runtime for the server");
                    runtime.block_on(serve(listener, script, stop));
                }
            })
            .expect("spawn the server thread");
        Self {
            addr,
            script,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The server's address (127.0.0.1 and a free port).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port` followed by `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests (connections) the server has taken so far.
    pub(crate) fn hits(&self) -> usize {
        self.lock().served.len()
    }

    /// The replies given so far, in order.
    pub(crate) fn served(&self) -> Vec<Reply> {
        self.lock().served.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FlakyServer {
    fn drop(&mut self) {
        // Closing the channel stops the accept loop and every connection, hung ones included.
        drop(self.shutdown.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    script: Arc<Mutex<Script>>,
    mut stop: watch::Receiver<()>,
) {
    let listener = TcpListener::from_std(listener).expect("a tokio listener");
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let reply = {
            let mut script = script.lock().unwrap_or_else(PoisonError::into_inner);
            let reply = script
                .replies
                .pop_front()
                .unwrap_or_else(|| script.otherwise.clone());
            script.served.push(reply.clone());
            reply
        };
        tokio::spawn(handle(stream, reply, stop.clone()));
    }
}

async fn handle(stream: TcpStream, reply: Reply, mut stop: watch::Receiver<()>) {
    match reply {
        Reply::Reset => {
            // Wait until the request has arrived, then close with it unread.
            let mut first = [0_u8; 1];
            let _ = stream.peek(&mut first).await;
            drop(stream);
        }
        Reply::Hang => {
            tokio::select! {
                _ = stop.changed() => {}
                () = tokio::time::sleep(HANG_LIMIT) => {}
            }
        }
        Reply::Slow { after, body } => {
            let slow = async {
                tokio::time::sleep(after).await;
                let service = service_fn(move |_: Request<Incoming>| {
                    let body = Full::new(Bytes::from(body.clone()));
                    async move { Ok::<_, Infallible>(Response::new(body)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            };
            tokio::select! {
                () = slow => {}
                _ = stop.changed() => {}
            }
        }
        Reply::SlowBody { first, pause, rest } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                first.len() + rest.len()
            );
            let mut stream = stream;
            let mut request = [0_u8; 1024];
            let _ = stream.read(&mut request).await;
            let write = async {
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(first.as_bytes()).await?;
                stream.flush().await?;
                tokio::time::sleep(pause).await;
                stream.write_all(rest.as_bytes()).await?;
                stream.flush().await
            };
            tokio::select! {
                _ = write => {}
                _ = stop.changed() => {}
            }
        }
        Reply::Respond {
            status,
            retry_after,
            body,
        } => {
            let service = service_fn(move |_: Request<Incoming>| {
                let mut response = Response::builder().status(status);
                if let Some(value) = &retry_after {
                    response = response.header("retry-after", value);
                }
                let response = response
                    .body(Full::new(Bytes::from(body.clone())))
                    .expect("a valid response");
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = stop.changed() => {}
            }
        }
    }
}
