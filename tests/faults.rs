//! Faults beyond `tests/misuse.rs`: a thread killed by its own panic while
//! its queue holds objects, full queues in every flavor (a QSBR thread
//! online through its handle, destructors that queue more), destructors
//! that panic on the paths misuse.rs does not reach (spill batches, exited
//! threads, domain drop), the membarrier fallback under torture, and the
//! torture checker itself: bugs injected into the pipe writer are caught.
//!
//! Every wait runs under a watchdog (`common::within`).

mod common;

#[path = "../examples/common/torture/mod.rs"]
mod torture;

use common::{run_test_in_child, stall, within, DropCount};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;
use torture::{Bug, Case, Structure};
use urcu::{Domain, Flavor, RcuBox};

const FLAVORS: [Flavor; 3] = [Flavor::Memb, Flavor::Mb, Flavor::Qsbr];
const LIMIT: Duration = Duration::from_secs(20);
/// A small ring (words): `C - 3` objects of one type fit (see
/// tests/bounded_memory.rs).
const C: usize = 16;

#[derive(Debug)]
struct PanicOnDrop(#[allow(dead_code)] common::Counted);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("PanicOnDrop: a destructor that panics (expected by the test)");
    }
}

// ---------------------------------------------------------------------------
// A thread that dies by its own panic with a non-empty queue
// ---------------------------------------------------------------------------

/// Queues `n` objects three ways (box, closure, `RcuBox::replace`), then
/// panics, optionally inside a section after spilling `spill` more.
fn queue_then_panic(d: &Domain, drops: &DropCount, n: usize, spill: usize) -> usize {
    let (d2, drops2) = (d.clone(), drops.clone());
    let r = thread::spawn(move || {
        let b = RcuBox::new_in(drops2.obj(), &d2);
        for i in 0..n {
            match i % 3 {
                0 => d2.rcu_reclaim_queue(Box::new(drops2.obj())),
                1 => {
                    let c = drops2.obj();
                    d2.defer(move || drop(c));
                }
                _ => b.replace(drops2.obj()),
            }
        }
        // `b` itself is dropped during unwinding (its value at once: no
        // reader can reach an RcuBox being dropped).
        let _g = d2.read_lock();
        for _ in 0..spill {
            d2.rcu_reclaim_queue(Box::new(drops2.obj()));
        }
        panic!("a queueing thread dies by its own panic (expected by the test)");
    })
    .join();
    assert!(r.is_err(), "the thread panicked");
    n + spill
}

#[test]
fn a_thread_killed_by_its_own_panic_leaks_nothing_and_frees_nothing_early() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).queue_capacity(C).build();
        let drops = DropCount::new();
        let (release, reader) = stall(&d);
        // Three entries of three types (at most 9 words of the ring's
        // C - 3), so nothing waits; then more than the ring holds, spilled
        // inside the section it dies in.
        let queued = queue_then_panic(&d, &drops, 3, 2 * C);
        thread::sleep(Duration::from_millis(30));
        let s = d.stats();
        assert_eq!(
            drops.get(),
            1,
            "{flavor:?}: only the RcuBox's current value (dropped with the box) may go while a reader stalls: {s:?}"
        );
        assert_eq!(s.pending(), queued as u64, "{flavor:?}: {s:?}");
        assert!(s.overflow_spills > 0, "{flavor:?}: {s:?}");
        release.send(()).unwrap();
        reader.join().unwrap();
        let d2 = d.clone();
        within(LIMIT, "rcu_barrier after the panic", move || {
            d2.rcu_barrier()
        });
        let s = d.stats();
        assert_eq!(
            drops.get(),
            queued + 1,
            "{flavor:?}: every queued object dropped once: {s:?}"
        );
        assert_eq!((s.pending(), s.destructor_panics), (0, 0), "{flavor:?}");

        // Without a barrier: the domain's drop reclaims what is left.
        let drops = DropCount::new();
        let queued = queue_then_panic(&d, &drops, 3 * C, 0);
        within(LIMIT, "domain drop", move || drop(d));
        assert_eq!(drops.get(), queued + 1, "{flavor:?}: domain drop");
    }
}

// ---------------------------------------------------------------------------
// Full queues in every flavor
// ---------------------------------------------------------------------------

/// A thread online through its `ThreadHandle` (QSBR: grace periods wait
/// for it) fills its ring: the fallback must take it offline while it
/// waits, or it would wait for itself. Another online QSBR reader keeps
/// reporting quiescent states meanwhile.
#[test]
fn a_full_queue_of_a_thread_online_through_its_handle_does_not_wait_for_itself() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).queue_capacity(C).build();
        let drops = DropCount::new();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let other = {
            let d = d.clone();
            thread::spawn(move || {
                let mut h = d.register_thread();
                while stop_rx.try_recv().is_err() {
                    drop(h.read_lock());
                    h.quiescent_state();
                    thread::yield_now();
                }
            })
        };
        let total = common::scaled(10 * C);
        let (d2, drops2) = (d.clone(), drops.clone());
        within(LIMIT, "queueing with an online handle", move || {
            let mut h = d2.register_thread();
            for i in 0..total {
                d2.rcu_reclaim_queue(Box::new(drops2.obj()));
                if i % 7 == 0 {
                    h.quiescent_state();
                }
            }
            assert!(h.is_online(), "the fallback puts the thread back online");
        });
        stop_tx.send(()).unwrap();
        other.join().unwrap();
        d.rcu_barrier();
        let s = d.stats();
        assert!(
            s.caller_fallbacks > 0,
            "{flavor:?}: the ring was full: {s:?}"
        );
        assert_eq!(drops.get(), total, "{flavor:?}: {s:?}");
        assert_eq!(s.pending(), 0, "{flavor:?}: {s:?}");
    }
}

/// Each object's destructor queues a smaller one (three generations), on
/// a tiny ring: reclamation callbacks cannot wait for a grace period, so
/// a full ring sends their objects to the domain's overflow list.
struct Nested(
    usize,
    Domain,
    #[allow(dead_code)] common::Counted,
    DropCount,
);

impl Drop for Nested {
    fn drop(&mut self) {
        if self.0 > 0 {
            let child = Nested(self.0 - 1, self.1.clone(), self.3.obj(), self.3.clone());
            self.1.rcu_reclaim_queue(Box::new(child));
        }
    }
}

#[test]
fn a_full_queue_inside_destructors_spills_and_frees_every_generation() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).queue_capacity(8).build();
        let drops = DropCount::new();
        let parents = common::scaled(100);
        let (d2, drops2) = (d.clone(), drops.clone());
        within(LIMIT, "queueing objects whose drop queues", move || {
            for _ in 0..parents {
                let n = Nested(2, d2.clone(), drops2.obj(), drops2.clone());
                d2.rcu_reclaim_queue(Box::new(n));
            }
            // Three generations: each barrier reclaims at least one.
            for _ in 0..3 {
                d2.rcu_barrier();
            }
        });
        let s = d.stats();
        assert_eq!(drops.get(), 3 * parents, "{flavor:?}: {s:?}");
        assert_eq!(s.queued, 3 * parents as u64, "{flavor:?}: {s:?}");
        assert_eq!(s.pending(), 0, "{flavor:?}: {s:?}");
        assert!(s.caller_fallbacks > 0, "{flavor:?}: {s:?}");
    }
}

// ---------------------------------------------------------------------------
// Panicking destructors on the paths misuse.rs does not reach
// ---------------------------------------------------------------------------

#[test]
fn panicking_destructors_in_spill_batches_exited_threads_and_domain_drop() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).queue_capacity(C).build();
        let drops = DropCount::new();
        // 1. Spilled inside a section (ring full), freed after it ends.
        let (d2, drops2) = (d.clone(), drops.clone());
        within(LIMIT, "spilling panicking objects", move || {
            let _g = d2.read_lock();
            for i in 0..3 * C {
                if i % 8 == 0 {
                    d2.rcu_reclaim_queue(Box::new(PanicOnDrop(drops2.obj())));
                } else {
                    d2.rcu_reclaim_queue(Box::new(drops2.obj()));
                }
            }
        });
        // 2. Queued by a thread that exits at once (handed over).
        let (d2, drops2) = (d.clone(), drops.clone());
        thread::spawn(move || {
            for _ in 0..4 {
                d2.rcu_reclaim_queue(Box::new(PanicOnDrop(drops2.obj())));
                d2.defer(|| panic!("a deferred closure that panics (expected by the test)"));
            }
        })
        .join()
        .unwrap();
        let d2 = d.clone();
        within(LIMIT, "rcu_barrier", move || d2.rcu_barrier());
        let s = d.stats();
        assert_eq!(s.destructor_panics, 6 + 8, "{flavor:?}: {s:?}");
        assert!(s.overflow_spills > 0, "{flavor:?}: {s:?}");
        assert_eq!(
            drops.get(),
            3 * C + 4,
            "{flavor:?}: every object, panicking or not"
        );
        assert_eq!(s.pending(), 0);

        // 3. Still queued when the domain drops: the drop catches them too.
        for _ in 0..3 {
            d.rcu_reclaim_queue(Box::new(PanicOnDrop(drops.obj())));
            d.rcu_reclaim_queue(Box::new(drops.obj()));
        }
        within(LIMIT, "domain drop", move || drop(d));
        assert_eq!(drops.get(), 3 * C + 4 + 6, "{flavor:?}: domain drop");
    }
}

// ---------------------------------------------------------------------------
// The membarrier fallback, forced, under torture (child process; the
// library decides once per process: see tests/flavors.rs)
// ---------------------------------------------------------------------------

const CHILD_ENV: &str = "URCU_FORCE_NO_MEMBARRIER";
const CHILD_MARK: &str = "forced-fallback torture: 0 errors";

/// Runs only as the child of `the_forced_membarrier_fallback_survives_torture`.
#[test]
fn forced_fallback_torture_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    assert_eq!(
        Domain::builder().flavor(Flavor::Memb).build().flavor(),
        Flavor::Mb
    );
    for structure in [Structure::Core, Structure::Config] {
        let r = torture::run_case(Case::new(
            Flavor::Memb,
            structure,
            Duration::from_millis(300),
        ));
        assert_eq!(r.errors, 0, "{r:?}");
        assert!(r.reads > 0 && r.writes > 0 && r.grace_periods > 0, "{r:?}");
    }
    println!("{CHILD_MARK}");
}

#[test]
fn the_forced_membarrier_fallback_survives_torture() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    run_test_in_child("forced_fallback_torture_child", CHILD_ENV, CHILD_MARK);
}

// ---------------------------------------------------------------------------
// The torture checker catches injected bugs (tests/torture.rs runs every
// flavor x structure without them)
// ---------------------------------------------------------------------------

fn run(flavor: Flavor, structure: Structure, ms: u64, bug: Option<Bug>) -> torture::Report {
    torture::run_case(Case {
        bug,
        ..Case::new(flavor, structure, Duration::from_millis(ms))
    })
}

#[test]
fn the_torture_checker_catches_a_grace_period_cut_short() {
    let r = run(Flavor::Mb, Structure::Core, 500, Some(Bug::SkipGp));
    assert!(r.errors > 0, "skip-gp went unnoticed: {r:?}");
    assert!(
        r.first_errors
            .iter()
            .any(|e| e.contains("grace period was cut short")),
        "{r:?}"
    );
    let ages = r.ages.as_ref().unwrap();
    assert!(
        ages[2..].iter().sum::<u64>() > 0,
        "ages ≥ 2 were seen: {ages:?}"
    );
}

#[test]
fn the_torture_checker_catches_an_object_freed_early() {
    let r = run(Flavor::Memb, Structure::Core, 500, Some(Bug::FreeEarly));
    assert!(r.errors > 0, "free-early went unnoticed: {r:?}");
    assert!(
        r.first_errors
            .iter()
            .any(|e| e.contains("freed under a reader")),
        "{r:?}"
    );
}
