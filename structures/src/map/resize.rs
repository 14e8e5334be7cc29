//! Growing and shrinking: when a write checks the load, and how the
//! writes that meet a resize share its migration, a chunk of buckets each,
//! so that no write (nor the read-side section around it) pays for a whole
//! table. The bucket-level protocol is in [`table`](super::table).

use super::table::Table;
use super::zeroed::Pages;
use super::{MapStorage, OnDrop, RcuHashMap};
use crate::sync::Ordering;
use std::hash::{BuildHasher, Hash};

/// Tables of this many buckets or more check their load on a sample of
/// chain growths (see [`this_thread_checks_the_load`]).
const GROW_SAMPLED_FROM: usize = 4096;

/// In a sampled table, a thread counts the entries on one chain growth in
/// this many.
const GROW_CHECK_EVERY: u32 = 16;

/// A thread counts the entries (to see whether the table should shrink)
/// on one removal in this many.
const SHRINK_CHECK_EVERY: u32 = 64;

/// Whether this chain growth of this thread should count the map's
/// entries. `len` reads every counter stripe: up to [`STRIPES`](super::stripe::STRIPES) lines that
/// the other writers keep dirty, so on a many-core machine one count is a
/// dozen cross-core misses, and it takes those lines from their owners. A
/// write-heavy load grows a chain on about one insert in ten, too often
/// for that. Checking one
/// growth in sixteen per thread lets a table of `b` buckets overshoot its
/// load limit by at most 16 lines per writer, under 0.4 % of `b` per
/// writer at 4096 buckets; smaller tables check every growth.
fn this_thread_checks_the_load() -> bool {
    std::thread_local! {
        static GROWTHS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    every_nth(&GROWTHS, GROW_CHECK_EVERY)
}

/// Whether this removal of this thread should check for a shrink (one in
/// [`SHRINK_CHECK_EVERY`], for the same reason as
/// [`this_thread_checks_the_load`]). Counted per thread, not by bucket: a
/// check taken only in buckets whose index is a multiple of 64 never came
/// for keys that all hash elsewhere (odd integers under an identity
/// hasher), and such a table never shrank.
pub(super) fn this_thread_checks_for_shrink() -> bool {
    std::thread_local! {
        static REMOVALS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    every_nth(&REMOVALS, SHRINK_CHECK_EVERY)
}

/// Counts one more event in this thread's `counter`; true on every
/// `every`-th. Always true under loom, whose models replay on one OS
/// thread (a count carried across runs would make them nondeterministic).
fn every_nth(counter: &'static std::thread::LocalKey<std::cell::Cell<u32>>, every: u32) -> bool {
    if cfg!(loom) {
        return true;
    }
    counter.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n % every == 0
    })
}

/// How long a table made by a resize stays on 4 KiB pages before it is
/// collapsed into huge ones (see [`zeroed`](super::zeroed)), unless it is
/// resized first. A table that keeps growing is replaced before then, and
/// a collapse of it would be thrown away; worse, it would run beside the
/// next migration, taking a core, fresh huge pages, and the process's
/// memory-map lock (`MADV_COLLAPSE` holds it for writing while it copies
/// into each huge page), which stalls that migration's page faults.
/// Collapsing at once cost RapidGrow inline a quarter to over a third
/// against huge pages from the start, where waiting this long doubled it
/// (docs/map-design.md, "Grown tables on 4 KiB pages").
const COLLAPSE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Buckets a helper migrates per claim.
const MIGRATE_CHUNK: usize = 64;

/// How many buckets ahead of the one it migrates a helper prefetches the
/// boxed entries (whose hashes migration reads: a miss each); overflow
/// lines are prefetched twice as far ahead.
const PREFETCH_AHEAD: usize = 2;

impl<K, V, S, M> RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    /// The hash function, for entries that do not store their hash.
    pub(super) fn rehash(&self) -> impl Fn(&K) -> u64 + '_ {
        |k| self.hasher.hash_one(k)
    }

    /// Counts `n` more buckets moved out of `t`; the last ones switch the
    /// root to the next table and retire `t`. Migration counts a chunk at
    /// a time: one write of this shared counter per bucket made it a line
    /// that every migrating thread pulled from the others.
    pub(super) fn finish_bucket_moves(&self, t: &Table<K, V, M>, n: usize) {
        // AcqRel: each migrator's moves (release) happen before the last
        // one's switch of the root and retirement of `t` (acquire): the
        // counts form one release sequence that the final add reads.
        if t.moved.fetch_add(n, Ordering::AcqRel) + n == t.len() {
            let next = t.next.load(Ordering::Acquire);
            // Swap the root's own pointer (which carries the allocation's
            // provenance) for the next table. Release: the next table, filled
            // by migration, is complete for readers that load the root.
            let old = self.root.swap(next, Ordering::AcqRel);
            assert!(
                std::ptr::eq(old, t),
                "only the last migrator of the root table switches it"
            );
            if let Some(filled) = t.next() {
                filled.collapse_in_background(COLLAPSE_AFTER);
            }
            // SAFETY: `old` came from `Box::into_raw`, is no longer the root
            // (readers reach it only through sections that began before),
            // and only this thread saw the last bucket move.
            unsafe { self.domain.rcu_reclaim_queue_raw(old) };
        }
    }

    /// Migrates buckets of `t` in chunks until none is left to claim.
    pub(super) fn help_migrate(&self, t: &Table<K, V, M>) {
        let Some(next) = t.next() else { return };
        while self.migrate_chunk(t, next) {}
    }

    /// Claims and migrates one chunk of `t`'s buckets; `false` when none
    /// was left to claim.
    ///
    /// A migration runs the user's `Hash` (inline entries of a growing
    /// table), which may panic. The bucket it panics in is left whole and
    /// unmoved (see `migrate_to`); on the way out this helper still counts
    /// the buckets it did move, and marks the table `abandoned`, so that
    /// later helpers go round the table again, claiming chunks past the
    /// end and migrating what is still unmoved, until every bucket has
    /// moved. Without that the rest of the chunk would stay claimed but
    /// unmoved: the resize would never finish, and the table never grow or
    /// shrink again.
    pub(super) fn migrate_chunk(&self, t: &Table<K, V, M>, next: &Table<K, V, M>) -> bool {
        // Look before claiming: once every chunk is claimed, the writers
        // still meeting the resize do not all write one counter.
        let again = t.claimed.load(Ordering::Relaxed) >= t.len();
        if again && !t.abandoned.load(Ordering::Relaxed) {
            return false;
        }
        let mut start = t.claimed.fetch_add(MIGRATE_CHUNK, Ordering::Relaxed);
        let again = start >= t.len();
        if again {
            // Acquire: pairs with the release that counted the moved
            // buckets of a finished resize (nothing to read depends on it,
            // but a sweep of an already finished table is wasted work).
            if !t.abandoned.load(Ordering::Relaxed) || t.moved.load(Ordering::Acquire) >= t.len() {
                return false;
            }
            // Another round: chunk starts are multiples of MIGRATE_CHUNK,
            // and a table's length a power of two.
            start %= t.len();
        }
        let rehash = self.rehash();
        // Counted when this function returns or unwinds (`settle`).
        let moved = std::cell::Cell::new(0);
        let finished = std::cell::Cell::new(false);
        let _settle = OnDrop(|| {
            if !finished.get() {
                // Unwinding from a panicking `Hash`: the rest of the chunk
                // is claimed but unmoved. Before the count below, so that
                // no helper reads the last count without seeing the flag.
                t.abandoned.store(true, Ordering::Release);
            }
            if moved.get() > 0 {
                self.finish_bucket_moves(t, moved.get());
            }
        });
        let end = (start + MIGRATE_CHUNK).min(t.len());
        // Two prefetch stages, so neither waits on a miss: the overflow
        // line of the bucket 2 × PREFETCH_AHEAD on, then the boxed entries
        // of the bucket PREFETCH_AHEAD on (its overflow line now loaded).
        // We are in a read-side section (every write is), so a chain may be
        // scanned like a reader's.
        for j in start..(start + 2 * PREFETCH_AHEAD).min(end) {
            t.bucket_at(j).prefetch_overflow();
        }
        for j in start..(start + PREFETCH_AHEAD).min(end) {
            t.bucket_at(j).prefetch_entries();
        }
        for i in start..end {
            if i + 2 * PREFETCH_AHEAD < end {
                t.bucket_at(i + 2 * PREFETCH_AHEAD).prefetch_overflow();
            }
            if i + PREFETCH_AHEAD < end {
                t.bucket_at(i + PREFETCH_AHEAD).prefetch_entries();
            }
            // Another round skips what has moved without locking it.
            if again && t.bucket_at(i).is_moved() {
                continue;
            }
            let lock = t.lock_at(i);
            if !lock.is_moved() {
                lock.migrate_to(t, i, next, &rehash, &self.domain);
                moved.set(moved.get() + 1);
            }
        }
        finished.set(true);
        true
    }

    /// Starts a resize of the root table to `buckets` (unless one is
    /// already under way) and moves its first chunk. The writes that follow
    /// move the rest, a chunk each (see `lock_bucket`).
    ///
    /// `from` is the table whose load the caller judged, and `buckets`
    /// twice or half its length: nothing starts unless it is still the
    /// root. Between the caller's look and ours, other writers may have
    /// resized it and finished (a small table moves in one chunk): a grow
    /// judged on a table that has since halved would then ask for four
    /// times the root's buckets, which `migrate_to` refuses with a panic,
    /// at every write from then on.
    pub(super) fn resize(&self, from: &Table<K, V, M>, buckets: usize) {
        let t = self.root();
        if std::ptr::eq(t, from) && t.next().is_none() && t.len() != buckets {
            // On 4 KiB pages, faulted in fast while the writers migrate
            // into it; collapsed into huge pages once it is the root.
            let table = Table::new(buckets, Pages::SmallUntilCollapsed);
            let fresh = Box::into_raw(Box::new(table));
            // Release: the new table is built before helpers can see it.
            if t.next
                .compare_exchange(
                    std::ptr::null_mut(),
                    fresh,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_err()
            {
                // SAFETY: never published.
                drop(unsafe { Box::from_raw(fresh) });
            } else {
                t.stop_collapsing();
            }
        }
        if let Some(next) = t.next() {
            self.migrate_chunk(t, next);
        }
    }

    /// Called after a chain had to grow: grow the table if it is loaded.
    /// In a large table only every [`GROW_CHECK_EVERY`]-th growth of a
    /// thread counts the entries (see [`this_thread_checks_the_load`]).
    #[cold]
    pub(super) fn maybe_grow(&self, t: &Table<K, V, M>) {
        if t.next().is_some() || (t.len() >= GROW_SAMPLED_FROM && !this_thread_checks_the_load()) {
            return;
        }
        if self.len() * 100 > t.len() * M::SLOTS * M::GROW_PERCENT {
            self.resize(t, t.len() * 2);
        }
    }

    /// Called now and then after a removal: shrink the table if it is
    /// mostly empty.
    #[cold]
    pub(super) fn maybe_shrink(&self, t: &Table<K, V, M>) {
        if t.next().is_none()
            && t.len() > self.min_buckets
            && self.len() * 100 * 2 < t.len() * M::SLOTS * M::GROW_PERCENT
        {
            self.resize(t, t.len() / 2);
        }
    }

    /// Helps a resize under way to its end; returns the root table it
    /// left (which a concurrent writer may have begun to resize again).
    /// The caller is in a read-side section.
    pub(super) fn finish_resize(&self) -> &Table<K, V, M> {
        loop {
            let t = self.root();
            if t.next().is_none() {
                return t;
            }
            self.help_migrate(t);
        }
    }
}

#[cfg(all(test, target_os = "linux", not(miri), not(loom)))]
mod tests {
    use crate::map::zeroed::Pages;
    use crate::map::{Inline, RcuHashMap};
    use std::time::{Duration, Instant};

    /// A map built with its capacity maps its table on huge pages from
    /// the start.
    #[test]
    fn a_table_built_with_capacity_is_on_huge_pages() {
        let m = RcuHashMap::<u64, u64>::builder()
            .storage::<Inline>()
            .capacity(1 << 20)
            .build();
        let _g = m.pin();
        assert_eq!(m.root().pages(), Some(Pages::Huge));
    }

    /// A map built small and grown past the prefaulting size has its last
    /// table mapped on 4 KiB pages, and ends on huge pages: the table is
    /// collapsed after [`super::COLLAPSE_AFTER`], and holds every entry.
    /// (Whether it is still on 4 KiB pages when the inserts end depends on
    /// how long they took; `zeroed`'s tests check that the pages start
    /// small.) The tables it grew through were not collapsed, or not
    /// wholly (each was stopped when its resize began): that is what saves
    /// growth its cost, and is not observable here.
    #[test]
    fn a_grown_table_ends_on_huge_pages() {
        use crate::map::zeroed::tests::{kernel_collapses, kernel_populates};
        if !kernel_populates() || !kernel_collapses() {
            eprintln!("skipped: this kernel has no MADV_POPULATE_WRITE or MADV_COLLAPSE");
            return;
        }
        let m = RcuHashMap::<u64, u64>::builder()
            .storage::<Inline>()
            .build();
        // Tables of 16 MiB (2^18 head lines) and more are prefaulted.
        let n = 1_500_000u64;
        for start in (0..n).step_by(4096) {
            // A section per batch, so that grace periods go on.
            let p = m.pin();
            for k in start..(start + 4096).min(n) {
                p.insert(k, k);
            }
        }
        let g = m.pin();
        assert_eq!(m.root().pages(), Some(Pages::SmallUntilCollapsed));
        let (_, aligned) = m.root().huge_page_bytes();
        assert!(
            aligned >= 8 << 20,
            "the table did not grow as expected: {aligned} aligned bytes"
        );
        drop(g);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let g = m.pin();
            let (huge, aligned) = m.root().huge_page_bytes();
            drop(g);
            if huge == aligned {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{huge} of {aligned} bytes on huge pages after 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let p = m.pin();
        assert!((0..n).all(|k| p.get(&k) == Some(&k)), "an entry lost");
    }
}
