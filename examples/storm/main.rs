//! Retry storms and contention in virtual time, through stamina's real state machine and budgets.
//!
//! `cargo run --release --example storm`

mod sim;

use std::time::Duration;

use sim::{
    Storm, contention, contention_policies, contention_row, storm, storm_clients, storm_row,
};

fn main() {
    let standard = Storm::standard();
    println!(
        "Retry storm: {} requests/s capacity, {:?} attempt timeout, {:?} stall at {:?}, {:?} of arrivals",
        standard.capacity,
        standard.attempt_timeout,
        standard.stall,
        standard.stall_at,
        standard.arrivals_until,
    );
    println!();
    println!(
        "| load | clients | amplification | wasted server work | recovery after the stall | requests failed |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    for load in [0.5, 0.7, 0.9] {
        let model = Storm { load, ..standard };
        for (name, clients) in storm_clients() {
            println!("{}", storm_row(load, name, &storm(model, &clients)));
        }
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
