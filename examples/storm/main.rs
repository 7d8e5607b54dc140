//! Retry storms and contention in virtual time, through stamina's real state machine and budgets.
//!
//! `cargo run --release --example storm`

mod sim;

use std::time::Duration;

use sim::{
    Storm, contention, contention_policies, contention_row, storm, storm_policies, storm_row,
};

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
        println!(
            "{}",
            storm_row(name, &storm(model, policy, budget.as_ref()))
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
        println!("{}", contention_row(name, clients, &r));
    }
}
