//! Loom models of the structures' protocols (`RUSTFLAGS="--cfg loom"
//! CARGO_TARGET_DIR=target/loom cargo test -p urcu-structures --release
//! --lib loom`). They run the real map and list on loom's atomics (see
//! `sync`), with urcu-reclaim's grace periods (also on loom) for
//! protection. There is no reclaimer thread under loom: a model thread
//! plays its part with `synchronize_rcu`/`rcu_barrier`.
//!
//! The map's slots are a std `UnsafeCell` (loom cannot see plain accesses
//! there), so the models check slot contents explicitly: values encode
//! their key, and a reader re-reads what it found after giving the other
//! threads a chance to run. Values that must be tracked by loom (boxed map
//! entries, list nodes) are [`Tracked`]: a loom cell that loom checks on
//! every read, written once more when dropped, so that a read that is not
//! ordered after publication, or not ordered before the free, fails.
//!
//! Each model was checked against injected bugs (see the comment on each);
//! with such a bug the model fails within a second or two.

// The models' keys are small: with `Ident` they choose their bucket, and
// all share one tag, so lookups must compare keys.
use crate::test_hashers::Ident;
use crate::{Boxed, ConfigCell, Inline, RcuHashMap, RcuList};
use loom::thread;
use std::sync::Arc;
use urcu_reclaim::{Domain, Flavor};

/// Runs `f` under loom, exploring interleavings with up to `preemptions`
/// preemptions (`LOOM_MAX_PREEMPTIONS` overrides it).
fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(preemptions);
    }
    // Filling a map before the threads start takes many (unbranched)
    // atomic operations.
    b.max_branches = b.max_branches.max(100_000);
    b.check(f);
}

/// The value stored for `key`.
fn enc(key: u64) -> u64 {
    key * 1000 + 7
}

/// What a dropped [`Tracked`] holds.
const FREED: u64 = u64::MAX;

/// A value whose every read loom checks against its creation and its drop.
struct Tracked(loom::cell::UnsafeCell<u64>);

// SAFETY: every access goes through loom's cell, which fails the model on
// an access not ordered after the last write (creation, drop).
unsafe impl Sync for Tracked {}

impl Tracked {
    fn new(v: u64) -> Self {
        Tracked(loom::cell::UnsafeCell::new(v))
    }

    fn get(&self) -> u64 {
        // SAFETY: loom checks that no write is concurrent with this read.
        let v = self.0.with(|p| unsafe { *p });
        assert_ne!(v, FREED, "read a dropped value");
        v
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // SAFETY: `&mut self`; loom checks that every read of the value
        // happened before this write.
        self.0.with_mut(|p| unsafe { *p = FREED });
    }
}

/// The models' flavor: QSBR has the shortest grace period (one scan of
/// the readers), which keeps the models small; the structures do not
/// depend on the flavor.
const FLAVOR: Flavor = Flavor::Qsbr;

type InlineMap = RcuHashMap<u64, u64, Ident, Inline>;
type BoxedMap = RcuHashMap<u64, Tracked, Ident, Boxed>;

/// Keys of bucket 1 of a new (16-bucket) map.
const A: u64 = 0x11;
const B: u64 = 0x21;
const C: u64 = 0x31;
const D: u64 = 0x41;

/// Inline slots: a reader looks `A` up and reads its value while a writer
/// removes `A` and then inserts `D` into the same, full, bucket line (3
/// inline slots: A, B, C). After its section the reader plays the
/// reclaimer and runs a grace period. `D` goes into `A`'s retired slot
/// exactly when the slot's ticket has elapsed by then, else into a new
/// overflow line; either way a reader that found `A` keeps reading `A`'s
/// key and value for its whole section.
///
/// Injected bug (checked): `free_slot` ignoring the ticket (reusing a
/// retired slot at once) makes the reader read `D` through its reference
/// to `A` ("slot reused under a reader").
#[test]
fn map_inline_slot_reuse_waits_for_readers() {
    model(2, || {
        let d = Domain::builder().flavor(FLAVOR).build();
        let map: Arc<InlineMap> = Arc::new(
            RcuHashMap::builder()
                .hasher(Ident)
                .inline()
                .domain(&d)
                .build(),
        );
        {
            let m = map.pin();
            for k in [A, B, C] {
                m.insert(k, enc(k));
            }
        }
        let reader = {
            let map = map.clone();
            thread::spawn(move || {
                let m = map.pin();
                if let Some((k, v)) = m.get_key_value(&A) {
                    // Let the writer (and the grace period) run: `k` and
                    // `v` must stay `A`'s while `m` lives.
                    thread::yield_now();
                    assert_eq!((*k, *v), (A, enc(A)), "slot reused under a reader");
                }
                drop(m);
                // Then play the reclaimer: a grace period, which lets the
                // writer reuse `A`'s slot if it comes after the ticket.
                map.domain().synchronize_rcu();
            })
        };
        assert_eq!(map.pin().remove(&A), Some(&enc(A)));
        assert_eq!(map.pin().insert(D, enc(D)), None);
        reader.join().unwrap();
        let m = map.pin();
        assert_eq!(m.get(&A), None);
        for k in [B, C, D] {
            assert_eq!(m.get(&k), Some(&enc(k)));
        }
    });
}

/// Boxed entries: the same race, with values that loom tracks; `D` goes
/// into a free slot of the same line (the line has six). After its
/// section the reader runs a barrier (a grace period, then it frees what
/// was queued: `A`'s entry once removed). The reader also looks `D` up and
/// reads its value.
///
/// Injected bug (checked): `A`'s entry freed at once in `Boxed::retire`
/// instead of queued (loom fails on the reader's access to the dropped
/// value). Not caught: the release store that publishes `D`'s tag in
/// `insert_new` made `Relaxed` (also not at 2 preemptions): loom gives a
/// relaxed store the writer's clock as of its last release fence, and the
/// explored schedules never had the reader read `D` from that store alone.
#[test]
fn map_boxed_publication_and_reclamation() {
    model(1, || {
        let d = Domain::builder().flavor(FLAVOR).build();
        let map: Arc<BoxedMap> = Arc::new(RcuHashMap::builder().hasher(Ident).domain(&d).build());
        {
            let m = map.pin();
            for k in [A, B, C] {
                m.insert(k, Tracked::new(enc(k)));
            }
        }
        let reader = {
            let map = map.clone();
            thread::spawn(move || {
                let m = map.pin();
                if let Some(v) = m.get(&A) {
                    thread::yield_now();
                    assert_eq!(v.get(), enc(A));
                }
                if let Some(v) = m.get(&D) {
                    assert_eq!(v.get(), enc(D));
                }
                drop(m);
                // Then play the reclaimer: a barrier frees `A`'s entry if
                // it was queued before.
                map.domain().rcu_barrier();
            })
        };
        assert_eq!(map.pin().remove(&A).map(Tracked::get), Some(enc(A)));
        assert!(map.pin().insert(D, Tracked::new(enc(D))).is_none());
        reader.join().unwrap();
        let m = map.pin();
        assert!(m.get(&A).is_none());
        for k in [B, C, D] {
            assert_eq!(m.get(&k).map(Tracked::get), Some(enc(k)));
        }
    });
}

/// Replacing an inline entry that sits in an overflow line: `D` is in the
/// overflow line of bucket 1 (its head holds A, B, C), then `B` is removed
/// and a grace period lets its slot be reused. A writer replaces `D`'s
/// value while a reader looks `D` up: the reader must find it (old or new
/// value), since `D` is in the map throughout.
///
/// Injected bug (checked, the code before this model): the new copy put in
/// the first free slot from the head (`B`'s old slot) while the old copy
/// is retired further down the chain: a reader that read the head before
/// the new copy and the overflow line after the retirement missed `D`.
#[test]
fn map_inline_update_in_overflow_stays_visible() {
    model(2, || {
        let d = Domain::builder().flavor(FLAVOR).build();
        let map: Arc<InlineMap> = Arc::new(
            RcuHashMap::builder()
                .hasher(Ident)
                .inline()
                .domain(&d)
                .build(),
        );
        {
            let m = map.pin();
            for k in [A, B, C, D] {
                m.insert(k, enc(k));
            }
            assert_eq!(m.remove(&B), Some(&enc(B)));
        }
        // `B`'s slot becomes reusable once its ticket has elapsed.
        map.domain().synchronize_rcu();
        map.domain().synchronize_rcu();
        let reader = {
            let map = map.clone();
            thread::spawn(move || {
                let m = map.pin();
                let v = m.get(&D).copied();
                assert!(
                    v == Some(enc(D)) || v == Some(enc(D) + 1),
                    "a key replaced under a reader went missing: {v:?}"
                );
            })
        };
        assert_eq!(map.pin().insert(D, enc(D) + 1), Some(&enc(D)));
        reader.join().unwrap();
        assert_eq!(map.pin().get(&D), Some(&(enc(D) + 1)));
    });
}

/// Unlinking an empty overflow line from the middle of a chain: bucket 1
/// holds A, B, C in its head line, D, E, F in a first overflow line and G
/// in a second. D and E are removed first; then a writer removes F, which
/// empties the first overflow line, and unlinks it (in the middle of the
/// chain: its link to G's line stays) while a reader looks G up. The
/// reader finds G whether it passed through the unlinked line or not, and
/// afterwards the chain is the head line and G's line.
///
/// The removal also recomputes the head's filter of overflow tags, which
/// must keep G's bit.
///
/// Injected bugs (checked): the unlink storing null instead of the next
/// line (cutting the chain), clearing the unlinked line's own link (a
/// reader standing in it loses its way), and the filter recomputed from
/// the first overflow line only: each loses G for the reader.
#[test]
fn map_inline_middle_line_unlinked_under_a_reader() {
    const E: u64 = 0x51;
    const F: u64 = 0x61;
    const G: u64 = 0x71;
    model(2, || {
        let d = Domain::builder().flavor(FLAVOR).build();
        let map: Arc<InlineMap> = Arc::new(
            RcuHashMap::builder()
                .hasher(Ident)
                .inline()
                .domain(&d)
                .build(),
        );
        {
            let m = map.pin();
            for k in [A, B, C, D, E, F, G] {
                m.insert(k, enc(k));
            }
            assert_eq!(map.chain_lines(&G), 3);
            for k in [D, E] {
                assert_eq!(m.remove(&k), Some(&enc(k)));
            }
        }
        let reader = {
            let map = map.clone();
            thread::spawn(move || {
                let m = map.pin();
                assert_eq!(
                    m.get(&G),
                    Some(&enc(G)),
                    "a key behind an unlinked line was lost"
                );
            })
        };
        assert_eq!(map.pin().remove(&F), Some(&enc(F)));
        reader.join().unwrap();
        assert_eq!(map.chain_lines(&G), 2, "the empty line was unlinked");
        assert_eq!(map.pin().get(&G), Some(&enc(G)));
    });
}

/// Resize publication: a reader looks up a key that stays in the map
/// while a writer's insert grows the table, migrating every bucket to the
/// next table (copies first, then the "moved" flag; readers that meet it
/// follow `next`) and switching the root. The key is found every time,
/// with its value.
///
/// Injected bug (checked): the release store of the moved flag in
/// `migrate_to` made `Relaxed`: the reader sees the flag without what was
/// written before it, and fails following `next` ("a moved bucket has a
/// next table").
#[test]
fn map_resize_keeps_keys_visible() {
    model(2, || {
        let d = Domain::builder().flavor(FLAVOR).build();
        let map: Arc<InlineMap> = Arc::new(
            RcuHashMap::builder()
                .hasher(Ident)
                .inline()
                .domain(&d)
                .build(),
        );
        // 32 entries: buckets 0..=9 full (3 inline slots each), bucket 10
        // holds two. One more entry in a full line grows a chain with the
        // map over its load factor: the table doubles.
        let keys: Vec<u64> = (0..10u64)
            .flat_map(|b| (1..=3u64).map(move |i| b | i << 4))
            .chain([0x1a, 0x2a])
            .collect();
        {
            let m = map.pin();
            for &k in &keys {
                m.insert(k, enc(k));
            }
        }
        assert_eq!(map.capacity(), 32);
        let reader = {
            let map = map.clone();
            thread::spawn(move || {
                let m = map.pin();
                assert_eq!(m.get(&A), Some(&enc(A)), "stable key lost");
            })
        };
        map.pin().insert(D, enc(D));
        reader.join().unwrap();
        assert_eq!(map.capacity(), 64, "the table grew");
        let m = map.pin();
        for &k in keys.iter().chain(&[D]) {
            assert_eq!(m.get(&k), Some(&enc(k)));
        }
    });
}

/// List: a reader walks `[10, 20, 30]` while a writer removes 20 and then
/// inserts 15 after 10; after its walk the reader runs a barrier (which
/// frees 20 once no reader can stand on it). The reader sees 10 and 30 exactly
/// once, in order, only values that were in the list, each fully built
/// and none freed.
///
/// Injected bugs (checked): the release store that links a new node in
/// `insert_after` made `Relaxed`, and the removed node dropped at once in
/// `unlink_where` instead of queued (loom: "Causality violation" for both).
#[test]
fn list_walk_races_insert_and_remove() {
    model(3, || {
        let d = Domain::builder().flavor(FLAVOR).build();
        let list = Arc::new(RcuList::new_in(&d));
        for v in [10, 20, 30] {
            list.push_back(Tracked::new(v));
        }
        let reader = {
            let (d, list) = (d.clone(), list.clone());
            thread::spawn(move || {
                let g = d.read_lock();
                let seen: Vec<u64> = list.iter(&g).map(Tracked::get).collect();
                assert!(
                    seen.windows(2).all(|w| w[0] < w[1]),
                    "out of order: {seen:?}"
                );
                assert!(
                    seen.iter().all(|v| [10, 15, 20, 30].contains(v)),
                    "{seen:?}"
                );
                let stable: Vec<u64> = seen.into_iter().filter(|v| [10, 30].contains(v)).collect();
                assert_eq!(stable, [10, 30]);
                drop(g);
                // Then play the reclaimer: a barrier frees 20 if it was
                // queued before.
                d.rcu_barrier();
            })
        };
        assert!(list.remove_first(|v| v.get() == 20));
        assert!(list
            .insert_after(|v| v.get() == 10, Tracked::new(15))
            .is_ok());
        reader.join().unwrap();
        let g = d.read_lock();
        let all: Vec<u64> = list.iter(&g).map(Tracked::get).collect();
        assert_eq!(all, [10, 15, 30]);
    });
}

/// ConfigCell: a reader reads the version, then the value, while a writer
/// stores a new value; after its read the reader runs a barrier (which
/// frees the old value once no reader can hold it). A reader that saw the
/// new version sees the new value, fully built; the old value is not freed
/// under a reader.
///
/// Injected bug (checked): the release increment of `version` in `publish`
/// made `Relaxed`: the reader sees version 1 and still the old value.
#[test]
fn config_cell_version_implies_value() {
    model(3, || {
        let d = Domain::builder().flavor(FLAVOR).build();
        let cell = Arc::new(ConfigCell::new_in(Tracked::new(1), &d));
        let reader = {
            let (d, cell) = (d.clone(), cell.clone());
            thread::spawn(move || {
                let version = cell.version();
                let value = cell.read().get();
                if version > 0 {
                    assert_eq!(value, 2, "a new version with the old value");
                } else {
                    assert!(value == 1 || value == 2, "{value}");
                }
                d.rcu_barrier();
            })
        };
        cell.store(Tracked::new(2));
        reader.join().unwrap();
        assert_eq!((cell.version(), cell.read().get()), (1, 2));
    });
}
