fn any(_: &std::io::Error) -> bool {
    true
}

struct Client;

impl Client {
    #[stamina::retry(on = any)]
    async fn fetch(&mut self) -> Result<(), std::io::Error> {
        Ok(())
    }
}

#[stamina::retry(on = any)]
async fn fill(buffer: &mut Vec<u8>) -> Result<(), std::io::Error> {
    buffer.push(1);
    Ok(())
}

fn main() {}
