fn any(_: &std::io::Error) -> bool {
    true
}

#[stamina::retry(on = any)]
fn nothing() {}

#[stamina::retry(on = any)]
fn tuple() -> (u32, u32) {
    (1, 2)
}

#[stamina::retry(on = any)]
fn number() -> u32 {
    1
}

fn main() {}
