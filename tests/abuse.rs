//! Memory stays bounded under abuse: a stalled reader while 16 threads
//! flood `rcu_reclaim_queue`, threads that start and exit while holding
//! queued objects, writers that queue from inside their own sections, and
//! a stalled reader while 8 writers flood each write method of
//! `RcuHashMap` (boxed and inline), `RcuList` and `ConfigCell` (peak
//! pending, the bound and RSS growth are printed per case: run with
//! `--nocapture`).
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
use std::time::{Duration, Instant};
use urcu::{Domain, Flavor, MapStorage};

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
    // URCU_NO_RSS_BOUND: set by .ci/extended under ThreadSanitizer and
    // AddressSanitizer, whose shadow memory and allocators inflate RSS.
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

// ---------------------------------------------------------------------
// The structures under abuse: a stalled reader while 8 writers flood one
// write method of a map (both storages), a list or a config cell.
// ---------------------------------------------------------------------
//
// # The bound, per case
//
// Let `q` be the threads that queue (the writers, or for `par_extend` the
// rayon pool's workers: counted from `stats().threads`, less the stalled
// reader and the case's own thread, whose ring is empty). A thread holds
// at most `FIT` objects in its ring (fewer when types alternate: each
// change of type costs a function word). A map writer retires inside its
// `pin()` sections: past a full ring it spills, and its next section's
// entry waits; so it holds at most its ring plus what ONE section retires,
// `S`. Each unpublished entry is one object (boxed) or none (inline: the
// slot waits for its ticket), and leaves at most one overflow line empty,
// which is unlinked and queued (one object): `S = 2` for one key, `2k`
// for `retain` of `k` keys and for a bulk load of `k <= 16` pairs (one
// batch per section), and for `clear` every entry of the map plus every
// overflow line of its table (the documented exception: one section
// retires the whole map). No case grows the table (its capacity is twice
// the keys), so no section retires a table. Lists and config cells retire
// outside sections, so `S = 0`: they wait at the ring bound. Hence
//
//     peak pending <= q × (FIT + S).
//
// Alive besides the pending objects: the structure's contents and what
// each writer holds in hand (the value it is about to publish, a batch, or
// for a list the nodes one call unlinked and is still queueing). RSS may
// grow by at most those objects' bytes plus 8 MiB of slack (stacks, the
// allocator, thread caches).

/// Writers per case.
const WRITERS: usize = 8;
/// Keys each map writer owns (one `Extend` batch: at most 16 pairs).
const KEYS: usize = 16;
/// Workers of the pool that runs `par_extend`.
const POOL: usize = 4;
/// Nodes each list writer starts with.
const PREFILL: usize = 2;
/// RSS slack beyond the objects a case may keep alive.
const SLACK: usize = 8 << 20;
/// Writers that have not moved for this long are taken as blocked.
const QUIET: Duration = Duration::from_millis(150);

/// Counts the 64 KiB values a case makes and drops.
#[derive(Clone, Default)]
struct Tally {
    made: Arc<AtomicUsize>,
    drops: DropCount,
}

impl Tally {
    fn big(&self) -> Big {
        self.made.fetch_add(1, Ordering::SeqCst);
        Big::new(&self.drops)
    }

    fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    fn alive(&self) -> usize {
        self.made().saturating_sub(self.drops.get())
    }
}

/// A case: one structure, one write method, flooded by `WRITERS` threads.
struct Case<T> {
    structure: &'static str,
    method: &'static str,
    /// Steps each writer would take if nothing stopped it.
    steps: usize,
    /// Objects one section of a queueing thread may retire past its ring.
    per_section: usize,
    /// `clear`: one section also retires every overflow line (sampled).
    plus_lines: bool,
    /// Objects alive besides the pending ones, at most.
    held: usize,
    /// Bytes one object keeps resident.
    obj_bytes: usize,
    /// Whether values are drop-counted (inline `Copy` pairs are not).
    counted: bool,
    /// Queueing threads at most.
    max_queueing: usize,
    build: fn(&Domain, &Tally) -> T,
    step: fn(&T, usize, usize, &Tally),
    /// Overflow lines of a map's table now (0 for other structures).
    lines: fn(&T) -> usize,
}

/// What a case measured, and which of its checks failed.
struct Figures {
    label: String,
    peak: u64,
    bound: u64,
    queueing: usize,
    per_section: usize,
    rss_grown: Option<usize>,
    rss_bound: usize,
    lines_grown: usize,
    progress: (usize, usize, usize),
    failures: Vec<String>,
}

/// Runs one case under a stalled reader; see the bound above.
fn abuse<T: Send + Sync + 'static>(c: Case<T>) -> Figures {
    let label = format!("{} {}", c.structure, c.method);
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            failures.push(format!("{label}: {what}"));
        }
    };
    let d = domain(Flavor::Memb);
    let tally = Tally::default();
    let s = Arc::new((c.build)(&d, &tally));
    // This thread joins the domain (it samples the map's lines under a
    // guard); its ring is empty from here on.
    drop(d.read_lock());
    d.rcu_barrier();
    trim_heap();
    let rss_before = rss();
    let lines_before = (c.lines)(&s);
    let (release, reader) = stall(&d);
    let s0 = d.stats();
    let drops0 = tally.drops.get();
    check(
        s0.pending() == 0 && s0.threads == 2,
        format!("starts with nothing pending, this thread and the reader: {s0:?}"),
    );

    let progress: Vec<Arc<AtomicUsize>> = (0..WRITERS).map(|_| Arc::default()).collect();
    let writers: Vec<_> = progress
        .iter()
        .enumerate()
        .map(|(w, p)| {
            let (s, p, tally, step, steps) = (s.clone(), p.clone(), tally.clone(), c.step, c.steps);
            thread::spawn(move || {
                for i in 0..steps {
                    step(&s, w, i, &tally);
                    p.store(i + 1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // Sample until no writer has moved for QUIET (or all are done).
    let (mut peak, mut peak_alive, mut peak_lines, mut peak_rss) = (0, 0, lines_before, 0);
    let mut sample = || {
        peak = peak.max(d.stats().pending());
        peak_alive = peak_alive.max(tally.alive());
        peak_lines = peak_lines.max((c.lines)(&s));
        peak_rss = peak_rss.max(rss().unwrap_or(0));
    };
    let (start, mut since, mut last) = (Instant::now(), Instant::now(), progress_of(&progress));
    loop {
        sample();
        let now = progress_of(&progress);
        let done = now.iter().all(|&n| n == c.steps) || start.elapsed() > Duration::from_secs(20);
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= QUIET {
            break;
        }
        if done {
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    // Still blocked a while later: not merely slow.
    thread::sleep(Duration::from_millis(100));
    sample();
    let stuck = progress_of(&progress);
    let s1 = d.stats();
    let queueing = s1.threads.saturating_sub(2);
    let per_section = c.per_section + if c.plus_lines { peak_lines } else { 0 };
    let bound = (queueing * (FIT + per_section)) as u64;
    let alive_bound = bound as usize + c.held;
    let rss_bound = alive_bound * c.obj_bytes + SLACK;
    let rss_grown = rss_before.map(|b| peak_rss.saturating_sub(b));
    check(
        stuck.iter().all(|&n| n < c.steps) && stuck == last,
        format!(
            "writers must wait while the reader stalls: progress {stuck:?} of {} steps ({:?} before)",
            c.steps, last
        ),
    );
    check(
        (1..=c.max_queueing).contains(&queueing),
        format!(
            "{queueing} queueing threads, expected 1..={}: {s1:?}",
            c.max_queueing
        ),
    );
    check(
        peak <= bound,
        format!("peak pending {peak} > bound {bound} = {queueing} × (FIT {FIT} + {per_section}): {s1:?}"),
    );
    check(
        tally.drops.get() == drops0 && s1.reclaimed == s0.reclaimed,
        format!(
            "nothing may be freed while the reader stalls: {} dropped, {s1:?}",
            tally.drops.get() - drops0
        ),
    );
    if c.counted {
        check(
            peak_alive <= alive_bound,
            format!("{peak_alive} values alive at once > {alive_bound}"),
        );
    }
    let rss_limited = std::env::var_os("URCU_NO_RSS_BOUND").is_none();
    if let (true, Some(grown)) = (rss_limited, rss_grown) {
        check(
            grown <= rss_bound,
            format!(
                "RSS grew by {} KiB > bound {} KiB",
                grown >> 10,
                rss_bound >> 10
            ),
        );
    }

    release.send(()).unwrap();
    reader.join().unwrap();
    for w in writers {
        w.join().unwrap();
    }
    drop(s);
    d.rcu_barrier();
    let s2 = d.stats();
    check(
        s2.pending() == 0 && s2.queued == s2.reclaimed,
        format!("everything is reclaimed after the release: {s2:?}"),
    );
    if c.counted {
        check(
            tally.drops.get() == tally.made(),
            format!(
                "every value dropped once: {} made, {} dropped",
                tally.made(),
                tally.drops.get()
            ),
        );
    }
    let f = Figures {
        label,
        peak,
        bound,
        queueing,
        per_section,
        rss_grown,
        rss_bound,
        lines_grown: peak_lines.saturating_sub(lines_before),
        progress: (
            *stuck.iter().min().unwrap(),
            *stuck.iter().max().unwrap(),
            c.steps,
        ),
        failures,
    };
    eprintln!("{}", f.row());
    f
}

impl Figures {
    fn row(&self) -> String {
        let mib = |b: usize| b as f64 / (1 << 20) as f64;
        format!(
            "{:<34} peak pending {:>4} / bound {:>4} (q {} × (FIT + {:>3}))  RSS +{:>6} MiB / {:>6.1} MiB  lines +{:<4} progress {}..{} of {}",
            self.label,
            self.peak,
            self.bound,
            self.queueing,
            self.per_section,
            self.rss_grown
                .map_or("?".to_string(), |g| format!("{:.1}", mib(g))),
            mib(self.rss_bound),
            self.lines_grown,
            self.progress.0,
            self.progress.1,
            self.progress.2,
        )
    }
}

/// Gives freed heap memory back to the system, so that RSS growth during
/// a case is not hidden by memory an earlier case freed (glibc).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs every case (each within `LIMIT`; each prints its row of figures
/// as it ends), then fails with every check that failed in any case.
fn run_cases(cases: Vec<Box<dyn FnOnce() -> Figures + Send>>) {
    let figures: Vec<Figures> = cases
        .into_iter()
        .map(|case| within(LIMIT, "a structure under abuse", case))
        .collect();
    let failures: Vec<&String> = figures.iter().flat_map(|f| &f.failures).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

// --- RcuHashMap ---

type Map<M, V> = urcu::RcuHashMap<u64, V, ahash::RandomState, M>;

/// A map value: a 64 KiB `Big` (boxed storage) or a `u64` (inline).
trait Value: Send + Sync + Sized + 'static {
    /// Bytes a retired object keeps resident: a boxed entry and its
    /// value, or an inline map's 64-byte overflow line.
    const RETIRED_BYTES: usize;
    const COUNTED: bool;
    fn make(t: &Tally) -> Self;
}

impl Value for Big {
    const RETIRED_BYTES: usize = BIG;
    const COUNTED: bool = true;
    fn make(t: &Tally) -> Big {
        t.big()
    }
}

impl Value for u64 {
    const RETIRED_BYTES: usize = 64;
    const COUNTED: bool = false;
    fn make(_: &Tally) -> u64 {
        7
    }
}

/// A map, and the pool that runs its `par_extend`.
struct MapCase<M: MapStorage<u64, V>, V: Value> {
    map: Map<M, V>,
    pool: rayon::ThreadPool,
}

fn key(w: usize, k: usize) -> u64 {
    (w * KEYS + k % KEYS) as u64
}

fn build_map<M: MapStorage<u64, V>, V: Value>(d: &Domain, t: &Tally) -> MapCase<M, V> {
    let map = urcu::RcuHashMap::<u64, V>::builder()
        .capacity(2 * WRITERS * KEYS) // no resize: no table is retired
        .domain(d)
        .storage::<M>()
        .build();
    for w in 0..WRITERS {
        for k in 0..KEYS {
            map.pin().insert(key(w, k), V::make(t));
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(POOL)
        .build()
        .unwrap();
    MapCase { map, pool }
}

fn map_lines<M: MapStorage<u64, V>, V: Value>(m: &MapCase<M, V>) -> usize {
    m.map.table_stats().overflow_lines
}

type MapStep<M, V> = fn(&MapCase<M, V>, usize, usize, &Tally);
/// A map write method: name, steps, `S` (objects one section retires past
/// the ring), values one writer holds in hand, one step.
type MapMethod<M, V> = (&'static str, usize, usize, usize, MapStep<M, V>);

/// The map's cases for one storage, those whose method `pick` accepts.
fn map_cases<M: MapStorage<u64, V>, V: Value>(
    storage: &'static str,
    pick: fn(&str) -> bool,
) -> Vec<Box<dyn FnOnce() -> Figures + Send>> {
    let single = scaled(16 * C);
    let bulk = scaled(C);
    let methods: Vec<MapMethod<M, V>> = vec![
        ("pin().insert (replace)", single, 2, 1, |m, w, i, t| {
            m.map.pin().insert(key(w, i), V::make(t));
        }),
        ("pin().remove + insert", single, 2, 1, |m, w, i, t| {
            m.map.pin().remove(&key(w, i));
            m.map.pin().insert(key(w, i), V::make(t));
        }),
        ("pin().update", single, 2, 1, |m, w, i, t| {
            m.map.pin().update(&key(w, i), |_| V::make(t));
        }),
        (
            "pin().remove + get_or_insert_with",
            single,
            2,
            1,
            |m, w, i, t| {
                m.map.pin().remove(&key(w, i));
                m.map.pin().get_or_insert_with(key(w, i), || V::make(t));
            },
        ),
        ("pin().retain + insert", bulk, 2 * KEYS, 1, |m, w, _, t| {
            m.map.pin().retain(|k, _| *k / KEYS as u64 != w as u64);
            for k in 0..KEYS {
                m.map.pin().insert(key(w, k), V::make(t));
            }
        }),
        ("extend (&map)", bulk, 2 * KEYS, KEYS, |m, w, _, t| {
            let mut map = &m.map;
            map.extend((0..KEYS).map(|k| (key(w, k), V::make(t))));
        }),
        ("par_extend (&map)", bulk, 2 * KEYS, KEYS, |m, w, _, t| {
            use rayon::prelude::*;
            m.pool.install(|| {
                let mut map = &m.map;
                map.par_extend((0..KEYS).into_par_iter().map(|k| (key(w, k), V::make(t))));
            });
        }),
        (
            "pin().insert + clear",
            single,
            WRITERS * KEYS,
            1,
            |m, w, i, t| {
                m.map.pin().insert(key(w, i), V::make(t));
                m.map.clear();
            },
        ),
    ];
    methods
        .into_iter()
        .filter(|m| pick(m.0))
        .map(|(method, steps, per_section, in_hand, step)| {
            let case = Case {
                structure: storage,
                method,
                steps,
                per_section,
                plus_lines: method.contains("clear"),
                held: WRITERS * KEYS + WRITERS * in_hand,
                obj_bytes: V::RETIRED_BYTES,
                counted: V::COUNTED,
                max_queueing: if method.starts_with("par_extend") {
                    POOL
                } else {
                    WRITERS
                },
                build: build_map::<M, V>,
                step,
                lines: map_lines::<M, V>,
            };
            Box::new(move || abuse(case)) as Box<dyn FnOnce() -> Figures + Send>
        })
        .collect()
}

#[test]
fn a_stalled_reader_bounds_map_writers_of_every_method_and_storage() {
    let _s = serial();
    let mut cases = map_cases::<urcu::Boxed, Big>("map boxed", |_| true);
    cases.extend(map_cases::<urcu::Inline, u64>("map inline", |_| true));
    run_cases(cases);
}

// --- RcuList ---

/// A list element: its writer, the step that pushed it, and 64 KiB.
struct Item {
    w: usize,
    i: usize,
    _v: Big,
}

fn build_list(d: &Domain, t: &Tally) -> urcu::RcuList<Item> {
    let list = urcu::RcuList::new_in(d);
    for w in 0..WRITERS {
        for i in 0..PREFILL {
            list.push_back(Item {
                w,
                i: usize::MAX - i,
                _v: t.big(),
            });
        }
    }
    list
}

fn no_lines<T>(_: &T) -> usize {
    0
}

fn list_cases() -> Vec<Box<dyn FnOnce() -> Figures + Send>> {
    type Step = fn(&urcu::RcuList<Item>, usize, usize, &Tally);
    let steps = scaled(8 * C);
    // Most elements in the list: each writer's prefill, and what one step
    // pushes before it removes its older ones.
    let live = WRITERS * (PREFILL + 1);
    // (method, nodes one call of a writer unlinks at most, step)
    let methods: Vec<(&'static str, usize, Step)> = vec![
        ("push_front/push_back + remove_first", 1, |l, w, i, t| {
            let item = Item { w, i, _v: t.big() };
            if i % 2 == 0 {
                l.push_front(item);
            } else {
                l.push_back(item);
            }
            l.remove_first(|v| v.w == w && v.i != i);
        }),
        ("push_back + retain", PREFILL, |l, w, i, t| {
            l.push_back(Item { w, i, _v: t.big() });
            l.retain(|v| v.w != w || v.i == i);
        }),
        ("push_back + clear", live, |l, w, i, t| {
            l.push_back(Item { w, i, _v: t.big() });
            l.clear();
        }),
    ];
    methods
        .into_iter()
        .map(|(method, unlinked, step)| {
            let case = Case {
                structure: "list",
                method,
                steps,
                // Nodes are queued after the writer lock is let go, outside
                // any section: a full ring waits.
                per_section: 0,
                plus_lines: false,
                // The list, and per writer what one call unlinked and is
                // still queueing.
                held: live + WRITERS * unlinked,
                obj_bytes: BIG,
                counted: true,
                max_queueing: WRITERS,
                build: build_list,
                step,
                lines: no_lines,
            };
            Box::new(move || abuse(case)) as Box<dyn FnOnce() -> Figures + Send>
        })
        .collect()
}

#[test]
fn a_stalled_reader_bounds_list_writers_of_every_method() {
    let _s = serial();
    run_cases(list_cases());
}

// --- ConfigCell ---

fn config_cases() -> Vec<Box<dyn FnOnce() -> Figures + Send>> {
    type Step = fn(&urcu::ConfigCell<Big>, usize, usize, &Tally);
    let methods: Vec<(&'static str, Step)> = vec![
        ("store", |c, _, _, t| c.store(t.big())),
        ("update", |c, _, _, t| c.update(|_| t.big())),
    ];
    methods
        .into_iter()
        .map(|(method, step)| {
            let case = Case {
                structure: "config",
                method,
                steps: scaled(8 * C),
                // The old value is queued after the writer lock is let go,
                // outside any section.
                per_section: 0,
                plus_lines: false,
                // The current value, and per writer the new value it waits
                // to publish and the old one it waits to queue.
                held: 1 + 2 * WRITERS,
                obj_bytes: BIG,
                counted: true,
                max_queueing: WRITERS,
                build: |d, t| urcu::ConfigCell::new_in(t.big(), d),
                step,
                lines: no_lines,
            };
            Box::new(move || abuse(case)) as Box<dyn FnOnce() -> Figures + Send>
        })
        .collect()
}

#[test]
fn a_stalled_reader_bounds_config_cell_writers_of_every_method() {
    let _s = serial();
    run_cases(config_cases());
}
