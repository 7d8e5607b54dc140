fn any(_: &std::io::Error) -> bool {
    true
}

#[derive(Clone)]
struct Client;

impl Client {
    #[stamina::retry(on = any)]
    fn into_body(self) -> Result<(), std::io::Error> {
        Ok(())
    }

    #[stamina::retry(on = any)]
    fn boxed(self: Box<Self>) -> Result<(), std::io::Error> {
        Ok(())
    }
}

fn main() {}
