fn any(_: &std::io::Error) -> bool {
    true
}

struct Token;

#[stamina::retry(on = any)]
fn consume(token: Token, label: String) -> Result<String, std::io::Error> {
    drop(token);
    Ok(label)
}

#[stamina::retry(on = any)]
fn generic<T>(value: T) -> Result<T, std::io::Error> {
    Ok(value)
}

fn main() {}
