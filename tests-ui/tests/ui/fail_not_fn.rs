fn any(_: &std::io::Error) -> bool {
    true
}

#[stamina::retry(on = any)]
struct Client;

trait Fetch {
    #[stamina::retry(on = any)]
    fn fetch(&self) -> Result<(), std::io::Error>;
}

#[stamina::retry(on = any)]
const fn constant() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
