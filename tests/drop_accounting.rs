//! Exact drop accounting: every queued object is dropped exactly once, by
//! `rcu_barrier`, by the reclaimer, or when its domain goes away; and the
//! ring costs what the encoding in `reclaim/src/queue.rs` says.

mod common;

use common::{scaled, within, DropCount};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::Duration;
use urcu::{Domain, Flavor};

const FLAVORS: [Flavor; 3] = [Flavor::Memb, Flavor::Mb, Flavor::Qsbr];

/// Another type, so that a stream alternating with `Counted` changes the
/// drop function at every entry.
#[allow(dead_code)]
struct Tagged(u64, common::Counted);

#[test]
fn objects_of_exited_threads_are_dropped_exactly_once_after_rcu_barrier() {
    let threads = 4;
    let per_thread = scaled(600);
    for flavor in FLAVORS {
        // A small ring, so that checkpoints, the caller's own draining and
        // the reclaimer all take part.
        let d = Domain::builder().flavor(flavor).queue_capacity(64).build();
        let drops = DropCount::new();
        let ran: Arc<Vec<AtomicU8>> = Arc::new(
            (0..threads * per_thread)
                .map(|_| AtomicU8::new(0))
                .collect(),
        );
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let d = d.clone();
                let drops = drops.clone();
                let ran = ran.clone();
                thread::spawn(move || {
                    let mut h = d.register_thread();
                    for i in 0..per_thread {
                        let idx = t * per_thread + i;
                        match i % 3 {
                            0 => d.rcu_reclaim_queue(Box::new(drops.obj())),
                            1 => d.rcu_reclaim_queue(Box::new(Tagged(idx as u64, drops.obj()))),
                            _ => {
                                let ran = ran.clone();
                                d.defer(move || {
                                    ran[idx].fetch_add(1, Ordering::SeqCst);
                                });
                            }
                        }
                        if i % 16 == 0 {
                            h.quiescent_state();
                        }
                    }
                    // Exit with objects still queued: the thread hands them over.
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        d.rcu_barrier();
        let total = threads * per_thread;
        let deferred = ran.iter().filter(|r| r.load(Ordering::SeqCst) > 0).count();
        assert_eq!(
            drops.get() + deferred,
            total,
            "{flavor:?}: every object dropped"
        );
        let closure_ran = |idx: usize| ran[idx].load(Ordering::SeqCst);
        let is_closure = |idx: usize| idx % per_thread % 3 == 2;
        assert!(
            (0..total).all(|i| closure_ran(i) == u8::from(is_closure(i))),
            "{flavor:?}: every deferred closure ran exactly once"
        );
        let s = d.stats();
        assert_eq!(s.queued, total as u64, "{flavor:?}: {s:?}");
        assert_eq!(s.reclaimed, s.queued, "{flavor:?}: {s:?}");
        assert_eq!(s.pending(), 0, "{flavor:?}");
        assert_eq!(
            s.threads, 0,
            "{flavor:?}: exited threads' records are forgotten once drained"
        );
        // Nothing is dropped twice, even after more grace periods.
        d.synchronize_rcu();
        d.rcu_barrier();
        assert_eq!(drops.get() + deferred, total, "{flavor:?}: no double drop");
        assert!(
            (0..total).all(|i| closure_ran(i) == u8::from(is_closure(i))),
            "{flavor:?}"
        );
    }
}

#[test]
fn objects_of_an_exited_thread_are_reclaimed_without_a_barrier() {
    for flavor in FLAVORS {
        let d = Domain::builder()
            .flavor(flavor)
            .reclaim_interval(Duration::from_millis(5))
            .build();
        let drops = DropCount::new();
        {
            let d = d.clone();
            let drops = drops.clone();
            thread::spawn(move || {
                for _ in 0..10 {
                    d.rcu_reclaim_queue(Box::new(drops.obj()));
                }
            })
            .join()
            .unwrap();
        }
        assert!(
            common::wait_until(Duration::from_secs(3), || drops.get() == 10),
            "{flavor:?}: the reclaimer should free an exited thread's queue on its own; dropped {}",
            drops.get()
        );
        assert_eq!(d.stats().pending(), 0);
    }
}

/// `DomainBuilder::reclaim_interval`: "the longest an object waits for the
/// reclaimer once its thread stops queueing (default 10 ms)". A thread that
/// queues one object and then stays alive without queueing more must see it
/// dropped "in a short while" (DESIGN.md) without calling `rcu_barrier`.
#[test]
fn an_idle_live_thread_s_object_is_reclaimed_in_a_short_while() {
    for flavor in FLAVORS {
        let d = Domain::builder()
            .flavor(flavor)
            .reclaim_interval(Duration::from_millis(10))
            .build();
        let drops = DropCount::new();
        d.rcu_reclaim_queue(Box::new(drops.obj()));
        // 200 reclaim intervals: generous on a loaded 2-core machine.
        let ok = common::wait_until(Duration::from_secs(2), || drops.get() == 1);
        assert!(
            ok,
            "{flavor:?}: an object queued by a live thread that queues nothing more was not \
             reclaimed within 2 s (reclaim_interval is 10 ms); stats: {:?}",
            d.stats()
        );
    }
}

#[test]
fn dropping_a_domain_drops_everything_it_still_holds() {
    for flavor in FLAVORS {
        // Few objects: the reclaimer thread may never have started.
        for per_source in [3usize, scaled(3000)] {
            let d = Domain::builder().flavor(flavor).build();
            let drops = DropCount::new();
            // From this thread.
            for _ in 0..per_source {
                d.rcu_reclaim_queue(Box::new(drops.obj()));
            }
            // From a thread that exited.
            {
                let d = d.clone();
                let drops = drops.clone();
                thread::spawn(move || {
                    for _ in 0..per_source {
                        d.rcu_reclaim_queue(Box::new(drops.obj()));
                    }
                })
                .join()
                .unwrap();
            }
            // From a thread that is still alive (parked) and dropped its clone.
            let (queued_tx, queued_rx) = mpsc::channel();
            let (exit_tx, exit_rx) = mpsc::channel::<()>();
            let parked = {
                let d = d.clone();
                let drops = drops.clone();
                thread::spawn(move || {
                    for _ in 0..per_source {
                        d.rcu_reclaim_queue(Box::new(drops.obj()));
                    }
                    let ran = Arc::new(AtomicUsize::new(0));
                    let r = ran.clone();
                    d.defer(move || {
                        r.fetch_add(1, Ordering::SeqCst);
                    });
                    drop(d);
                    queued_tx.send(ran).unwrap();
                    let _ = exit_rx.recv();
                })
            };
            let ran = queued_rx.recv().unwrap();
            let total = 3 * per_source;
            within(Duration::from_secs(20), "dropping the domain", move || {
                drop(d)
            });
            assert_eq!(
                drops.get(),
                total,
                "{flavor:?}/{per_source}: every object is dropped before the domain's drop returns"
            );
            assert_eq!(
                ran.load(Ordering::SeqCst),
                1,
                "{flavor:?}: the deferred closure ran once"
            );
            exit_tx.send(()).unwrap();
            parked.join().unwrap();
            assert_eq!(
                drops.get(),
                total,
                "no double drop after the parked thread exits"
            );
        }
    }
}

#[test]
fn defer_closures_run_exactly_once() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).queue_capacity(32).build();
        let n = scaled(2000);
        let ran: Arc<Vec<AtomicU8>> = Arc::new((0..n).map(|_| AtomicU8::new(0)).collect());
        for i in 0..n {
            let ran = ran.clone();
            // Some closures capture more than others: different sizes,
            // different closure types, all through the same ring.
            if i % 2 == 0 {
                d.defer(move || {
                    ran[i].fetch_add(1, Ordering::SeqCst);
                });
            } else {
                let pad = [i as u64; 4];
                d.defer(move || {
                    assert_eq!(pad[3], i as u64);
                    ran[i].fetch_add(1, Ordering::SeqCst);
                });
            }
        }
        d.rcu_barrier();
        let once = ran.iter().filter(|r| r.load(Ordering::SeqCst) == 1).count();
        assert_eq!(once, n, "{flavor:?}: every closure ran exactly once");
        d.rcu_barrier();
        d.synchronize_rcu();
        assert!(
            ran.iter().all(|r| r.load(Ordering::SeqCst) == 1),
            "{flavor:?}: not again"
        );
        let s = d.stats();
        assert_eq!(
            (s.queued, s.reclaimed, s.destructor_panics),
            (n as u64, n as u64, 0)
        );
    }
}

/// How many entries of one kind fit in a ring of `capacity` words before it
/// counts as full. Measured inside the thread's own read-side section: no
/// grace period can end, so nothing is drained, and every entry past the
/// ring's room spills to the overflow list (counted in `overflow_spills`).
fn entries_that_fit(capacity: usize, push: impl Fn(&Domain, usize)) -> (u64, Domain) {
    let d = Domain::builder()
        .flavor(Flavor::Mb)
        .queue_capacity(capacity)
        .build();
    let attempts = 2 * capacity;
    {
        let _g = d.read_lock();
        for i in 0..attempts {
            push(&d, i);
        }
        let s = d.stats();
        assert_eq!(s.queued, attempts as u64);
        assert_eq!(
            s.reclaimed, 0,
            "nothing can be reclaimed inside our own section"
        );
    }
    let fit = attempts as u64 - d.stats().overflow_spills;
    (fit, d)
}

/// The encoding (reclaim/src/queue.rs): an entry whose drop function equals
/// the previous one costs 1 word (the pointer); one whose function changed
/// costs 2 (`f|1`, `p`); one with an odd pointer costs 3 (`0`, `f`, `p`). A
/// push is refused when more than `capacity - 3` words are in use, i.e. it
/// is accepted while `used <= capacity - 3`.
///
/// - homogeneous: 2 words for the first, then 1 each: accepted at
///   used = 2, 3, ..., C-3, so 1 + (C-3-2+1) = C-3 entries.
/// - alternating two types: 2 words each, accepted at used = 0, 2, ...,
///   2k <= C-3: floor((C-3)/2) + 1 entries.
/// - zero-sized boxes (dangling pointer 1, odd): 3 words each:
///   floor((C-3)/3) + 1 entries.
#[test]
fn ring_cost_per_entry_matches_the_encoding() {
    for c in [16usize, 64, 256] {
        let drops = DropCount::new();
        let dc = drops.clone();
        let (fit, d) = entries_that_fit(c, move |d, _| d.rcu_reclaim_queue(Box::new(dc.obj())));
        assert_eq!(
            fit,
            (c - 3) as u64,
            "homogeneous stream, capacity {c}: one word per object"
        );
        d.rcu_barrier();
        assert_eq!(drops.get(), 2 * c, "everything, spilled or not, is dropped");

        let dc = drops.clone();
        let (fit, d) = entries_that_fit(c, move |d, i| {
            if i % 2 == 0 {
                d.rcu_reclaim_queue(Box::new(dc.obj()));
            } else {
                d.rcu_reclaim_queue(Box::new(Tagged(i as u64, dc.obj())));
            }
        });
        assert_eq!(
            fit,
            ((c - 3) / 2 + 1) as u64,
            "alternating types, capacity {c}"
        );
        d.rcu_barrier();
        assert_eq!(drops.get(), 4 * c);

        let (fit, d) = entries_that_fit(c, |d, _| d.rcu_reclaim_queue(Box::new(())));
        assert_eq!(
            fit,
            ((c - 3) / 3 + 1) as u64,
            "zero-sized boxes, capacity {c}"
        );
        d.rcu_barrier();

        // The same closure type, queued in a loop, is a homogeneous stream.
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let (fit, d) = entries_that_fit(c, move |d, _| {
            let h = h.clone();
            d.defer(move || {
                h.fetch_add(1, Ordering::SeqCst);
            })
        });
        assert_eq!(fit, (c - 3) as u64, "one closure type, capacity {c}");
        d.rcu_barrier();
        assert_eq!(hits.load(Ordering::SeqCst), 2 * c);
    }
}

// ---------------------------------------------------------------------------
// Destructors that queue more objects (an RCU tree node whose drop retires
// its children). `Ring::drain_to` documents that "a callback may push to
// this ring again", and shutdown drains repeatedly "since destructors may
// queue more".
// ---------------------------------------------------------------------------

static NESTED: OnceLock<Domain> = OnceLock::new();
static PARENTS_DROPPED: AtomicUsize = AtomicUsize::new(0);
static LEAVES_DROPPED: AtomicUsize = AtomicUsize::new(0);

struct Leaf;
impl Drop for Leaf {
    fn drop(&mut self) {
        LEAVES_DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

struct Parent;
impl Drop for Parent {
    fn drop(&mut self) {
        PARENTS_DROPPED.fetch_add(1, Ordering::SeqCst);
        // Retire a child through the same domain (and, when this runs in the
        // queueing thread's own drain, through the same ring).
        NESTED.get().unwrap().rcu_reclaim_queue(Box::new(Leaf));
    }
}

#[test]
fn destructors_may_queue_more_objects() {
    let d = NESTED
        .get_or_init(|| {
            Domain::builder()
                .flavor(Flavor::Mb)
                .queue_capacity(8)
                .build()
        })
        .clone();
    let parents = scaled(400);
    let d2 = d.clone();
    within(Duration::from_secs(30), "queueing parents", move || {
        for _ in 0..parents {
            d2.rcu_reclaim_queue(Box::new(Parent));
        }
    });
    d.rcu_barrier();
    // The leaves queued by the last destructors may need a second barrier:
    // they were queued after the first one began.
    d.rcu_barrier();
    assert_eq!(PARENTS_DROPPED.load(Ordering::SeqCst), parents);
    assert_eq!(LEAVES_DROPPED.load(Ordering::SeqCst), parents);
    let s = d.stats();
    assert_eq!(
        (s.queued, s.reclaimed),
        (2 * parents as u64, 2 * parents as u64),
        "{s:?}"
    );
    assert_eq!(s.destructor_panics, 0, "{s:?}");
}

static NESTED2: OnceLock<Domain> = OnceLock::new();
static LEAVES2_DROPPED: AtomicUsize = AtomicUsize::new(0);

struct Leaf2;
impl Drop for Leaf2 {
    fn drop(&mut self) {
        LEAVES2_DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

struct Parent2;
impl Drop for Parent2 {
    fn drop(&mut self) {
        NESTED2.get().unwrap().rcu_reclaim_queue(Box::new(Leaf2));
    }
}

/// The deterministic form of the case above: the queueing thread's ring is
/// full of parents when it falls back to waiting and draining its own ring;
/// each parent's destructor queues a leaf into the slot just freed, so after
/// the drain the ring is full of leaves again, and the entry that caused
/// the fallback no longer fits. Queueing must still succeed (wait again,
/// or spill), never panic.
#[test]
fn a_full_ring_whose_destructors_refill_it_does_not_panic() {
    // 8 words: 5 parents fit (2 words for the first, 1 each after).
    let d = NESTED2
        .get_or_init(|| {
            Domain::builder()
                .flavor(Flavor::Mb)
                .queue_capacity(8)
                .build()
        })
        .clone();
    let (entered_tx, entered_rx) = mpsc::channel();
    let reader = {
        let d = d.clone();
        thread::spawn(move || {
            let g = d.read_lock();
            entered_tx.send(()).unwrap();
            // Hold every grace period off until the writer below is waiting
            // in its caller fallback with a full ring.
            thread::sleep(Duration::from_millis(200));
            drop(g);
        })
    };
    entered_rx.recv().unwrap();
    let d2 = d.clone();
    let outcome = within(
        Duration::from_secs(20),
        "queueing into a full ring",
        move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for _ in 0..6 {
                    d2.rcu_reclaim_queue(Box::new(Parent2));
                }
            }))
            .map_err(|p| common::panic_message(&*p))
        },
    );
    reader.join().unwrap();
    assert_eq!(
        outcome,
        Ok(()),
        "rcu_reclaim_queue panicked after its caller fallback because destructors run by that \
         fallback refilled the ring"
    );
    d.rcu_barrier();
    d.rcu_barrier();
    assert_eq!(LEAVES2_DROPPED.load(Ordering::SeqCst), 6);
}

/// `rcu_barrier` waits for what live threads queued before it, too.
#[test]
fn rcu_barrier_covers_the_queues_of_live_threads() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).build();
        let drops = DropCount::new();
        let per_thread = scaled(300);
        let (queued_tx, queued_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel::<()>();
        let exit_rx = Arc::new(std::sync::Mutex::new(exit_rx));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (d, drops, queued_tx, exit_rx) =
                    (d.clone(), drops.clone(), queued_tx.clone(), exit_rx.clone());
                thread::spawn(move || {
                    let mut h = d.register_thread();
                    for _ in 0..per_thread {
                        d.rcu_reclaim_queue(Box::new(drops.obj()));
                    }
                    // Stay alive, out of any section.
                    h.offline();
                    queued_tx.send(()).unwrap();
                    let _ = exit_rx.lock().unwrap().recv();
                })
            })
            .collect();
        for _ in 0..3 {
            queued_rx.recv().unwrap();
        }
        d.rcu_barrier();
        assert_eq!(drops.get(), 3 * per_thread, "{flavor:?}");
        assert_eq!(d.stats().pending(), 0, "{flavor:?}");
        for _ in 0..3 {
            exit_tx.send(()).unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
    }
}

/// A thread-local whose destructor queues into a domain, after this
/// thread's registrations may already be gone.
struct LateQueue(Option<(Domain, DropCount)>);

impl Drop for LateQueue {
    fn drop(&mut self) {
        if let Some((d, drops)) = self.0.take() {
            d.rcu_reclaim_queue(Box::new(drops.obj()));
        }
    }
}

thread_local! {
    static LATE: std::cell::RefCell<LateQueue> = const { std::cell::RefCell::new(LateQueue(None)) };
}

/// Runs `threads` threads whose thread-local destructor queues an object
/// into `d` after the library's own per-thread state is destroyed.
fn queue_from_thread_local_destructors(d: &Domain, drops: &DropCount, threads: usize) {
    for _ in 0..threads {
        let (d, drops) = (d.clone(), drops.clone());
        thread::spawn(move || {
            // Our thread-local first, the library's second: destructors
            // run in reverse order, so ours runs after the library's.
            LATE.with(|l| l.borrow_mut().0 = Some((d.clone(), drops.clone())));
            d.rcu_reclaim_queue(Box::new(drops.obj()));
        })
        .join()
        .unwrap();
    }
}

/// Objects queued from a thread-local destructor, after the library's own
/// per-thread state is gone, are still reclaimed exactly once.
#[test]
fn objects_queued_from_thread_local_destructors_are_reclaimed() {
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let drops = DropCount::new();
    let threads = 20;
    queue_from_thread_local_destructors(&d, &drops, threads);
    // One object from the body, one from the destructor, per thread.
    d.rcu_barrier();
    assert_eq!(drops.get(), 2 * threads, "every object is dropped");
    let s = d.stats();
    assert_eq!(
        (s.queued, s.reclaimed),
        (2 * threads as u64, 2 * threads as u64),
        "{s:?}"
    );
    d.rcu_barrier();
    assert_eq!(drops.get(), 2 * threads, "and only once");
}

/// ... and those exited threads do not stay registered forever (every grace
/// period scans every registered record).
#[test]
fn threads_that_queue_from_thread_local_destructors_are_forgotten() {
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let drops = DropCount::new();
    queue_from_thread_local_destructors(&d, &drops, 20);
    let forgotten = common::wait_until(Duration::from_secs(2), || {
        d.rcu_barrier();
        d.stats().threads == 0
    });
    assert!(forgotten, "exited threads stay registered: {:?}", d.stats());
}
