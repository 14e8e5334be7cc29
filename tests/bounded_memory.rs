//! Bounded memory: with a reader that stalls, queueing threads stop (they
//! wait for the grace period in their caller fallback) instead of letting
//! pending objects grow; inside their own section they spill instead of
//! deadlocking.
//!
//! # The bound
//!
//! A ring of `C` words (a power of two; 64 here) refuses a push when more
//! than `C - 3` words are in use (3 words are held back so the longest,
//! escaped entry always fits). A stream of one type costs one function word
//! for its first entry, then one word per object, so a thread holds at most
//! `1 + (C - 3 - 2) + 1 = C - 3` objects (61 for `C = 64`): the 3-word
//! reserve and the one function word. A stalled reader queues nothing, so
//! with `W` writers `pending <= W × (C - 3) <= threads × C`.

mod common;

use common::{scaled, within, DropCount};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};
use urcu::{Domain, Flavor};

const C: usize = 64;

/// An object that counts itself alive from creation to drop.
struct Live(Arc<AtomicUsize>, #[allow(dead_code)] common::Counted);

impl Live {
    fn new(live: &Arc<AtomicUsize>, drops: &DropCount) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Live(live.clone(), drops.obj())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
/// Objects of one type a `C`-word ring holds (see the module docs).
const FIT: usize = C - 3;

/// Starts a reader that enters a section (through a `ThreadHandle`, so QSBR
/// readers are online) and stays in it until `release` is sent or dropped.
fn stalled_reader(d: &Domain) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let d = d.clone();
    let h = thread::Builder::new()
        .name("stalled-reader".into())
        .spawn(move || {
            let handle = d.register_thread();
            let g = handle.read_lock();
            entered_tx.send(()).unwrap();
            let _ = release_rx.recv();
            drop(g);
        })
        .unwrap();
    entered_rx.recv().unwrap();
    (release_tx, h)
}

/// Samples `stats().pending()` every millisecond until every writer has
/// made at least `FIT` steps and then none has moved for `quiet` (or
/// `limit` passes); returns the largest pending seen. Waiting for `FIT`
/// first keeps a writer that a loaded machine merely descheduled from
/// looking blocked; the callers then check that no writer went past it.
fn sample_until_stuck(
    d: &Domain,
    progress: &[Arc<AtomicUsize>],
    quiet: Duration,
    limit: Duration,
) -> u64 {
    let start = Instant::now();
    let mut last: Vec<usize> = progress.iter().map(|p| p.load(Ordering::SeqCst)).collect();
    let mut since = Instant::now();
    let mut max_pending = 0;
    while start.elapsed() < limit {
        max_pending = max_pending.max(d.stats().pending());
        let now: Vec<usize> = progress.iter().map(|p| p.load(Ordering::SeqCst)).collect();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet && last.iter().all(|&p| p >= FIT) {
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    max_pending
}

fn stalled_reader_bounds_pending(flavor: Flavor) {
    let d = Domain::builder().flavor(flavor).queue_capacity(C).build();
    assert_eq!(d.queue_capacity(), C);
    let (release, reader) = stalled_reader(&d);

    let writers = 2;
    let per_writer = scaled(12 * C);
    let drops = DropCount::new();
    let live = Arc::new(AtomicUsize::new(0));
    let progress: Vec<Arc<AtomicUsize>> = (0..writers).map(|_| Arc::default()).collect();
    let handles: Vec<_> = progress
        .iter()
        .map(|p| {
            let (d, drops, p, live) = (d.clone(), drops.clone(), p.clone(), live.clone());
            thread::spawn(move || {
                for i in 0..per_writer {
                    d.rcu_reclaim_queue(Box::new(Live::new(&live, &drops)));
                    p.store(i + 1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // Phase 1: the reader stalls. Each writer fills its ring and then waits.
    let max_pending = sample_until_stuck(
        &d,
        &progress,
        Duration::from_millis(150),
        Duration::from_secs(20),
    );
    let s = d.stats();
    let stuck: Vec<usize> = progress.iter().map(|p| p.load(Ordering::SeqCst)).collect();
    assert!(
        stuck.iter().all(|&p| p == FIT),
        "{flavor:?}: each writer queues exactly C-3 = {FIT} objects and then blocks; progress {stuck:?}, {s:?}"
    );
    assert_eq!(s.pending(), (writers * FIT) as u64, "{flavor:?}: {s:?}");
    assert!(
        max_pending <= (writers * FIT) as u64,
        "{flavor:?}: max pending {max_pending}"
    );
    assert!(
        max_pending <= (s.threads * C) as u64,
        "{flavor:?}: pending {max_pending} > threads {} × capacity {C}",
        s.threads
    );
    assert_eq!(
        s.caller_fallbacks, writers as u64,
        "{flavor:?}: each blocked writer fell back once: {s:?}"
    );
    assert_eq!(s.overflow_spills, 0, "{flavor:?}: {s:?}");
    assert_eq!(
        drops.get(),
        0,
        "{flavor:?}: nothing may be freed while the reader stalls"
    );
    assert_eq!(
        live.load(Ordering::SeqCst),
        writers * (FIT + 1),
        "{flavor:?}: alive: the full rings plus the object each writer is waiting to queue"
    );
    assert_eq!(
        s.grace_periods, 0,
        "{flavor:?}: no grace period can end while the reader stalls"
    );
    // Still blocked a while later: not merely slow.
    thread::sleep(Duration::from_millis(100));
    let later: Vec<usize> = progress.iter().map(|p| p.load(Ordering::SeqCst)).collect();
    assert_eq!(
        later, stuck,
        "{flavor:?}: writers must stay blocked while the reader stalls"
    );

    // Phase 2: release the reader; the writers finish.
    release.send(()).unwrap();
    let mut max_after = 0;
    let mut max_live = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while progress
        .iter()
        .any(|p| p.load(Ordering::SeqCst) < per_writer)
    {
        assert!(
            Instant::now() < deadline,
            "{flavor:?}: writers did not finish after the reader left"
        );
        max_after = max_after.max(d.stats().pending());
        max_live = max_live.max(live.load(Ordering::SeqCst));
        thread::sleep(Duration::from_micros(200));
    }
    for h in handles {
        h.join().unwrap();
    }
    reader.join().unwrap();
    let threads_then = d.stats().threads.max(writers + 1);
    // Objects really alive: per writer, a full ring, the one it is queueing,
    // and the one a drainer has taken off the ring and is dropping.
    assert!(
        max_live <= writers * (FIT + 2),
        "{flavor:?}: {max_live} objects alive at once, more than writers × (C-3+2)"
    );
    // `pending()` may count a drained object a little longer (a drain adds
    // its count when it ends), but stays under threads × capacity.
    assert!(
        max_after <= (threads_then * C) as u64,
        "{flavor:?}: pending {max_after} exceeded threads × capacity after the release"
    );
    d.rcu_barrier();
    let s = d.stats();
    assert_eq!(s.pending(), 0, "{flavor:?}: {s:?}");
    assert_eq!(s.queued, (writers * per_writer) as u64);
    assert_eq!(s.reclaimed, s.queued);
    assert_eq!(drops.get(), writers * per_writer, "{flavor:?}");
    assert!(s.caller_fallbacks >= writers as u64);
}

#[test]
fn stalled_reader_bounds_pending_memb() {
    stalled_reader_bounds_pending(Flavor::Memb);
}

#[test]
fn stalled_reader_bounds_pending_mb() {
    stalled_reader_bounds_pending(Flavor::Mb);
}

#[test]
fn stalled_reader_bounds_pending_qsbr() {
    stalled_reader_bounds_pending(Flavor::Qsbr);
}

/// QSBR's own way to stall: a thread that is online and never reports a
/// quiescent state (no guard at all). Writers still block at the bound,
/// and go on once it reports one.
#[test]
fn qsbr_thread_without_quiescent_states_bounds_pending() {
    let d = Domain::builder()
        .flavor(Flavor::Qsbr)
        .queue_capacity(C)
        .build();
    let (online_tx, online_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let reader = {
        let d = d.clone();
        thread::spawn(move || {
            let mut h = d.register_thread();
            online_tx.send(()).unwrap();
            let _ = go_rx.recv();
            h.quiescent_state();
            // Stay online but quiescent from here on, reporting regularly.
            for _ in 0..2000 {
                h.quiescent_state();
                thread::sleep(Duration::from_micros(100));
                if go_rx.try_recv().is_ok() {
                    break;
                }
            }
        })
    };
    online_rx.recv().unwrap();
    let drops = DropCount::new();
    let progress = Arc::new(AtomicUsize::new(0));
    let total = scaled(4 * C);
    let writer = {
        let (d, drops, p) = (d.clone(), drops.clone(), progress.clone());
        thread::spawn(move || {
            for i in 0..total {
                d.rcu_reclaim_queue(Box::new(drops.obj()));
                p.store(i + 1, Ordering::SeqCst);
            }
        })
    };
    let max_pending = sample_until_stuck(
        &d,
        std::slice::from_ref(&progress),
        Duration::from_millis(150),
        Duration::from_secs(20),
    );
    assert_eq!(progress.load(Ordering::SeqCst), FIT);
    assert_eq!(max_pending, FIT as u64);
    assert_eq!(drops.get(), 0);
    go_tx.send(()).unwrap();
    within(
        Duration::from_secs(30),
        "writer after the quiescent state",
        move || writer.join().unwrap(),
    );
    go_tx.send(()).unwrap();
    reader.join().unwrap();
    d.rcu_barrier();
    assert_eq!(drops.get(), total);
    assert_eq!(d.stats().pending(), 0);
}

/// The writer queues from inside its own read-side section while its ring
/// is full: it cannot wait for a grace period (it would wait for itself),
/// so the overflow list takes the extra objects.
#[test]
fn queueing_inside_own_section_with_a_full_ring_spills_instead_of_deadlocking() {
    for flavor in [Flavor::Memb, Flavor::Mb, Flavor::Qsbr] {
        let d = Domain::builder().flavor(flavor).queue_capacity(C).build();
        let drops = DropCount::new();
        let total = scaled(8 * C);
        let (d2, drops2) = (d.clone(), drops.clone());
        let (queued, dropped_inside) = within(
            Duration::from_secs(20),
            "queueing inside a section",
            move || {
                let h = d2.register_thread();
                let g = h.read_lock();
                for _ in 0..total {
                    d2.rcu_reclaim_queue(Box::new(drops2.obj()));
                }
                let s = d2.stats();
                let dropped = drops2.get();
                drop(g);
                (s, dropped)
            },
        );
        assert_eq!(
            dropped_inside, 0,
            "{flavor:?}: nothing is freed while the queueing thread is in its section"
        );
        assert_eq!(queued.queued, total as u64, "{flavor:?}: {queued:?}");
        assert_eq!(
            queued.overflow_spills,
            (total - FIT) as u64,
            "{flavor:?}: everything past the ring's C-3 objects spills: {queued:?}"
        );
        assert_eq!(
            queued.caller_fallbacks, 0,
            "{flavor:?}: it never waited: {queued:?}"
        );
        d.rcu_barrier();
        assert_eq!(
            drops.get(),
            total,
            "{flavor:?}: spilled objects are dropped too"
        );
        let s = d.stats();
        assert_eq!(
            (s.pending(), s.reclaimed),
            (0, total as u64),
            "{flavor:?}: {s:?}"
        );
    }
}

/// Same, through `RcuBox::replace` inside the writer's own section.
#[test]
fn rcubox_replace_inside_own_section_with_a_full_ring_does_not_deadlock() {
    let d = Domain::builder().queue_capacity(C).build();
    let drops = DropCount::new();
    let total = scaled(4 * C);
    let b = Arc::new(urcu::RcuBox::new_in(drops.obj(), &d));
    let (b2, d2, drops2) = (b.clone(), d.clone(), drops.clone());
    within(
        Duration::from_secs(20),
        "RcuBox::replace inside a section",
        move || {
            let g = d2.read_lock();
            let first: *const common::Counted = b2.load(&g);
            for _ in 0..total {
                b2.replace(drops2.obj());
            }
            // The value loaded before the replacements is still alive.
            assert_eq!(drops2.get(), 0);
            assert!(!std::ptr::eq(first, b2.load(&g)));
        },
    );
    d.rcu_barrier();
    assert_eq!(drops.get(), total);
    assert!(d.stats().overflow_spills >= (total - FIT) as u64);
}

/// An owner that keeps queueing, too slowly to reach its own checkpoints
/// (one per half ring), still has its objects freed while it goes on:
/// the reclaimer leaves an active owner's entries to the owner for about
/// one reclaim interval, then frees them itself.
#[test]
fn a_slow_steady_producer_is_reclaimed_while_it_goes_on() {
    let d = Domain::builder()
        .reclaim_interval(Duration::from_millis(5))
        .build();
    let drops = DropCount::new();
    let queued = 300;
    for _ in 0..queued {
        d.rcu_reclaim_queue(Box::new(drops.obj()));
        thread::sleep(Duration::from_millis(1));
    }
    // Still the active owner (no barrier yet, thread alive): after 300+ ms
    // at a 5 ms interval, all but the last few milliseconds' objects are
    // due; half is a margin for a loaded machine.
    let freed = drops.get();
    assert!(
        freed >= queued / 2,
        "only {freed} of {queued} objects freed while their owner kept queueing"
    );
    d.rcu_barrier();
    assert_eq!(drops.get(), queued);
}

std::thread_local! {
    /// Objects of `OwnerFreed` dropped on this thread.
    static FREED_HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// An object that counts its drops per thread.
struct OwnerFreed;

impl Drop for OwnerFreed {
    fn drop(&mut self) {
        FREED_HERE.with(|n| n.set(n.get() + 1));
    }
}

/// A producer that retires as fast as it can frees its own elapsed
/// entries itself, and only a few per push (so that they land in the
/// allocator's per-thread cache for its next allocations), not a
/// checkpoint's worth in one push. A push that finds the ring full (its
/// grace periods ran late) frees everything that has elapsed, or waits for
/// a grace period and frees the ring: those are left out.
#[test]
fn a_fast_producer_frees_its_own_entries_a_few_per_push() {
    const RING: usize = 4096;
    let d = Domain::builder()
        .queue_capacity(RING)
        .reclaim_interval(Duration::from_secs(10))
        .build();
    let pushes = scaled(50_000);
    let (mut most_in_one_push, mut counted) = (0, 0);
    for _ in 0..pushes {
        let before = d.stats();
        let nearly_full = before.pending() as usize >= RING - 8;
        let freed_before = FREED_HERE.with(|n| n.get());
        d.rcu_reclaim_queue(Box::new(OwnerFreed));
        let freed = FREED_HERE.with(|n| n.get()) - freed_before;
        if !nearly_full && d.stats().caller_fallbacks == before.caller_fallbacks {
            most_in_one_push = most_in_one_push.max(freed);
            counted += 1;
        }
    }
    let by_owner = FREED_HERE.with(|n| n.get());
    assert!(
        counted >= pushes / 2,
        "only {counted} of {pushes} pushes went without a caller fallback"
    );
    assert!(
        most_in_one_push <= 8,
        "one push freed {most_in_one_push} entries at once"
    );
    assert!(
        by_owner >= pushes / 2,
        "the producer freed only {by_owner} of its {pushes} entries itself"
    );
    d.rcu_barrier();
}

/// A map write through a short pin, step `i` (each op is its own section).
type MapWrite = fn(&urcu::RcuHashMap<u64, Vec<u8>>, u64);

/// The map's write methods, each retiring at least one object per step
/// once the map holds its keys (a value replaced or removed).
const MAP_WRITES: [(&str, MapWrite); 9] = [
    ("map-level insert", |m, i| {
        m.insert(i % 16, vec![0; 256]);
    }),
    ("map-level remove", |m, i| {
        m.insert(i % 16, vec![0; 256]);
        m.remove(&(i % 16));
    }),
    ("insert", |m, i| {
        m.pin().insert(i % 16, vec![0; 256]);
    }),
    ("remove", |m, i| {
        m.pin().insert(i % 16, vec![0; 256]);
        m.pin().remove(&(i % 16));
    }),
    ("update", |m, i| {
        m.pin().update(&(i % 16), |v| v.clone());
    }),
    ("get_or_insert_with", |m, i| {
        m.pin().get_or_insert_with(i % 16, || vec![0; 256]);
        m.pin().remove(&(i % 16));
    }),
    ("retain", |m, i| {
        m.pin().retain(|k, _| *k != i % 16);
        m.pin().insert(i % 16, vec![0; 256]);
    }),
    ("extend", |mut m, i| {
        m.extend((0..4).map(|k| ((i + k) % 16, vec![0; 256])));
    }),
    ("clear", |m, i| {
        m.pin().insert(i % 16, vec![0; 256]);
        m.clear();
    }),
];

/// Samples `stats().pending()` until `progress` has not moved for 200 ms
/// (or reached `steps`, or 20 s passed); returns the largest pending seen.
fn sample_until_quiet(d: &Domain, progress: &AtomicUsize, steps: usize) -> u64 {
    let (start, mut since) = (Instant::now(), Instant::now());
    let (mut last, mut max_pending) = (usize::MAX, 0);
    while since.elapsed() < Duration::from_millis(200) && start.elapsed() < Duration::from_secs(20)
    {
        max_pending = max_pending.max(d.stats().pending());
        let now = progress.load(Ordering::SeqCst);
        if now == steps {
            break;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        }
        thread::sleep(Duration::from_millis(1));
    }
    max_pending.max(d.stats().pending())
}

/// With a stalled reader, a thread writing to the map through short pins
/// stops (its next section waits for the grace period) instead of letting
/// pending objects grow: within its ring plus what one section retires.
fn stalled_reader_bounds_map_writers(flavor: Flavor) {
    for (what, write) in MAP_WRITES {
        let d = Domain::builder().flavor(flavor).queue_capacity(C).build();
        let map: Arc<urcu::RcuHashMap<u64, Vec<u8>>> =
            Arc::new(urcu::RcuHashMap::builder().domain(&d).build());
        for k in 0..16 {
            map.pin().insert(k, vec![0; 256]);
        }
        let (release, reader) = stalled_reader(&d);
        let steps = scaled(40 * C);
        let progress = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (map, progress) = (map.clone(), progress.clone());
            thread::spawn(move || {
                for i in 0..steps {
                    write(&map, i as u64);
                    progress.store(i + 1, Ordering::SeqCst);
                }
            })
        };
        let max_pending = sample_until_quiet(&d, &progress, steps);
        let stuck = progress.load(Ordering::SeqCst);
        let s = d.stats();
        assert!(
            stuck < steps,
            "{flavor:?} {what}: the writer must wait for the stalled reader, it ran all {steps} steps: {s:?}"
        );
        // The ring (C - 3 one-word objects, fewer when types alternate)
        // plus one section's spill: a few objects per step here.
        let bound = (FIT + 16) as u64;
        assert!(
            max_pending <= bound,
            "{flavor:?} {what}: {max_pending} objects pending (bound {bound}) after {stuck} steps: {s:?}"
        );
        assert!(s.caller_fallbacks >= 1, "{flavor:?} {what}: {s:?}");
        release.send(()).unwrap();
        reader.join().unwrap();
        within(
            Duration::from_secs(30),
            "the writer after the release",
            move || writer.join().unwrap(),
        );
        d.rcu_barrier();
        assert_eq!(d.stats().pending(), 0, "{flavor:?} {what}: {:?}", d.stats());
    }
}

#[test]
fn stalled_reader_bounds_map_writers_memb() {
    stalled_reader_bounds_map_writers(Flavor::Memb);
}

#[test]
fn stalled_reader_bounds_map_writers_mb() {
    stalled_reader_bounds_map_writers(Flavor::Mb);
}

#[test]
fn stalled_reader_bounds_map_writers_qsbr() {
    stalled_reader_bounds_map_writers(Flavor::Qsbr);
}

/// The one exception to the bound, tested so that it stays what the docs
/// say: a single long section cannot wait, so what it retires past its ring
/// spills, however much that is (here 8 rings' worth, through one pin).
/// It never waits inside; its end never blocks; the thread's next section
/// waits for the stalled reader; and everything is freed once it leaves.
#[test]
fn one_long_section_spills_what_it_retires_and_the_next_one_waits() {
    for flavor in [Flavor::Memb, Flavor::Mb, Flavor::Qsbr] {
        let d = Domain::builder().flavor(flavor).queue_capacity(C).build();
        let map: Arc<urcu::RcuHashMap<u64, Vec<u8>>> =
            Arc::new(urcu::RcuHashMap::builder().domain(&d).build());
        map.pin().insert(0, vec![0; 64]);
        let (release, reader) = stalled_reader(&d);
        let replaced = 8 * C;
        let in_long = Arc::new(AtomicUsize::new(0));
        let (ended_tx, ended_rx) = mpsc::channel();
        let writer = {
            let (map, in_long) = (map.clone(), in_long.clone());
            thread::spawn(move || {
                {
                    let pinned = map.pin();
                    for _ in 0..replaced {
                        pinned.insert(0, vec![0; 64]);
                        in_long.fetch_add(1, Ordering::SeqCst);
                    }
                } // ends without waiting
                ended_tx.send(()).unwrap();
                map.pin().insert(0, vec![0; 64]); // waits for the reader
            })
        };
        ended_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the long section ran to its end without waiting");
        thread::sleep(Duration::from_millis(100));
        let s = d.stats();
        assert_eq!(in_long.load(Ordering::SeqCst), replaced, "{flavor:?}");
        assert_eq!(
            s.pending(),
            replaced as u64,
            "{flavor:?}: every value the long section replaced is pending: {s:?}"
        );
        assert_eq!(
            s.overflow_spills,
            (replaced - FIT) as u64,
            "{flavor:?}: past the ring's C - 3, they spilled: {s:?}"
        );
        assert!(
            !writer.is_finished() && s.caller_fallbacks == 1,
            "{flavor:?}: the next section waits for the stalled reader: {s:?}"
        );
        release.send(()).unwrap();
        reader.join().unwrap();
        within(Duration::from_secs(20), "the next section", move || {
            writer.join().unwrap()
        });
        d.rcu_barrier();
        assert_eq!(d.stats().pending(), 0, "{flavor:?}");
    }
}

/// The other side of the long section above: one pinned handle that
/// replaces as much, but repins every `EVERY` writes, stays within the
/// bound: at each repin at most the ring's `FIT` objects and one
/// section's worth are pending, and it spills at most `EVERY` per section.
#[test]
fn a_long_lived_pin_that_repins_stays_within_the_bound() {
    const EVERY: usize = 16;
    for flavor in [Flavor::Memb, Flavor::Mb, Flavor::Qsbr] {
        let d = Domain::builder().flavor(flavor).queue_capacity(C).build();
        let map: Arc<urcu::RcuHashMap<u64, Vec<u8>>> =
            Arc::new(urcu::RcuHashMap::builder().domain(&d).build());
        // A multiple of EVERY: the last insert is followed by a repin.
        let replaced = scaled(64 * C);
        let most = {
            let (map, d) = (map.clone(), d.clone());
            within(Duration::from_secs(60), "repinning writer", move || {
                let mut pinned = map.pin();
                let mut most = 0;
                for i in 0..replaced {
                    pinned.insert(0, vec![0; 64]);
                    if i % EVERY == EVERY - 1 {
                        pinned.repin();
                        most = most.max(d.stats().pending());
                    }
                }
                most
            })
        };
        let s = d.stats();
        assert!(
            most <= (FIT + 2 * EVERY) as u64,
            "{flavor:?}: at most a ring and a section or two pending at a repin, not {most}: {s:?}"
        );
        // The first insert replaced nothing; the last one is followed by a
        // repin, so what was pending then bounds what is pending now.
        assert!(
            s.reclaimed + (FIT + 2 * EVERY) as u64 >= (replaced - 1) as u64,
            "{flavor:?}: what the handle replaced was freed while it lived: {s:?}"
        );
        d.rcu_barrier();
        assert_eq!(d.stats().pending(), 0, "{flavor:?}");
    }
}
