//! Thread-scoped switch overrides: each guard ends exactly its own override, in any drop order,
//! and leaves nothing behind for other threads' guards to wake up.
//!
//! Nothing here touches the process-wide switches, so these tests run in parallel.

use std::sync::mpsc;

use stamina::testing::{
    Testing, ThreadGuard, get_testing, is_active, thread_active, thread_testing,
};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Override {
    Active(bool),
    Testing(Option<Testing>),
}

impl Override {
    fn apply(self) -> ThreadGuard {
        match self {
            Override::Active(a) => thread_active(a),
            Override::Testing(t) => thread_testing(t),
        }
    }
}

/// What the switches must read while `live` overrides are alive (oldest first): the newest live
/// override of each switch, else the process-wide default (active, not testing).
fn expected(live: &[Override]) -> (bool, Option<Testing>) {
    let active = live.iter().rev().find_map(|o| match o {
        Override::Active(a) => Some(*a),
        Override::Testing(_) => None,
    });
    let testing = live.iter().rev().find_map(|o| match o {
        Override::Testing(t) => Some(*t),
        Override::Active(_) => None,
    });
    (active.unwrap_or(true), testing.unwrap_or(None))
}

fn observed() -> (bool, Option<Testing>) {
    (is_active(), get_testing())
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            all.push(q);
        }
    }
    all
}

/// Creates the overrides in order, then drops them in `order`, checking the switches after every
/// step against the model.
fn check(overrides: &[Override], order: &[usize]) {
    assert_eq!(observed(), (true, None), "start of {overrides:?}");
    let mut guards: Vec<Option<ThreadGuard>> = Vec::new();
    let mut live: Vec<(usize, Override)> = Vec::new();
    for (i, o) in overrides.iter().enumerate() {
        guards.push(Some(o.apply()));
        live.push((i, *o));
        let model: Vec<Override> = live.iter().map(|(_, o)| *o).collect();
        assert_eq!(
            observed(),
            expected(&model),
            "after creating {i} of {overrides:?}"
        );
    }
    for &i in order {
        drop(guards[i].take());
        live.retain(|(j, _)| *j != i);
        let model: Vec<Override> = live.iter().map(|(_, o)| *o).collect();
        assert_eq!(
            observed(),
            expected(&model),
            "after dropping {i} of {overrides:?} in order {order:?}"
        );
    }
    assert_eq!(
        observed(),
        (true, None),
        "end of {overrides:?} in order {order:?}"
    );
}

const CHOICES: [Override; 5] = [
    Override::Active(false),
    Override::Active(true),
    Override::Testing(Some(Testing::new().attempts(2))),
    Override::Testing(Some(Testing::new().attempts(3).cap(true))),
    Override::Testing(None),
];

#[test]
fn every_drop_order_of_two_guards() {
    let mut cases = 0;
    for a in CHOICES {
        for b in CHOICES {
            for order in permutations(2) {
                check(&[a, b], &order);
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 5 * 5 * 2);
}

#[test]
fn every_drop_order_of_three_guards() {
    let mut cases = 0;
    for a in CHOICES {
        for b in CHOICES {
            for c in CHOICES {
                for order in permutations(3) {
                    check(&[a, b, c], &order);
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 125 * 6);
}

#[test]
fn the_testing_guard_dropped_first_leaves_the_active_override() {
    let testing = thread_testing(Testing::new().attempts(2));
    let off = thread_active(false);
    drop(testing);
    assert!(!is_active());
    assert_eq!(get_testing(), None);
    drop(off);
    assert_eq!(observed(), (true, None));
}

#[test]
fn the_active_guard_dropped_first_keeps_the_testing_override() {
    let off = thread_active(false);
    let testing = thread_testing(Testing::new().attempts(2));
    drop(off);
    assert!(is_active());
    assert_eq!(get_testing(), Some(Testing::new().attempts(2)));
    drop(testing);
    assert_eq!(observed(), (true, None));
}

#[test]
fn no_stale_override_wakes_up_when_another_thread_holds_a_guard() {
    // Out-of-order drops on this thread...
    let testing = thread_testing(Testing::new().attempts(7));
    let off = thread_active(false);
    drop(testing);
    drop(off);
    assert_eq!(observed(), (true, None));

    // ...must leave nothing behind, also while another thread holds a guard (which makes loops
    // everywhere read their thread's overrides).
    let (held, wait_held) = mpsc::channel();
    let (release, wait_release) = mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let _guard = thread_testing(Testing::new());
        held.send(()).unwrap();
        wait_release.recv().unwrap();
    });
    wait_held.recv().unwrap();
    let seen = observed();
    release.send(()).unwrap();
    other.join().unwrap();
    assert_eq!(seen, (true, None));
}

/// A guard prints the override it holds and its id, which is its own.
#[test]
fn a_guard_prints_its_override() {
    let printed = |guard: &ThreadGuard| {
        let text = format!("{guard:?}");
        let (head, id) = text.rsplit_once(", id: ").expect("an id");
        let id = id.strip_suffix(" }").and_then(|id| id.parse::<u64>().ok());
        (head.to_owned(), id.expect("a number"))
    };
    let off = thread_active(false);
    let testing = thread_testing(Some(Testing::new().attempts(2)));
    let (off, off_id) = printed(&off);
    assert_eq!(off, "ThreadGuard { switch: Active(false)");
    let (testing, testing_id) = printed(&testing);
    assert_eq!(
        testing,
        "ThreadGuard { switch: Testing(Some(Testing { attempts: 2, cap: false, hedges: false }))"
    );
    assert_ne!(off_id, testing_id);
}
