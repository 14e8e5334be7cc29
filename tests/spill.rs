//! Spilling inside a read-side section: the section's end must not block
//! (another thread's section may be waiting for this thread), and the
//! spilled objects are freed once a grace period has passed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;
use urcu::Domain;

mod common;
use common::Counted;

/// Thread X holds a section while it waits for thread Y at a barrier; Y
/// fills its queue inside its own section and then drops its guard before
/// reaching the barrier. A guard drop that waited for a grace period would
/// wait for X, which waits for Y: a deadlock (this is what the 16-core map
/// benchmark hit with an earlier design).
#[test]
fn a_guard_drop_after_spilling_does_not_wait_for_other_sections() {
    let d = Domain::builder().queue_capacity(8).build();
    let drops = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(2));
    let (done_tx, done_rx) = mpsc::channel();
    let x = {
        let (d, barrier, done_tx) = (d.clone(), barrier.clone(), done_tx.clone());
        std::thread::spawn(move || {
            let _g = d.read_lock();
            barrier.wait();
            done_tx.send("x").unwrap();
        })
    };
    let y = {
        let (d, barrier, drops) = (d.clone(), barrier.clone(), drops.clone());
        std::thread::spawn(move || {
            {
                let _g = d.read_lock();
                for _ in 0..50 {
                    d.rcu_reclaim_queue(Box::new(Counted(drops.clone())));
                }
                assert!(
                    d.stats().overflow_spills > 0,
                    "the queue overflowed inside the section"
                );
            }
            barrier.wait();
            done_tx.send("y").unwrap();
        })
    };
    for _ in 0..2 {
        done_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("deadlock: a guard drop waited for a grace period held up by another section");
    }
    x.join().unwrap();
    y.join().unwrap();
    d.rcu_barrier();
    assert_eq!(
        drops.load(Ordering::Relaxed),
        50,
        "every spilled object is freed, once"
    );
    let s = d.stats();
    assert_eq!((s.queued, s.reclaimed), (50, 50));
}

/// Spilled batches are freed by their owner (or the reclaimer) as grace
/// periods pass, without any barrier: memory does not pile up while a
/// writer keeps queueing inside short sections.
#[test]
fn spilled_batches_are_freed_as_grace_periods_pass() {
    let d = Domain::builder().queue_capacity(8).build();
    let drops = Arc::new(AtomicUsize::new(0));
    let total = 20_000;
    for _ in 0..total / 20 {
        let _g = d.read_lock();
        for _ in 0..20 {
            d.rcu_reclaim_queue(Box::new(Counted(drops.clone())));
        }
    }
    assert!(d.stats().overflow_spills > 0);
    // Without a barrier, the reclaimer and the owner free them in a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while d.stats().pending() > 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "spilled batches were not freed: {:?}",
            d.stats()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    d.rcu_barrier();
    assert_eq!(drops.load(Ordering::Relaxed), total);
}
