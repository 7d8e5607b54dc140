fn any(_: &std::io::Error) -> bool {
    true
}

#[stamina::retry(on = any, retries = 3)]
fn unknown() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry(on = any, attempts = 3, attempts = 4)]
fn duplicate() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
