//! A flaky HTTP server on 127.0.0.1 that fails its first requests, and a client that retries
//! through them with `retry_context`.
//!
//! `cargo run --example quickstart`

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// What went wrong with a request.
#[derive(Debug)]
enum FetchError {
    /// The connection failed (refused, reset, timed out).
    Io(io::Error),
    /// The server answered with an error status.
    Status(u16),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "connection error: {e}"),
            Self::Status(code) => write!(f, "HTTP {code}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Connection errors and 5xx answers are transient; anything else (a 404, say) is not.
fn is_transient(error: &FetchError) -> bool {
    match error {
        FetchError::Io(_) => true,
        FetchError::Status(code) => *code >= 500,
    }
}

/// A GET with a timeout taken from the retry loop's remaining time.
fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<String, FetchError> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(FetchError::Io)?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(FetchError::Io)?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(FetchError::Io)?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).map_err(FetchError::Io)?;
    let code: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| FetchError::Io(io::Error::other("malformed status line")))?;
    let mut rest = String::new();
    reader.read_to_string(&mut rest).map_err(FetchError::Io)?;
    if code != 200 {
        return Err(FetchError::Status(code));
    }
    let body = rest.split("\r\n\r\n").nth(1).unwrap_or_default();
    Ok(body.to_owned())
}

/// Serves `/flaky` with three 503s before a 200, and `/missing` with 404s.
fn start_server() -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let flaky_hits = AtomicU32::new(0);
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // Read the whole request head, so that closing the connection resets nothing.
            let mut reader = BufReader::new(&stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let (status, body) = if request_line.starts_with("GET /flaky ") {
                if flaky_hits.fetch_add(1, Ordering::SeqCst) < 3 {
                    ("503 Service Unavailable", "try again")
                } else {
                    ("200 OK", "hello from 127.0.0.1")
                }
            } else {
                ("404 Not Found", "no such page")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(addr)
}

/// Fetches `path`, retrying transient failures, and narrates each attempt.
fn fetch(addr: SocketAddr, path: &str) -> Result<String, FetchError> {
    let start = Instant::now();
    for attempt in stamina::retry_context(is_transient)
        .name("quickstart.fetch")
        .attempts(5)
        .timeout(Duration::from_secs(5))
        .wait_initial(Duration::from_millis(50))
        .wait_jitter(Duration::from_millis(20))
    {
        // Propagate the deadline: no request may outlive the retry loop's budget.
        let timeout = attempt.remaining().unwrap_or(Duration::from_secs(5));
        let result = get(addr, path, timeout);
        match &result {
            Ok(_) => println!(
                "  attempt {}: ok after {:?}",
                attempt.num(),
                start.elapsed()
            ),
            Err(e) if is_transient(e) => println!(
                "  attempt {}: {e} (a retry waits at least {:?})",
                attempt.num(),
                attempt.next_wait()
            ),
            Err(e) => println!("  attempt {}: {e} (not transient)", attempt.num()),
        }
        if let Some(body) = attempt.record(result)? {
            return Ok(body);
        }
    }
    unreachable!("the loop ends with a value or an error")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = start_server()?;
    println!("flaky server on http://{addr}");

    println!("GET /flaky (fails three times, then recovers):");
    let body = fetch(addr, "/flaky")?;
    println!("  => {body:?}");

    println!("GET /missing (a 404 is not transient: no retry):");
    match fetch(addr, "/missing") {
        Err(e) => println!("  => gave up at once: {e}"),
        Ok(body) => return Err(format!("expected a 404, got {body:?}").into()),
    }
    Ok(())
}
