fn for_other_errors(_: &std::fmt::Error) -> bool {
    true
}

#[stamina::retry(on = for_other_errors)]
fn mismatched() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
