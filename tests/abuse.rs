//! Memory stays bounded under abuse: a stalled reader while 16 threads
//! flood `rcu_reclaim_queue`, threads that start and exit while holding
//! queued objects, and writers that queue from inside their own sections.
//!
//! # The bound (see tests/bounded_memory.rs and RELIABILITY.md)
//!
//! With a ring of `C` words, a thread holds at most `C - 3` objects of one
//! type (3 words reserved, one function word): a full ring makes the
//! thread wait for a grace period and free its own ring. So with `W`
//! queueing threads, `pending <= W × (C - 3)` outside sections, and the
//! objects alive are those plus the one each blocked thread is queueing.
//! Inside a section a thread cannot wait: what it queues past the ring
//! spills to a batch freed after the section ends, and its next section
//! waits for a grace period first (so a thread holds at most its ring plus
//! one section's spill).
//!
//! Tests run one at a time (they measure the process's memory and stall
//! grace periods).

mod common;

use common::{scaled, stall, wait_until, within, DropCount};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;
use urcu::{Domain, Flavor};

const FLAVORS: [Flavor; 3] = [Flavor::Memb, Flavor::Mb, Flavor::Qsbr];
/// Words per ring; `FIT` objects of one type fit.
const C: usize = 16;
const FIT: usize = C - 3;
const LIMIT: Duration = Duration::from_secs(30);

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn domain(flavor: Flavor) -> Domain {
    let d = Domain::builder().flavor(flavor).queue_capacity(C).build();
    assert_eq!(d.queue_capacity(), C);
    d
}

/// Resident memory of this process, in bytes (Linux; `None` elsewhere).
fn rss() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: usize = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

const BIG: usize = 64 * 1024;

/// 64 KiB, really touched (so it counts in RSS), and counted on drop.
struct Big(
    #[allow(dead_code)] Vec<u8>,
    #[allow(dead_code)] common::Counted,
);

impl Big {
    fn new(drops: &DropCount) -> Big {
        Big(vec![1; BIG], drops.obj())
    }
}

fn progress_of(p: &[Arc<AtomicUsize>]) -> Vec<usize> {
    p.iter().map(|p| p.load(Ordering::SeqCst)).collect()
}

/// 16 threads flood the queue while a reader stalls: each stops at exactly
/// `FIT` objects; pending and RSS stay within the bound; nothing is freed
/// until the reader leaves; then everything is, exactly once.
fn flood(flavor: Flavor) {
    let d = domain(flavor);
    let drops = DropCount::new();
    let threads = 16;
    let per_thread = scaled(100);
    let rss_before = rss();
    let (release, reader) = stall(&d);
    let progress: Vec<Arc<AtomicUsize>> = (0..threads).map(|_| Arc::default()).collect();
    let writers: Vec<_> = progress
        .iter()
        .map(|p| {
            let (d, drops, p) = (d.clone(), drops.clone(), p.clone());
            thread::spawn(move || {
                for i in 0..per_thread {
                    d.rcu_reclaim_queue(Box::new(Big::new(&drops)));
                    p.store(i + 1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let mut peak = 0;
    let all_stuck = wait_until(LIMIT, || {
        peak = peak.max(d.stats().pending());
        progress_of(&progress).iter().all(|&n| n >= FIT)
    });
    assert!(
        all_stuck,
        "{flavor:?}: writers {:?}",
        progress_of(&progress)
    );
    thread::sleep(Duration::from_millis(100));
    let s = d.stats();
    peak = peak.max(s.pending());
    let bound = (threads * FIT) as u64;
    assert_eq!(
        progress_of(&progress),
        vec![FIT; threads],
        "{flavor:?}: each thread queues C - 3 objects, then waits: {s:?}"
    );
    assert_eq!(s.pending(), bound, "{flavor:?}: {s:?}");
    assert!(peak <= bound, "{flavor:?}: peak pending {peak} > {bound}");
    assert_eq!(s.caller_fallbacks, threads as u64, "{flavor:?}: {s:?}");
    assert_eq!((s.grace_periods, drops.get()), (0, 0), "{flavor:?}: {s:?}");
    // URCU_NO_RSS_BOUND: set by .ci/extended under ThreadSanitizer, whose
    // shadow memory (several bytes per application byte) inflates RSS.
    let rss_bound = std::env::var_os("URCU_NO_RSS_BOUND").is_none();
    if let (true, Some(before), Some(now)) = (rss_bound, rss_before, rss()) {
        // Alive: the full rings and one object per blocked thread, plus
        // slack for stacks and the allocator. Unbounded would be
        // threads × per_thread × 64 KiB (100 MiB and more).
        let limit = threads * (FIT + 2) * BIG + (16 << 20);
        let grown = now.saturating_sub(before);
        println!(
            "{flavor:?}: peak pending {peak} (bound {bound}), RSS +{} KiB (bound {} KiB)",
            grown >> 10,
            limit >> 10
        );
        assert!(
            grown <= limit,
            "{flavor:?}: RSS grew by {} KiB, bound {} KiB",
            grown >> 10,
            limit >> 10
        );
    }
    release.send(()).unwrap();
    reader.join().unwrap();
    for w in writers {
        w.join().unwrap();
    }
    d.rcu_barrier();
    let s = d.stats();
    assert_eq!(drops.get(), threads * per_thread, "{flavor:?}: {s:?}");
    assert_eq!((s.pending(), s.queued), (0, (threads * per_thread) as u64));
}

#[test]
fn a_stalled_reader_and_16_flooding_threads_stay_within_the_ring_bound() {
    let _s = serial();
    for flavor in FLAVORS {
        within(LIMIT, "flood", move || flood(flavor));
    }
}

/// Threads queue fewer objects than their ring holds and exit while a
/// reader stalls: their rings are handed over, nothing is freed early, and
/// once the reader leaves everything is freed and the records forgotten.
/// Then threads that overflow their rings churn with no stall.
fn churn(flavor: Flavor) {
    let d = domain(flavor);
    let drops = DropCount::new();
    let (release, reader) = stall(&d);
    let exited = scaled(24);
    for _ in 0..exited {
        let (d, drops) = (d.clone(), drops.clone());
        thread::spawn(move || {
            for _ in 0..FIT - 1 {
                d.rcu_reclaim_queue(Box::new(drops.obj()));
            }
        })
        .join()
        .unwrap();
    }
    let s = d.stats();
    let held = exited * (FIT - 1);
    assert_eq!(s.pending(), held as u64, "{flavor:?}: {s:?}");
    assert_eq!(drops.get(), 0, "{flavor:?}: freed while a reader stalls");
    assert!(s.threads > exited, "{flavor:?}: exited rings kept: {s:?}");
    assert_eq!(s.caller_fallbacks, 0, "{flavor:?}: {s:?}");
    release.send(()).unwrap();
    reader.join().unwrap();
    d.rcu_barrier();
    assert_eq!(drops.get(), held, "{flavor:?}");
    assert!(
        wait_until(Duration::from_secs(5), || d.stats().threads == 0),
        "{flavor:?}: records of exited threads are forgotten: {:?}",
        d.stats()
    );

    // Overflowing threads start and exit, 8 at a time, with no stall.
    let rounds = scaled(4);
    let per = 3 * C;
    for _ in 0..rounds {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let (d, drops) = (d.clone(), drops.clone());
                thread::spawn(move || {
                    for k in 0..per {
                        if (i + k) % 5 == 0 {
                            let c = drops.obj();
                            d.defer(move || drop(c));
                        } else {
                            d.rcu_reclaim_queue(Box::new(drops.obj()));
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    }
    d.rcu_barrier();
    let s = d.stats();
    assert_eq!(drops.get(), held + rounds * 8 * per, "{flavor:?}: {s:?}");
    assert_eq!(s.pending(), 0, "{flavor:?}: {s:?}");
    assert!(s.caller_fallbacks > 0, "{flavor:?}: {s:?}");
}

#[test]
fn threads_that_exit_while_holding_queued_objects_hand_them_over() {
    let _s = serial();
    for flavor in FLAVORS {
        within(LIMIT, "churn", move || churn(flavor));
    }
}

/// Writers queue `2 × C` objects in each of their sections while a reader
/// stalls: inside a section they never wait (past the ring, objects spill
/// to the section's batch); the next section's entry (or, for a QSBR
/// handle, the quiescent state before it) waits for the grace period
/// instead of letting spills pile up, so each writer holds at most one
/// section's objects. Once the reader leaves, everything is freed.
fn queue_inside_sections(flavor: Flavor) {
    let d = domain(flavor);
    let drops = DropCount::new();
    let (release, reader) = stall(&d);
    let writers = 4;
    let sections = scaled(10);
    let per_section = 2 * C;
    let progress: Vec<Arc<AtomicUsize>> = (0..writers).map(|_| Arc::default()).collect();
    let hs: Vec<_> = progress
        .iter()
        .map(|p| {
            let (d, drops, p) = (d.clone(), drops.clone(), p.clone());
            thread::spawn(move || {
                let mut h = d.register_thread();
                for s in 0..sections {
                    let g = h.read_lock();
                    for _ in 0..per_section {
                        d.rcu_reclaim_queue(Box::new(drops.obj()));
                    }
                    drop(g);
                    p.store(s + 1, Ordering::SeqCst);
                    h.quiescent_state();
                }
                h.offline();
            })
        })
        .collect();
    assert!(
        wait_until(LIMIT, || progress_of(&progress).iter().all(|&p| p == 1)),
        "{flavor:?}: every writer ends its first section without waiting: {:?}",
        progress_of(&progress)
    );
    thread::sleep(Duration::from_millis(150));
    let s = d.stats();
    assert_eq!(
        progress_of(&progress),
        vec![1; writers],
        "{flavor:?}: each writer waits before its second section: {s:?}"
    );
    assert_eq!(drops.get(), 0, "{flavor:?}: {s:?}");
    assert_eq!(
        s.pending(),
        (writers * per_section) as u64,
        "{flavor:?}: {s:?}"
    );
    assert_eq!(
        s.overflow_spills,
        (writers * (per_section - FIT)) as u64,
        "{flavor:?}: all but each ring's C - 3 objects spill: {s:?}"
    );
    assert_eq!(
        s.caller_fallbacks, writers as u64,
        "{flavor:?}: each writer waits once, outside its sections: {s:?}"
    );
    release.send(()).unwrap();
    reader.join().unwrap();
    hs.into_iter().for_each(|h| h.join().unwrap());
    let total = writers * sections * per_section;
    d.rcu_barrier();
    assert_eq!(drops.get(), total, "{flavor:?}: dropped once each");
    assert_eq!(d.stats().pending(), 0, "{flavor:?}");
}

#[test]
fn writers_that_queue_inside_their_sections_spill_and_wait_between_them() {
    let _s = serial();
    for flavor in FLAVORS {
        within(LIMIT, "queueing inside sections", move || {
            queue_inside_sections(flavor)
        });
    }
}
