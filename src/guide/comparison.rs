//! # 8. Compared with the alternatives
//!
//! What people use instead, what each one is, and how this crate measures
//! against it — including where it loses. Every figure here is a ratio
//! from a table of `BENCHMARKS.md` (the section is named), which gives the
//! command, the machine and the raw output: the **2-core** development VM
//! (an Intel Xeon, 2026-12-06) unless marked **16-core**. These are shared
//! VMs: runs differ by 10–30 % (up to 1.5× for some map cases), and ratios
//! of the map's write workloads moved 2× between the VM's Intel and AMD
//! days.
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
//! From "Reclamation core". Reads: lock, load one pointer, unlock, while a
//! writer replaces the object every millisecond. At 1 / 2 threads the memb
//! read side runs at 7.7× / 8.4× the best Rust peer (crossbeam-epoch,
//! seize) and 1.74× / 1.68× liburcu's memb; QSBR with a guard held at
//! 0.99× / 1.04× liburcu's QSBR, which is one bare load. On 16 cores (2026-11-28,
//! older code) memb led the best peer 4.5× at 1 thread and 3.4× at 16.
//!
//! Retirement (allocate a 64-byte object, publish it, retire the old one):
//! memb makes 1.56× / 1.60× liburcu's `defer_rcu` at 1 / 2 threads, mb
//! and QSBR 2.0× / 2.3×, with the same peak RSS. seize is level with memb
//! at 1 thread (memb 1.02×, mb and QSBR 1.3×) and falls to 1.9 M objects/s
//! at 2 threads, where memb leads it 24×. On 16 cores memb led at every thread count (4.6×
//! crossbeam-epoch at 16).
//!
//! # Configuration: `ConfigCell` vs arc-swap and hazarc
//!
//! From "ConfigCell and RcuList": a 256-byte struct, each read touches two
//! fields, a writer stores a new one every millisecond.
//! [`ConfigCell::read`](crate::ConfigCell::read) runs at 9.7× / 8.9×
//! arc-swap's `load` at 1 / 2 threads (8.2× hazarc's). The cached reader,
//! [`ConfigCell::reader`](crate::ConfigCell::reader), is one load and a
//! compare, as arc-swap's and hazarc's `Cache` are: 1.10× / 1.14×
//! arc-swap `Cache`, 1.03× / 0.99× hazarc `Cache`, and in a QSBR domain
//! 1.04× / 1.00× an unprotected load. On 16 cores (2026-11-28, older code,
//! before the cached reader lost its per-load store) it measured 0.68×–0.77×
//! arc-swap `Cache`.
//!
//! # Maps: `RcuHashMap` vs papaya, scc, dashmap
//!
//! From "RcuHashMap" in `BENCHMARKS.md` (its command and raw output are
//! there; 2-core AMD EPYC VM): `u64` keys and values, a table of 2^21
//! entries. Each cell is the ratio to the peer with the best median, round
//! by round, at 1 / 2 / 4 threads. "Inline" is the map built with
//! [`MapBuilder::inline`](crate::urcu_structures::MapBuilder::inline),
//! which keeps `Copy` pairs inside the bucket line.
//!
//! | workload | urcu (boxed) | urcu inline | best peer |
//! |---|---|---|---|
//! | gets of present keys | 0.82 / 0.89 / 0.86 | **1.36 / 1.46 / 1.57** | `RwLock<HashMap>`, papaya |
//! | gets of absent keys | 0.93 / **1.35 / 1.32** | **1.17 / 1.65 / 2.40** | `RwLock<HashMap>`, scc `HashIndex` |
//! | bustle ReadHeavy | 0.87 / 0.86 / **1.22** | **1.21 / 1.23 / 1.39** | papaya |
//! | bustle Exchange | 0.61 / 0.75 / 0.72 | 0.77 / **1.08** / 0.97 | `RwLock<HashMap>`, dashmap, scc `HashMap` |
//! | bustle RapidGrow | 0.71 / 0.91 / **1.09** | 0.64 / 0.65 / 0.68 | `RwLock<HashMap>`, scc `HashMap`, scc `HashIndex` |
//!
//! **Inline lookups are the map's strength**: inline storage reads one
//! cache line where the others read two or three, and a 2-byte tag summary
//! per bucket, in an array that stays in cache, answers most absent keys
//! without reading the line at all. The boxed default reads its entry too,
//! and runs about level with papaya. **Write-heavy and growing tables
//! trail**, inline by up to 2× (growth) and the boxed default by 1.2–1.6×:
//! a write waits for its 64-byte bucket line, whose lock it takes, one in
//! seven walks on to an overflow line, and a growing table holds two
//! entries per line where the peers pack more (on this VM, faulting in the
//! fresh memory is most of a growth's cost).
//! `docs/map-design.md` has the profiles and the peers' designs.
//! These ratios depend on the machine, and on its state: on the same VM's
//! Intel days the write workloads measured about half as high, a morning
//! run on the AMD VM had the peers' reads 1.6–1.8× slower (and ReadHeavy
//! at 1.7× for both storages), and on 16 cores (2026-11-28, older code)
//! ReadHeavy was 0.47×–1.27× and Exchange and RapidGrow 0.27×–0.74×.
//! With `String` keys and 64-byte values (the default boxed storage, 1 / 2
//! threads): ReadHeavy 0.85× / 0.97×, Exchange 0.90× / 0.91×, RapidGrow
//! 1.24× / 1.39×, gets of absent keys 1.11× / 1.16×. Inline uses 39.2
//! bytes per entry against papaya's 68.2, scc's 40.2 and dashmap's 34.6,
//! the boxed default 51.9 (`u64` pairs).
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
//! `RwLock<Vec>`** (0.08× / 0.12× at 1 / 2 threads; 0.91× at 16 on the
//! **16-core** machine): pointer chasing against a contiguous scan. It is
//! a little ahead of `RwLock<LinkedList>` (1.12× / 1.06×). Use it when readers must never wait behind a writer, not
//! for scan speed.
//!
//! For a small list that changes rarely, a copy-on-write
//! [`ConfigCell<Vec<T>>`](crate::ConfigCell) scans as fast as a `Vec`
//! (it is one) and never makes a reader wait: a writer clones, edits and
//! stores (O(n) per write). It reads at 1.15× / 1.88× `RwLock<Vec>` at
//! 1 / 2 threads, where `RcuList` reads at 0.08× / 0.12×.
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
//! Measured in the same run ("Reclamation core" in `BENCHMARKS.md`, the
//! C side running whole loops in C), urcu ÷ liburcu at 1 / 2 threads: memb
//! read side 1.74× / 1.68×, mb read side 6.1× / 6.3×, QSBR with a guard
//! held 0.99× / 1.04×; retirement 1.56× / 1.60× `defer_rcu` (memb) and
//! about 2.0× / 2.3× (mb, QSBR); `synchronize_rcu` with one busy reader
//! takes 15.7 µs against liburcu's 30.0 (memb: one `membarrier` call
//! where liburcu makes two), 0.43 against 0.33 (mb) and 0.46 against 0.55
//! (QSBR). Not yet measured on 16 cores.
