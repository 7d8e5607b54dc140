#[stamina::retry(attempts = 3)]
fn no_on() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry]
fn no_args() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
