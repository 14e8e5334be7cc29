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
//! From "RcuHashMap" in `BENCHMARKS.md`: `cargo bench --bench map --
//! --capacity-log2 21 --ops-factor 3 --rounds 3`, the bustle workloads
//! with `u64` keys and values, on the **2-core** VM at 1 and 2 threads,
//! millions of operations per second (ratio to the best peer), the median
//! of three interleaved rounds (2026-11-28, sixth session). "inline" is
//! the map built with
//! [`MapBuilder::inline`](crate::urcu_structures::MapBuilder::inline),
//! which keeps `Copy` pairs inside the bucket line.
//!
//! | workload | threads | urcu (boxed) | urcu inline | best peer |
//! |---|---|---|---|---|
//! | ReadHeavy | 1 | 4.09 (1.06) | 6.18 (1.60) | papaya 3.87 |
//! | ReadHeavy | 2 | 7.53 (0.98) | 11.1 (1.45) | papaya 7.67 |
//! | Exchange | 1 | 1.69 (0.83) | 2.67 (1.32) | `RwLock<HashMap>` 2.03 |
//! | Exchange | 2 | 3.63 (0.91) | 5.41 (1.36) | scc `HashIndex` 3.98 |
//! | RapidGrow | 1 | 1.30 (0.71) | 1.77 (0.96) | `RwLock<HashMap>` 1.84 |
//! | RapidGrow | 2 | 2.32 (0.66) | 3.52 (1.00) | scc `HashIndex` 3.53 |
//!
//! The same command a day later (2026-11-29), after migration learned to
//! prefetch, on the same VM running faster and noisier, where the peers
//! gained more than we did:
//!
//! | workload | threads | urcu (boxed) | urcu inline | best peer |
//! |---|---|---|---|---|
//! | ReadHeavy | 1 | 9.65 (1.20) | 11.2 (1.39) | papaya 8.02 |
//! | ReadHeavy | 2 | 14.3 (0.89) | 17.5 (1.09) | papaya 16.1 |
//! | Exchange | 1 | 2.85 (0.54) | 4.65 (0.88) | dashmap 5.30 |
//! | Exchange | 2 | 5.65 (0.84) | 8.53 (1.26) | scc `HashIndex` 6.75 |
//! | RapidGrow | 1 | 2.33 (0.60) | 2.74 (0.71) | scc `HashIndex` 3.88 |
//! | RapidGrow | 2 | 4.17 (0.72) | 5.00 (0.86) | scc `HashIndex` 5.81 |
//!
//! Between the two runs only migration changed, yet the ranking moved.
//! Two more runs that day, after an insert-path change, put the inline
//! map at 0.69×–1.04× on ReadHeavy at 1 thread (papaya leading), the
//! same code's speed moving by a third within minutes on that VM: read
//! these as "level, give or take a quarter", not as a lead. RapidGrow trails for a reason that does not move: our
//! inline table holds three pairs per 64-byte line and doubles at two per
//! line, so it ends a growth run with twice scc's table, and the kernel's
//! zeroing of fresh pages (slow on this VM) was a quarter of our time.
//! Since a background thread faults large tables in ahead of the writers,
//! the inline map's RapidGrow is 0.75×–1.01× / 0.84×–0.91× the best peer
//! at 1 / 2 threads (two runs), where it had been 0.69×–0.86×. On
//! the **16-core** machine (two runs, before these changes) the inline map
//! was 1.27×–1.59× the best peer on ReadHeavy at 1 thread and 0.92×–1.38×
//! on a 98 %-read loop at 1–16 threads, but 0.47×–0.76× on ReadHeavy at
//! 16 threads (why is not yet known: it needs a profile on that machine),
//! and 0.21×–0.74× on the write-heavy and fast-growing workloads. **Reads
//! lead at low thread counts; writes are level on small hosts at best,
//! growing tables behind, and large hosts unmeasured since.** Inline uses
//! 38 bytes per entry against papaya's 68, scc's 40 and dashmap's 34; the
//! boxed default 53. Pick [`RcuHashMap`](crate::RcuHashMap) for
//! read-mostly tables, where you want its guard-tied references, bounded
//! reclamation and one grace-period domain shared with the rest of your
//! RCU data; for a write-heavy or fast-growing table, scc still has the
//! measured lead.
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
