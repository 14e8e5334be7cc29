//! Thread-scaling driver: urcu against its peers, N threads at a time.
//!
//! ```text
//! cargo bench -p urcu-bench --bench scaling -- --threads 1,2,4 --secs 1 --workloads read,reclaim,gp
//! cargo bench -p urcu-bench --bench scaling -- --threads 1,2 --secs 1 --workloads config,list
//! cargo bench -p urcu-bench --bench scaling -- --threads 1,2 --secs 1 --rounds 5 --workloads map
//! cargo bench -p urcu-bench --bench scaling -- --threads 1,4 --secs 0.7 --rounds 3 --workloads parked_reader
//! ```
//!
//! Workloads (every case runs for `--secs`, its threads started together):
//!
//! - `read`: N readers loop "enter a section, load one pointer, leave" (as in
//!   `benches/read_side.rs`) while one extra writer thread replaces the
//!   published 64-byte object every 1 ms and retires the old one through the
//!   implementation's own mechanism. QSBR readers report a quiescent state
//!   every 1024 reads.
//! - `reclaim`: N producers, each allocating a 64-byte object, publishing it in
//!   its own slot and retiring the old one (as in `benches/reclaim.rs`).
//! - `gp`: one thread calls `synchronize_rcu` in a loop while N-1 threads spin
//!   on read-side sections; reports latency mean and p99.
//! - `config`: N readers each read a 256-byte config and touch two of its
//!   fields (add `a + b` to a `black_box`ed accumulator) per read, while one
//!   extra writer thread stores a new config every 1 ms. urcu through
//!   `ConfigCell::read()` (default domain) and a per-thread
//!   `ConfigCell::reader()` (one section, a quiescent state per load) in the
//!   default domain and in a QSBR domain; peers `ArcSwap::load`, a per-thread `arc_swap::Cache`,
//!   hazarc's `AtomicArc::load` and per-thread `hazarc::Cache`,
//!   and `RwLock<Arc<_>>` / `Mutex<Arc<_>>` read under the lock (no clone).
//! - `list`: N readers each traverse a 1,000-element list of `u64`, summing
//!   it, while one extra writer thread inserts an element at the front and
//!   removes it again, sleeping 10 µs (in practice the timer's resolution,
//!   often ~60 µs) after each of the two operations. One op is one traversal:
//!   multiply Mops/s by 1,000 for millions of elements per second. urcu's
//!   `RcuList` (default domain, `read_lock()` per traversal) and a
//!   copy-on-write `ConfigCell<Vec<u64>>` (`read()` per traversal; the
//!   writer clones the vector, edits the clone and stores it: O(n) per
//!   write, for small read-mostly lists) against `RwLock<Vec<u64>>` and
//!   `RwLock<LinkedList<u64>>` (the writer inserts and removes at index 0 /
//!   the front).
//!
//! - `map`: `u64` keys and values; the even keys of a 2^21 key space
//!   prefilled (in a map created for 2^21 entries, so none resizes while
//!   measured), then N threads, each with its own xorshift generator, do
//!   98% get / 1% insert / 1% remove of uniformly random keys (`own_loop`
//!   of `benches/map.rs`, which adds the bustle workloads, string keys,
//!   memory and resize latency). urcu's `RcuHashMap` (`urcu-map`: boxed
//!   storage; `urcu-map-inline`: `inline()`) through a pinned handle
//!   re-pinned every 128 operations, against the map peers of
//!   `benches/map.rs`, all with `ahash` and driven as there (the sessions
//!   of `bench/src/map_session.rs`): `dashmap` (a shard lock per
//!   operation), `papaya` (a `LocalGuard` refreshed every 128 operations),
//!   `scc-hashmap` (`scc::HashMap`, self-contained operations),
//!   `scc-hashindex` (`scc::HashIndex`, gets under an `scc::Guard` renewed
//!   every 128 operations) and `rwlock-std` (`RwLock<std HashMap>`).
//! - `parked_reader`: one thread holds a read-side section open (as a
//!   reader preempted in its section, or one waiting at a barrier, does)
//!   while N busy readers enter and leave sections of a fresh memb domain
//!   in a loop. Their rate is measured for `--secs` with no grace period
//!   pending ("idle Mops/s"), then for `--secs` while a `synchronize_rcu`
//!   waits on the parked reader (Mops/s); "vs idle" is the second over the
//!   first, "gp sleeps" the grace period's sleeps
//!   (`Stats::grace_period_sleeps`) during the second phase. A grace period
//!   that any reader's exit wakes (and that then re-arms with a heavy
//!   barrier, an IPI to every reader's CPU) slows the busy readers down;
//!   one woken only by the readers it waits for leaves them alone. urcu
//!   only (`urcu-memb`): no peer has this grace period.
//!
//! `--workloads all` runs all seven (also the default).
//!
//! `--rounds N` runs every case N times, all cases once per round, and
//! reports each case's median run (Mops/s) in the table and CSV; every
//! run's figure goes to stderr, and so does each urcu case's ratio to the
//! best peer of the same workload and thread count within each round, with
//! their median: on a shared, noisy machine one run of each case can rank
//! the peers differently from the next, while a round's cases run close
//! together.
//!
//! With `--features liburcu` (needs a C compiler and Debian's
//! `liburcu-dev`, liburcu 0.13) the C library joins as a peer, through the
//! shim in `bench/liburcu/` that runs each whole loop in C on its own
//! pthreads, with liburcu's inline fast paths (`_LGPL_SOURCE`):
//! `liburcu-memb` / `-mb` / `-qsbr` in `read` (the writer frees through
//! `call_rcu`) and `gp`; `liburcu-defer_rcu` and `liburcu-call_rcu` in
//! `reclaim` (memb flavor; `call_rcu`'s objects carry a 16-byte
//! `rcu_head`); `liburcu-lfht` in `map` (`cds_lfht`, memb flavor,
//! automatic resizing, one read-side section per 128 operations, removed
//! and replaced nodes to `call_rcu`).
//!
//! Each case runs in a fresh child process (this binary re-executed with a
//! hidden `--case WORKLOAD:IMPL --threads N --secs S`), so one case's garbage,
//! threads and peak RSS (VmHWM from /proc/self/status) do not pollute the next.
//!
//! The table goes to stdout and, as CSV, to `target/scaling/results.csv`
//! (`$CARGO_TARGET_DIR/scaling/` when that is set), with one SVG line plot
//! per workload beside it (`read.svg`, `reclaim.svg`, ...: M ops/s against
//! threads, grace-period mean latency for `gp`; urcu's lines drawn
//! thicker); progress goes to stderr.
//! "vs best peer" divides by the fastest non-urcu implementation at the same
//! thread count; the unprotected baselines (`atomicptr-unprotected`,
//! `box-drop`, `config-unprotected`) are shown but are not peers. For urcu cases the last two
//! columns come from `Domain::stats()` as the run ends: grace periods
//! completed, and objects queued but not yet reclaimed. `gp` rows show no RSS
//! (their own latency samples would dominate it).
//!
//! Without `--bench` (which `cargo bench` passes, and `cargo test
//! --all-targets` does not) it only runs a short smoke pass, writes no CSV
//! and checks that its plots are well-formed SVG; pass `--bench` to run the
//! binary directly.

use arc_swap::ArcSwap;
use seize::Guard as _;
use std::collections::LinkedList;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};
use urcu::urcu_structures::{Boxed, Inline, MapStorage};
use urcu::{ConfigCell, Domain, Flavor, RcuBox, RcuList};
use urcu_bench::driver::{self, Args, Case, Column, Format, Metric, Outcome, Role, Spec};
#[cfg(feature = "liburcu")]
use urcu_bench::liburcu;
use urcu_bench::map_session::{
    own_loop_op, prefill_even_keys, DashMap, Map, MapSession, Papaya, SccIndex, SccMap, StdMap,
    Urcu,
};
use urcu_bench::{plot, XorShift};

/// The published object: 64 bytes, one cache line.
type Obj = [u64; 8];
const OBJ: Obj = [1; 8];

/// The `config` workload's value: 256 bytes, of which a read touches `a`
/// and `b`.
struct Config {
    a: u64,
    b: u64,
    _pad: [u64; 30],
}
const _: () = assert!(std::mem::size_of::<Config>() == 256);

impl Config {
    /// The `version`th config the writer publishes.
    fn new(version: u64) -> Config {
        Config {
            a: version,
            b: version.wrapping_mul(3),
            _pad: [version; 30],
        }
    }
}

/// What a `read` case does with the pointer it loaded: hands it to an
/// empty `asm!` block that may read memory, so the load cannot be dropped
/// and nothing is hoisted across it. The C shim's `SHIM_SINK` is the same
/// (an empty `asm volatile` with a "memory" clobber); `black_box` would
/// also store the pointer to the stack, a cost the C loops do not pay.
#[inline(always)]
fn sink<T>(p: *const T) {
    // SAFETY: the block is empty: it reads the register and nothing else.
    unsafe { std::arch::asm!("/* {0} */", in(reg) p, options(nostack, preserves_flags)) }
}

/// What a `config` reader does with a config: add two of its fields to a
/// `black_box`ed accumulator.
#[inline(always)]
fn touch(acc: &mut u64, c: &Config) {
    *acc = black_box(acc.wrapping_add(c.a).wrapping_add(c.b));
}

/// Elements of the `list` workload's list (the values `0..LIST_LEN`).
const LIST_LEN: u64 = 1000;
/// What the `list` writer inserts and removes again (not in `0..LIST_LEN`).
const LIST_EXTRA: u64 = LIST_LEN;
/// How long the `list` writer sleeps after each insert and each remove.
const LIST_WRITER_PAUSE: Duration = Duration::from_micros(10);
/// Traversals between two checks of the stop flag (`list` readers).
const LIST_BATCH: u64 = 16;

/// Reads between two checks of the stop flag (and, under QSBR, between two
/// quiescent states).
const READ_BATCH: u64 = 1024;
/// Retirements between two checks of the stop flag.
const RECLAIM_BATCH: u64 = 256;
/// Read-side sections between two checks of the stop flag (gp readers).
const GP_READER_BATCH: u64 = 64;

const READ_IMPLS: &[&str] = &[
    "urcu-memb",
    "urcu-memb-handle",
    "urcu-mb",
    "urcu-qsbr",
    "urcu-qsbr-held",
    "crossbeam-epoch",
    "seize",
    "arc-swap",
    "std-rwlock",
    "atomicptr-unprotected",
];
const RECLAIM_IMPLS: &[&str] = &[
    "urcu-memb",
    "urcu-mb",
    "urcu-qsbr",
    "crossbeam-epoch",
    "seize",
    "box-drop",
];
const GP_IMPLS: &[&str] = &["urcu-memb", "urcu-mb", "urcu-qsbr"];
const CONFIG_IMPLS: &[&str] = &[
    "urcu-config-read",
    "urcu-config-cached",
    "urcu-config-qsbr",
    "arc-swap-load",
    "arc-swap-cache",
    "hazarc-load",
    "hazarc-cache",
    "rwlock-arc",
    "mutex-arc",
    "config-unprotected",
];
const LIST_IMPLS: &[&str] = &[
    "urcu-list",
    "urcu-cow-vec",
    "rwlock-vec",
    "rwlock-linkedlist",
];
const MAP_IMPLS: &[&str] = &[
    "urcu-map",
    "urcu-map-inline",
    "dashmap",
    "papaya",
    "scc-hashmap",
    "scc-hashindex",
    "rwlock-std",
];

/// Every workload, in the order `--workloads all` runs them.
const WORKLOADS: &[&str] = &[
    "read",
    "reclaim",
    "gp",
    "config",
    "list",
    "map",
    "parked_reader",
];

/// `parked_reader`: urcu only (a grace period's wake-ups, no peer has one).
const PARKED_READER_IMPLS: &[&str] = &["urcu-memb"];

/// The `map` workload's key space (its even keys are prefilled), and the
/// smaller one of the smoke pass.
const MAP_KEYS: u64 = 1 << 21;
const SMOKE_MAP_KEYS: u64 = 1 << 14;
/// `map`: operations per read-side section (urcu re-pins, liburcu leaves
/// and re-enters), and between two checks of the stop flag.
const MAP_BATCH: u32 = 128;

/// The implementations of `workload`: ours and the Rust peers, then (with
/// `--features liburcu`) the C liburcu's.
fn impls_of(workload: &str) -> Vec<&'static str> {
    let ours_and_peers = match workload {
        "read" => READ_IMPLS,
        "reclaim" => RECLAIM_IMPLS,
        "gp" => GP_IMPLS,
        "config" => CONFIG_IMPLS,
        "list" => LIST_IMPLS,
        "map" => MAP_IMPLS,
        "parked_reader" => PARKED_READER_IMPLS,
        other => panic!(
            "unknown workload {other:?} (expected all or some of {})",
            WORKLOADS.join(",")
        ),
    };
    #[cfg(feature = "liburcu")]
    let c: &[&str] = liburcu::impls_of(workload);
    #[cfg(not(feature = "liburcu"))]
    let c: &[&str] = &[];
    ours_and_peers.iter().chain(c).copied().collect()
}

fn is_urcu(name: &str) -> bool {
    name.starts_with("urcu")
}

fn is_baseline(name: &str) -> bool {
    matches!(
        name,
        "atomicptr-unprotected" | "box-drop" | "config-unprotected"
    )
}

// ---------------------------------------------------------------------------
// Command line (the common flags: urcu_bench::driver::Args)
// ---------------------------------------------------------------------------

const SPEC: Spec = Spec {
    name: "scaling",
    workloads: WORKLOADS,
    usage: "",
};

/// The columns of the table and CSV after the common ones.
const COLUMNS: &[Column] = &[
    Column {
        header: Some("peak RSS MiB"),
        csv: "peak_rss_mib",
        field: "rss_mib",
        format: Format::Fixed1,
    },
    Column {
        header: Some("gp mean us"),
        csv: "gp_mean_us",
        field: "gp_mean_us",
        format: Format::Num,
    },
    Column {
        header: Some("gp p99 us"),
        csv: "gp_p99_us",
        field: "gp_p99_us",
        format: Format::Num,
    },
    Column {
        header: Some("urcu GPs"),
        csv: "urcu_grace_periods",
        field: "grace_periods",
        format: Format::Count,
    },
    Column {
        header: Some("urcu pending"),
        csv: "urcu_pending",
        field: "pending",
        format: Format::Count,
    },
    Column {
        header: Some("idle Mops/s"),
        csv: "idle_mops",
        field: "idle_mops",
        format: Format::Num,
    },
    Column {
        header: Some("vs idle"),
        csv: "vs_idle",
        field: "vs_idle",
        format: Format::Fixed2,
    },
    Column {
        header: Some("gp sleeps"),
        csv: "gp_sleeps",
        field: "gp_sleeps",
        format: Format::Count,
    },
];

/// 1, 2, 4, ... up to the number of CPUs (which is always included).
fn default_threads() -> Vec<usize> {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let mut t: Vec<usize> = std::iter::successors(Some(1), |&n| Some(n * 2))
        .take_while(|&n| n < cpus)
        .collect();
    t.push(cpus);
    t
}

// ---------------------------------------------------------------------------
// Running N threads together for a fixed time
// ---------------------------------------------------------------------------

/// Start line and stop flag shared by the threads of one case.
struct Ctl {
    start: Barrier,
    stop: AtomicBool,
}

impl Ctl {
    /// Waits until every thread (and the timer) is ready. Each worker calls
    /// it exactly once, after its own setup.
    fn go(&self) {
        self.start.wait();
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }
}

/// Runs `work(index, ctl)` on `threads` threads for `secs` seconds and
/// returns the sum of what they return (operations) and the measured time.
fn timed(threads: usize, secs: f64, work: impl Fn(usize, &Ctl) -> u64 + Sync) -> (u64, f64) {
    let ctl = Ctl {
        start: Barrier::new(threads + 1),
        stop: AtomicBool::new(false),
    };
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let (ctl, work) = (&ctl, &work);
                s.spawn(move || work(i, ctl))
            })
            .collect();
        ctl.go();
        let t0 = Instant::now();
        thread::sleep(Duration::from_secs_f64(secs));
        ctl.stop.store(true, Ordering::Relaxed);
        let elapsed = t0.elapsed().as_secs_f64();
        let ops = workers
            .into_iter()
            .map(|w| w.join().expect("worker thread panicked"))
            .sum();
        (ops, elapsed)
    })
}

/// Calls `batch` (which performs `per_batch` operations) until stopped;
/// returns the operation count.
fn run_batches(ctl: &Ctl, per_batch: u64, mut batch: impl FnMut()) -> u64 {
    ctl.go();
    let mut ops = 0;
    while ctl.running() {
        batch();
        ops += per_batch;
    }
    ops
}

/// The `read` workload's writer: `replace` once per millisecond until stopped.
fn every_ms(ctl: &Ctl, mut replace: impl FnMut()) -> u64 {
    ctl.go();
    while ctl.running() {
        thread::sleep(Duration::from_millis(1));
        replace();
    }
    0 // the writer's replacements are not the measured operations
}

// ---------------------------------------------------------------------------
// Pointer slots for the peers that publish through a raw `AtomicPtr`
// ---------------------------------------------------------------------------

fn new_slot() -> AtomicPtr<Obj> {
    AtomicPtr::new(Box::into_raw(Box::new(OBJ)))
}

/// Frees the object left in a slot once nothing can reach it any more.
fn free_slot(slot: AtomicPtr<Obj>) {
    // SAFETY: the slot owns its object (from `Box::into_raw`); taking the
    // slot by value means every thread that could load it is gone.
    drop(unsafe { Box::from_raw(slot.into_inner()) });
}

fn free_crossbeam(atomic: crossbeam_epoch::Atomic<Obj>) {
    // SAFETY: as in `free_slot`: the last object is unreachable now.
    drop(unsafe { atomic.into_owned() });
}

fn crossbeam_replace(atomic: &crossbeam_epoch::Atomic<Obj>) {
    let g = crossbeam_epoch::pin();
    let old = atomic.swap(crossbeam_epoch::Owned::new(OBJ), Ordering::AcqRel, &g);
    // SAFETY: the swap unlinked `old`; it is destroyed only after every
    // thread pinned now has unpinned.
    unsafe { g.defer_destroy(old) };
}

fn seize_replace(collector: &seize::Collector, slot: &AtomicPtr<Obj>) {
    let old = slot.swap(Box::into_raw(Box::new(OBJ)), Ordering::AcqRel);
    // SAFETY: `old` came from `Box::into_raw` and the swap made it
    // unreachable for threads that enter from now on.
    unsafe { collector.retire(old, seize::reclaim::boxed) };
}

// ---------------------------------------------------------------------------
// The cases (each runs in its own child process)
// ---------------------------------------------------------------------------

/// An outcome with the domain's counters as they stand now: grace periods
/// completed, and objects queued but not yet reclaimed.
fn urcu_outcome(measured: (u64, f64), d: &Domain) -> Outcome {
    let stats = d.stats();
    Outcome::from(measured)
        .with("grace_periods", stats.grace_periods as f64)
        .with("pending", stats.pending() as f64)
}

fn domain_of(name: &str) -> Domain {
    match name {
        "urcu-memb" | "urcu-memb-handle" => urcu::default_domain().clone(),
        "urcu-mb" => Domain::builder().flavor(Flavor::Mb).build(),
        "urcu-qsbr" => Domain::builder().flavor(Flavor::Qsbr).build(),
        other => panic!("not a urcu implementation: {other}"),
    }
}

fn read_case(name: &str, n: usize, secs: f64) -> Outcome {
    // Workers 0..n read; worker n is the writer.
    let writer = n;
    match name {
        // The free `read_lock()` of the default (memb) domain.
        "urcu-memb" => {
            let b = RcuBox::new(OBJ);
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return every_ms(ctl, || b.replace(OBJ));
                }
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        let g = urcu::read_lock();
                        sink(b.load(&g));
                    }
                })
            });
            urcu_outcome(r, urcu::default_domain())
        }
        // A registered ThreadHandle per reader.
        "urcu-memb-handle" | "urcu-mb" | "urcu-qsbr" => {
            let d = domain_of(name);
            let b = RcuBox::new_in(OBJ, &d);
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return every_ms(ctl, || b.replace(OBJ));
                }
                let mut h = d.register_thread();
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        let g = h.read_lock();
                        sink(b.load(&g));
                    }
                    h.quiescent_state(); // no-op except under QSBR
                })
            });
            urcu_outcome(r, &d)
        }
        // QSBR as it is meant to be used in a loop: one guard held across
        // reads, a quiescent state (`ReadGuard::quiescent_state`) every
        // READ_BATCH reads; each read is then a domain check and a load.
        "urcu-qsbr-held" => {
            let d = Domain::builder().flavor(Flavor::Qsbr).build();
            let b = RcuBox::new_in(OBJ, &d);
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return every_ms(ctl, || b.replace(OBJ));
                }
                let h = d.register_thread();
                let mut g = h.read_lock();
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        sink(b.load(&g));
                    }
                    g.quiescent_state();
                })
            });
            urcu_outcome(r, &d)
        }
        "crossbeam-epoch" => {
            let a = crossbeam_epoch::Atomic::new(OBJ);
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return every_ms(ctl, || crossbeam_replace(&a));
                }
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        let g = crossbeam_epoch::pin();
                        sink(a.load(Ordering::Acquire, &g).as_raw());
                    }
                })
            });
            free_crossbeam(a);
            r.into()
        }
        "seize" => {
            let collector = seize::Collector::new();
            let slot = new_slot();
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return every_ms(ctl, || seize_replace(&collector, &slot));
                }
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        let g = collector.enter();
                        sink(g.protect(&slot, Ordering::Acquire));
                    }
                })
            });
            free_slot(slot);
            r.into()
        }
        "arc-swap" => {
            let s = ArcSwap::from_pointee(OBJ);
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return every_ms(ctl, || s.store(Arc::new(OBJ)));
                }
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        let g = s.load();
                        sink(&**g);
                    }
                })
            });
            r.into()
        }
        "std-rwlock" => {
            let l = RwLock::new(Arc::new(OBJ));
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return every_ms(ctl, || *l.write().expect("not poisoned") = Arc::new(OBJ));
                }
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        let g = l.read().expect("not poisoned");
                        sink(&**g);
                    }
                })
            });
            r.into()
        }
        "atomicptr-unprotected" => {
            let slot = new_slot();
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return every_ms(ctl, || {
                        let old = slot.swap(Box::into_raw(Box::new(OBJ)), Ordering::AcqRel);
                        // SAFETY: `old` came from `Box::into_raw`. This
                        // baseline's readers only load the pointer value and
                        // never dereference it, so freeing at once is sound.
                        drop(unsafe { Box::from_raw(old) });
                    });
                }
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        sink(slot.load(Ordering::Acquire));
                    }
                })
            });
            free_slot(slot);
            r.into()
        }
        other => panic!("unknown read implementation {other:?}"),
    }
}

fn reclaim_case(name: &str, n: usize, secs: f64) -> Outcome {
    // Every producer publishes into its own slot: we measure reclamation,
    // not contention on one pointer.
    match name {
        "urcu-memb" | "urcu-mb" | "urcu-qsbr" => {
            let d = domain_of(name);
            let r = timed(n, secs, |_, ctl| {
                let b = RcuBox::new_in(OBJ, &d);
                run_batches(ctl, RECLAIM_BATCH, || {
                    for _ in 0..RECLAIM_BATCH {
                        b.replace(OBJ);
                    }
                })
            });
            let out = urcu_outcome(r, &d);
            d.rcu_barrier();
            out
        }
        "crossbeam-epoch" => Outcome::from(timed(n, secs, |_, ctl| {
            let a = crossbeam_epoch::Atomic::new(OBJ);
            let ops = run_batches(ctl, RECLAIM_BATCH, || {
                for _ in 0..RECLAIM_BATCH {
                    crossbeam_replace(&a);
                }
            });
            free_crossbeam(a);
            ops
        })),
        "seize" => {
            let collector = seize::Collector::new();
            Outcome::from(timed(n, secs, |_, ctl| {
                let slot = new_slot();
                let ops = run_batches(ctl, RECLAIM_BATCH, || {
                    for _ in 0..RECLAIM_BATCH {
                        seize_replace(&collector, &slot);
                    }
                });
                free_slot(slot);
                ops
            }))
        }
        "box-drop" => Outcome::from(timed(n, secs, |_, ctl| {
            let slot = new_slot();
            let ops = run_batches(ctl, RECLAIM_BATCH, || {
                for _ in 0..RECLAIM_BATCH {
                    let old = slot.swap(Box::into_raw(Box::new(OBJ)), Ordering::AcqRel);
                    // SAFETY: `old` came from `Box::into_raw`, and this slot
                    // has no readers: freeing at once is the unprotected floor.
                    drop(unsafe { Box::from_raw(old) });
                }
            });
            free_slot(slot);
            ops
        })),
        other => panic!("unknown reclaim implementation {other:?}"),
    }
}

/// The `config` workload's writer: stores config 1, 2, 3, ... once per
/// millisecond until stopped.
fn config_writer(ctl: &Ctl, mut store: impl FnMut(Config)) -> u64 {
    let mut version = 0;
    every_ms(ctl, || {
        version += 1;
        store(Config::new(version));
    })
}

fn config_case(name: &str, n: usize, secs: f64) -> Outcome {
    // Workers 0..n read; worker n is the writer.
    let writer = n;
    match name {
        // `ConfigCell::read()`: the default (memb) domain's free read_lock.
        "urcu-config-read" => {
            let cell = ConfigCell::new(Config::new(0));
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return config_writer(ctl, |c| cell.store(c));
                }
                let mut acc = 0;
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        touch(&mut acc, &cell.read());
                    }
                })
            });
            urcu_outcome(r, urcu::default_domain())
        }
        // `ConfigCell::reader()`: one section per reader thread, a
        // quiescent state per load; in the default (memb) domain, or in a
        // QSBR domain (where the reader's guard keeps the thread online).
        "urcu-config-cached" | "urcu-config-qsbr" => {
            let d = if name == "urcu-config-qsbr" {
                Domain::builder().flavor(Flavor::Qsbr).build()
            } else {
                urcu::default_domain().clone()
            };
            let cell = ConfigCell::new_in(Config::new(0), &d);
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return config_writer(ctl, |c| cell.store(c));
                }
                let mut reader = cell.reader();
                let mut acc = 0;
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        touch(&mut acc, reader.load());
                    }
                })
            });
            urcu_outcome(r, &d)
        }
        // The floor for any scheme: an acquire load of an `AtomicPtr` and
        // the same two fields, no section and no check. The writer keeps
        // every config it replaced until the readers have stopped.
        "config-unprotected" => {
            let slot = AtomicPtr::new(Box::into_raw(Box::new(Config::new(0))));
            // Addresses (a raw pointer is not `Send`), freed after the run.
            let replaced = Mutex::new(Vec::<usize>::new());
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    let mut old = Vec::new();
                    let ops = config_writer(ctl, |c| {
                        let p = slot.swap(Box::into_raw(Box::new(c)), Ordering::AcqRel);
                        old.push(p as usize);
                    });
                    replaced.lock().expect("not poisoned").extend(old);
                    return ops;
                }
                let mut acc = 0;
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        // SAFETY: every config stays allocated until the
                        // run ends (the writer keeps the ones it replaced);
                        // the acquire pairs with the writer's swap, so the
                        // fields are initialized.
                        touch(&mut acc, unsafe { &*slot.load(Ordering::Acquire) });
                    }
                })
            });
            for p in replaced.into_inner().expect("not poisoned") {
                // SAFETY: the address of a config from `Box::into_raw`,
                // freed once; the readers are gone.
                drop(unsafe { Box::from_raw(p as *mut Config) });
            }
            // SAFETY: as above, for the config still published.
            drop(unsafe { Box::from_raw(slot.into_inner()) });
            r.into()
        }
        "arc-swap-load" | "arc-swap-cache" => {
            let s = ArcSwap::from_pointee(Config::new(0));
            let cached = name == "arc-swap-cache";
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return config_writer(ctl, |c| s.store(Arc::new(c)));
                }
                let mut acc = 0;
                if cached {
                    let mut cache = arc_swap::Cache::new(&s);
                    run_batches(ctl, READ_BATCH, || {
                        for _ in 0..READ_BATCH {
                            touch(&mut acc, cache.load());
                        }
                    })
                } else {
                    run_batches(ctl, READ_BATCH, || {
                        for _ in 0..READ_BATCH {
                            touch(&mut acc, &s.load());
                        }
                    })
                }
            });
            r.into()
        }
        // hazarc's `AtomicArc` (arc-swap's design with hazard-pointer
        // slots of its own): `load`, and its `Cache` (one load and a
        // compare while the value is unchanged).
        "hazarc-load" | "hazarc-cache" => {
            let s: hazarc::AtomicArc<Config> = hazarc::AtomicArc::new(Arc::new(Config::new(0)));
            let cached = name == "hazarc-cache";
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return config_writer(ctl, |c| s.store(Arc::new(c)));
                }
                let mut acc = 0;
                if cached {
                    let mut cache = hazarc::Cache::new(&s);
                    run_batches(ctl, READ_BATCH, || {
                        for _ in 0..READ_BATCH {
                            touch(&mut acc, cache.load());
                        }
                    })
                } else {
                    run_batches(ctl, READ_BATCH, || {
                        for _ in 0..READ_BATCH {
                            touch(&mut acc, &s.load());
                        }
                    })
                }
            });
            r.into()
        }
        // Both read the fields under the lock, without cloning the Arc.
        "rwlock-arc" => {
            let l = RwLock::new(Arc::new(Config::new(0)));
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return config_writer(ctl, |c| {
                        *l.write().expect("not poisoned") = Arc::new(c);
                    });
                }
                let mut acc = 0;
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        touch(&mut acc, &l.read().expect("not poisoned"));
                    }
                })
            });
            r.into()
        }
        "mutex-arc" => {
            let m = Mutex::new(Arc::new(Config::new(0)));
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return config_writer(ctl, |c| {
                        *m.lock().expect("not poisoned") = Arc::new(c);
                    });
                }
                let mut acc = 0;
                run_batches(ctl, READ_BATCH, || {
                    for _ in 0..READ_BATCH {
                        touch(&mut acc, &m.lock().expect("not poisoned"));
                    }
                })
            });
            r.into()
        }
        other => panic!("unknown config implementation {other:?}"),
    }
}

/// The `list` workload's writer: `insert` the extra element, pause,
/// `remove` it, pause, until stopped.
fn list_writer(ctl: &Ctl, mut insert: impl FnMut(), mut remove: impl FnMut()) -> u64 {
    ctl.go();
    while ctl.running() {
        insert();
        thread::sleep(LIST_WRITER_PAUSE);
        remove();
        thread::sleep(LIST_WRITER_PAUSE);
    }
    0 // the writer's updates are not the measured operations
}

fn list_case(name: &str, n: usize, secs: f64) -> Outcome {
    // Workers 0..n traverse; worker n is the writer.
    let writer = n;
    match name {
        "urcu-list" => {
            let list: RcuList<u64> = (0..LIST_LEN).collect();
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return list_writer(
                        ctl,
                        || list.push_front(LIST_EXTRA),
                        || assert!(list.remove_first(|&v| v == LIST_EXTRA)),
                    );
                }
                run_batches(ctl, LIST_BATCH, || {
                    for _ in 0..LIST_BATCH {
                        let g = urcu::read_lock();
                        black_box(list.iter(&g).sum::<u64>());
                    }
                })
            });
            urcu_outcome(r, urcu::default_domain())
        }
        "urcu-cow-vec" => {
            let cell = ConfigCell::new((0..LIST_LEN).collect::<Vec<u64>>());
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return list_writer(
                        ctl,
                        || {
                            cell.update(|v| {
                                let mut next = Vec::with_capacity(v.len() + 1);
                                next.push(LIST_EXTRA);
                                next.extend_from_slice(v);
                                next
                            })
                        },
                        || {
                            cell.update(|v| {
                                assert_eq!(v[0], LIST_EXTRA);
                                v[1..].to_vec()
                            })
                        },
                    );
                }
                run_batches(ctl, LIST_BATCH, || {
                    for _ in 0..LIST_BATCH {
                        black_box(cell.read().iter().sum::<u64>());
                    }
                })
            });
            urcu_outcome(r, urcu::default_domain())
        }
        "rwlock-vec" => {
            let l = RwLock::new((0..LIST_LEN).collect::<Vec<u64>>());
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return list_writer(
                        ctl,
                        || l.write().expect("not poisoned").insert(0, LIST_EXTRA),
                        || assert_eq!(l.write().expect("not poisoned").remove(0), LIST_EXTRA),
                    );
                }
                run_batches(ctl, LIST_BATCH, || {
                    for _ in 0..LIST_BATCH {
                        black_box(l.read().expect("not poisoned").iter().sum::<u64>());
                    }
                })
            });
            r.into()
        }
        "rwlock-linkedlist" => {
            let l = RwLock::new((0..LIST_LEN).collect::<LinkedList<u64>>());
            let r = timed(n + 1, secs, |i, ctl| {
                if i == writer {
                    return list_writer(
                        ctl,
                        || l.write().expect("not poisoned").push_front(LIST_EXTRA),
                        || {
                            let front = l.write().expect("not poisoned").pop_front();
                            assert_eq!(front, Some(LIST_EXTRA));
                        },
                    );
                }
                run_batches(ctl, LIST_BATCH, || {
                    for _ in 0..LIST_BATCH {
                        black_box(l.read().expect("not poisoned").iter().sum::<u64>());
                    }
                })
            });
            r.into()
        }
        other => panic!("unknown list implementation {other:?}"),
    }
}

/// The `map` workload on one implementation: a map created for the whole
/// key space `0..keys` (so that nothing resizes while measured), its even
/// keys prefilled through one session, then `n` threads, each with its own
/// session and generator, do 98% get / 1% insert / 1% remove of random
/// keys, re-pinning (or refreshing their guards) every `MAP_BATCH`.
fn map_loop<M: Map<Key = u64>>(n: usize, secs: f64, keys: u64) -> (M, Outcome) {
    let map = M::with_capacity(keys as usize);
    prefill_even_keys(&mut map.session(), keys, MAP_BATCH);
    let out = timed(n, secs, |i, ctl| {
        let mut s = map.session();
        let mut rng = XorShift::new(i as u64);
        let mut found = 0u64;
        let ops = run_batches(ctl, u64::from(MAP_BATCH), || {
            for _ in 0..MAP_BATCH {
                found += u64::from(own_loop_op(&mut s, rng.next(), keys));
            }
            s.repin();
        });
        black_box(found);
        ops
    });
    (map, out.into())
}

fn urcu_map<M: MapStorage<u64, u64>>(n: usize, secs: f64, keys: u64) -> Outcome {
    let (map, out) = map_loop::<Urcu<u64, M>>(n, secs, keys);
    urcu_outcome((out.ops, out.secs), map.0.domain())
}

fn map_case(name: &str, n: usize, secs: f64, keys: u64) -> Outcome {
    match name {
        "urcu-map" => urcu_map::<Boxed>(n, secs, keys),
        "urcu-map-inline" => urcu_map::<Inline>(n, secs, keys),
        "dashmap" => map_loop::<DashMap<u64>>(n, secs, keys).1,
        "papaya" => map_loop::<Papaya<u64>>(n, secs, keys).1,
        "scc-hashmap" => map_loop::<SccMap<u64>>(n, secs, keys).1,
        "scc-hashindex" => map_loop::<SccIndex<u64>>(n, secs, keys).1,
        "rwlock-std" => map_loop::<StdMap<u64>>(n, secs, keys).1,
        other => panic!("unknown map implementation {other:?}"),
    }
}

/// `parked_reader`: one thread holds a read-side section open while `n`
/// busy readers enter and leave sections in a loop; their rate is measured
/// for `secs` with no grace period pending (`idle_mops`), then for `secs`
/// while a `synchronize_rcu` waits on the parked reader (the case's ops
/// and secs), with the grace period's sleeps in that phase.
fn parked_reader_case(name: &str, n: usize, secs: f64) -> Outcome {
    assert_eq!(name, "urcu-memb", "unknown parked_reader implementation");
    let d = Domain::new();
    let stop = AtomicBool::new(false);
    let counts: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    let (held_tx, held_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        let d = &d;
        s.spawn(move || {
            let g = d.read_lock();
            held_tx.send(()).expect("the case waits");
            release_rx.recv().expect("the case releases");
            drop(g);
        });
        held_rx.recv().expect("the parked reader entered");
        for count in &counts {
            let stop = &stop;
            s.spawn(move || {
                let mut done = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1000 {
                        drop(black_box(d.read_lock()));
                    }
                    done += 1000;
                    count.store(done, Ordering::Relaxed);
                }
            });
        }
        let total = || {
            counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .sum::<u64>()
        };
        // Sections done and seconds taken in one phase.
        let phase = || {
            let (a, t) = (total(), Instant::now());
            thread::sleep(Duration::from_secs_f64(secs));
            (total() - a, t.elapsed().as_secs_f64())
        };
        thread::sleep(Duration::from_millis(100));
        let idle = phase();
        let waiter = s.spawn(move || d.synchronize_rcu());
        thread::sleep(Duration::from_millis(100));
        let before = d.stats().grace_period_sleeps;
        let waiting = phase();
        let sleeps = d.stats().grace_period_sleeps - before;
        release_tx.send(()).expect("the parked reader waits");
        waiter.join().expect("the waiter returns");
        stop.store(true, Ordering::Relaxed);
        let idle_mops = idle.0 as f64 / idle.1 / 1e6;
        let out = Outcome::from(waiting).with("idle_mops", idle_mops);
        let vs_idle = out.mops().map(|m| m / idle_mops);
        out.with("vs_idle", vs_idle)
            .with("gp_sleeps", sleeps as f64)
    })
}

/// Worker 0 calls `synchronize_rcu` in a loop; workers 1..n are busy readers.
fn gp_case(name: &str, n: usize, secs: f64) -> Outcome {
    let d = domain_of(name);
    let latencies_ns = Mutex::new(Vec::new());
    let measured = timed(n, secs, |i, ctl| {
        if i == 0 {
            let mut lat = Vec::with_capacity(1 << 16);
            ctl.go();
            while ctl.running() {
                let t = Instant::now();
                d.synchronize_rcu();
                lat.push(t.elapsed().as_nanos() as u64);
            }
            let count = lat.len() as u64;
            *latencies_ns.lock().expect("not poisoned") = lat;
            return count;
        }
        let mut h = d.register_thread();
        let qsbr = d.flavor() == Flavor::Qsbr;
        run_batches(ctl, GP_READER_BATCH, || {
            for _ in 0..GP_READER_BATCH {
                drop(black_box(h.read_lock()));
                if qsbr {
                    h.quiescent_state();
                }
            }
        });
        0 // readers only keep the grace periods busy
    });
    let (mean, p99) = latency_summary_us(latencies_ns.into_inner().expect("not poisoned"));
    urcu_outcome(measured, &d)
        .with("gp_mean_us", mean)
        .with("gp_p99_us", p99)
}

/// Mean and p99 of latencies in ns, in µs (NaN when there are none).
fn latency_summary_us(mut lat: Vec<u64>) -> (f64, f64) {
    lat.sort_unstable();
    if lat.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        let mean = lat.iter().sum::<u64>() as f64 / lat.len() as f64;
        let p99 = lat[(lat.len() * 99).div_ceil(100) - 1] as f64;
        (mean / 1e3, p99 / 1e3)
    }
}

/// The C liburcu's cases (`--features liburcu`): each runs its whole loop
/// in C, on the shim's own threads (see `bench/liburcu/`).
#[cfg(feature = "liburcu")]
fn liburcu_case(workload: &str, name: &str, n: usize, secs: f64, map_keys: u64) -> Outcome {
    match workload {
        "read" => liburcu::read(name, n, secs).into(),
        "reclaim" => liburcu::reclaim(name, n, secs).into(),
        "gp" => {
            let (count, elapsed, lat) = liburcu::gp(name, n, secs);
            let (mean, p99) = latency_summary_us(lat);
            Outcome::from((count, elapsed))
                .with("gp_mean_us", mean)
                .with("gp_p99_us", p99)
        }
        "map" => {
            assert_eq!(name, "liburcu-lfht", "unknown liburcu map implementation");
            liburcu::lfht(n, secs, map_keys, MAP_BATCH).into()
        }
        other => panic!("no liburcu implementation of workload {other:?}"),
    }
}

/// Peak resident set size of this process, in MiB.
fn peak_rss_mib() -> f64 {
    urcu_bench::status_kib("VmHWM:") / 1024.0
}

/// Child side: run one case and print its `RESULT` line on stdout.
fn run_child(case: &str, threads: usize, secs: f64, map_keys: u64) {
    let (workload, name) = Args::split_case(case);
    let out = match workload {
        #[cfg(feature = "liburcu")]
        _ if name.starts_with("liburcu-") => liburcu_case(workload, name, threads, secs, map_keys),
        "read" => read_case(name, threads, secs),
        "reclaim" => reclaim_case(name, threads, secs),
        "gp" => gp_case(name, threads, secs),
        "config" => config_case(name, threads, secs),
        "list" => list_case(name, threads, secs),
        "map" => map_case(name, threads, secs, map_keys),
        "parked_reader" => parked_reader_case(name, threads, secs),
        other => panic!("unknown workload {other:?}"),
    };
    // The gp case's own latency samples would dominate its peak RSS.
    let rss = (workload != "gp").then(peak_rss_mib);
    println!("{}", out.with("rss_mib", rss).result_line());
}

// ---------------------------------------------------------------------------
// Parent side: run every case in a child, then print the table and CSV
// ---------------------------------------------------------------------------

/// Every workload compares Mops/s (`gp`'s, grace periods per second, has
/// no peers).
fn classify(case: &Case) -> (Role, Metric) {
    let role = match case.implementation {
        name if is_urcu(name) => Role::Ours,
        name if is_baseline(name) => Role::Baseline,
        _ => Role::Peer,
    };
    (role, Metric::MOPS)
}

fn main() {
    let mut map_keys = MAP_KEYS;
    let args = Args::parse(&SPEC, default_threads(), |flag, value| {
        // Hidden: the `map` workload's key space (the parent passes it).
        if flag == "--map-keys" {
            map_keys = value()
                .parse()
                .ok()
                .filter(|k: &u64| k.is_power_of_two() && *k >= 2)
                .expect("--map-keys takes a power of two");
        }
    });
    if let Some(case) = &args.case {
        run_child(case, args.child_threads(), args.secs, map_keys);
        return;
    }

    let (secs, threads, map_keys) = if args.bench {
        (args.secs, args.threads.clone(), map_keys)
    } else {
        eprintln!("scaling: no --bench flag (e.g. under `cargo test`): short smoke run, no CSV");
        (0.05, vec![1, 2], SMOKE_MAP_KEYS)
    };
    if Domain::new().flavor() != Flavor::Memb {
        eprintln!("note: membarrier is unavailable here; the urcu-memb cases run as mb");
    }
    let exe = std::env::current_exe().expect("path of this benchmark binary");
    let cases: Vec<Case> = args
        .workloads
        .iter()
        .flat_map(|w| {
            threads.iter().flat_map(move |&t| {
                impls_of(w)
                    .into_iter()
                    .map(move |name| Case::new(w, t, name))
            })
        })
        .collect();
    let child_args = [
        "--secs".to_string(),
        secs.to_string(),
        "--map-keys".to_string(),
        map_keys.to_string(),
    ];
    let rows = driver::run_rounds(&exe, &cases, args.rounds, &child_args, classify);
    driver::print_table(&rows, COLUMNS);

    // What the plots show: Mops/s against threads, except for `gp`, whose
    // throughput is just the inverse of its latency: grace-period mean
    // latency.
    let points = rows.iter().map(|r| {
        let (value, unit) = if r.case.workload == "gp" {
            (r.get("gp_mean_us"), "grace period mean latency, µs")
        } else {
            (r.get("mops"), "M ops/s (all threads)")
        };
        plot::Point {
            workload: &r.case.workload,
            threads: r.case.threads as f64,
            implementation: r.case.implementation,
            value,
            unit,
        }
    });
    if args.bench {
        let dir = driver::output_dir("scaling");
        driver::write_csv(&dir.join("results.csv"), None, &rows, COLUMNS);
        for path in plot::write_workload_plots(&dir, "scaling", points, is_urcu) {
            eprintln!("wrote {}", path.display());
        }
    } else {
        // Smoke: draw this run's plots in memory and check them.
        let plots = plot::check_plots("scaling", points, is_urcu)
            .unwrap_or_else(|e| panic!("a plot is not sound: {e}"));
        eprintln!("scaling: {plots} SVG plots checked");
    }
}
