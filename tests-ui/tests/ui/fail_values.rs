fn any(_: &std::io::Error) -> bool {
    true
}

#[stamina::retry(on = any, timeout = "10 parsecs")]
fn bad_unit() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry(on = any, wait_initial = "", wait_max = 5)]
fn empty_and_bare_number() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry(on = any, attempts = "forever")]
fn bad_attempts() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry(on = any, wait_exp_base = 0.5)]
fn base_below_one() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry(on = any, wait_exp_base = -2)]
fn negative_base() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry(on = any, wait_exp_base = 1e400)]
fn infinite_base() -> Result<(), std::io::Error> {
    Ok(())
}

// Followed by another key, a negative number is parsed as an expression, not as a literal.
#[stamina::retry(wait_exp_base = -1.5, on = any)]
fn negative_base_before_another_key() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
