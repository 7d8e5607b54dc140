// Without the `tokio` and `async-io` features, async loops have no default sleeper: using one
// without a sleeper of its own fails to compile, with an error that says what to do.

fn main() {
    let caller = stamina::AsyncRetryingCaller::new().attempts(3);
    let _call = caller.call(|_: &std::io::Error| true, || async { Ok::<_, std::io::Error>(1) });

    let mut attempts = stamina::retry_context(|_: &std::io::Error| true).into_stream();
    let _next = attempts.next();
}
