//! `Pinned::update_or_insert_with` and `Pinned::compute`: read-modify-write
//! of one key under its bucket lock.
//!
//! - concurrent upserts of 16 hot keys lose no increment and double none
//!   (final counts exact; the values the calls returned are each count
//!   exactly once), and every call runs exactly one of its closures, once;
//! - the same while the table grows and shrinks under the writers (each
//!   writer inserts, then removes, other keys between its upserts);
//! - `compute` with an insert/update/remove/keep mix: against a
//!   `std::collections::HashMap` model on one thread, and on four threads
//!   with values that number every write of a key, so that two closures
//!   that saw the same value would write the same number;
//! - a closure that panics leaves the map as it was and its bucket
//!   unlocked, also on four threads while the table resizes, and every
//!   value is dropped once;
//! - a write to the map from inside its own closure panics instead of
//!   deadlocking.
//!
//! Both storages (boxed entries and inline pairs) throughout.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;
use urcu::{Boxed, Compute, Computed, Domain, Inline, MapStorage, RcuHashMap};

mod common;
use common::{expect_panic, stress, within, DropCount, Rng};

/// A u64 map with storage `M`.
type Map<M> = RcuHashMap<u64, u64, ahash::RandomState, M>;

/// Writer threads.
const THREADS: u64 = 4;
/// The hot keys they all write.
const KEYS: u64 = 16;

/// An empty map of the smallest table (16 buckets), so the other keys make
/// it resize.
fn map_in<M: MapStorage<u64, u64>>(d: &Domain) -> Map<M> {
    RcuHashMap::<u64, u64>::builder()
        .domain(d)
        .storage::<M>()
        .build()
}

/// A key of writer `t` that is not hot (keys `0..KEYS` are).
fn other(t: u64, i: u64) -> u64 {
    (t + 1) << 32 | i
}

/// Runs a scenario on a watchdog thread: a deadlock (a bucket left locked)
/// fails the test instead of hanging it.
fn guarded(what: &'static str, f: impl FnOnce() + Send + 'static) {
    within(Duration::from_secs(300), what, f);
}

/// The payload of the panics these tests plan; the hook keeps them quiet.
struct Planned;

fn quiet_planned_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Planned>() {
                default(info);
            }
        }));
    });
}

/// How a concurrent scenario runs.
#[derive(Clone, Copy)]
struct Mode {
    /// Writers insert other keys in the first half and remove them in the
    /// second: the table grows and shrinks under the upserts.
    resize: bool,
    /// One closure in this many panics (0: none).
    panic_every: u64,
}

const PLAIN: Mode = Mode {
    resize: false,
    panic_every: 0,
};
const RESIZING: Mode = Mode {
    resize: true,
    panic_every: 0,
};
const PANICKY: Mode = Mode {
    resize: true,
    panic_every: 16,
};

/// The resize mode's write after op `i` of writer `t` (of `per`).
fn churn<M: MapStorage<u64, u64>>(
    m: &urcu::Pinned<'_, u64, u64, ahash::RandomState, M>,
    t: u64,
    i: u64,
    per: u64,
) {
    if i < per / 2 {
        assert_eq!(m.insert(other(t, i), i), None);
    } else {
        assert_eq!(m.remove(&other(t, i - per / 2)), Some(&(i - per / 2)));
    }
}

/// What one upsert writer saw.
#[derive(Default)]
struct UpsertTally {
    /// Upserts that completed, per key.
    done: Vec<u64>,
    /// The values they returned, per key.
    returned: Vec<Vec<u64>>,
    /// Closure calls: update, insert.
    updates: u64,
    inserts: u64,
    /// Calls whose closure panicked.
    panicked: u64,
    /// Largest capacity seen.
    max_capacity: usize,
}

fn concurrent_upserts<M: MapStorage<u64, u64>>(mode: Mode) {
    quiet_planned_panics();
    let d = Domain::new();
    let map: Map<M> = map_in(&d);
    let initial_capacity = map.capacity();
    let per = 4000 * stress() as u64;
    let tallies: Vec<UpsertTally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let map = &map;
                s.spawn(move || {
                    let mut rng = Rng::new(t + 1);
                    let mut spinner = Rng::new(t + 50);
                    let mut tally = UpsertTally {
                        done: vec![0; KEYS as usize],
                        returned: vec![Vec::new(); KEYS as usize],
                        ..Default::default()
                    };
                    let mut i = 0;
                    while i < per {
                        // Pins of a few operations: grace periods go on.
                        let m = map.pin();
                        for _ in 0..=rng.below(32) {
                            if i == per {
                                break;
                            }
                            let k = rng.below(KEYS);
                            let fail = mode.panic_every != 0 && rng.below(mode.panic_every) == 0;
                            let (mut updates, mut inserts) = (0, 0);
                            let r = catch_unwind(AssertUnwindSafe(|| {
                                *m.update_or_insert_with(
                                    k,
                                    |v| {
                                        updates += 1;
                                        // A wider window for a racing writer.
                                        spinner.spin();
                                        if fail {
                                            std::panic::panic_any(Planned);
                                        }
                                        v + 1
                                    },
                                    || {
                                        inserts += 1;
                                        if fail {
                                            std::panic::panic_any(Planned);
                                        }
                                        1
                                    },
                                )
                            }));
                            assert_eq!(updates + inserts, 1, "exactly one closure, once");
                            tally.updates += updates;
                            tally.inserts += inserts;
                            match r {
                                Ok(v) => {
                                    tally.done[k as usize] += 1;
                                    tally.returned[k as usize].push(v);
                                }
                                Err(p) => {
                                    assert!(fail && p.is::<Planned>());
                                    tally.panicked += 1;
                                }
                            }
                            if mode.resize {
                                churn(&m, t, i, per);
                            }
                            i += 1;
                        }
                        drop(m);
                        tally.max_capacity = tally.max_capacity.max(map.capacity());
                    }
                    tally
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let ops = THREADS * per;
    let calls: u64 = tallies.iter().map(|t| t.updates + t.inserts).sum();
    assert_eq!(calls, ops, "closure calls = operations");
    let panicked: u64 = tallies.iter().map(|t| t.panicked).sum();
    if mode.panic_every != 0 {
        assert!(panicked > 0, "some closures panicked");
    } else {
        assert_eq!(panicked, 0);
        let inserts: u64 = tallies.iter().map(|t| t.inserts).sum();
        assert_eq!(inserts, KEYS, "each key inserted once, then only updated");
    }
    let m = map.pin();
    for k in 0..KEYS {
        let done: u64 = tallies.iter().map(|t| t.done[k as usize]).sum();
        let mut returned: Vec<u64> = tallies
            .iter()
            .flat_map(|t| t.returned[k as usize].iter().copied())
            .collect();
        returned.sort_unstable();
        // Each completed upsert stored the next number: it returned it, no
        // other call returned it, and the last one is what is stored.
        assert!(
            returned.iter().copied().eq(1..=done),
            "key {k}: the values returned are not 1..={done} (a lost or doubled update)"
        );
        assert_eq!(m.get(&k).copied(), (done > 0).then_some(done), "key {k}");
    }
    assert_eq!(
        map.len() as u64,
        KEYS,
        "the other keys are gone, the hot ones stay"
    );
    assert_eq!(m.iter().count() as u64, KEYS, "each key once");
    if mode.resize {
        let max = tallies.iter().map(|t| t.max_capacity).max().unwrap();
        assert!(max > initial_capacity, "the table grew during the upserts");
    }
}

#[test]
fn concurrent_upserts_lose_nothing() {
    guarded("upserts", || concurrent_upserts::<Boxed>(PLAIN));
}

#[test]
fn concurrent_upserts_lose_nothing_inline() {
    guarded("upserts inline", || concurrent_upserts::<Inline>(PLAIN));
}

#[test]
fn concurrent_upserts_lose_nothing_while_the_table_resizes() {
    guarded("upserts resizing", || concurrent_upserts::<Boxed>(RESIZING));
}

#[test]
fn concurrent_upserts_lose_nothing_while_the_table_resizes_inline() {
    guarded("upserts resizing inline", || {
        concurrent_upserts::<Inline>(RESIZING)
    });
}

#[test]
fn concurrent_upserts_with_panicking_closures() {
    guarded("upserts panicking", || concurrent_upserts::<Boxed>(PANICKY));
}

#[test]
fn concurrent_upserts_with_panicking_closures_inline() {
    guarded("upserts panicking inline", || {
        concurrent_upserts::<Inline>(PANICKY)
    });
}

/// What one compute writer saw.
#[derive(Default)]
struct ComputeTally {
    /// Values written by `Compute::Insert`, per key.
    written: Vec<Vec<u64>>,
    /// Inserts into an absent key, and removals, per key.
    created: Vec<u64>,
    removed: Vec<u64>,
    calls: u64,
    panicked: u64,
    max_capacity: usize,
}

/// Four writers run `compute` on the hot keys. A key's values number its
/// writes: an update stores the old value + 1, an insert into the absent
/// key the value it had when last removed + 1 (`last`, written by the
/// removing closure). If the closures of one key are serialized, every
/// write stores a new number; two closures that saw the same state would
/// store the same one. Each closure also checks that no other closure of
/// its key is running (`busy`).
fn concurrent_computes<M: MapStorage<u64, u64>>(mode: Mode) {
    quiet_planned_panics();
    let d = Domain::new();
    let map: Map<M> = map_in(&d);
    let initial_capacity = map.capacity();
    let per = 4000 * stress() as u64;
    let last: Vec<AtomicU64> = (0..KEYS).map(|_| AtomicU64::new(0)).collect();
    let busy: Vec<AtomicBool> = (0..KEYS).map(|_| AtomicBool::new(false)).collect();
    let tallies: Vec<ComputeTally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (map, last, busy) = (&map, &last, &busy);
                s.spawn(move || {
                    let mut rng = Rng::new(100 + t);
                    let mut tally = ComputeTally {
                        written: vec![Vec::new(); KEYS as usize],
                        created: vec![0; KEYS as usize],
                        removed: vec![0; KEYS as usize],
                        ..Default::default()
                    };
                    let mut i = 0;
                    while i < per {
                        let m = map.pin();
                        for _ in 0..=rng.below(32) {
                            if i == per {
                                break;
                            }
                            let k = rng.below(KEYS);
                            let ku = k as usize;
                            let choice = rng.below(8);
                            let fail = mode.panic_every != 0 && rng.below(mode.panic_every) == 0;
                            let mut calls = 0;
                            let mut decided = None;
                            let r = catch_unwind(AssertUnwindSafe(|| {
                                m.compute(k, |old| {
                                    calls += 1;
                                    assert!(
                                        !busy[ku].swap(true, Ordering::Relaxed),
                                        "two closures of key {k} at once"
                                    );
                                    rng.spin();
                                    let op = match (old, choice) {
                                        (None, 0) => Compute::Keep,
                                        (None, 1) => Compute::Remove,
                                        (None, _) => {
                                            Compute::Insert(last[ku].load(Ordering::Relaxed) + 1)
                                        }
                                        (Some(_), 0) => Compute::Keep,
                                        (Some(&v), 1) => {
                                            if !fail {
                                                last[ku].store(v, Ordering::Relaxed);
                                            }
                                            Compute::Remove
                                        }
                                        (Some(&v), _) => Compute::Insert(v + 1),
                                    };
                                    decided = Some((old.copied(), op));
                                    busy[ku].store(false, Ordering::Relaxed);
                                    if fail {
                                        std::panic::panic_any(Planned);
                                    }
                                    op
                                })
                            }));
                            assert_eq!(calls, 1, "the closure runs exactly once");
                            tally.calls += 1;
                            let (old, op) = decided.expect("the closure ran");
                            match r {
                                Err(p) => {
                                    assert!(fail && p.is::<Planned>());
                                    tally.panicked += 1;
                                }
                                Ok(Computed { old: got_old, new }) => {
                                    assert_eq!(got_old.copied(), old, "old: what the closure saw");
                                    match op {
                                        Compute::Insert(v) => {
                                            assert_eq!(new, Some(&v));
                                            tally.written[ku].push(v);
                                            if old.is_none() {
                                                tally.created[ku] += 1;
                                            }
                                        }
                                        Compute::Remove => {
                                            assert_eq!(new, None);
                                            if old.is_some() {
                                                tally.removed[ku] += 1;
                                            }
                                        }
                                        Compute::Keep => {
                                            assert_eq!(new.copied(), old);
                                            if let (Some(a), Some(b)) = (got_old, new) {
                                                assert!(std::ptr::eq(a, b), "keep: the same value");
                                            }
                                        }
                                    }
                                }
                            }
                            if mode.resize {
                                churn(&m, t, i, per);
                            }
                            i += 1;
                        }
                        drop(m);
                        tally.max_capacity = tally.max_capacity.max(map.capacity());
                    }
                    tally
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    assert_eq!(tallies.iter().map(|t| t.calls).sum::<u64>(), THREADS * per);
    let panicked: u64 = tallies.iter().map(|t| t.panicked).sum();
    assert_eq!(panicked > 0, mode.panic_every != 0);
    let m = map.pin();
    let mut present = 0;
    for k in 0..KEYS {
        let ku = k as usize;
        let mut written: Vec<u64> = tallies
            .iter()
            .flat_map(|t| t.written[ku].iter().copied())
            .collect();
        written.sort_unstable();
        let writes = written.len() as u64;
        assert!(
            written.iter().copied().eq(1..=writes),
            "key {k}: the values written are not 1..={writes} (a lost or doubled write)"
        );
        let created: u64 = tallies.iter().map(|t| t.created[ku]).sum();
        let removed: u64 = tallies.iter().map(|t| t.removed[ku]).sum();
        match m.get(&k) {
            Some(&v) => {
                assert_eq!(v, writes, "key {k}: the last write stays");
                assert_eq!(created, removed + 1, "key {k}");
                present += 1;
            }
            None => {
                assert_eq!(
                    last[ku].load(Ordering::Relaxed),
                    writes,
                    "key {k}: removed last"
                );
                assert_eq!(created, removed, "key {k}");
            }
        }
    }
    assert_eq!(map.len(), present, "len counts the hot keys present");
    assert_eq!(m.iter().count(), present);
    if mode.resize {
        let max = tallies.iter().map(|t| t.max_capacity).max().unwrap();
        assert!(max > initial_capacity, "the table grew during the computes");
    }
}

#[test]
fn concurrent_computes_are_serialized_per_key() {
    guarded("computes", || concurrent_computes::<Boxed>(PLAIN));
}

#[test]
fn concurrent_computes_are_serialized_per_key_inline() {
    guarded("computes inline", || concurrent_computes::<Inline>(PLAIN));
}

#[test]
fn concurrent_computes_while_the_table_resizes() {
    guarded("computes resizing", || {
        concurrent_computes::<Boxed>(RESIZING)
    });
}

#[test]
fn concurrent_computes_while_the_table_resizes_inline() {
    guarded("computes resizing inline", || {
        concurrent_computes::<Inline>(RESIZING)
    });
}

#[test]
fn concurrent_computes_with_panicking_closures() {
    guarded("computes panicking", || {
        concurrent_computes::<Boxed>(PANICKY)
    });
}

#[test]
fn concurrent_computes_with_panicking_closures_inline() {
    guarded("computes panicking inline", || {
        concurrent_computes::<Inline>(PANICKY)
    });
}

/// One thread, random operations, against std's `HashMap`; key spaces
/// from one bucket's worth to thousands (resizes both ways).
fn model_check<M: MapStorage<u64, u64>>() {
    let d = Domain::new();
    for seed in 1..=(30 * stress() as u64) {
        let mut rng = Rng::new(seed);
        let map: Map<M> = map_in(&d);
        let mut model: HashMap<u64, u64> = HashMap::new();
        let space = [8, 64, 4096][seed as usize % 3];
        for step in 0..2000 {
            let k = rng.below(space);
            let v = rng.below(1000);
            let m = map.pin();
            let at = format!("seed {seed} step {step}");
            match rng.below(8) {
                0 | 1 => {
                    let got = *m.update_or_insert_with(k, |old| old * 3 + v, || v);
                    let want = *model
                        .entry(k)
                        .and_modify(|old| *old = *old * 3 + v)
                        .or_insert(v);
                    assert_eq!(got, want, "{at}");
                }
                2 => {
                    assert_eq!(m.remove(&k).copied(), model.remove(&k), "{at}");
                }
                3 => {
                    assert_eq!(m.insert(k, v).copied(), model.insert(k, v), "{at}");
                }
                _ => {
                    let choice = rng.below(4);
                    let decide = |old: Option<&u64>| match (old, choice) {
                        (_, 0) => Compute::Keep,
                        (_, 1) => Compute::Remove,
                        (Some(o), _) => Compute::Insert(o + v),
                        (None, _) => Compute::Insert(v),
                    };
                    let before = model.get(&k).copied();
                    let r = m.compute(k, decide);
                    match decide(before.as_ref()) {
                        Compute::Insert(x) => {
                            model.insert(k, x);
                        }
                        Compute::Remove => {
                            model.remove(&k);
                        }
                        Compute::Keep => {}
                    }
                    assert_eq!(r.old.copied(), before, "{at}");
                    assert_eq!(r.new.copied(), model.get(&k).copied(), "{at}");
                }
            }
            assert_eq!(m.get(&k).copied(), model.get(&k).copied(), "{at}");
            assert_eq!(map.len(), model.len(), "{at}");
        }
        let m = map.pin();
        let mut pairs: Vec<(u64, u64)> = m.iter().map(|(k, v)| (*k, *v)).collect();
        pairs.sort_unstable();
        let mut want: Vec<(u64, u64)> = model.into_iter().collect();
        want.sort_unstable();
        assert_eq!(pairs, want, "seed {seed}");
    }
}

#[test]
fn upsert_and_compute_match_std_hashmap() {
    model_check::<Boxed>();
}

#[test]
fn upsert_and_compute_match_std_hashmap_inline() {
    model_check::<Inline>();
}

/// Each way a closure can panic, on a present and an absent key: the
/// panic reaches the caller, the key is as it was, `len` is right, and the
/// bucket is unlocked (the next writes of the key and of its neighbours
/// finish: the scenario runs under a watchdog).
fn panicking_closure_leaves_the_map_whole<M: MapStorage<u64, u64>>() {
    quiet_planned_panics();
    let d = Domain::new();
    let map: Map<M> = map_in(&d);
    // Keys 0..64 in a 16-bucket table: every bucket has neighbours.
    for k in (0..64).step_by(2) {
        map.pin().insert(k, k);
    }
    let len = map.len();
    for k in 0..64u64 {
        let present = k % 2 == 0;
        let m = map.pin();
        let attempts: [&dyn Fn(); 3] = [
            &|| {
                m.update_or_insert_with(
                    k,
                    |_| std::panic::panic_any(Planned),
                    || std::panic::panic_any(Planned),
                );
            },
            &|| {
                m.compute(k, |_| -> Compute<u64> { std::panic::panic_any(Planned) });
            },
            &|| {
                // Panics after deciding, before returning the decision.
                m.compute(k, |old| {
                    let _decision = match old {
                        Some(_) => Compute::Remove,
                        None => Compute::Insert(1),
                    };
                    std::panic::panic_any(Planned)
                });
            },
        ];
        for attempt in attempts {
            let p = catch_unwind(AssertUnwindSafe(attempt)).expect_err("the closure panicked");
            assert!(p.is::<Planned>());
            assert_eq!(
                m.get(&k).copied(),
                present.then_some(k),
                "key {k} as it was"
            );
            assert_eq!(map.len(), len);
        }
        drop(m);
        // The bucket is unlocked: these writes would wait forever otherwise.
        let m = map.pin();
        let want = if present { k + 1 } else { 1 };
        assert_eq!(*m.update_or_insert_with(k, |v| v + 1, || 1), want);
        assert_eq!(m.insert(k, k).copied(), Some(want));
        if !present {
            assert_eq!(m.remove(&k), Some(&k));
        }
        for n in 64..128 {
            m.insert(n, n);
        }
        for n in 64..128 {
            assert_eq!(m.remove(&n), Some(&n));
        }
    }
    assert_eq!(map.len(), len);
}

#[test]
fn a_panicking_closure_leaves_the_map_whole() {
    guarded(
        "panicking closures",
        panicking_closure_leaves_the_map_whole::<Boxed>,
    );
}

#[test]
fn a_panicking_closure_leaves_the_map_whole_inline() {
    guarded(
        "panicking closures inline",
        panicking_closure_leaves_the_map_whole::<Inline>,
    );
}

/// Values that count their drops: every value made by a closure (stored,
/// replaced, removed) or lost to a panic is dropped exactly once.
#[test]
fn every_value_is_dropped_exactly_once() {
    quiet_planned_panics();
    let d = Domain::new();
    let drops = DropCount::new();
    let made = AtomicU64::new(0);
    let map: RcuHashMap<u64, common::Counted> = RcuHashMap::builder().domain(&d).build();
    let make = || {
        made.fetch_add(1, Ordering::Relaxed);
        drops.obj()
    };
    let mut rng = Rng::new(7);
    for step in 0..(20_000 * stress() as u64) {
        let k = rng.below(500);
        let m = map.pin();
        let _ = catch_unwind(AssertUnwindSafe(|| match step % 5 {
            0 => {
                m.update_or_insert_with(k, |_| make(), make);
            }
            1 => {
                m.compute(k, |old| match old {
                    Some(_) if k % 3 == 0 => Compute::Remove,
                    Some(_) if k % 3 == 1 => Compute::Keep,
                    _ => Compute::Insert(make()),
                });
            }
            2 => {
                // A value made, then a panic: it is dropped by the unwind.
                m.compute(k, |_| {
                    let _v = make();
                    std::panic::panic_any(Planned)
                });
            }
            3 => {
                m.update_or_insert_with(
                    k,
                    |_| std::panic::panic_any(Planned),
                    || std::panic::panic_any(Planned),
                );
            }
            _ => {
                m.remove(&k);
            }
        }));
    }
    drop(map);
    d.rcu_barrier();
    assert_eq!(drops.get() as u64, made.load(Ordering::Relaxed));
}

/// A write to the map from inside its own closure would wait forever for
/// the bucket lock that the call holds: it panics instead, naming the
/// mistake, and the map stays usable. Reading the map there, and writing
/// another map, are fine.
fn writing_inside_a_closure<M: MapStorage<u64, u64>>() {
    let d = Domain::new();
    let map: Map<M> = map_in(&d);
    let elsewhere: Map<M> = map_in(&d);
    let m = map.pin();
    m.insert(1, 10);
    m.insert(2, 20);

    // Reads inside the closure, and writes to another map.
    let e = elsewhere.pin();
    let v = m.update_or_insert_with(
        1,
        |v| {
            e.insert(1, *v);
            v + m.get(&2).copied().unwrap_or(0)
        },
        || unreachable!(),
    );
    assert_eq!((*v, e.get(&1).copied()), (30, Some(10)));

    let writes: [(&str, &dyn Fn()); 6] = [
        ("insert, the same key", &|| {
            m.insert(1, 0);
        }),
        ("insert, another key", &|| {
            m.insert(99, 0);
        }),
        ("remove", &|| {
            m.remove(&2);
        }),
        ("retain", &|| m.retain(|_, _| true)),
        ("nested compute", &|| {
            m.compute(3, |_| Compute::Keep);
        }),
        ("clear", &|| map.clear()),
    ];
    for (what, write) in writes {
        for absent in [false, true] {
            let key = if absent { 50 } else { 1 };
            let msg = expect_panic(what, || {
                m.compute(key, |_| {
                    write();
                    Compute::Keep
                });
            });
            assert!(
                msg.contains("inside its own `compute`"),
                "{what}: unexpected panic {msg:?}"
            );
        }
    }
    // Unchanged, unlocked, and no longer in a closure.
    assert_eq!(
        (m.get(&1), m.get(&2), m.get(&50), map.len()),
        (Some(&30), Some(&20), None, 2)
    );
    m.insert(99, 9);
    assert_eq!(m.update_or_insert_with(1, |v| v + 1, || 0), &31);
    map.clear();
    assert!(map.is_empty());
}

#[test]
fn writing_the_map_inside_its_own_closure_panics_instead_of_deadlocking() {
    guarded("re-entry", writing_inside_a_closure::<Boxed>);
}

#[test]
fn writing_the_map_inside_its_own_closure_panics_instead_of_deadlocking_inline() {
    guarded("re-entry inline", writing_inside_a_closure::<Inline>);
}

#[test]
fn keys_values_and_for_loops_agree_with_iter() {
    let map: RcuHashMap<u64, u64> = (0..1000).map(|i| (i, i * 7)).collect();
    let m = map.pin();
    let mut pairs: Vec<(u64, u64)> = m.iter().map(|(k, v)| (*k, *v)).collect();
    let mut looped = Vec::new();
    for (k, v) in &m {
        looped.push((*k, *v));
    }
    let mut keys: Vec<u64> = m.keys().copied().collect();
    let mut values: Vec<u64> = m.values().copied().collect();
    pairs.sort_unstable();
    looped.sort_unstable();
    keys.sort_unstable();
    values.sort_unstable();
    assert_eq!(pairs.len(), 1000);
    assert_eq!(looped, pairs);
    assert!(keys.iter().copied().eq(0..1000));
    assert!(values.iter().copied().eq((0..1000).map(|i| i * 7)));
}
