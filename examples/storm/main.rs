//! Retry storms and contention in virtual time, through stamina's real state machine and budgets.
//!
//! `cargo run --release --example storm`

mod sim;

use std::time::Duration;

use sim::{Storm, contention, contention_policies, storm, storm_policies};

fn main() {
    let model = Storm::standard();
    println!(
        "Retry storm: {} requests/s capacity, {:.0}% load, {:?} attempt timeout, {:?} stall at {:?}, {:?} of arrivals",
        model.capacity,
        model.load * 100.0,
        model.attempt_timeout,
        model.stall,
        model.stall_at,
        model.arrivals_until,
    );
    println!();
    println!(
        "| policy | amplification | wasted server work | recovery after the stall | requests failed |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, policy, budget) in storm_policies() {
        let r = storm(model, policy, budget.as_ref());
        let recovery = match r.recovery {
            Some(s) => format!("{s:.1} s"),
            None => "never".to_owned(),
        };
        println!(
            "| {name} | {:.2}x | {:.0}% | {recovery} | {:.1}% |",
            r.amplification,
            r.wasted * 100.0,
            (r.requests - r.succeeded) as f64 * 100.0 / r.requests as f64,
        );
    }

    let clients = 100;
    let op = Duration::from_millis(1);
    println!();
    println!(
        "Contention: {clients} clients update one row at once (optimistic concurrency, {op:?} between read and write), 5 ms base, 2 s cap"
    );
    println!();
    println!("| jitter | calls | calls per client | completion |");
    println!("|---|---:|---:|---:|");
    for (name, policy) in contention_policies() {
        let r = contention(clients, op, policy);
        println!(
            "| {name} | {} | {:.1} | {:.2} s |",
            r.calls,
            r.calls as f64 / clients as f64,
            r.completion.as_secs_f64(),
        );
    }
}
