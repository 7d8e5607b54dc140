// An async caller without a runtime feature and without a sleeper of its own.
use std::io;

async fn fetch() -> io::Result<String> {
    let caller = stamina::AsyncRetryingCaller::new().attempts(3);
    caller.call(|_: &io::Error| true, || async { Ok(String::new()) }).await
}

fn main() {
    drop(fetch());
}
