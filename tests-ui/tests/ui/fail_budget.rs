fn any(_: &std::io::Error) -> bool {
    true
}

#[stamina::retry(on = any, budget = ())]
fn budgeted() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
