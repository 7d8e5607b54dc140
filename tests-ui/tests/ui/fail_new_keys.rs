fn any(_: &std::io::Error) -> bool {
    true
}

#[stamina::retry(on = any, attempt_timeout = "1s")]
fn sync_attempt_timeout() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry(on = any, jitter = "gaussian")]
fn unknown_jitter() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry(on = any, retry_after_max = "soon")]
fn bad_ceiling() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry(on = any, policy = 3)]
fn not_a_policy() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
