// A predicate closure whose argument has no type: give it one (`|e: &io::Error| ..`), since
// the loop calls it with a reference of any lifetime, which rustc does not infer.
use std::io;

fn uses_the_argument() -> io::Result<()> {
    for attempt in stamina::retry_context(|e| e.kind() == io::ErrorKind::TimedOut) {
        attempt.run(|| Ok::<_, io::Error>(()))?;
    }
    Ok(())
}

fn ignores_the_argument() -> io::Result<()> {
    for attempt in stamina::retry_context(|_| true) {
        attempt.run(|| Ok::<_, io::Error>(()))?;
    }
    Ok(())
}

fn main() {
    let _ = uses_the_argument();
    let _ = ignores_the_argument();
}
