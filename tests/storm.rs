//! The storm and contention simulations at a small size: budgets keep retries from multiplying
//! the load, plain retries do not; jitter spreads contending clients apart.

#[path = "../examples/storm/sim.rs"]
#[allow(dead_code)]
mod sim;

use std::time::Duration;

use sim::{
    Storm, contention, contention_policies, contention_row, storm, storm_clients, storm_row,
};

fn small() -> Storm {
    Storm {
        arrivals_until: Duration::from_secs(50),
        ..Storm::standard()
    }
}

/// At 50%, 70% and 90% load, throttle budgets keep retries and hedges to at most 1.05 attempts
/// per request and the server's recovery after the stall within 1.2 s of clients that never
/// retry; plain retries and hedges keep it overloaded.
#[test]
fn throttle_budgets_hold_amplification_and_recovery_and_plain_retries_do_not() {
    for load in [0.5, 0.7, 0.9] {
        let model = Storm {
            load,
            ..Storm::standard()
        };
        let results: Vec<_> = storm_clients()
            .into_iter()
            .map(|(name, clients)| (name, storm(model, &clients)))
            .collect();
        let by = |name: &str| results.iter().find(|(n, _)| *n == name).unwrap().1;
        let none = by("no retries");
        assert_eq!(none.amplification, 1.0);
        let baseline = none
            .recovery
            .expect("clients that never retry let it recover");
        for plain in [
            "3 attempts",
            "stamina defaults (10 attempts, 45 s)",
            "defaults + hedges after 100 ms",
        ] {
            let r = by(plain);
            assert!(r.amplification > 2.0, "{load} {plain}: {r:?}");
            assert_eq!(r.recovery, None, "{load} {plain}: {r:?}");
        }
        for budgeted in [
            "defaults + throttle (10, 0.1)",
            "defaults + hedges after 100 ms + throttle (10, 0.01)",
        ] {
            let r = by(budgeted);
            assert!(r.amplification <= 1.05, "{load} {budgeted}: {r:?}");
            let recovery = r.recovery.expect("recovers");
            assert!(recovery <= baseline + 1.2, "{load} {budgeted}: {r:?}");
        }
    }
}

#[test]
fn the_simulation_is_deterministic_and_follows_its_seed() {
    let (_, clients) = storm_clients().remove(2);
    let report = storm(small(), &clients);
    assert_eq!(report, storm(small(), &clients));
    let other = Storm { seed: 8, ..small() };
    assert_ne!(report, storm(other, &clients));
}

/// The README's storm and contention tables are what the example prints: every row, exactly.
#[test]
fn the_readme_tables_are_the_simulation_s_figures() {
    let readme = include_str!("../README.md");
    for load in [0.5, 0.7, 0.9] {
        let model = Storm {
            load,
            ..Storm::standard()
        };
        for (name, clients) in storm_clients() {
            let row = storm_row(load, name, &storm(model, &clients));
            assert!(readme.lines().any(|l| l == row), "not in the README: {row}");
        }
    }
    for (name, policy) in contention_policies() {
        let report = contention(100, Duration::from_millis(1), policy);
        let row = contention_row(name, 100, &report);
        assert!(readme.lines().any(|l| l == row), "not in the README: {row}");
    }
}

#[test]
fn jitter_beats_lockstep_under_contention() {
    let results: Vec<_> = contention_policies()
        .into_iter()
        .map(|(name, policy)| (name, contention(50, Duration::from_millis(1), policy)))
        .collect();
    let lockstep = results[0].1;
    // Without jitter every retry collides again: one client wins per round.
    assert_eq!(lockstep.calls, 50 * 51 / 2);
    for (name, r) in &results[1..] {
        assert!(r.calls < lockstep.calls / 3, "{name}: {r:?}");
        assert!(r.completion < lockstep.completion, "{name}: {r:?}");
    }
}
