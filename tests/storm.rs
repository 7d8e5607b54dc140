//! The storm and contention simulations at a small size: budgets keep retries from multiplying
//! the load, plain retries do not; jitter spreads contending clients apart.

#[path = "../examples/storm/sim.rs"]
#[allow(dead_code)]
mod sim;

use std::time::Duration;

use sim::{
    Storm, contention, contention_policies, contention_row, storm, storm_policies, storm_row,
};

fn small() -> Storm {
    Storm {
        arrivals_until: Duration::from_secs(50),
        ..Storm::standard()
    }
}

#[test]
fn budgets_hold_amplification_down_and_plain_retries_do_not() {
    let mut results = Vec::new();
    for (name, policy, budget) in storm_policies() {
        results.push((name, storm(small(), policy, budget.as_ref())));
    }
    let by = |prefix: &str| {
        results
            .iter()
            .find(|(n, _)| n.starts_with(prefix))
            .unwrap()
            .1
    };
    let none = by("no retries");
    assert_eq!(none.amplification, 1.0);
    assert!(
        by("3 attempts").amplification > 2.0,
        "{:?}",
        by("3 attempts")
    );
    let defaults = by("stamina defaults");
    assert!(defaults.amplification > 2.0, "{defaults:?}");
    assert_eq!(
        defaults.recovery, None,
        "plain retries keep the server overloaded"
    );
    for budgeted in [by("defaults + retry quota"), by("defaults + throttle")] {
        assert!(budgeted.amplification <= 1.05, "{budgeted:?}");
        assert!(budgeted.recovery.is_some_and(|s| s < 5.0), "{budgeted:?}");
    }
}

#[test]
fn the_simulation_is_deterministic_and_follows_its_seed() {
    let (_, policy, _) = storm_policies().remove(2);
    let report = storm(small(), policy, None);
    assert_eq!(report, storm(small(), policy, None));
    let other = Storm { seed: 8, ..small() };
    assert_ne!(report, storm(other, policy, None));
}

/// The README's storm and contention tables are what the example prints: every row, exactly.
#[test]
fn the_readme_tables_are_the_simulation_s_figures() {
    let readme = include_str!("../README.md");
    for (name, policy, budget) in storm_policies() {
        let row = storm_row(name, &storm(Storm::standard(), policy, budget.as_ref()));
        assert!(readme.lines().any(|l| l == row), "not in the README: {row}");
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
