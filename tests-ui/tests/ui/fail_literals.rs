// Number literals out of their type's range: rustc's `overflowing_literals` lint, which reports
// only in a crate without other errors, hence a file of its own.
fn any(_: &std::io::Error) -> bool {
    true
}

#[stamina::retry(on = any, seed = 18446744073709551616)]
fn seed_beyond_u64() -> Result<(), std::io::Error> {
    Ok(())
}

#[stamina::retry(on = any, attempts = 4294967296)]
fn attempts_beyond_u32() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
