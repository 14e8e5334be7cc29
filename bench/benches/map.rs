//! Concurrent hash maps: urcu's `RcuHashMap` against its peers.
//!
//! ```text
//! cargo bench --bench map -- --threads 1,2 --secs 1 \
//!     --workloads read_heavy,exchange,rapid_grow,own_loop,get_hit,get_miss,churn,grow,memory,resize_latency
//! # the bustle workloads with string keys and 64-byte values, and with u64s:
//! cargo bench --bench map -- --threads 1,2 --workloads read_heavy,exchange,rapid_grow \
//!     --keys u64,string
//! # the published configuration (16 cores):
//! cargo bench --bench map -- --threads 1,2,4,8,16 --capacity-log2 21 --ops-factor 3
//! ```
//!
//! Keys and values (`--keys`, default `u64`; `u64,string` runs both, and
//! the `keys` column of the table and CSV tells them apart):
//!
//! - `u64`: `u64` keys and values; a key's value is the key.
//! - `string`: `String` keys made from bustle's `u64` seeds as
//!   `"key-{:016x}"` (20 bytes on the heap), values 64-byte records
//!   (`[u64; 8]`, kept inline in the entry, zeroed for a new key).
//!
//! `--keys` applies to the bustle workloads (`read_heavy`, `exchange`,
//! `rapid_grow`), whose keys bustle makes before it starts the clock, and
//! to `get_hit`, `get_miss`, `churn` and `grow`, which make theirs first too.
//! `own_loop`, `memory` and `resize_latency` make each key in their timed
//! loops, from a counter or a generator: with strings they would time the
//! formatting, so they always run with `u64` keys (and say so in the `keys`
//! column). Every implementation hashes with `ahash::RandomState`.
//! Implementations (the peers' sessions are `benches/common/map_session.rs`,
//! whose doc says how each is driven):
//!
//! - `urcu`: `urcu::RcuHashMap` (default domain, boxed storage), used
//!   through a pinned handle (`map.pin()`, one read-side section) that each
//!   thread drops and takes again every `--pin-batch` operations (default
//!   128), so grace periods can end.
//! - `urcu-inline`: the same, built with `RcuHashMap::builder().inline()`:
//!   the `u64` pairs live in the bucket lines (one cache line per lookup,
//!   no allocation per insert). What a user with `Copy` keys and values
//!   would choose. Inline storage needs `Copy` keys and values, which a
//!   `String` is not: it does not run with `--keys string`.
//! - `urcu-pin-per-op`: the same map as `urcu`, `map.pin()` around every
//!   single operation (what a caller without a batch pays; not a peer).
//! - `dashmap`: `dashmap::DashMap`; every operation takes its shard's
//!   `RwLock` (read for gets, write otherwise). Nothing to amortize.
//! - `papaya`: `papaya::HashMap` (default collector), used through
//!   `map.guard()`, a `LocalGuard` each thread holds and `refresh()`es every
//!   `--pin-batch` operations, as `urcu` re-pins. Its `update` takes the
//!   key by value: with string keys each update clones the key.
//! - `scc-hashmap`: `scc::HashMap`; every operation is self-contained
//!   (`read_sync`, `upsert_sync`, `remove_sync`, `update_sync`: each takes
//!   its own epoch guard and bucket lock; its API has no caller-held guard
//!   for these).
//! - `scc-hashindex`: `scc::HashIndex`; gets are `peek(&k, &guard)` with an
//!   `scc::Guard` each thread holds and renews every `--pin-batch`
//!   operations; writes (`entry_sync`, `remove_sync`, `get_sync` + update)
//!   lock their bucket per operation.
//! - `rwlock-std`: `RwLock<std::collections::HashMap>`, one lock per
//!   operation.
//!
//! "insert" is insert-or-replace everywhere (it returns whether the key was
//! new); "update" replaces the value of a present key with the old value,
//! its first word + 1 (in place for dashmap, scc-hashmap and rwlock-std; a
//! new entry for urcu, papaya and scc-hashindex, whose readers never see a
//! value change).
//!
//! Workloads:
//!
//! - `read_heavy`, `exchange`, `rapid_grow`: the three conc-map-bench
//!   workloads, run by the `bustle` harness. Mixes (read/insert/remove/
//!   update %): read_heavy 98/1/1/0 and exchange 10/40/40/10, both
//!   prefilled to 75% of the initial capacity; rapid_grow 5/80/5/10,
//!   starting empty. The map is created with the initial capacity
//!   `2^--capacity-log2` and the threads run `--ops-factor` × that many
//!   operations in all (bustle's `operations`). Defaults here: 2^18 and 1×
//!   (a 2-core machine; such short runs are noisy); the published
//!   configuration is `--capacity-log2 21 --ops-factor 3` on 16 cores. At
//!   1× rapid_grow inserts 0.8 × capacity keys and so never outgrows a map
//!   that honours its capacity; use 3× to see it grow.
//! - `own_loop`: 2^20 keys prefilled (the even keys of a 2^21 key space, in
//!   a map created for 2^21 entries, so that none resizes while measured:
//!   the fill wanders around 2^20 and an `RcuHashMap` created for 2^20
//!   would grow at 2^20 + 1), then N threads for `--secs` seconds, each with
//!   its own xorshift generator, do 98% get / 1% insert / 1% remove of
//!   uniformly random keys of the key space (about half of them present).
//! - `get_hit`, `get_miss`, `churn`, `grow`: one kind of operation at a
//!   time, on a map created for `2^--capacity-log2` entries and prefilled
//!   to 75 % of that with each thread's own random keys; then each thread
//!   does its share of capacity × `--ops-factor` operations: gets of its
//!   present keys (`get_hit`), gets of absent keys (`get_miss`), inserts of
//!   new keys alternating with removals of its oldest (`churn`, the size
//!   stays put), or inserts of new keys only (`grow`: at 3× the table grows
//!   twice). Timed between two barriers. What bustle's mixes blend, one
//!   operation at a time (bustle also spends a miss per operation on its
//!   own key array, which these loops keep in cache).
//! - `memory`: one thread inserts 2^20 entries into a map created empty;
//!   bytes per entry = (VmRSS after − VmRSS before) / 2^20, and the peak
//!   (VmHWM − VmRSS before) / 2^20, which includes resize transients. urcu
//!   waits for its deferred frees (`rcu_barrier`) before the measurement;
//!   freed memory that malloc keeps still counts, for every implementation.
//!   Mops/s is the loading rate.
//! - `resize_latency`: a map created for 2^16 entries holding 2^16 keys; one
//!   writer inserts keys until there are 2^20 (four doublings) while one
//!   reader gets random present keys (a miss fails the case) in batches of
//!   64, timing the first get of each batch alone with `Instant` (the timer's
//!   own cost, measured at start, is subtracted). Reports p50/p99/p99.9/max
//!   of those gets in ns, and as Mops/s the reader's gets per second while
//!   the writer ran. The writer's slowest single insert (a resize's cost
//!   to the writer that meets it) goes to stderr.
//!
//! `--rounds N` runs every case N times, all cases once per round, and
//! reports each case's median run (every run's figure goes to stderr, and
//! so does each urcu case's ratio, round by round, to the same round's run
//! of the peer with the best median of the same workload, thread count and
//! keys, with the median of those ratios): on a shared, noisy machine one
//! run of each case can rank the peers
//! differently from the next.
//!
//! Each (workload, keys, implementation, threads) case runs in a fresh
//! child process (this binary re-executed with a hidden `--case
//! WORKLOAD:IMPL` and its `--keys`), so one case's memory, threads and
//! garbage do not pollute the next. Maps
//! given to bustle are leaked (bustle needs `'static` handles); the child
//! exits right after. After each urcu case the child prints the default
//! domain's reclamation statistics to stderr (grace periods, longest one,
//! pending objects, overflow spills).
//!
//! The table goes to stdout and, as CSV, to `target/map/results.csv`
//! (`$CARGO_TARGET_DIR/map/` when that is set), with one SVG plot per
//! workload (`read_heavy.svg`, and `read_heavy-string.svg` for string
//! keys); progress goes to stderr.
//! "vs best peer" compares with the best non-urcu implementation of the same
//! workload, thread count and keys, on the metric named in "ratio of": Mops/s
//! (higher is better) for the throughput workloads, bytes per entry for
//! `memory` and p99 ns for `resize_latency` (lower is better for both).
//!
//! Without `--bench` (which `cargo bench` passes, and `cargo test
//! --all-targets` does not) it only runs a small smoke pass (both key
//! types) and writes no CSV; pass `--bench` to run the binary directly.

mod common;
use bustle::{Collection, CollectionHandle, Mix, Workload};
use common::map_session::{
    insert_seed, own_loop_op, prefill_even_keys, BenchKey, BenchValue, DashMap, Map, MapSession,
    Papaya, SccIndex, SccMap, StdMap, StrKey, Urcu, UrcuMap, Value,
};
use common::rounds::{self, CaseRow};
use common::{num, status_kib, XorShift};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};
use urcu::urcu_structures::Inline;

/// Operations between two re-pins (urcu), guard refreshes (papaya) or guard
/// renewals (scc-hashindex) of one thread; also the batch between two
/// checks of the stop flag in `own_loop`. Set by `--pin-batch`.
static PIN_BATCH: AtomicU32 = AtomicU32::new(DEFAULT_PIN_BATCH);
const DEFAULT_PIN_BATCH: u32 = 128;

fn pin_batch() -> u32 {
    PIN_BATCH.load(Ordering::Relaxed)
}

/// `own_loop`: the key space; its even keys (half of it) are prefilled.
const OWN_KEYS: u64 = 1 << 21;
const _: () = assert!(OWN_KEYS.is_power_of_two() && RESIZE_FROM.is_power_of_two());

/// `memory`: entries loaded.
const MEMORY_ENTRIES: u64 = 1 << 20;

/// `resize_latency`: entries before and after the writer's inserts, and the
/// reader's batch (one timed get per batch).
const RESIZE_FROM: u64 = 1 << 16;
const RESIZE_TO: u64 = 1 << 20;
const RESIZE_BATCH: u32 = 64;

/// Sizes for the smoke pass (no `--bench`).
const SMOKE_CAPACITY_LOG2: u8 = 12;
const SMOKE_SCALE_DOWN: u32 = 6;

const IMPLS: &[&str] = &[
    "urcu",
    "urcu-inline",
    "urcu-pin-per-op",
    "dashmap",
    "papaya",
    "scc-hashmap",
    "scc-hashindex",
    "rwlock-std",
];

/// Every workload, in the order `--workloads all` runs them.
const WORKLOADS: &[&str] = &[
    "read_heavy",
    "exchange",
    "rapid_grow",
    "own_loop",
    "get_hit",
    "get_miss",
    "churn",
    "grow",
    "memory",
    "resize_latency",
];

fn is_urcu(name: &str) -> bool {
    name.starts_with("urcu")
}

// ---------------------------------------------------------------------------
// Key types
// ---------------------------------------------------------------------------

/// A `--keys` choice: the bustle workloads' key and value types.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// `u64 → u64`.
    U64,
    /// [`StrKey`] `→ [u64; 8]`.
    String,
}

impl Keys {
    const ALL: [Keys; 2] = [Keys::U64, Keys::String];

    fn name(self) -> &'static str {
        match self {
            Keys::U64 => "u64",
            Keys::String => "string",
        }
    }

    /// `--keys u64,string`.
    fn parse_list(list: &str) -> Vec<Keys> {
        let keys: Vec<Keys> = list
            .split(',')
            .map(|k| {
                Keys::ALL
                    .into_iter()
                    .find(|c| c.name() == k.trim())
                    .unwrap_or_else(|| panic!("--keys: unknown key type {k:?} (u64 or string)"))
            })
            .collect();
        assert!(!keys.is_empty(), "--keys needs a key type");
        keys
    }

    /// Whether implementation `name` can hold these keys: inline storage
    /// needs `Copy` keys and values.
    fn holds(self, name: &str) -> bool {
        self == Keys::U64 || name != "urcu-inline"
    }
}

/// Whether `workload` runs with the key types of `--keys` (the others make
/// their keys in the timed loop and run with `u64` only).
fn takes_keys(workload: &str) -> bool {
    matches!(
        workload,
        "read_heavy" | "exchange" | "rapid_grow" | "get_hit" | "get_miss" | "churn" | "grow"
    )
}

// ---------------------------------------------------------------------------
// The implementations (the shared ones: common/map_session.rs)
// ---------------------------------------------------------------------------

/// The shape of the map the last bustle run built (bustle owns the map, so
/// the child asks through this when the run is over).
type ShapeProbe = Box<dyn Fn() -> Option<String> + Send + Sync>;
static LAST_MAP: std::sync::Mutex<Option<ShapeProbe>> = std::sync::Mutex::new(None);

/// urcu, pinned per operation (boxed storage).
struct UrcuPinPerOp<K: BenchKey>(UrcuMap<K>);

impl<K: BenchKey> Map for UrcuPinPerOp<K> {
    type Key = K;
    type Session<'a> = &'a UrcuMap<K>;
    fn with_capacity(capacity: usize) -> Self {
        UrcuPinPerOp(UrcuMap::with_capacity(capacity))
    }
    fn session(&self) -> &UrcuMap<K> {
        &self.0
    }
    fn settle(&self) {
        self.0.domain().rcu_barrier();
    }
}

impl<K: BenchKey> MapSession for &UrcuMap<K> {
    type Key = K;
    #[inline]
    fn get(&mut self, k: &K) -> bool {
        self.pin().get(k).is_some()
    }
    #[inline]
    fn insert(&mut self, k: K, v: Value<K>) -> bool {
        self.pin().insert(k, v).is_none()
    }
    #[inline]
    fn remove(&mut self, k: &K) -> bool {
        self.pin().remove(k).is_some()
    }
    #[inline]
    fn update(&mut self, k: &K) -> bool {
        self.pin().update(k, BenchValue::bumped).is_some()
    }
}

// ---------------------------------------------------------------------------
// bustle adapter
// ---------------------------------------------------------------------------

/// A leaked map: bustle wants `'static` thread handles, and each case is
/// its own process anyway.
struct Bustled<M: 'static>(&'static M);

struct BustleHandle<M: Map> {
    session: M::Session<'static>,
    /// Operations left before the next re-pin.
    left: u32,
    batch: u32,
    /// Operations left in this thread's share of the mix (see
    /// [`OPS_PER_THREAD`]); at zero the session has left its section. A
    /// prefill handle may get there first (an `--ops-factor` below the
    /// prefill fraction): its next operation enters again.
    left_in_run: usize,
}

/// bustle's operations per mix thread in the running case (its
/// `total_ops / threads`), so that a handle leaves its section after its
/// last operation: bustle keeps handles until every thread has finished,
/// and a section held that long holds up the others' grace periods.
static OPS_PER_THREAD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl<M: Map> BustleHandle<M> {
    #[inline(always)]
    fn op(&mut self, f: impl FnOnce(&mut M::Session<'static>) -> bool) -> bool {
        if self.left_in_run == 0 {
            self.session.repin();
        }
        let r = f(&mut self.session);
        self.left_in_run = self.left_in_run.wrapping_sub(1);
        if self.left_in_run == 0 {
            self.session.finish();
            return r;
        }
        self.left -= 1;
        if self.left == 0 {
            self.left = self.batch;
            self.session.repin();
        }
        r
    }
}

impl<M: Map> Collection for Bustled<M> {
    type Handle = BustleHandle<M>;
    fn with_capacity(capacity: usize) -> Self {
        let map: &'static M = Box::leak(Box::new(M::with_capacity(capacity)));
        *LAST_MAP.lock().expect("not poisoned") = Some(Box::new(move || map.shape()));
        Bustled(map)
    }
    fn pin(&self) -> BustleHandle<M> {
        BustleHandle {
            session: self.0.session(),
            left: pin_batch(),
            batch: pin_batch(),
            left_in_run: OPS_PER_THREAD.load(Ordering::Relaxed),
        }
    }
}

impl<M: Map> CollectionHandle for BustleHandle<M> {
    type Key = M::Key;
    fn get(&mut self, key: &M::Key) -> bool {
        self.op(|s| s.get(key))
    }
    fn insert(&mut self, key: &M::Key) -> bool {
        // bustle lends its key: the map gets a copy (for strings, an
        // allocation, as a service's insert of a key it was handed pays).
        self.op(|s| s.insert(key.clone(), key.value()))
    }
    fn remove(&mut self, key: &M::Key) -> bool {
        self.op(|s| s.remove(key))
    }
    fn update(&mut self, key: &M::Key) -> bool {
        self.op(|s| s.update(key))
    }
}

/// The mix and prefill fraction of a bustle workload (conc-map-bench's).
fn bustle_mix(workload: &str) -> (Mix, f64) {
    let mix = |read, insert, remove, update| Mix {
        read,
        insert,
        remove,
        update,
        upsert: 0,
    };
    match workload {
        "read_heavy" => (mix(98, 1, 1, 0), 0.75),
        "exchange" => (mix(10, 40, 40, 10), 0.75),
        "rapid_grow" => (mix(5, 80, 5, 10), 0.0),
        other => panic!("{other} is not a bustle workload"),
    }
}

fn bustle_case<M: Map>(workload: &str, threads: usize, cfg: &Config) -> Outcome {
    let (mix, prefill) = bustle_mix(workload);
    // bustle's own arithmetic (`Workload::run`): the total, split evenly.
    let total_ops = ((1usize << cfg.capacity_log2) as f64 * cfg.ops_factor) as usize;
    OPS_PER_THREAD.store(total_ops / threads, Ordering::Relaxed);
    let m = Workload::new(threads, mix)
        .initial_capacity_log2(cfg.capacity_log2)
        .prefill_fraction(prefill)
        .operations(cfg.ops_factor)
        .run_silently::<Bustled<M>>();
    Outcome {
        ops: m.total_ops,
        secs: m.spent.as_secs_f64(),
        ..Outcome::default()
    }
}

// ---------------------------------------------------------------------------
// get_hit, get_miss, churn, grow: one kind of operation at a time
// ---------------------------------------------------------------------------

/// Absent keys a `get_miss` thread cycles through (kept in cache: the
/// lookups, not the key array, should miss).
const ABSENT_KEYS: usize = 1 << 12;

/// What an `op_case` measures.
#[derive(Clone, Copy, PartialEq)]
enum OpKind {
    /// Gets of random present keys.
    GetHit,
    /// Gets of absent keys.
    GetMiss,
    /// Inserts of new keys, each followed by the removal of the thread's
    /// oldest key: the size stays put (bustle's exchange without its
    /// reads and updates, and without its shared op mix).
    Churn,
    /// Inserts of new keys into a table that has to grow.
    Grow,
}

/// One kind of operation, timed alone: each thread prefills its share of
/// 75 % of the capacity (`2^--capacity-log2`) with its own random keys,
/// then, between two barriers, does its share of capacity ×
/// `--ops-factor` operations of that kind. What bustle's mixes blend:
/// where a map gains or loses shows here, operation by operation.
fn op_case<M: Map>(kind: OpKind, threads: usize, cfg: &Config) -> Outcome {
    let batch = pin_batch();
    let capacity = 1usize << cfg.capacity_log2;
    let per_thread = capacity * 3 / 4 / threads;
    let ops = (capacity as f64 * cfg.ops_factor) as usize / threads;
    let map = M::with_capacity(capacity);
    let start = Barrier::new(threads + 1);
    let done = Barrier::new(threads + 1);
    thread::scope(|scope| {
        for t in 0..threads {
            let (map, start, done) = (&map, &start, &done);
            scope.spawn(move || {
                let mut rng = XorShift::new(t as u64);
                // Prefilled keys first, then the keys inserted later.
                let extra = if matches!(kind, OpKind::Churn | OpKind::Grow) {
                    ops
                } else {
                    0
                };
                // Built before the clock starts (a string key is formatted).
                let keys: Vec<M::Key> = (0..per_thread + extra)
                    .map(|_| M::Key::from(rng.next()))
                    .collect();
                let absent: Vec<M::Key> =
                    (0..ABSENT_KEYS).map(|_| M::Key::from(rng.next())).collect();
                let mut s = map.session();
                for (i, k) in keys[..per_thread].iter().enumerate() {
                    s.insert(k.clone(), k.value());
                    if i as u32 % batch == 0 {
                        s.repin();
                    }
                }
                let mut found = 0u64;
                start.wait();
                let mut step = |i: usize, s: &mut M::Session<'_>| match kind {
                    OpKind::GetHit => {
                        found += u64::from(s.get(&keys[rng.next() as usize % per_thread]));
                    }
                    OpKind::GetMiss => {
                        found += u64::from(s.get(&absent[rng.next() as usize % ABSENT_KEYS]));
                    }
                    OpKind::Churn if i % 2 == 0 => {
                        let k = &keys[per_thread + i / 2];
                        found += u64::from(s.insert(k.clone(), k.value()));
                    }
                    OpKind::Churn => found += u64::from(s.remove(&keys[i / 2])),
                    OpKind::Grow => {
                        let k = &keys[per_thread + i];
                        found += u64::from(s.insert(k.clone(), k.value()));
                    }
                };
                for i in 0..ops {
                    step(i, &mut s);
                    if (i + 1) as u32 % batch == 0 {
                        s.repin();
                    }
                }
                s.finish();
                done.wait();
                black_box(found);
            });
        }
        start.wait();
        let t0 = Instant::now();
        done.wait();
        Outcome {
            ops: (ops * threads) as u64,
            secs: t0.elapsed().as_secs_f64(),
            ..Outcome::default()
        }
    })
}

// ---------------------------------------------------------------------------
// own_loop
// ---------------------------------------------------------------------------

fn own_loop_case<M: Map>(threads: usize, secs: f64, smoke: bool) -> Outcome {
    let batch = pin_batch();
    let keys = if smoke {
        OWN_KEYS >> SMOKE_SCALE_DOWN
    } else {
        OWN_KEYS
    };
    // Sized for the whole key space, so that no implementation resizes
    // while it is measured (the fill wanders around half the key space).
    let map = M::with_capacity(keys as usize);
    prefill_even_keys(&mut map.session(), keys, batch);
    let start = Barrier::new(threads + 1);
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let (map, start, stop) = (&map, &start, &stop);
                scope.spawn(move || {
                    let mut s = map.session();
                    let mut rng = XorShift::new(i as u64);
                    let mut ops = 0u64;
                    let mut found = 0u64;
                    start.wait();
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..batch {
                            found += u64::from(own_loop_op(&mut s, rng.next(), keys));
                        }
                        s.repin();
                        ops += u64::from(batch);
                    }
                    black_box(found);
                    ops
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
        let elapsed = t0.elapsed().as_secs_f64();
        let ops = workers
            .into_iter()
            .map(|w| w.join().expect("worker thread panicked"))
            .sum();
        Outcome {
            ops,
            secs: elapsed,
            ..Outcome::default()
        }
    })
}

// ---------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------

fn memory_case<M: Map>(smoke: bool) -> Outcome {
    let batch = pin_batch();
    let entries = if smoke {
        MEMORY_ENTRIES >> SMOKE_SCALE_DOWN
    } else {
        MEMORY_ENTRIES
    };
    let before = status_kib("VmRSS:");
    let t0 = Instant::now();
    let map = M::with_capacity(0);
    {
        let mut s = map.session();
        for k in 0..entries {
            insert_seed(&mut s, k);
            if k as u32 % batch == 0 {
                s.repin();
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    map.settle();
    let after = status_kib("VmRSS:");
    let peak = status_kib("VmHWM:");
    black_box(&map);
    let per_entry = |kib: f64| (kib - before) * 1024.0 / entries as f64;
    Outcome {
        ops: entries,
        secs,
        bytes_per_entry: Some(per_entry(after)),
        peak_bytes_per_entry: Some(per_entry(peak)),
        ..Outcome::default()
    }
}

// ---------------------------------------------------------------------------
// resize_latency
// ---------------------------------------------------------------------------

/// The median cost of timing nothing with two `Instant::now()` calls.
fn timer_overhead_ns() -> u64 {
    let mut v: Vec<u64> = (0..10_001)
        .map(|_| {
            let t = Instant::now();
            black_box(());
            t.elapsed().as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}

fn resize_latency_case<M: Map>(smoke: bool) -> Outcome {
    let batch = pin_batch();
    let (from, to) = if smoke {
        (RESIZE_FROM >> 4, RESIZE_TO >> SMOKE_SCALE_DOWN)
    } else {
        (RESIZE_FROM, RESIZE_TO)
    };
    let overhead = timer_overhead_ns();
    let map = M::with_capacity(from as usize);
    {
        let mut s = map.session();
        for k in 0..from {
            insert_seed(&mut s, k);
            if k as u32 % batch == 0 {
                s.repin();
            }
        }
    }
    let start = Barrier::new(2);
    let done = AtomicBool::new(false);
    let (samples, gets, reader_secs, (writer_secs, slowest_insert)) = thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut s = map.session();
            start.wait();
            let t0 = Instant::now();
            let mut slowest = Duration::ZERO;
            for k in from..to {
                let t = Instant::now();
                insert_seed(&mut s, k);
                slowest = slowest.max(t.elapsed());
                if k as u32 % batch == 0 {
                    s.repin();
                }
            }
            let secs = t0.elapsed().as_secs_f64();
            done.store(true, Ordering::Release);
            (secs, slowest)
        });
        let mut s = map.session();
        let mut rng = XorShift::new(7);
        let mut samples: Vec<u32> = Vec::with_capacity(1 << 20);
        let mut gets = 0u64;
        let mut misses = 0u64;
        start.wait();
        let t0 = Instant::now();
        while !done.load(Ordering::Acquire) {
            let key = rng.next() & (from - 1);
            let t = Instant::now();
            let hit = s.get(&key.into());
            let ns = t.elapsed().as_nanos() as u64;
            samples.push(ns.saturating_sub(overhead).min(u64::from(u32::MAX)) as u32);
            misses += u64::from(!hit);
            for _ in 1..RESIZE_BATCH {
                misses += u64::from(!s.get(&(rng.next() & (from - 1)).into()));
            }
            s.repin();
            gets += u64::from(RESIZE_BATCH);
        }
        let reader_secs = t0.elapsed().as_secs_f64();
        assert_eq!(misses, 0, "a present key was not found during the resize");
        let writer = writer.join().expect("writer panicked");
        (samples, gets, reader_secs, writer)
    });
    let mut samples = samples;
    samples.sort_unstable();
    let q = |p: f64| {
        samples
            .get(((samples.len().saturating_sub(1)) as f64 * p).round() as usize)
            .map(|&v| f64::from(v))
    };
    eprintln!(
        "  timer overhead {overhead} ns (subtracted), {} samples, writer took {:.1} ms, \
         its slowest insert {:.1} µs",
        samples.len(),
        writer_secs * 1e3,
        slowest_insert.as_secs_f64() * 1e6
    );
    Outcome {
        ops: gets,
        secs: reader_secs,
        p50_ns: q(0.5),
        p99_ns: q(0.99),
        p999_ns: q(0.999),
        max_ns: q(1.0),
        writer_secs: Some(writer_secs),
        ..Outcome::default()
    }
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

struct Config {
    capacity_log2: u8,
    ops_factor: f64,
    secs: f64,
    smoke: bool,
}

struct Args {
    threads: Vec<usize>,
    workloads: Vec<String>,
    cfg: Config,
    /// Hidden: run one case in this process and print its `RESULT` line.
    case: Option<String>,
    /// `cargo bench` passes `--bench`; without it we only smoke-test.
    bench: bool,
    /// Runs of every case, interleaved round by round; each case reports
    /// its median run.
    rounds: usize,
    /// The bustle workloads' key types (a child: its one).
    keys: Vec<Keys>,
}

fn parse_args() -> Args {
    let mut args = Args {
        threads: vec![1, 2],
        workloads: WORKLOADS.iter().map(|w| w.to_string()).collect(),
        cfg: Config {
            capacity_log2: 18,
            ops_factor: 1.0,
            secs: 1.0,
            smoke: false,
        },
        case: None,
        bench: false,
        rounds: 1,
        keys: vec![Keys::U64],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match arg.as_str() {
            "--threads" => args.threads = common::parse_threads(&value("--threads")),
            "--secs" => {
                args.cfg.secs = value("--secs")
                    .parse()
                    .expect("--secs takes a number of seconds")
            }
            "--capacity-log2" => {
                args.cfg.capacity_log2 = value("--capacity-log2")
                    .parse()
                    .expect("--capacity-log2 takes a small integer")
            }
            "--ops-factor" => {
                args.cfg.ops_factor = value("--ops-factor")
                    .parse()
                    .expect("--ops-factor takes a number")
            }
            "--workloads" => {
                args.workloads = common::parse_workloads(&value("--workloads"), WORKLOADS)
            }
            "--pin-batch" => {
                let n: u32 = value("--pin-batch")
                    .parse()
                    .expect("--pin-batch takes a positive count");
                assert!(n > 0, "--pin-batch must be positive");
                PIN_BATCH.store(n, Ordering::Relaxed);
            }
            "--rounds" => {
                args.rounds = value("--rounds")
                    .parse()
                    .expect("--rounds takes a positive count");
                assert!(args.rounds > 0, "--rounds must be positive");
            }
            "--keys" => args.keys = Keys::parse_list(&value("--keys")),
            "--case" => args.case = Some(value("--case")),
            "--smoke" => args.cfg.smoke = true,
            "--bench" => args.bench = true,
            "--help" | "-h" => {
                println!(
                    "usage: map [--threads 1,2] [--secs 1] [--capacity-log2 18] [--ops-factor 1] \
                     [--pin-batch 128] [--rounds 1] [--keys u64 | string | u64,string] \
                     [--workloads all | {}]",
                    WORKLOADS.join(",")
                );
                std::process::exit(0);
            }
            // Anything else (cargo's flags, filters) is ignored.
            _ => {}
        }
    }
    args
}

// ---------------------------------------------------------------------------
// Child side
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Outcome {
    ops: u64,
    secs: f64,
    bytes_per_entry: Option<f64>,
    peak_bytes_per_entry: Option<f64>,
    p50_ns: Option<f64>,
    p99_ns: Option<f64>,
    p999_ns: Option<f64>,
    max_ns: Option<f64>,
    writer_secs: Option<f64>,
}

fn run_workload<M: Map>(workload: &str, threads: usize, cfg: &Config) -> Outcome {
    match workload {
        "read_heavy" | "exchange" | "rapid_grow" => bustle_case::<M>(workload, threads, cfg),
        "own_loop" => own_loop_case::<M>(threads, cfg.secs, cfg.smoke),
        "get_hit" => op_case::<M>(OpKind::GetHit, threads, cfg),
        "get_miss" => op_case::<M>(OpKind::GetMiss, threads, cfg),
        "churn" => op_case::<M>(OpKind::Churn, threads, cfg),
        "grow" => op_case::<M>(OpKind::Grow, threads, cfg),
        "memory" => memory_case::<M>(cfg.smoke),
        "resize_latency" => resize_latency_case::<M>(cfg.smoke),
        other => panic!("unknown workload {other:?}"),
    }
}

/// Runs `workload` on implementation `name` with keys `K` (anything but
/// `urcu-inline`, whose storage needs `Copy` keys: see [`run_child`]).
fn run_impl<K: BenchKey>(workload: &str, name: &str, threads: usize, cfg: &Config) -> Outcome {
    match name {
        "urcu" => run_workload::<Urcu<K>>(workload, threads, cfg),
        "urcu-pin-per-op" => run_workload::<UrcuPinPerOp<K>>(workload, threads, cfg),
        "dashmap" => run_workload::<DashMap<K>>(workload, threads, cfg),
        "papaya" => run_workload::<Papaya<K>>(workload, threads, cfg),
        "scc-hashmap" => run_workload::<SccMap<K>>(workload, threads, cfg),
        "scc-hashindex" => run_workload::<SccIndex<K>>(workload, threads, cfg),
        "rwlock-std" => run_workload::<StdMap<K>>(workload, threads, cfg),
        other => panic!("unknown implementation {other:?} (or not for these keys)"),
    }
}

/// Child side: run one case and print its `RESULT` line on stdout.
fn run_child(case: &str, threads: usize, keys: Keys, cfg: &Config) {
    let (workload, name) = case.split_once(':').expect("--case takes WORKLOAD:IMPL");
    assert!(
        keys == Keys::U64 || takes_keys(workload),
        "{workload} runs with u64 keys only"
    );
    assert!(keys.holds(name), "{name} cannot hold {} keys", keys.name());
    let out = match (name, keys) {
        ("urcu-inline", _) => run_workload::<Urcu<u64, Inline>>(workload, threads, cfg),
        (_, Keys::U64) => run_impl::<u64>(workload, name, threads, cfg),
        (_, Keys::String) => run_impl::<StrKey>(workload, name, threads, cfg),
    };
    if is_urcu(name) {
        // Diagnostics: how the default domain's reclamation kept up.
        let st = urcu::stats();
        eprintln!(
            "  urcu: {} grace periods (longest {:?}), {} queued, {} pending, \
             {} caller waits, {} overflow spills",
            st.grace_periods,
            st.longest_grace_period,
            st.queued,
            st.pending(),
            st.caller_fallbacks,
            st.overflow_spills
        );
        let probe = LAST_MAP.lock().expect("not poisoned");
        if let Some(shape) = probe.as_ref().and_then(|p| p()) {
            eprintln!("  urcu table: {shape}");
        }
    }
    let opt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| v.to_string());
    println!(
        "RESULT ops={} secs={} bytes_per_entry={} peak_bytes_per_entry={} p50_ns={} \
         p99_ns={} p999_ns={} max_ns={} writer_secs={}",
        out.ops,
        out.secs,
        opt(out.bytes_per_entry),
        opt(out.peak_bytes_per_entry),
        opt(out.p50_ns),
        opt(out.p99_ns),
        opt(out.p999_ns),
        opt(out.max_ns),
        opt(out.writer_secs),
    );
}

// ---------------------------------------------------------------------------
// Parent side: run every case in a child, then print the table and CSV
// ---------------------------------------------------------------------------

struct Row {
    workload: String,
    /// Thread count as shown ("1r+1w" for resize_latency).
    threads: String,
    keys: Keys,
    name: &'static str,
    /// `None` when the child failed.
    outcome: Option<Outcome>,
}

impl Row {
    fn mops(&self) -> Option<f64> {
        self.outcome
            .as_ref()
            .filter(|o| o.secs > 0.0)
            .map(|o| o.ops as f64 / o.secs / 1e6)
    }

    /// What the case is: workload, threads, keys, implementation.
    fn labels(&self) -> [String; 4] {
        [
            self.workload.clone(),
            self.threads.clone(),
            self.keys.name().to_string(),
            self.name.to_string(),
        ]
    }

    /// The workload-specific columns: bytes per entry and its peak, and
    /// p50, p99, p99.9 and max ns.
    fn extras(&self) -> [Option<f64>; 6] {
        let o = self.outcome.as_ref();
        [
            o.and_then(|o| o.bytes_per_entry),
            o.and_then(|o| o.peak_bytes_per_entry),
            o.and_then(|o| o.p50_ns),
            o.and_then(|o| o.p99_ns),
            o.and_then(|o| o.p999_ns),
            o.and_then(|o| o.max_ns),
        ]
    }

    /// The metric "vs best peer" compares, and whether higher is better.
    fn metric(&self) -> (&'static str, Option<f64>, bool) {
        let o = self.outcome.as_ref();
        match self.workload.as_str() {
            "memory" => ("bytes/entry", o.and_then(|o| o.bytes_per_entry), false),
            "resize_latency" => ("p99 ns", o.and_then(|o| o.p99_ns), false),
            _ => ("Mops/s", self.mops(), true),
        }
    }
}

impl CaseRow for Row {
    fn group(&self) -> String {
        format!(
            "{} threads={} keys={}",
            self.workload,
            self.threads,
            self.keys.name()
        )
    }
    fn implementation(&self) -> &str {
        self.name
    }
    fn is_ours(&self) -> bool {
        is_urcu(self.name)
    }
    fn is_peer(&self) -> bool {
        !is_urcu(self.name)
    }
    fn figure(&self) -> Option<f64> {
        self.metric().1
    }
    fn higher_is_better(&self) -> bool {
        self.metric().2
    }
}

fn parse_result(fields: Vec<(String, String)>) -> Option<Outcome> {
    let mut o = Outcome::default();
    for (k, v) in &fields {
        let num = || v.parse::<f64>().ok();
        match k.as_str() {
            "ops" => o.ops = v.parse().ok()?,
            "secs" => o.secs = num()?,
            "bytes_per_entry" => o.bytes_per_entry = num(),
            "peak_bytes_per_entry" => o.peak_bytes_per_entry = num(),
            "p50_ns" => o.p50_ns = num(),
            "p99_ns" => o.p99_ns = num(),
            "p999_ns" => o.p999_ns = num(),
            "max_ns" => o.max_ns = num(),
            "writer_secs" => o.writer_secs = num(),
            _ => {}
        }
    }
    Some(o)
}

fn run_in_child(
    exe: &std::path::Path,
    workload: &str,
    name: &str,
    threads: usize,
    keys: Keys,
    cfg: &Config,
) -> Option<Outcome> {
    let mut args = vec![
        "--keys".to_string(),
        keys.name().to_string(),
        "--secs".to_string(),
        cfg.secs.to_string(),
        "--capacity-log2".to_string(),
        cfg.capacity_log2.to_string(),
        "--ops-factor".to_string(),
        cfg.ops_factor.to_string(),
        "--pin-batch".to_string(),
        pin_batch().to_string(),
    ];
    if cfg.smoke {
        args.push("--smoke".to_string());
    }
    common::run_case(exe, workload, name, threads, &args).and_then(parse_result)
}

fn main() {
    let mut args = parse_args();
    if let Some(case) = &args.case {
        let threads = args.threads.first().copied().unwrap_or(1);
        run_child(case, threads, args.keys[0], &args.cfg);
        return;
    }

    let threads = if args.bench {
        args.threads.clone()
    } else {
        eprintln!("map: no --bench flag (e.g. under `cargo test`): short smoke run, no CSV");
        args.cfg = Config {
            capacity_log2: SMOKE_CAPACITY_LOG2,
            ops_factor: 1.0,
            secs: 0.05,
            smoke: true,
        };
        args.keys = Keys::ALL.to_vec();
        vec![1, 2]
    };
    let cfg = &args.cfg;
    eprintln!(
        "map: capacity 2^{}, ops factor {}, {} s per own_loop case, pin batch {}",
        cfg.capacity_log2,
        cfg.ops_factor,
        cfg.secs,
        pin_batch()
    );
    let exe = std::env::current_exe().expect("path of this benchmark binary");
    // (workload, keys, threads passed to the child, threads as shown,
    // implementation)
    let mut cases: Vec<(String, Keys, usize, String, &'static str)> = Vec::new();
    for w in &args.workloads {
        let counts: Vec<(usize, String)> = match w.as_str() {
            "memory" => vec![(1, "1".into())],
            "resize_latency" => vec![(1, "1r+1w".into())],
            _ => threads.iter().map(|&t| (t, t.to_string())).collect(),
        };
        let keys = if takes_keys(w) {
            args.keys.clone()
        } else {
            vec![Keys::U64]
        };
        for k in keys {
            for (t, shown) in &counts {
                for &name in IMPLS.iter().filter(|&&name| k.holds(name)) {
                    cases.push((w.clone(), k, *t, shown.clone(), name));
                }
            }
        }
    }

    let runs = rounds::run_rounds(
        &cases,
        args.rounds,
        |(workload, k, _, shown, name)| {
            format!("{workload} threads={shown} keys={} {name}", k.name())
        },
        |(workload, k, t, shown, name)| Row {
            workload: workload.clone(),
            threads: shown.clone(),
            keys: *k,
            name,
            outcome: run_in_child(&exe, workload, name, *t, *k, cfg),
        },
    );
    if args.rounds > 1 {
        rounds::print_round_ratios(&runs);
    }
    let rows: Vec<Row> = runs.into_iter().map(rounds::median_run).collect();
    // Ratio to the best peer of the same workload, thread count and keys.
    let ratios = rounds::ratios_to_best_peer(&rows);
    let dash = || "-".to_string();
    let opt = |v: Option<f64>| v.filter(|v| v.is_finite()).map_or_else(dash, num);
    let table: Vec<Vec<String>> = rows
        .iter()
        .zip(&ratios)
        .map(|(r, ratio)| {
            let figures = [
                r.mops().map_or("failed".into(), num),
                ratio.map_or_else(dash, |x| format!("{x:.3}")),
                r.metric().0.to_string(),
            ];
            let extras = r.extras().map(opt);
            r.labels()
                .into_iter()
                .chain(figures)
                .chain(extras)
                .collect()
        })
        .collect();

    let header = [
        "workload",
        "threads",
        "keys",
        "implementation",
        "Mops/s",
        "vs best peer",
        "ratio of",
        "B/entry",
        "peak B/entry",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "max ns",
    ];
    common::print_table(&header, &table, |c| c < 4 || c == 6);

    if args.bench {
        let dir = common::output_dir("map");
        let mut csv = format!(
            "# capacity_log2={} ops_factor={} secs={} pin_batch={} rounds={} (median run)\n\
             workload,threads,keys,implementation,mops,ratio_to_best_peer,ratio_of,\
             bytes_per_entry,peak_bytes_per_entry,p50_ns,p99_ns,p999_ns,max_ns,writer_secs\n",
            cfg.capacity_log2,
            cfg.ops_factor,
            cfg.secs,
            pin_batch(),
            args.rounds
        );
        let field = |v: Option<f64>| {
            v.filter(|v| v.is_finite())
                .map_or(String::new(), |v| format!("{v:.6}"))
        };
        for (r, ratio) in rows.iter().zip(&ratios) {
            let figures = [field(r.mops()), field(*ratio), r.metric().0.to_string()];
            let extras = r.extras().map(field);
            let writer = field(r.outcome.as_ref().and_then(|o| o.writer_secs));
            let cells: Vec<String> = r
                .labels()
                .into_iter()
                .chain(figures)
                .chain(extras)
                .chain([writer])
                .collect();
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
        let path = dir.join("results.csv");
        std::fs::write(&path, csv).expect("write results.csv");
        eprintln!("wrote {}", path.display());
        // One plot per workload and keys: `read_heavy`, `read_heavy-string`.
        let plot_names: Vec<String> = rows
            .iter()
            .map(|r| match r.keys {
                Keys::U64 => r.workload.clone(),
                k => format!("{}-{}", r.workload, k.name()),
            })
            .collect();
        let points = rows.iter().zip(&plot_names).map(|(r, plot)| {
            let (unit, value, _) = r.metric();
            common::plot::Point {
                workload: plot,
                threads: common::plot::leading_number(&r.threads),
                implementation: r.name,
                value,
                unit,
            }
        });
        for path in common::plot::write_workload_plots(&dir, "map", points, is_urcu) {
            eprintln!("wrote {}", path.display());
        }
    }
}
