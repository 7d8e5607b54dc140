// A forgotten `.await` on `attempts.next()`: rustc says to await the future.
use stamina::testing::FakeSleeper;

async fn fetch() -> std::io::Result<()> {
    let mut attempts = stamina::retry_context(|_: &std::io::Error| true)
        .into_stream_with(FakeSleeper::new());
    while let Some(attempt) = attempts.next() {
        attempt.run(|| async { Ok(()) }).await?;
    }
    Ok(())
}

fn main() {
    drop(fetch());
}
