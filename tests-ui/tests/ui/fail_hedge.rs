//! `hedge` runs attempts at the same time: an `async fn` only, and one whose attempts borrow
//! nothing mutably.

#[derive(Debug)]
struct Flaky;

#[stamina::retry(on = |_| true, hedge = "50ms")]
fn sync_fn() -> Result<(), Flaky> {
    Err(Flaky)
}

struct Client;

impl Client {
    #[stamina::retry(on = |_| true, hedge = "50ms")]
    async fn with_mut_self(&mut self) -> Result<(), Flaky> {
        Err(Flaky)
    }
}

fn main() {}
