//! # 3. The three flavors, and how to choose
//!
//! A *flavor* is how a reader tells grace-period detection that it is
//! inside a section. All three give the same guarantee (nothing is freed
//! under a reader); they differ in who pays, and how much. Choose one per
//! [`Domain`](crate::Domain) with [`Flavor`](crate::Flavor):
//!
//! ```
//! use urcu::{Domain, Flavor, RcuBox};
//!
//! for flavor in [Flavor::Memb, Flavor::Mb, Flavor::Qsbr] {
//!     let d = Domain::builder().flavor(flavor).build();
//!     let b = RcuBox::new_in(1u32, &d);
//!     {
//!         let g = d.read_lock();
//!         assert_eq!(*b.load(&g), 1);
//!     }
//!     b.replace(2);
//!     d.rcu_barrier();
//!     // Memb reads as Mb where the membarrier syscall is unavailable.
//!     println!("asked for {:?}, readers use {:?}", d.requested_flavor(), d.flavor());
//! }
//! ```
//!
//! | flavor | a reader's outermost `read_lock` + drop | a grace period | asks of you |
//! |---|---|---|---|
//! | [`Memb`](crate::Flavor::Memb) (default) | plain stores and a compiler fence on its own cache line | two `membarrier(PRIVATE_EXPEDITED)` calls (interrupts every CPU running the process) plus a scan | nothing |
//! | [`Mb`](crate::Flavor::Mb) | a store and a full fence on entry, a release store on exit | a scan of the reader words | nothing |
//! | [`Qsbr`](crate::Flavor::Qsbr) | nothing shared at all, through a [`ThreadHandle`](crate::ThreadHandle) | a scan of the reader words | register the thread, report quiescent states, go offline before blocking |
//!
//! # What they cost, measured
//!
//! All figures below are from `BENCHMARKS.md`, section "Reclamation core",
//! and the raw runs its tables come from: the **16-core** machine (16 vCPU
//! Xeon, Linux 6.18; `cargo bench -p urcu-bench --bench scaling -- --threads 1,2,4,8,16
//! --secs 0.7 --workloads all`, 2026-11-28,
//! `docs/bench/scaling-16core-2026-11-28.txt`), unless marked **2-core**
//! (the 2 vCPU Intel development VM, 2026-11-29, two runs:
//! `docs/bench/scaling-2core-2026-11-29.txt` and
//! `docs/bench/scaling-2core-2026-11-29b.txt`). These are shared VMs: runs
//! differ by 10–30 %; read the ratios, not the digits.
//!
//! **Read side** (lock, load one pointer, unlock, while a writer replaces
//! the object every millisecond), millions of reads per second summed over
//! threads:
//!
//! | threads | memb (`read_lock`) | mb | qsbr (handle) | seize | crossbeam-epoch | arc-swap |
//! |---|---|---|---|---|---|---|
//! | 1 (16-core)  | 304 | 98 | 262 | 63 | 68 | 43 |
//! | 16 (16-core) | 3245 | 1065 | 3844 | 960 | 263 | 653 |
//! | 1 (2-core, two runs) | 271 / 248 | 188 / 150 | 409 / 326 | 140 / 135 | 135 / 218 | 118 / 105 |
//! | 2 (2-core, two runs) | 559 / 590 | 372 / 389 | 768 / 830 | 277 / 291 | 279 / 184 | 185 / 228 |
//!
//! **Grace-period latency** (`synchronize_rcu` while the other threads
//! read), mean / p99 in microseconds, 16-core:
//!
//! | threads | memb | mb | qsbr |
//! |---|---|---|---|
//! | 1  | 0.82 / 1.03 | 0.22 / 0.28 | 0.23 / 0.31 |
//! | 16 | 22.7 / 76 | 3.31 / 6.99 | 2.33 / 3.30 |
//!
//! **Reclamation throughput** barely depends on the flavor (one grace
//! period serves a whole batch): allocate, publish and retire a 64-byte
//! object, 16 threads, 16-core: memb 185, mb 201, qsbr 205 million objects
//! per second. On 2 cores, where each `membarrier` also interrupts the
//! producer, memb trails: 27.9 against mb's 39.2 and QSBR's 34.5 at 1
//! thread (2-core AMD EPYC, `BENCHMARKS.md`).
//!
//! # How to choose
//!
//! - **Start with `Memb`** (the default, and what the free functions use).
//!   Readers are close to free and need no discipline; a grace period
//!   costs 4–7 times more than with `Mb` (0.82 vs 0.22 µs alone, 22.7 vs
//!   3.31 µs with 15 readers, 16-core), which does not matter when writes
//!   are rare and retirement goes through the queue (one grace period per
//!   batch). Where `membarrier` is missing (old
//!   kernels, seccomp sandboxes, non-Linux, Miri) it falls back to `Mb` at
//!   run time and [`Domain::flavor`](crate::Domain::flavor) says so.
//! - **Choose `Mb`** when writers call [`synchronize_rcu`](crate::synchronize_rcu)
//!   often and wait on it, when interrupting every CPU of the process is
//!   unwelcome (isolated or real-time cores), or to get the same behaviour
//!   everywhere. Reads cost a full fence: about a third of `Memb`'s read
//!   throughput at 16 threads above.
//! - **Choose `Qsbr`** for threads you control end to end — event loops,
//!   worker pools — where the hottest reads happen. Reads through a
//!   [`ThreadHandle`](crate::ThreadHandle) write nothing; in exchange each
//!   thread must report [quiescent states](crate::ThreadHandle::quiescent_state)
//!   between units of work and go [offline](crate::ThreadHandle::offline)
//!   before it blocks, or grace periods stall. The rules, and how the
//!   compiler enforces them, are on the [`qsbr`](super::qsbr) page.
//!
//! In a QSBR domain, [`Domain::read_lock`](crate::Domain::read_lock) still
//! works on a thread without a handle (the thread comes online for the
//! guard's lifetime, at the price of a fence each way), so library code
//! that takes a guard does not need to know the flavor.
