//! # 8. Compared with the alternatives
//!
//! What people use instead, what each one is, and how this crate measures
//! against it — including where it loses. Every figure is from
//! `BENCHMARKS.md` (section named in each table), on the **16-core**
//! machine (16 vCPU Xeon, Linux 6.18) unless marked **2-core** (2 vCPU
//! development VM); raw output is in `docs/bench/`. These are shared VMs:
//! runs differ by 10–30 % (up to 1.5× for some map cases).
//!
//! # What each one is
//!
//! | | kind | read side | a stalled reader | wait for a grace period | everything queued is freed |
//! |---|---|---|---|---|---|
//! | **urcu** (this crate) | RCU: 3 flavors, reclamation queue, map, list, config cell | memb: stores on the thread's own line; qsbr: nothing | pending memory bounded (threads × capacity, plus one section's spill each); writers wait; stall reported by thread name | [`synchronize_rcu`](crate::synchronize_rcu), polling, [`rcu_barrier`](crate::rcu_barrier) | yes: `rcu_barrier`, at domain drop, for exited threads |
//! | **crossbeam-epoch** | epoch-based reclamation | an atomic read-modify-write per `pin` | garbage grows without bound | no | not guaranteed (the global collector is never dropped) |
//! | **seize** (papaya's reclaimer) | reference-counted batches | a store and a compiler fence (writers use membarrier) | holds what was retired during the stall | no | once a batch fills and is released |
//! | **arc-swap** | an atomically swappable `Arc` | `load`: a debt slot and a re-check; `Cache`: a compare | keeps only the values it holds | n/a | yes (reference counts) |
//! | **papaya** | lock-free hash map on seize | pinned guard | as seize | no | as seize |
//! | **dashmap** | sharded `RwLock<HashMap>` | two atomic read-modify-writes on a shard | n/a (locks); a held `Ref` can deadlock a writer | n/a | yes |
//! | **scc** `HashMap`/`HashIndex` | bucketed maps on its own epoch scheme (sdd) | `HashIndex`: lock-free, writes nothing | a thread that stops entering keeps its garbage | no | as its epochs advance |
//! | **liburcu** (C) | the original userspace RCU | same flavors as here | `defer_rcu`: bounded, the caller waits (a deadlock inside a section); `call_rcu`: grows without bound | yes | not a queue whose thread exits without unregistering |
//!
//! # Reclamation core: read side and retirement
//!
//! From "Reclamation core", `cargo bench --bench scaling`. Reads: lock,
//! load one pointer, unlock, while a writer replaces the object every
//! millisecond; millions of reads per second, summed over threads.
//!
//! | threads | urcu memb | urcu qsbr | seize | crossbeam-epoch | arc-swap `load` |
//! |---|---|---|---|---|---|
//! | 1  | 240 | 327 | 89 | 84 | 54 |
//! | 16 | 3819 | 5276 | 1063 | 246 | 676 |
//!
//! Retirement: allocate a 64-byte object, publish it, retire the old one;
//! millions of objects per second, and peak RSS:
//!
//! | threads | urcu memb | crossbeam-epoch `defer_destroy` | seize `retire` |
//! |---|---|---|---|
//! | 1  | 9.2 (3.0 MiB) | 12.1 (2.8 MiB) | 13.4 (2.8 MiB) |
//! | 16 | 206 (8.5 MiB) | 41.3 (28.9 MiB) | 2.9 (3.0 MiB) |
//!
//! **We lose at 1–2 threads** on retirement (0.68×–0.99× of the best peer
//! on 16 cores). A later fix measured 0.94×–1.13× of seize at 1 thread and
//! 1.74×–1.82× at 2 on the 2-core VM, not yet re-measured on 16 cores.
//!
//! # Configuration: `ConfigCell` vs arc-swap
//!
//! From "ConfigCell and RcuList": a 256-byte struct, each read touches two
//! fields, a writer stores a new one every millisecond; millions of reads
//! per second.
//!
//! | threads | [`ConfigCell::read`](crate::ConfigCell::read) | [`ConfigCell::reader`](crate::ConfigCell::reader) | arc-swap `load` | arc-swap `Cache` | `RwLock<Arc<T>>` |
//! |---|---|---|---|---|---|
//! | 1  | 196 | 344 | 43 | 620 | 43 |
//! | 4  | 867 | 2045 | 198 | 1281 | 12.1 |
//! | 16 | 2767 | 5639 | 583 | 7589 | 10.2 |
//!
//! `read()` beats arc-swap's `load` 4.6×–5.4×; the cached reader beats
//! arc-swap's `Cache` at 2–8 threads but **loses at 1 and 16 threads**
//! (0.56× and 0.74×). On the 2-core VM, after later changes (the last one
//! halved the work per load), `reader()` measured 1.97×–2.09× of `Cache`
//! at 1–2 readers; the 16-core figures above predate it.
//!
//! # Maps: `RcuHashMap` vs papaya, scc, dashmap
//!
//! From "RcuHashMap" in `BENCHMARKS.md` (its command and raw output are
//! there): `u64` keys and values, a table of 2^21 entries, on the
//! **2-core** AMD VM on 2026-12-06. Each cell is the ratio to the peer
//! with the best median, round by round, at 1 / 2 / 4 threads. "Inline" is
//! the map built with
//! [`MapBuilder::inline`](crate::urcu_structures::MapBuilder::inline),
//! which keeps `Copy` pairs inside the bucket line.
//!
//! | workload | urcu (boxed) | urcu inline | best peer |
//! |---|---|---|---|
//! | gets of present keys | 0.85 / 0.86 / 0.91 | **1.44 / 1.36 / 1.46** | papaya, scc `HashIndex` |
//! | gets of absent keys | 0.32 / 0.61 / 0.35 | 0.44 / 0.80 / 0.39 | dashmap, papaya |
//! | bustle ReadHeavy | 0.90 / 0.76 / 0.88 | 0.98 / 0.89 / 1.00 | papaya |
//! | bustle Exchange | 0.49 / 0.54 / 0.74 | 0.72 / 0.64 / 0.99 | `RwLock<HashMap>`, scc, dashmap |
//! | bustle RapidGrow | 0.49 / 0.59 / 0.31 | 0.60 / 0.68 / 0.37 | dashmap, scc `HashIndex` |
//!
//! **A lookup of a present key is the map's strength**: inline storage
//! reads one cache line where the others read two or three. Absent keys,
//! write-heavy and growing tables are behind. The peers answer absent keys
//! and take their write locks in small metadata arrays that stay in cache;
//! our bucket line must come from memory. `docs/map-design.md` has the
//! profiles and the peers' designs. On an Intel 2-core VM the same bustle
//! workloads measured lower still (Exchange 0.29× boxed), and on 16 cores
//! (2026-11-28, older code) 0.47×–0.76× on ReadHeavy and 0.21×–0.74× on
//! the write-heavy ones. Inline uses 42 bytes per entry against papaya's
//! 68, scc's 40 and dashmap's 36, the boxed default 55.
//!
//! Pick [`RcuHashMap`](crate::RcuHashMap) for read-mostly tables whose keys
//! are mostly present, where you want its guard-tied references, bounded
//! reclamation and one grace-period domain shared with the rest of your
//! RCU data. For a write-heavy or fast-growing table, scc and dashmap have
//! the measured lead.
//!
//! # Lists
//!
//! [`RcuList`](crate::RcuList) traversals (1000 elements) **lose to
//! `RwLock<Vec>`** (0.14× at 1 thread, 0.95× at 16): pointer chasing
//! against a contiguous scan. It beats `RwLock<LinkedList>` at every
//! thread count. Use it when readers must never wait behind a writer, not
//! for scan speed.
//!
//! For a small list that changes rarely, a copy-on-write
//! [`ConfigCell<Vec<T>>`](crate::ConfigCell) scans as fast as a `Vec`
//! (it is one) and never makes a reader wait: a writer clones, edits and
//! stores (O(n) per write). In the same runs (2-core VM, third session,
//! `scaling --case list:IMPL --threads 1|2 --secs 1`, medians
//! of 3) it read 3.72 / 7.43 M traversals/s at 1 / 2 threads against
//! `RwLock<Vec>`'s 3.64 / 5.86 (1.02× / 1.27×), `RcuList` 0.49 / 0.88.
//!
//! # liburcu
//!
//! The C library this crate descends from (flavors, grace-period
//! algorithm, `defer_rcu`'s queue encoding). Differences by design: no
//! mandatory register/unregister (threads join on first use; exited
//! threads' queues are drained, not leaked), a full queue inside a section
//! spills instead of deadlocking, waiting inside a section panics, stalls
//! are reported, producers free their own entries instead of one worker
//! thread freeing for everyone, and QSBR's reference rule is checked by the
//! compiler.
//!
//! Measured in the same runs (`cargo bench --features liburcu --bench
//! scaling`, the C side running whole loops in C; 2-core VM, 2026-11-28;
//! history of "Reclamation core" in `BENCHMARKS.md`), urcu ÷ liburcu at 1 / 2
//! threads: memb read side 1.03× / 1.28× (medians of alternated rounds;
//! single runs here move by 20 %), mb read side 5.1× / 4.6×, QSBR with a
//! guard held 0.93× / 1.01× (**liburcu leads at 1 thread**: its QSBR read
//! is a bare load, ours also checks the guard's domain), retirement
//! 1.03–1.23× / 1.16–1.20× `defer_rcu`, `synchronize_rcu` as fast with no
//! reader (both return at once) and 0.89× / 0.88× / 1.18× as long as
//! liburcu's memb / mb / qsbr with one busy reader, map lookups 3.5× /
//! 4.0× `cds_lfht`. Not yet measured on 16 cores.
