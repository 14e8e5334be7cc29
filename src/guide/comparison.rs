//! # 8. Compared with the alternatives
//!
//! What people use instead, what each one is, and how this crate measures
//! against it — including where it loses. Every figure is from
//! `BENCHMARKS.md` (section named in each table), or from the raw run its
//! table was taken from (`docs/bench/`, named below), on the **16-core**
//! machine (16 vCPU Xeon, Linux 6.18) unless marked **2-core** (2 vCPU
//! development VM). These are shared VMs: runs differ by 10–30 % (up to
//! 1.5× for some map cases).
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
//! From "Reclamation core", `cargo bench -p urcu-bench --bench scaling`, 16-core,
//! 2026-11-28 (raw `docs/bench/scaling-16core-2026-11-28.txt`). Reads:
//! lock, load one pointer, unlock, while a writer replaces the object every
//! millisecond; millions of reads per second, summed over threads.
//!
//! | threads | urcu memb | urcu qsbr (handle) | seize | crossbeam-epoch | arc-swap `load` |
//! |---|---|---|---|---|---|
//! | 1  | 304 | 262 | 63 | 68 | 43 |
//! | 16 | 3245 | 3844 | 960 | 263 | 653 |
//!
//! That is 4.5× the best peer (crossbeam-epoch) at 1 thread and 3.4×
//! (seize) at 16 for memb; 3.9× and 4.0× for qsbr.
//!
//! Retirement: allocate a 64-byte object, publish it, retire the old one;
//! millions of objects per second, and peak RSS:
//!
//! | threads | urcu memb | crossbeam-epoch `defer_destroy` | seize `retire` |
//! |---|---|---|---|
//! | 1  | 16.3 (3.4 MiB) | 9.4 (3.2 MiB) | 13.7 (3.2 MiB) |
//! | 16 | 185 (9.0 MiB) | 40.0 (13.9 MiB) | 3.0 (3.4 MiB) |
//!
//! On 16 cores retirement leads at every thread count (1.19× seize at 1
//! thread, 4.6× crossbeam-epoch at 16). **It loses at 1 thread on the
//! 2-core Intel VM**: 0.92× / 0.81× of seize in two runs (2026-11-29),
//! while it leads liburcu's `defer_rcu` there (1.16× / 1.26×). On the
//! 2-core AMD EPYC (2026-12-06, a grace period per half ring) it leads
//! seize by 1.20× at 1 thread, and `defer_rcu` by 1.39× / 1.51× at 1 / 2
//! threads ("Reclamation core" in `BENCHMARKS.md`).
//!
//! # Configuration: `ConfigCell` vs arc-swap
//!
//! From "ConfigCell and RcuList": a 256-byte struct, each read touches two
//! fields, a writer stores a new one every millisecond; millions of reads
//! per second. 16-core, the same run as above:
//!
//! | threads | [`ConfigCell::read`](crate::ConfigCell::read) | [`ConfigCell::reader`](crate::ConfigCell::reader) | arc-swap `load` | arc-swap `Cache` | `RwLock<Arc<T>>` |
//! |---|---|---|---|---|---|
//! | 1  | 203 | 403 | 51 | 523 | 41 |
//! | 4  | 703 | 1492 | 170 | 2182 | 9.7 |
//! | 16 | 2821 | 6033 | 617 | 8170 | 9.8 |
//!
//! `read()` beats arc-swap's `load` 4.0×–4.6× at these thread counts; the
//! cached reader **loses to arc-swap's `Cache`** at every thread count on
//! 16 cores (0.68×–0.77×). On the **2-core** Intel VM (2026-11-29, two
//! runs, later code) `reader()` measured 1.71×–2.10× of `Cache` at 1–2
//! readers, but another measurement there (issue #23) found 0.75×: the
//! cached reader is open work.
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
//! | gets of present keys | 0.84 / 0.88 / 0.72 | **1.24 / 1.48 / 1.15** | papaya, dashmap, scc `HashIndex` |
//! | gets of absent keys | 0.82 / 0.81 / 0.61 | 1.08 / 2.06 / 1.01 | scc `HashIndex` |
//! | bustle ReadHeavy | 0.65 / 0.75 / 0.81 | 0.86 / 1.20 / 1.17 | papaya, scc `HashIndex` |
//! | bustle Exchange | 0.44 / 0.70 / 0.88 | 0.77 / 0.91 / 1.13 | dashmap, scc |
//! | bustle RapidGrow | 0.46 / 0.85 / 0.81 | 0.57 / 0.70 / 0.86 | dashmap, scc `HashIndex` |
//!
//! **A lookup of a present key is the map's strength**: inline storage
//! reads one cache line where the others read two or three. Write-heavy
//! and growing tables are behind (a cell moves by about a quarter between
//! runs on that VM; absent keys ride on the noise, see `BENCHMARKS.md`). The peers answer absent keys
//! and take their write locks in small metadata arrays that stay in cache;
//! our bucket line must come from memory. `docs/map-design.md` has the
//! profiles and the peers' designs. On an Intel 2-core VM the same bustle
//! workloads measured lower still (Exchange 0.29× boxed), and on 16 cores
//! (2026-11-28, older code) 0.47×–1.27× on ReadHeavy and 0.27×–0.74× on
//! Exchange and RapidGrow (boxed and inline, 1–16 threads). With `String`
//! keys and 64-byte values (2-core AMD, boxed) growth and writes are where
//! the map leads (RapidGrow 1.14× / 1.18×, inserts only 1.34× / 1.22×,
//! Exchange 1.00× / 1.23× at 1 / 2 threads) and ReadHeavy trails (0.63× /
//! 0.69×). Inline uses 42 bytes per
//! entry against papaya's 68, scc's 40 and dashmap's 36, the boxed default
//! 55 (16-core).
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
//! `RwLock<Vec>`** (0.10× at 1 thread, 0.91× at 16): pointer chasing
//! against a contiguous scan. It beats `RwLock<LinkedList>` at every
//! thread count. Use it when readers must never wait behind a writer, not
//! for scan speed.
//!
//! For a small list that changes rarely, a copy-on-write
//! [`ConfigCell<Vec<T>>`](crate::ConfigCell) scans as fast as a `Vec`
//! (it is one) and never makes a reader wait: a writer clones, edits and
//! stores (O(n) per write). On the **2-core** Intel VM (2026-11-29, two
//! runs) it read 5.98 / 5.52 M traversals/s at 1 thread (1.50× / 1.02×
//! `RwLock<Vec>`) and 9.77 / 10.0 at 2 (2.00× / 1.89×); `RcuList` read
//! 0.68 / 0.65 and 1.13 / 1.15.
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
//! Measured in the same runs (`cargo bench -p urcu-bench --features liburcu
//! --bench scaling`, the C side running whole loops in C; **2-core** Intel VM,
//! 2026-11-29, two runs: "Reclamation core" in `BENCHMARKS.md`, raw
//! `docs/bench/scaling-2core-2026-11-29.txt` and
//! `docs/bench/scaling-2core-2026-11-29b.txt`), urcu ÷ liburcu, the two
//! runs at 1 thread, then at 2: memb read side 1.04× / 1.02×, then 1.17× /
//! 1.24×; mb read side 10×–13×; QSBR with a guard held 1.38× / 1.05×,
//! then 0.94× / 0.94× (**liburcu leads at 2 threads**: its QSBR read is a
//! bare load, ours also checks the guard's domain); retirement 1.16× /
//! 1.26× `defer_rcu`, then 1.22× / 1.47×; `synchronize_rcu` as fast with
//! no reader (both return at once), and with one busy reader 0.79× / 0.88×
//! as long as liburcu's memb, 1.47× / 1.24× as long as its mb (0.42 /
//! 0.48 µs against 0.28 / 0.39), 0.82× / 0.75× its qsbr; boxed map lookups
//! 2.9×–4.7× `cds_lfht`. Not yet measured on 16 cores.
