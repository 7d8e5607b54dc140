// An attempt stream without a runtime feature and without a sleeper of its own.
use std::io;

async fn fetch() -> io::Result<Option<String>> {
    let mut attempts = stamina::retry_context(|_: &io::Error| true).into_stream();
    let mut body = None;
    while let Some(attempt) = attempts.next().await {
        body = attempt.run(|| async { Ok(String::new()) }).await?;
    }
    Ok(body)
}

fn main() {
    drop(fetch());
}
