//! In-crate tests small enough for Miri (which checks the unsafe paths of
//! the list and the cell for undefined behaviour and leaks). Explicit
//! domains only: their reclaimer is joined on drop, so the leak check holds.

use crate::{ConfigCell, RcuList};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use urcu_reclaim::{Domain, Flavor};

const N: usize = if cfg!(miri) { 30 } else { 3000 };

struct Counted(usize, Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn list_walks_while_a_writer_inserts_and_removes() {
    for flavor in [Flavor::Memb, Flavor::Qsbr] {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = Domain::builder().flavor(flavor).queue_capacity(8).build();
        let list = RcuList::new_in(&d);
        for i in 0..4 {
            list.push_back(Counted(i * 10, drops.clone()));
        }
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..N {
                    let _ = list
                        .insert_after(|c| c.0 == (i % 4) * 10, Counted(1000 + i, drops.clone()));
                    list.push_front(Counted(2000 + i, drops.clone()));
                    assert!(list.remove_first(|c| c.0 == 1000 + i));
                    assert!(list.remove_first(|c| c.0 == 2000 + i));
                }
            });
            s.spawn(|| {
                let mut h = d.register_thread();
                for _ in 0..N {
                    let g = h.read_lock();
                    let stable: Vec<usize> =
                        list.iter(&g).map(|c| c.0).filter(|k| *k < 1000).collect();
                    assert_eq!(stable, [0, 10, 20, 30]);
                    drop(g);
                    h.quiescent_state();
                }
            });
        });
        drop(list);
        drop(d);
        assert_eq!(drops.load(Ordering::Relaxed), 4 + 2 * N, "{flavor:?}");
    }
}

#[test]
fn config_cell_readers_and_updaters() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Domain::builder()
        .flavor(Flavor::Mb)
        .queue_capacity(8)
        .build();
    let cell = ConfigCell::new_in(Counted(0, drops.clone()), &d);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..N {
                    cell.update(|c| Counted(c.0 + 1, c.1.clone()));
                }
            });
        }
        s.spawn(|| {
            let mut last = 0;
            for _ in 0..N {
                let c = cell.read();
                assert!(c.0 >= last);
                last = c.0;
            }
        });
    });
    assert_eq!(cell.read().0, 2 * N);
    assert_eq!(cell.version(), 2 * N as u64);
    drop(cell);
    drop(d);
    assert_eq!(drops.load(Ordering::Relaxed), 2 * N + 1);
}

/// An mb domain whose queues hold 16 words, so that retired entries
/// reach the reclaimer (and its grace periods) within a small test.
fn small_queue_domain() -> Domain {
    Domain::builder()
        .flavor(Flavor::Mb)
        .queue_capacity(16)
        .build()
}

#[test]
fn map_reads_during_resizes_and_drops_everything_once() {
    use crate::RcuHashMap;
    let keys = if cfg!(miri) { 200 } else { 20_000 };
    let drops = Arc::new(AtomicUsize::new(0));
    let d = small_queue_domain();
    let map: RcuHashMap<usize, Counted> = RcuHashMap::builder().domain(&d).build();
    map.pin().insert(usize::MAX, Counted(7, drops.clone()));
    std::thread::scope(|s| {
        s.spawn(|| {
            let m = map.pin();
            for k in 0..keys {
                m.insert(k, Counted(k, drops.clone()));
            }
            for k in 0..keys {
                assert_eq!(m.remove(&k).map(|c| c.0), Some(k));
            }
        });
        s.spawn(|| {
            for _ in 0..(keys / 10) {
                let m = map.pin();
                assert_eq!(
                    m.get(&usize::MAX).map(|c| c.0),
                    Some(7),
                    "a stable key was missed"
                );
                // A batch reads the slots of buckets writers are changing
                // (its prefetch stage loads boxed entry pointers early).
                let [stable, _, _] = m.get_many([&usize::MAX, &1, &(keys / 2)]);
                assert_eq!(stable.map(|c| c.0), Some(7), "a batch missed a stable key");
                assert!(m.iter().count() <= keys + 1);
            }
        });
    });
    assert_eq!(map.len(), 1);
    drop(map);
    drop(d);
    assert_eq!(drops.load(Ordering::Relaxed), keys + 1);
}

/// Two writers grow one boxed map through several resizes, so each one's
/// migration prefetches (reader-style scans of buckets ahead, outside
/// their locks) race the other's slot writes: Miri checks those reads.
#[test]
fn two_writers_growing_a_boxed_map_race_its_migration() {
    use crate::RcuHashMap;
    let per_writer = if cfg!(miri) { 150 } else { 20_000 };
    let drops = Arc::new(AtomicUsize::new(0));
    let d = small_queue_domain();
    let map: RcuHashMap<usize, Counted> = RcuHashMap::builder().domain(&d).build();
    std::thread::scope(|s| {
        for w in 0..2 {
            let (map, drops) = (&map, &drops);
            s.spawn(move || {
                let m = map.pin();
                for k in (w * per_writer)..((w + 1) * per_writer) {
                    assert!(m.insert(k, Counted(k, drops.clone())).is_none());
                }
            });
        }
    });
    assert_eq!(map.len(), 2 * per_writer);
    assert!(map.table_stats().buckets >= 64, "the table grew");
    let m = map.pin();
    for k in 0..2 * per_writer {
        assert_eq!(m.get(&k).map(|c| c.0), Some(k), "key {k} lost");
    }
    drop(m);
    drop(map);
    drop(d);
    assert_eq!(drops.load(Ordering::Relaxed), 2 * per_writer);
}

/// A map of 256 buckets (four migration chunks of 64) filled until a
/// resize starts; returns it and the keys `0..n` it holds.
fn half_resized(
    d: &Domain,
    drops: &Arc<AtomicUsize>,
) -> (crate::RcuHashMap<usize, Counted>, usize) {
    let map = crate::RcuHashMap::builder()
        .domain(d)
        .capacity(1000)
        .build();
    let mut n = 0;
    while map.resize_progress().is_none() {
        map.pin().insert(n, Counted(n, drops.clone()));
        n += 1;
        assert!(n < 10_000, "the map never started to grow");
    }
    let moved = map.resize_progress().expect("resizing");
    assert!(
        moved < 256,
        "the write that started the resize moved all {moved} buckets"
    );
    (map, n)
}

/// Each write that meets a resize moves one chunk of buckets, so a resize
/// stays half done when the writes stop: lookups, iteration and `len` see
/// one map, a few more writes finish it, and drop frees everything once.
#[test]
fn a_resize_left_half_done_by_the_writes_is_one_map() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let (map, n) = half_resized(&d, &drops);
    {
        let m = map.pin();
        for k in 0..n {
            assert_eq!(m.get(&k).map(|c| c.0), Some(k), "key {k} lost mid-resize");
        }
        let mut seen: Vec<usize> = m.iter().map(|(k, _)| *k).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>(), "iteration mid-resize");
        // Not under Miri: rayon's global pool outlives the test (a leak to
        // Miri).
        #[cfg(all(feature = "rayon", not(miri)))]
        {
            use rayon::iter::ParallelIterator;
            let mut seen: Vec<usize> = m.par_iter().map(|(k, _)| *k).collect();
            seen.sort_unstable();
            assert_eq!(
                seen,
                (0..n).collect::<Vec<_>>(),
                "parallel iteration mid-resize"
            );
        }
    }
    assert_eq!(map.len(), n);
    // Four chunks: four more writes (replacing values) finish the resize.
    for k in 0..4 {
        map.pin().insert(k, Counted(k + 100_000, drops.clone()));
    }
    assert_eq!(
        map.resize_progress(),
        None,
        "four writes did not finish the resize"
    );
    assert_eq!(map.pin().get(&3).map(|c| c.0), Some(100_003));
    assert_eq!(map.len(), n);
    drop(map);
    drop(d);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        n + 4,
        "every value dropped once"
    );
}

/// A key inserted during a resize into a bucket that has already moved
/// lives in the next table; a lookup still starts in the old one, whose
/// summary for that bucket was built before the key existed. Migration
/// sets every bit of a moved bucket's summary, so the lookup goes on to
/// the line, which sends it to the next table. (Checked: without that
/// store the lookup answers "absent".) The same for a removal.
#[test]
fn a_key_inserted_into_a_moved_bucket_is_found_mid_resize() {
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let map = crate::RcuHashMap::builder()
        .hasher(crate::test_hashers::Ident)
        .domain(&d)
        .inline()
        .capacity(500)
        .build();
    // Keys hash to themselves: key `k` goes to bucket `k % buckets`, all
    // with the tag of a small hash.
    let mut n = 0u64;
    while map.resize_progress().is_none() {
        map.pin().insert(n, n);
        n += 1;
        assert!(n < 10_000, "the map never started to grow");
    }
    // Bucket 1 is in the first chunk, moved by the write that started the
    // resize. This key has another tag (from its high bits), so the old
    // summary of bucket 1 lacks its bit.
    let key = 1 | 5 << 57;
    map.pin().insert(key, 7);
    assert!(
        map.resize_progress().is_some(),
        "the resize should still be under way"
    );
    assert_eq!(map.pin().get(&key), Some(&7), "key lost behind a summary");
    for k in 0..n {
        assert_eq!(map.pin().get(&k), Some(&k), "key {k} lost mid-resize");
    }
    // A removal checks the same summary before it locks anything.
    assert_eq!(map.pin().remove(&key), Some(&7), "removal missed the key");
    assert_eq!(map.pin().get(&key), None);
}

/// Random inserts, replacements and removals over keys of many tags,
/// through growths and shrinks: after each step every bucket's summary
/// holds the bits of its chain's live tags, and lookups agree with a
/// `HashMap`. Removals leave bits behind for a later insert to drop, so
/// this also checks that those rewrites keep every live tag.
#[test]
fn tag_summaries_cover_every_live_entry() {
    fn check<M: crate::MapStorage<u64, u64>>(d: &Domain) {
        let map = crate::RcuHashMap::builder()
            .hasher(crate::test_hashers::Ident)
            .domain(d)
            .storage::<M>()
            .build();
        let mut model = std::collections::HashMap::new();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let (steps, probes) = if cfg!(miri) {
            (300, 0x40)
        } else {
            (20_000, 0x100)
        };
        for step in 0..steps {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // 64 buckets' worth of low bits, 16 tags' worth of high bits:
            // chains overflow, and tags share summary bits.
            let key = (x & 0xff) | (x >> 60) << 57;
            // Grow for the first half, then mostly remove: shrinks too.
            let insert = x >> 8 & 3 != 0 && (step < steps / 2 || x >> 10 & 3 == 0);
            let m = map.pin();
            if insert {
                assert_eq!(m.insert(key, step).copied(), model.insert(key, step));
            } else {
                assert_eq!(m.remove(&key).copied(), model.remove(&key));
            }
            drop(m);
            if step % 64 == 0 {
                map.check_summaries();
                let m = map.pin();
                for probe in 0..probes {
                    for tag in [0u64, 3, 9, 15] {
                        let k = probe | tag << 57;
                        assert_eq!(m.get(&k), model.get(&k), "key {k:#x}");
                    }
                }
            }
        }
        map.check_summaries();
    }
    let d = Domain::builder().flavor(Flavor::Mb).build();
    check::<crate::Inline>(&d);
    check::<crate::Boxed>(&d);
}

/// `clear` and drop of a map whose resize was left half done.
#[test]
fn clear_and_drop_finish_a_half_done_resize() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let (map, n) = half_resized(&d, &drops);
    map.clear();
    assert!(map.is_empty() && map.resize_progress().is_none());
    map.pin().insert(1, Counted(1, drops.clone()));
    let (other, m) = half_resized(&d, &drops);
    drop((map, other));
    drop(d);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        n + 1 + m,
        "every value dropped once"
    );
}

/// Inline storage: pairs live in the bucket lines and retired slots are
/// reused after their grace period, while a reader holds references into
/// lines across a resize (Miri checks the slot writes against the
/// readers' borrows).
#[test]
fn inline_map_reuses_slots_only_after_a_grace_period() {
    use crate::{Inline, RcuHashMap};
    let keys: u64 = if cfg!(miri) { 120 } else { 20_000 };
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let map: RcuHashMap<u64, u64, ahash::RandomState, Inline> =
        RcuHashMap::builder().domain(&d).inline().build();
    map.pin().insert(u64::MAX, 7);
    std::thread::scope(|s| {
        s.spawn(|| {
            for round in 0..3 {
                let m = map.pin();
                for k in 0..keys {
                    m.insert(k, k << 8 | round);
                }
                for k in 0..keys {
                    assert_eq!(m.update(&k, |v| v + 1), Some(&((k << 8 | round) + 1)));
                }
                for k in 0..keys {
                    assert_eq!(m.remove(&k).map(|v| v >> 8), Some(k));
                }
                drop(m);
                d.synchronize_rcu();
            }
        });
        s.spawn(|| {
            for _ in 0..(keys / 10) {
                let m = map.pin();
                let stable = m.get(&u64::MAX).expect("a stable key was missed");
                let seen: Vec<(&u64, &u64)> = m.iter().collect();
                for (k, v) in seen {
                    assert!(*k == u64::MAX || v >> 8 == *k, "a pair was torn");
                }
                assert_eq!(*stable, 7);
            }
        });
    });
    assert_eq!(map.len(), 1);
    assert_eq!(map.get_cloned(&u64::MAX), Some(7));
}

/// A hot key updated many times inside one section: each inline update
/// retires a slot that cannot be reused before a grace period, so the key
/// moves down its chain a line at a time; the line it leaves is unlinked
/// at once, so the chain stays two lines long (the head, full of retired
/// slots, and the key's line) instead of growing with the burst.
#[test]
fn a_hot_keys_burst_keeps_its_chain_short() {
    use crate::{Inline, RcuHashMap};
    let burst: u64 = if cfg!(miri) { 60 } else { 3000 };
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let map: RcuHashMap<u64, u64, ahash::RandomState, Inline> =
        RcuHashMap::builder().domain(&d).inline().build();
    {
        let m = map.pin();
        for i in 0..burst {
            m.insert(0, i);
            assert_eq!(m.get(&0), Some(&i));
        }
    }
    let lines = map.chain_lines(&0);
    assert!(lines <= 2, "the burst grew the chain to {lines} lines");
    for i in 0..64 {
        if i % 4 == 0 {
            d.synchronize_rcu();
        }
        map.pin().insert(0, i);
    }
    let lines = map.chain_lines(&0);
    assert!(
        lines <= 2,
        "updates between grace periods grew the chain to {lines} lines"
    );
    assert_eq!(map.len(), 1);
    assert_eq!(map.get_cloned(&0), Some(63));
}

/// A key removed and inserted again faster than grace periods end (here
/// inside one section, so none can) walks down its chain like a hot key's
/// updates do, and the lines it leaves empty are unlinked: growing the
/// chain past an emptied tail unlinks that tail (it used to stay, so the
/// chain grew a line every three writes, for good).
#[test]
fn a_key_removed_and_reinserted_keeps_its_chain_short() {
    use crate::{Inline, RcuHashMap};
    let burst: u64 = if cfg!(miri) { 60 } else { 3000 };
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let map: RcuHashMap<u64, u64, ahash::RandomState, Inline> =
        RcuHashMap::builder().domain(&d).inline().build();
    {
        let m = map.pin();
        for i in 0..burst {
            m.remove(&0);
            m.get_or_insert_with(0, || i);
            assert_eq!(m.get(&0), Some(&i));
        }
    }
    let lines = map.chain_lines(&0);
    assert!(lines <= 3, "the burst grew the chain to {lines} lines");
    assert_eq!(map.table_stats().overflow_lines, lines - 1);
    assert_eq!(map.get_cloned(&0), Some(burst - 1));
}

/// An inline `u64` map in `d` whose keys hash to themselves, so a test
/// chooses buckets and tags. (An explicit domain: its reclaimer thread is
/// joined when it drops, as Miri requires of every thread a test starts.)
fn ident_inline_map(
    d: &Domain,
) -> crate::RcuHashMap<u64, u64, crate::test_hashers::Ident, crate::Inline> {
    crate::RcuHashMap::builder()
        .hasher(crate::test_hashers::Ident)
        .domain(d)
        .inline()
        .build()
}

/// A slot retired long ago is reused however many grace periods have
/// passed since: its 13-bit ticket wraps many times over, and only a
/// ticket 1 or 2 ahead of the completed sequence reads as unelapsed (see
/// `map::meta`). A ticket read through a window of half its range (as the
/// 17-bit ones were) looks young again for half of every wrap: 70 000
/// grace periods after its removal, the slot would wait and the insert
/// would add an overflow line.
#[test]
#[cfg_attr(miri, ignore = "runs 70 000 grace periods")]
fn a_slot_retired_long_ago_is_reused() {
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let map = ident_inline_map(&d);
    // Keys that are multiples of 2^32 share bucket 0 (and one tag).
    let key = |i: u64| i << 32;
    {
        let m = map.pin();
        for i in 0..3 {
            m.insert(key(i), i);
        }
        assert_eq!(m.remove(&key(1)), Some(&1));
    }
    assert_eq!(map.chain_lines(&0), 1, "three pairs fill the head line");
    for _ in 0..70_000 {
        d.synchronize_rcu();
    }
    map.pin().insert(key(3), 3);
    assert_eq!(map.chain_lines(&0), 1, "the retired slot was reused");
    let m = map.pin();
    for i in [0, 2, 3] {
        assert_eq!(m.get(&key(i)), Some(&i));
    }
    assert_eq!(m.get(&key(1)), None);
}

/// Overflow lines are unlinked as soon as they hold no live entry, by the
/// removal that empties one, except the chain's last line, kept as a
/// spare; `clear` unlinks all of them.
#[test]
fn emptied_overflow_lines_are_unlinked() {
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let map = ident_inline_map(&d);
    let m = map.pin();
    // Key `k` hashes to `k`: keys `n << 56` share bucket 0 of any table
    // and differ in their tags.
    let key = |n: u64| n << 56;
    // Four lines of three slots: 0..3, 3..6, 6..9, 9..12.
    for n in 0..12 {
        m.insert(key(n), n);
    }
    assert_eq!(map.chain_lines(&0), 4);
    // Emptying a middle line unlinks it; the lines after it stay reachable.
    for n in 3..6 {
        assert_eq!(m.remove(&key(n)), Some(&n));
    }
    assert_eq!(map.chain_lines(&0), 3);
    for n in (0..3).chain(6..12) {
        assert_eq!(m.get(&key(n)), Some(&n));
    }
    // Emptying the last line keeps it as the spare ...
    for n in 9..12 {
        assert_eq!(m.remove(&key(n)), Some(&n));
    }
    assert_eq!(map.chain_lines(&0), 3, "the emptied tail stays as a spare");
    // ... and emptying the line before it unlinks that one.
    for n in 6..9 {
        assert_eq!(m.remove(&key(n)), Some(&n));
    }
    assert_eq!(map.chain_lines(&0), 2);
    map.clear();
    assert_eq!(map.chain_lines(&0), 1, "clear unlinked every overflow line");
    assert!(map.is_empty());
    drop(m);
    drop(map);
}

#[test]
fn table_stats_count_overflow_lines_and_the_longest_chain() {
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let map = ident_inline_map(&d);
    let m = map.pin();
    // Keys `n << 56` all go to bucket 0: seven entries need three lines of
    // three slots (too few entries in all for the table to grow).
    for n in 0..7 {
        m.insert(n << 56, n);
    }
    // One key in each of two other buckets: no more overflow lines.
    m.insert(1, 1);
    m.insert(2, 2);
    let s = map.table_stats();
    assert_eq!(s.entries, 9);
    assert_eq!(s.buckets, 16);
    assert_eq!(s.overflow_lines, 2);
    assert_eq!(s.longest_chain, 3);
    // Three of bucket 0's seven in its head, four past it.
    assert_eq!(s.overflow_entries, 4);
}

/// An insert whose key comparison panics drops the entry it had made for
/// the table, rather than leaking it.
#[test]
fn an_insert_unwinding_from_eq_drops_its_entry() {
    use crate::RcuHashMap;
    use std::hash::{Hash, Hasher};
    struct TouchyKey(u64);
    impl Hash for TouchyKey {
        fn hash<H: Hasher>(&self, h: &mut H) {
            h.write_u64(self.0);
        }
    }
    impl PartialEq for TouchyKey {
        fn eq(&self, _: &Self) -> bool {
            panic!("TouchyKey refuses to be compared")
        }
    }
    impl Eq for TouchyKey {}
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let map: RcuHashMap<TouchyKey, Counted, crate::test_hashers::Ident> = RcuHashMap::builder()
        .hasher(crate::test_hashers::Ident)
        .domain(&d)
        .build();
    map.pin().insert(TouchyKey(1), Counted(1, drops.clone()));
    // Same key: the insert compares, and the comparison panics.
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        map.pin().insert(TouchyKey(1), Counted(2, drops.clone()));
    }));
    assert!(unwound.is_err());
    assert_eq!(
        drops.load(Ordering::Relaxed),
        1,
        "the second entry was dropped"
    );
    assert_eq!(map.len(), 1);
    drop(map);
    drop(d);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
}

/// A table large enough that writers check its load on only a sample of
/// chain growths still starts to grow soon after it passes its limit: one
/// writer can overshoot by at most 16 chain growths, about 160 entries.
#[test]
#[cfg_attr(
    miri,
    ignore = "4096 buckets and more: too slow under Miri, and no unsafe path of its own"
)]
fn a_large_table_grows_soon_after_its_load_limit() {
    fn check<M: crate::MapStorage<u64, u64>>(
        map: crate::RcuHashMap<u64, u64, ahash::RandomState, M>,
    ) {
        assert!(map.table_stats().buckets >= 4096, "a sampled table");
        let start = map.capacity();
        let m = map.pin();
        let mut k = 0;
        while map.capacity() < 4 * start {
            m.insert(k, k);
            k += 1;
            let (len, cap) = (map.len(), map.capacity());
            assert!(
                map.resize_progress().is_some() || len <= cap + cap / 50,
                "{len} entries in a table for {cap}, and no resize under way"
            );
            assert!(k < 100 * start as u64, "the table stopped growing");
        }
    }
    let d = small_queue_domain();
    check(
        crate::RcuHashMap::builder()
            .domain(&d)
            .capacity(20_000)
            .build(),
    );
    check(
        crate::RcuHashMap::builder()
            .domain(&d)
            .inline()
            .capacity(10_000)
            .build(),
    );
}

/// A table shrinks once mostly empty whatever buckets its keys hash to:
/// here every key's bucket index is odd (the identity hasher, odd keys),
/// which a check taken only in buckets whose index is a multiple of 64
/// never saw.
#[test]
#[cfg_attr(
    miri,
    ignore = "a policy test, no unsafe path of its own; 3.5 minutes under Miri"
)]
fn a_table_shrinks_whatever_buckets_its_keys_use() {
    let d = small_queue_domain();
    let map = ident_inline_map(&d);
    let m = map.pin();
    let n = 20_000;
    let keys: Vec<u64> = (0..n).map(|k| 2 * k + 1).collect();
    for &k in &keys {
        m.insert(k, k);
    }
    let grown = map.capacity();
    for &k in &keys {
        assert_eq!(m.remove(&k), Some(&k));
    }
    // A few more writes finish a resize the removals left under way.
    for k in 0..n / 100 {
        m.insert(2 * k + 1, k);
        m.remove(&(2 * k + 1));
    }
    assert!(
        map.capacity() < grown / 4,
        "the table did not shrink: capacity {} after {grown}",
        map.capacity()
    );
}

/// The unwind paths: a `retain` predicate that panics mid-list (the
/// `Unlinked` guard queues what it had unlinked) and an element destructor
/// that panics while the list drops (`DropRest` frees the rest). Miri's
/// leak check and the counter agree that each element is dropped once.
#[test]
fn list_panics_in_user_code_leak_nothing() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let list = RcuList::new_in(&d);
    for i in 0..6 {
        list.push_back(Counted(i, drops.clone()));
    }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        list.retain(|c| {
            assert!(c.0 != 3, "predicate panics at 3");
            c.0 % 2 == 1
        })
    }));
    assert!(r.is_err());
    assert_eq!(list.len(), 4); // 0 and 2 unlinked; 1, 3, 4, 5 linked
    list.push_back(Counted(6, drops.clone())); // the lock was released
    drop(list);
    d.rcu_barrier();
    assert_eq!(drops.load(Ordering::Relaxed), 7);

    struct Bomb(Counted);
    impl Drop for Bomb {
        fn drop(&mut self) {
            assert!(self.0 .0 != 1, "element 1 panics in drop");
        }
    }
    let list = RcuList::new_in(&d);
    for i in 0..3 {
        list.push_back(Bomb(Counted(i, drops.clone())));
    }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(list)));
    assert!(r.is_err());
    assert_eq!(drops.load(Ordering::Relaxed), 10);
    drop(d);
}

/// `retain` judges each entry once: every entry is judged, then only the
/// rejected ones are removed (not judged again), also when a resize was
/// under way (finished first, since it would move inline pairs).
#[test]
fn retain_judges_each_entry_once() {
    fn check<M: crate::MapStorage<u64, u64>>(d: &Domain, n: u64) {
        let map: crate::RcuHashMap<u64, u64, ahash::RandomState, M> = crate::RcuHashMap::builder()
            .domain(d)
            .storage::<M>()
            .build();
        for k in 0..n {
            map.pin().insert(k, k * 10);
        }
        let calls = std::cell::Cell::new(0);
        map.pin().retain(|k, v| {
            calls.set(calls.get() + 1);
            assert_eq!(*v, k * 10);
            k % 2 == 0
        });
        assert_eq!(calls.get(), n, "{n} entries, one judgement each");
        assert_eq!(map.len() as u64, n.div_ceil(2));
        let m = map.pin();
        assert!((0..n).all(|k| m.contains_key(&k) == (k % 2 == 0)));
    }
    let d = Domain::builder().flavor(Flavor::Mb).build();
    for n in [6, if cfg!(miri) { 40 } else { 3000 }] {
        check::<crate::Boxed>(&d, n);
        check::<crate::Inline>(&d, n);
    }
    // A resize left half done: finished before the judging.
    let drops = Arc::new(AtomicUsize::new(0));
    let (map, n) = half_resized(&d, &drops);
    let calls = std::cell::Cell::new(0);
    map.pin().retain(|k, _| {
        calls.set(calls.get() + 1);
        k % 3 == 0
    });
    assert_eq!(calls.get(), n);
    assert_eq!(map.len(), n.div_ceil(3));
    drop(map);
    drop(d);
    assert_eq!(drops.load(Ordering::Relaxed), n, "every value dropped once");
}

/// An inline map's grow runs the user's `Hash` (an inline pair has no
/// room for its hash). A `Hash` that panics at any of those calls leaves
/// a map whose every key is there once (a removed key is gone), whose
/// `len` is right, and whose resize the next writes finish: it grows and
/// shrinks again.
#[test]
fn a_panicking_hash_mid_migration_leaves_an_inline_map_whole() {
    use std::cell::Cell;
    use std::hash::{Hash, Hasher};
    std::thread_local! {
        /// Hash calls left before one panics (`None`: never).
        static FUSE: Cell<Option<usize>> = const { Cell::new(None) };
        static HASHES: Cell<usize> = const { Cell::new(0) };
    }
    #[derive(Clone, Copy, PartialEq, Eq)]
    struct Fused(u64);
    impl Hash for Fused {
        fn hash<H: Hasher>(&self, h: &mut H) {
            HASHES.with(|c| c.set(c.get() + 1));
            match FUSE.with(Cell::get) {
                Some(0) => {
                    FUSE.with(|f| f.set(None));
                    std::panic::panic_any("fuse blown")
                }
                Some(n) => FUSE.with(|f| f.set(Some(n - 1))),
                None => {}
            }
            h.write_u64(self.0);
        }
    }
    let d = Domain::builder().flavor(Flavor::Mb).build();
    // 16 buckets of three inline slots; the key `k` goes to bucket
    // `k % 16`, so the 49th key overflows a line, past the load limit.
    let fill = 60;
    let build = || {
        let map: crate::RcuHashMap<Fused, u64, crate::test_hashers::Ident, crate::Inline> =
            crate::RcuHashMap::builder()
                .hasher(crate::test_hashers::Ident)
                .domain(&d)
                .inline()
                .build();
        map
    };
    // How many calls a clean run makes (the grow's among them).
    HASHES.with(|c| c.set(0));
    let map = build();
    for k in 0..fill {
        map.pin().insert(Fused(k), k);
    }
    let calls = HASHES.with(Cell::get);
    assert!(calls > fill as usize + 40, "the inserts grew the table");
    drop(map);
    // The planned panics print nothing; others still do.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"fuse blown") {
            hook(info);
        }
    }));
    let stride = if cfg!(miri) { 23 } else { 1 };
    for at in (0..calls).step_by(stride) {
        let map = build();
        let start = map.capacity();
        FUSE.with(|f| f.set(Some(at)));
        let mut done = 0;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for k in 0..fill {
                map.pin().insert(Fused(k), k);
                done += 1;
            }
        }));
        FUSE.with(|f| f.set(None));
        assert!(r.is_err(), "call {at} of {calls} panicked");
        // Keys before the interrupted one are in; those after it are not;
        // it may be either.
        let m = map.pin();
        for k in 0..fill {
            let got = m.get(&Fused(k)).copied();
            if k < done || (k == done && got.is_some()) {
                assert_eq!(got, Some(k), "panic at {at}: key {k}");
            } else {
                assert_eq!(got, None, "panic at {at}: key {k}");
            }
        }
        let present = done + u64::from(m.contains_key(&Fused(done)));
        assert_eq!(map.len() as u64, present, "panic at {at}: len");
        assert_eq!(m.iter().count() as u64, present, "panic at {at}: iteration");
        drop(m);
        // It grows (the resize under way finishes, and another follows)...
        let mut k = 1000;
        while map.capacity() <= 2 * start {
            map.pin().insert(Fused(k), k);
            k += 1;
            assert!(k < 1200, "panic at {at}: the map stopped growing");
        }
        // ...every key removed is gone (none was copied twice)...
        for k in (0..present).chain(1000..k) {
            let m = map.pin();
            assert_eq!(m.remove(&Fused(k)), Some(&k), "panic at {at}: key {k}");
            assert_eq!(
                m.get(&Fused(k)),
                None,
                "panic at {at}: key {k} removed twice"
            );
        }
        assert!(map.is_empty());
        // ...and it shrinks (a removal in 64 checks).
        let peak = map.capacity();
        let mut churn = 0;
        while map.capacity() >= peak {
            map.pin().insert(Fused(5000), 0);
            map.pin().remove(&Fused(5000));
            churn += 1;
            assert!(churn < 64 * 8, "panic at {at}: the map never shrank");
        }
    }
}
