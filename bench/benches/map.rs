//! Concurrent hash maps: urcu's `RcuHashMap` against its peers.
//!
//! ```text
//! cargo bench -p urcu-bench --bench map -- --threads 1,2 --secs 1 \
//!     --workloads read_heavy,exchange,rapid_grow,own_loop,get_hit,get_miss,remove_miss,churn,grow,memory,resize_latency
//! # the bustle workloads with string keys and 64-byte values, and with u64s:
//! cargo bench -p urcu-bench --bench map -- --threads 1,2 --workloads read_heavy,exchange,rapid_grow \
//!     --keys u64,string
//! # the published configuration (16 cores):
//! cargo bench -p urcu-bench --bench map -- --threads 1,2,4,8,16 --capacity-log2 21 --ops-factor 3
//! # batched lookups and bulk loads (one thread each):
//! cargo bench -p urcu-bench --bench map -- --workloads batch_get --capacity-log2 21 --rounds 5
//! cargo bench -p urcu-bench --bench map -- --workloads bulk_load --capacity-log2 22 --rounds 3
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
//! Implementations (the peers' sessions are `bench/src/map_session.rs`,
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
//! - `get_hit`, `get_miss`, `remove_miss`, `churn`, `grow`: one kind of operation at a
//!   time, on a map created for `2^--capacity-log2` entries and prefilled
//!   to 75 % of that with each thread's own random keys; then each thread
//!   does its share of capacity × `--ops-factor` operations: gets of its
//!   present keys (`get_hit`), gets of absent keys (`get_miss`), removals
//!   of absent keys (`remove_miss`: deletes that find nothing), inserts of
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
//! - `batch_get`: batched lookups against single ones, on a table larger
//!   than the caches (at `--capacity-log2 21`). A map built for
//!   `2^--capacity-log2` keys holds 3/4 of that (`u64 → u64`); one thread
//!   looks up 8 M keys drawn at random from the present ones, holding its
//!   guard (or handle) for 128 keys at a time. Keys are computed, not
//!   loaded from an array, so the only cache misses are the maps' own.
//!   Implementations: `urcu-inline` and `urcu` (one `get` per key), and
//!   `urcu-inline-xN` and `urcu-xN` (`Pinned::get_many` over N = 8, 16 or
//!   32 keys at a time), against papaya's `get` and scc `HashIndex`'s
//!   `peek`. "ns/op" is ns per key. A single lookup waits for its bucket
//!   line (and a boxed entry) before the next can start, as far as the
//!   CPU's window lets lookups overlap; `get_many` requests all N bucket
//!   lines first, so their misses overlap.
//! - `bulk_load`: `Extend` of `2^--capacity-log2` `u64 → u64` pairs into
//!   an empty map built with room for them, one thread, against each
//!   peer's fastest way to do the same (dashmap's `Extend`, papaya's and
//!   scc's inserts); `std-hashmap` (not concurrent) is shown as a
//!   baseline; `urcu-inline-par` and `urcu-par` load with rayon's
//!   `par_extend` on all the machine's threads. "ns/op" is ns per pair.
//!   Each case is its own process, so one case's freed memory (millions of
//!   small chunks that glibc coalesces later) does not slow the next.
//!
//! `--threads` does not apply to `memory`, `resize_latency`, `batch_get`
//! and `bulk_load`, which run at their fixed thread counts; nor
//! `--ops-factor` to the last two.
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
//! `--settle SECS` (default 6; 0 in the smoke pass) pauses before each case
//! of a workload that grows its table while timed (`rapid_grow`, `grow`,
//! `bulk_load`, `resize_latency`). On a VM whose balloon takes freed memory
//! back (free page reporting: the 2-core VM's kernel reports free 2 MiB
//! blocks to the host a few seconds after they are freed), a child started
//! at once gets the memory its predecessor just freed still backed, and
//! faults huge pages in several times faster than one that starts later:
//! urcu-inline's RapidGrow ran 4.0–4.7 M ops/s right after a process had
//! freed 1 GiB and 3.0–3.5 six seconds later, while dashmap, scc and papaya
//! (4 KiB pages, which the guest serves from memory it still holds) ran
//! level either way. With the pause every case starts on the memory a
//! long-running process would get.
//!
//! The table goes to stdout and, as CSV, to `target/map/results.csv`
//! (`$CARGO_TARGET_DIR/map/` when that is set), with one SVG plot per
//! workload (`read_heavy.svg`, and `read_heavy-string.svg` for string
//! keys); progress goes to stderr.
//! "vs best peer" compares with the non-urcu implementation with the best
//! (median) figure of the same workload, thread count and keys (`bulk_load`'s
//! `std-hashmap` is not a peer), on the metric named in "ratio of": Mops/s
//! (higher is better) for the throughput workloads (for `batch_get` and
//! `bulk_load` that is the ratio of the best peer's ns/op to ours), bytes
//! per entry for `memory` and p99 ns for `resize_latency` (lower is better
//! for both).
//!
//! Without `--bench` (which `cargo bench` passes, and `cargo test
//! --all-targets` does not) it only runs a small smoke pass (both key
//! types) and writes no CSV; pass `--bench` to run the binary directly.

use bustle::{Collection, CollectionHandle, Mix, Workload};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};
use urcu::urcu_structures::{Boxed, Inline, MapStorage};
use urcu::RcuHashMap;
use urcu_bench::driver::{self, Args, Case, Column, Format, Metric, Outcome, Role, Spec};
use urcu_bench::map_session::{
    insert_seed, own_loop_op, prefill_even_keys, BenchKey, DashMap, Map, MapSession, Papaya,
    SccIndex, SccMap, StdMap, StrKey, Urcu, UrcuPinPerOp,
};
use urcu_bench::{plot, status_kib, XorShift};

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
    "remove_miss",
    "churn",
    "grow",
    "memory",
    "resize_latency",
    "batch_get",
    "bulk_load",
];

/// `batch_get`'s implementations: one `get` per key, and `get_many` over
/// 8, 16 or 32 keys at a time, for each storage; the peers' single lookups.
const BATCH_GET_IMPLS: &[&str] = &[
    "urcu-inline",
    "urcu-inline-x8",
    "urcu-inline-x16",
    "urcu-inline-x32",
    "urcu",
    "urcu-x8",
    "urcu-x16",
    "urcu-x32",
    "papaya",
    "scc-hashindex",
];

/// `bulk_load`'s implementations: one thread each, except the `-par` ones
/// (rayon's `par_extend` on all the machine's threads); `std-hashmap` (not
/// concurrent) is a baseline.
const BULK_LOAD_IMPLS: &[&str] = &[
    "urcu-inline",
    "urcu",
    "dashmap",
    "papaya",
    "scc-hashindex",
    "std-hashmap",
    "urcu-inline-par",
    "urcu-par",
];

/// The implementations of `workload`.
fn impls_of(workload: &str) -> &'static [&'static str] {
    match workload {
        "batch_get" => BATCH_GET_IMPLS,
        "bulk_load" => BULK_LOAD_IMPLS,
        _ => IMPLS,
    }
}

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
        "read_heavy"
            | "exchange"
            | "rapid_grow"
            | "get_hit"
            | "get_miss"
            | "remove_miss"
            | "churn"
            | "grow"
    )
}

// ---------------------------------------------------------------------------
// The implementations (the shared ones: bench/src/map_session.rs)
// ---------------------------------------------------------------------------

/// The shape of the map the last bustle run built (bustle owns the map, so
/// the child asks through this when the run is over).
type ShapeProbe = Box<dyn Fn() -> Option<String> + Send + Sync>;
static LAST_MAP: std::sync::Mutex<Option<ShapeProbe>> = std::sync::Mutex::new(None);

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
    Outcome::new(m.total_ops, m.spent.as_secs_f64())
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
    /// Removals of absent keys.
    RemoveMiss,
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
                    OpKind::RemoveMiss => {
                        found += u64::from(s.remove(&absent[rng.next() as usize % ABSENT_KEYS]));
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
        Outcome::new((ops * threads) as u64, t0.elapsed().as_secs_f64())
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
        Outcome::new(ops, elapsed)
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
    Outcome::new(entries, secs)
        .with("bytes_per_entry", per_entry(after))
        .with("peak_bytes_per_entry", per_entry(peak))
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
    Outcome::new(gets, reader_secs)
        .with("p50_ns", q(0.5))
        .with("p99_ns", q(0.99))
        .with("p999_ns", q(0.999))
        .with("max_ns", q(1.0))
        .with("writer_secs", writer_secs)
}

// ---------------------------------------------------------------------------
// batch_get
// ---------------------------------------------------------------------------

/// `batch_get`: lookups per case, and lookups under one guard.
const BATCH_GET_LOOKUPS: u64 = 8 << 20;
const BATCH_GET_PER_GUARD: u64 = 128;

/// The `i`-th present key of `batch_get` and `bulk_load`: keys spread by a
/// multiplication, so that keys in order still touch buckets at random.
fn spread_key(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Indices of present keys: a fast generator, so that the loop measures
/// the maps.
struct Lcg(u64);

impl Lcg {
    #[inline(always)]
    fn next_below(&mut self, present: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % present
    }
}

/// An outcome of `ops` operations in `secs`, with its ns per operation.
fn per_op(ops: u64, secs: f64) -> Outcome {
    Outcome::new(ops, secs).with("ns_per_op", secs * 1e9 / ops as f64)
}

/// Times `lookups` lookups: `guarded` does one guard's worth
/// ([`BATCH_GET_PER_GUARD`] keys drawn from the generator) and returns how
/// many it found.
fn time_lookups(lookups: u64, mut guarded: impl FnMut(&mut Lcg) -> u64) -> Outcome {
    let mut rng = Lcg(1);
    let mut hits = 0u64;
    let t = Instant::now();
    for _ in 0..lookups / BATCH_GET_PER_GUARD {
        hits += guarded(&mut rng);
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(black_box(hits), lookups, "every key is present");
    per_op(lookups, secs)
}

/// `RcuHashMap<u64, u64>` with storage `S`, built with `capacity` and
/// holding the first `present` keys.
fn batch_get_urcu<S: MapStorage<u64, u64>>(
    capacity: usize,
    present: u64,
) -> RcuHashMap<u64, u64, ahash::RandomState, S> {
    let map = RcuHashMap::builder()
        .capacity(capacity)
        .storage::<S>()
        .build();
    let m = map.pin();
    for i in 0..present {
        m.insert(spread_key(i), i);
    }
    drop(m);
    map
}

/// urcu with storage `S`: one `get` per key (`batch` 1), or `get_many`
/// over `batch` keys at a time (8, 16 or 32).
fn batch_get_urcu_case<S: MapStorage<u64, u64>>(
    batch: usize,
    capacity: usize,
    present: u64,
    lookups: u64,
) -> Outcome {
    let map = batch_get_urcu::<S>(capacity, present);
    fn many<S: MapStorage<u64, u64>, const N: usize>(
        map: &RcuHashMap<u64, u64, ahash::RandomState, S>,
        present: u64,
        lookups: u64,
    ) -> Outcome {
        time_lookups(lookups, |rng| {
            let m = map.pin();
            (0..BATCH_GET_PER_GUARD / N as u64)
                .map(|_| {
                    let keys: [u64; N] =
                        std::array::from_fn(|_| spread_key(rng.next_below(present)));
                    let found = m.get_many(keys.each_ref());
                    found.iter().filter(|v| v.is_some()).count() as u64
                })
                .sum()
        })
    }
    match batch {
        1 => time_lookups(lookups, |rng| {
            let m = map.pin();
            (0..BATCH_GET_PER_GUARD)
                .map(|_| u64::from(m.get(&spread_key(rng.next_below(present))).is_some()))
                .sum()
        }),
        8 => many::<S, 8>(&map, present, lookups),
        16 => many::<S, 16>(&map, present, lookups),
        32 => many::<S, 32>(&map, present, lookups),
        other => panic!("no get_many batch of {other}"),
    }
}

/// `batch_get`: a map built for `2^--capacity-log2` keys holding 3/4 of
/// that, then one thread looks up keys drawn at random from the present
/// ones, holding its guard (or handle) for 128 keys at a time.
fn batch_get_case(name: &str, cfg: &Config) -> Outcome {
    let capacity = 1usize << cfg.capacity_log2;
    let present = (capacity * 3 / 4) as u64;
    let lookups = if cfg.smoke {
        BATCH_GET_LOOKUPS >> SMOKE_SCALE_DOWN
    } else {
        BATCH_GET_LOOKUPS
    };
    let batch = |suffix: &str| -> usize {
        suffix
            .strip_prefix("-x")
            .map_or(1, |n| n.parse().expect("a get_many batch"))
    };
    match name {
        "papaya" => {
            let map: Papaya<u64> =
                papaya::HashMap::with_capacity_and_hasher(capacity, ahash::RandomState::new());
            let p = map.pin();
            for i in 0..present {
                p.insert(spread_key(i), i);
            }
            drop(p);
            time_lookups(lookups, |rng| {
                let g = map.guard();
                (0..BATCH_GET_PER_GUARD)
                    .map(|_| u64::from(map.get(&spread_key(rng.next_below(present)), &g).is_some()))
                    .sum()
            })
        }
        "scc-hashindex" => {
            let map: SccIndex<u64> =
                scc::HashIndex::with_capacity_and_hasher(capacity, ahash::RandomState::new());
            for i in 0..present {
                let _ = map.insert_sync(spread_key(i), i);
            }
            time_lookups(lookups, |rng| {
                let g = scc::Guard::new();
                (0..BATCH_GET_PER_GUARD)
                    .map(|_| {
                        u64::from(map.peek(&spread_key(rng.next_below(present)), &g).is_some())
                    })
                    .sum()
            })
        }
        _ => match name.strip_prefix("urcu-inline") {
            Some(rest) => batch_get_urcu_case::<Inline>(batch(rest), capacity, present, lookups),
            None => {
                let rest = name
                    .strip_prefix("urcu")
                    .unwrap_or_else(|| panic!("unknown batch_get implementation {name:?}"));
                batch_get_urcu_case::<Boxed>(batch(rest), capacity, present, lookups)
            }
        },
    }
}

// ---------------------------------------------------------------------------
// bulk_load
// ---------------------------------------------------------------------------

/// `bulk_load`: `Extend` of `2^--capacity-log2` pairs `(spread_key(k), k)`
/// into an empty map built with room for them, or each peer's fastest way
/// to do the same. The map is dropped outside the timing.
fn bulk_load_case(name: &str, cfg: &Config) -> Outcome {
    use rayon::prelude::*;
    let n = 1u64 << cfg.capacity_log2;
    let cap = n as usize;
    let pairs = || (0..n).map(|k| (spread_key(k), k));
    let par_pairs = || (0..n).into_par_iter().map(|k| (spread_key(k), k));
    let hasher = ahash::RandomState::new;
    let t = Instant::now();
    let (len, keep): (usize, Box<dyn std::any::Any>) = match name {
        "urcu-inline" | "urcu-inline-par" => {
            let m: RcuHashMap<u64, u64, _, Inline> =
                RcuHashMap::builder().inline().capacity(cap).build();
            if name.ends_with("-par") {
                (&m).par_extend(par_pairs());
            } else {
                (&m).extend(pairs());
            }
            (m.len(), Box::new(m))
        }
        "urcu" | "urcu-par" => {
            let m: RcuHashMap<u64, u64> = RcuHashMap::with_capacity(cap);
            if name.ends_with("-par") {
                (&m).par_extend(par_pairs());
            } else {
                (&m).extend(pairs());
            }
            (m.len(), Box::new(m))
        }
        "dashmap" => {
            let mut m: DashMap<u64> = dashmap::DashMap::with_capacity_and_hasher(cap, hasher());
            m.extend(pairs());
            (m.len(), Box::new(m))
        }
        "papaya" => {
            let m: Papaya<u64> = papaya::HashMap::with_capacity_and_hasher(cap, hasher());
            let p = m.pin();
            for (k, v) in pairs() {
                p.insert(k, v);
            }
            let len = p.len();
            drop(p);
            (len, Box::new(m))
        }
        "scc-hashindex" => {
            let m: SccIndex<u64> = scc::HashIndex::with_capacity_and_hasher(cap, hasher());
            for (k, v) in pairs() {
                let _ = m.insert_sync(k, v);
            }
            (m.len(), Box::new(m))
        }
        "std-hashmap" => {
            let mut m = std::collections::HashMap::with_capacity_and_hasher(cap, hasher());
            m.extend(pairs());
            (m.len(), Box::new(m))
        }
        other => panic!("unknown bulk_load implementation {other:?}"),
    };
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(len as u64, n, "{name}: every pair loaded");
    drop(keep);
    per_op(n, secs)
}

// ---------------------------------------------------------------------------
// Command line (the common flags: urcu_bench::driver::Args)
// ---------------------------------------------------------------------------

const SPEC: Spec = Spec {
    name: "map",
    workloads: WORKLOADS,
    usage: "[--capacity-log2 18] [--ops-factor 1] [--pin-batch 128] \
            [--keys u64 | string | u64,string] [--settle 6]",
};

/// What a child needs besides the common flags.
struct Config {
    capacity_log2: u8,
    ops_factor: f64,
    secs: f64,
    smoke: bool,
    /// `--settle SECS`: the pause before each case of a workload that
    /// grows a table while timed (driver side only).
    settle: f64,
}

/// Workloads whose timed part faults in fresh memory for the tables they
/// grow, and so run after a `--settle` pause.
fn grows_while_timed(workload: &str) -> bool {
    matches!(
        workload,
        "rapid_grow" | "grow" | "bulk_load" | "resize_latency"
    )
}

impl Config {
    /// The flags that pass this configuration to a child.
    fn child_args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            ("--secs", self.secs.to_string()),
            ("--capacity-log2", self.capacity_log2.to_string()),
            ("--ops-factor", self.ops_factor.to_string()),
            ("--pin-batch", pin_batch().to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, v)| [flag.to_string(), v])
        .collect();
        if self.smoke {
            args.push("--smoke".into());
        }
        args
    }
}

/// The driver's own flags, as `Args::parse` hands them over.
fn own_flag(cfg: &mut Config, keys: &mut Vec<Keys>, flag: &str, value: &mut dyn FnMut() -> String) {
    match flag {
        "--capacity-log2" => {
            cfg.capacity_log2 = value()
                .parse()
                .expect("--capacity-log2 takes a small integer")
        }
        "--ops-factor" => cfg.ops_factor = value().parse().expect("--ops-factor takes a number"),
        "--pin-batch" => {
            let n: u32 = value()
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .expect("--pin-batch takes a positive count");
            PIN_BATCH.store(n, Ordering::Relaxed);
        }
        "--keys" => *keys = Keys::parse_list(&value()),
        "--smoke" => cfg.smoke = true,
        "--settle" => {
            cfg.settle = value()
                .parse()
                .ok()
                .filter(|s: &f64| *s >= 0.0)
                .expect("--settle takes a number of seconds")
        }
        // Anything else (cargo's flags, filters) is ignored.
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Child side
// ---------------------------------------------------------------------------

fn run_workload<M: Map>(workload: &str, threads: usize, cfg: &Config) -> Outcome {
    match workload {
        "read_heavy" | "exchange" | "rapid_grow" => bustle_case::<M>(workload, threads, cfg),
        "own_loop" => own_loop_case::<M>(threads, cfg.secs, cfg.smoke),
        "get_hit" => op_case::<M>(OpKind::GetHit, threads, cfg),
        "get_miss" => op_case::<M>(OpKind::GetMiss, threads, cfg),
        "remove_miss" => op_case::<M>(OpKind::RemoveMiss, threads, cfg),
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
    let (workload, name) = Args::split_case(case);
    assert!(
        keys == Keys::U64 || takes_keys(workload),
        "{workload} runs with u64 keys only"
    );
    assert!(keys.holds(name), "{name} cannot hold {} keys", keys.name());
    let out = match (name, keys) {
        _ if workload == "batch_get" => batch_get_case(name, cfg),
        _ if workload == "bulk_load" => bulk_load_case(name, cfg),
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
    println!("{}", out.result_line());
}

// ---------------------------------------------------------------------------
// Parent side: run every case in a child, then print the table and CSV
// ---------------------------------------------------------------------------

/// The columns of the table and CSV after the common ones: bytes per entry
/// and its peak (`memory`), latency quantiles (`resize_latency`).
const COLUMNS: &[Column] = &[
    Column {
        header: Some("ns/op"),
        csv: "ns_per_op",
        field: "ns_per_op",
        format: Format::Num,
    },
    Column {
        header: Some("B/entry"),
        csv: "bytes_per_entry",
        field: "bytes_per_entry",
        format: Format::Num,
    },
    Column {
        header: Some("peak B/entry"),
        csv: "peak_bytes_per_entry",
        field: "peak_bytes_per_entry",
        format: Format::Num,
    },
    Column {
        header: Some("p50 ns"),
        csv: "p50_ns",
        field: "p50_ns",
        format: Format::Num,
    },
    Column {
        header: Some("p99 ns"),
        csv: "p99_ns",
        field: "p99_ns",
        format: Format::Num,
    },
    Column {
        header: Some("p99.9 ns"),
        csv: "p999_ns",
        field: "p999_ns",
        format: Format::Num,
    },
    Column {
        header: Some("max ns"),
        csv: "max_ns",
        field: "max_ns",
        format: Format::Num,
    },
    Column {
        header: None,
        csv: "writer_secs",
        field: "writer_secs",
        format: Format::Num,
    },
];

/// "vs best peer" compares Mops/s, except for `memory` (bytes per entry)
/// and `resize_latency` (p99 ns), where lower is better.
fn classify(case: &Case) -> (Role, Metric) {
    let role = match case.implementation {
        name if is_urcu(name) => Role::Ours,
        "std-hashmap" => Role::Baseline,
        _ => Role::Peer,
    };
    let metric = match case.workload.as_str() {
        "memory" => Metric {
            label: "bytes/entry",
            field: "bytes_per_entry",
            higher_is_better: false,
        },
        "resize_latency" => Metric {
            label: "p99 ns",
            field: "p99_ns",
            higher_is_better: false,
        },
        _ => Metric::MOPS,
    };
    (role, metric)
}

fn main() {
    let mut cfg = Config {
        capacity_log2: 18,
        ops_factor: 1.0,
        secs: 1.0,
        smoke: false,
        settle: 6.0,
    };
    let mut keys = vec![Keys::U64];
    let args = Args::parse(&SPEC, vec![1, 2], |flag, value| {
        own_flag(&mut cfg, &mut keys, flag, value)
    });
    cfg.secs = args.secs;
    if let Some(case) = &args.case {
        run_child(case, args.child_threads(), keys[0], &cfg);
        return;
    }

    let threads = if args.bench {
        args.threads.clone()
    } else {
        eprintln!("map: no --bench flag (e.g. under `cargo test`): short smoke run, no CSV");
        cfg = Config {
            capacity_log2: SMOKE_CAPACITY_LOG2,
            ops_factor: 1.0,
            secs: 0.05,
            smoke: true,
            settle: 0.0,
        };
        keys = Keys::ALL.to_vec();
        vec![1, 2]
    };
    eprintln!(
        "map: capacity 2^{}, ops factor {}, {} s per own_loop case, pin batch {}",
        cfg.capacity_log2,
        cfg.ops_factor,
        cfg.secs,
        pin_batch()
    );
    let exe = std::env::current_exe().expect("path of this benchmark binary");
    let mut cases: Vec<Case> = Vec::new();
    for w in &args.workloads {
        // (threads passed to the child, threads as shown)
        let counts: Vec<(usize, String)> = match w.as_str() {
            "memory" | "batch_get" | "bulk_load" => vec![(1, "1".into())],
            "resize_latency" => vec![(1, "1r+1w".into())],
            _ => threads.iter().map(|&t| (t, t.to_string())).collect(),
        };
        let keys = if takes_keys(w) {
            keys.clone()
        } else {
            vec![Keys::U64]
        };
        for k in keys {
            for (t, shown) in &counts {
                for &name in impls_of(w).iter().filter(|&&name| k.holds(name)) {
                    let settle = if grows_while_timed(w) {
                        cfg.settle
                    } else {
                        0.0
                    };
                    cases.push(Case {
                        shown: shown.clone(),
                        keys: Some(k.name()),
                        settle: Duration::from_secs_f64(settle),
                        ..Case::new(w, *t, name)
                    });
                }
            }
        }
    }

    let rows = driver::run_rounds(&exe, &cases, args.rounds, &cfg.child_args(), classify);
    driver::print_table(&rows, COLUMNS);

    if args.bench {
        let dir = driver::output_dir("map");
        let comment = format!(
            "capacity_log2={} ops_factor={} secs={} pin_batch={} rounds={} (median run)",
            cfg.capacity_log2,
            cfg.ops_factor,
            cfg.secs,
            pin_batch(),
            args.rounds
        );
        driver::write_csv(&dir.join("results.csv"), Some(&comment), &rows, COLUMNS);
        // One plot per workload and keys: `read_heavy`, `read_heavy-string`.
        let plot_names: Vec<String> = rows
            .iter()
            .map(|r| match r.case.keys {
                Some("u64") | None => r.case.workload.clone(),
                Some(k) => format!("{}-{k}", r.case.workload),
            })
            .collect();
        let points = rows.iter().zip(&plot_names).map(|(r, name)| plot::Point {
            workload: name,
            threads: plot::leading_number(&r.case.shown),
            implementation: r.case.implementation,
            value: r.figure(),
            unit: r.metric.label,
        });
        for path in plot::write_workload_plots(&dir, "map", points, is_urcu) {
            eprintln!("wrote {}", path.display());
        }
    }
}
