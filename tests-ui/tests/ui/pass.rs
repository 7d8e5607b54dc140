//! Every function shape the attribute accepts, without a warning.
#![deny(warnings)]

use std::error::Error as StdError;
use std::fmt::Debug;
use std::io;
use std::time::Duration;

const ATTEMPTS: u32 = 4;

fn is_transient(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::TimedOut
}

/// Docs and attributes are kept.
#[must_use = "it is a result"]
#[inline]
#[stamina::retry(
    on = is_transient,
    attempts = 3,
    timeout = "10s",
    wait_initial = "100ms",
    wait_max = "5s",
    wait_jitter = "1s",
    wait_exp_base = 2.0,
    name = "free",
)]
pub fn free(url: &str) -> io::Result<String> {
    #![allow(clippy::needless_return)]
    if url.is_empty() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    Ok(url.to_owned())
}

#[stamina::retry(
    on = |e| e.kind() == io::ErrorKind::TimedOut,
    attempts = ATTEMPTS,
    timeout = Duration::from_secs(1),
    wait_initial = Duration::from_millis(ATTEMPTS.into()),
    wait_exp_base = 1,
    name = format!("{}::expr", module_path!()),
)]
fn expressions(mut owned: Vec<u8>, _: String) -> Result<usize, io::Error> {
    owned.push(1);
    Ok(owned.len())
}

#[stamina::retry(on = |_: &io::Error| Duration::from_millis(1), attempts = None, timeout = None)]
fn unlimited() -> Result<(), io::Error> {
    Ok(())
}

#[stamina::retry(on = |_: &io::Error| stamina::Decision::DontRetry, attempts = "unlimited")]
fn decision() -> Result<(), io::Error> {
    Ok(())
}

#[stamina::retry(on = stamina::on_cause::<io::Error>())]
fn boxed() -> Result<(), Box<dyn StdError + Send + Sync>> {
    let n: u32 = "7".parse()?;
    let _ = n;
    Ok(())
}

#[stamina::retry(on = |_: &E| true)]
fn generic<'a, T, E>(value: T, borrowed: &'a str) -> Result<(T, &'a str), E>
where
    T: Clone + Debug,
    E: Debug,
{
    Ok((value, borrowed))
}

#[stamina::retry(on = is_transient)]
fn impl_trait(items: impl IntoIterator<Item = u8> + Clone, sink: &mut impl Extend<u8>) -> io::Result<()> {
    sink.extend(items);
    Ok(())
}

#[stamina::retry(on = is_transient)]
fn patterns((a, b): (u8, u8), [c, ..]: [u8; 3], ref r: u8, mut m: u8, w @ (x, _): (u8, u8)) -> io::Result<u8> {
    m += w.1 + x;
    m += r;
    Ok(a + b + c + m)
}

struct Client {
    calls: u32,
    base: String,
}

trait Fetch {
    fn fetch(&mut self) -> io::Result<u32>;
}

impl Fetch for Client {
    #[stamina::retry(on = is_transient)]
    fn fetch(&mut self) -> io::Result<u32> {
        self.calls += 1;
        Ok(self.calls)
    }
}

impl Client {
    #[stamina::retry(on = is_transient)]
    pub(crate) fn base(&self) -> io::Result<&str> {
        Ok(&self.base)
    }

    #[stamina::retry(on = is_transient)]
    fn typed_receiver(self: &Self, extra: &mut Vec<u8>) -> io::Result<usize> {
        extra.push(0);
        Ok(self.base.len() + extra.len())
    }

    #[stamina::retry(on = is_transient)]
    fn new(base: String) -> io::Result<Self> {
        Ok(Self { calls: 0, base })
    }
}

fn main() {
    let _ = free("x");
    let _ = expressions(Vec::new(), String::new());
    let _ = unlimited();
    let _ = decision();
    let _ = boxed();
    let _ = generic::<u8, io::Error>(1, "a");
    let mut sink = Vec::new();
    let _ = impl_trait([1, 2], &mut sink);
    let _ = patterns((1, 2), [3, 4, 5], 6, 7, (8, 9));
    let mut client = Client::new("b".into()).unwrap();
    let _ = client.fetch();
    let _ = client.base();
    let _ = client.typed_receiver(&mut Vec::new());
}
