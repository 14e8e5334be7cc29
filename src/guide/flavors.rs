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
//! | [`Memb`](crate::Flavor::Memb) (default) | plain stores and a compiler fence on its own cache line | one `membarrier(PRIVATE_EXPEDITED)` call (interrupts every CPU running the process) plus a scan | nothing |
//! | [`Mb`](crate::Flavor::Mb) | a store and a full fence on entry, a release store on exit | a scan of the reader words | nothing |
//! | [`Qsbr`](crate::Flavor::Qsbr) | nothing shared at all, through a [`ThreadHandle`](crate::ThreadHandle) | a scan of the reader words | register the thread, report quiescent states, go offline before blocking |
//!
//! # What they cost, measured
//!
//! All figures below are from `BENCHMARKS.md`, which gives each one's
//! command and raw output: section "Reclamation core" on the **2-core**
//! development VM (an Intel Xeon, 2026-12-06), and section "16 cores" on the
//! **16-core** machine (2026-11-28, older code). These are shared VMs: runs
//! differ by 10–30 %; read the ratios, not the digits.
//!
//! **Read side** (lock, load one pointer, unlock, while a writer replaces
//! the object every millisecond), millions of reads per second summed over
//! threads:
//!
//! | threads | memb (`read_lock`) | mb | qsbr (guard held) | seize | crossbeam-epoch | arc-swap `load` |
//! |---|---|---|---|---|---|---|
//! | 1 (2-core) | 971 | 145 | 3395 | 105 | 127 | 73 |
//! | 2 (2-core) | 1691 | 295 | 6945 | 218 | 185 | 152 |
//! | 1 (16-core) | 304 | 98 | 262 (handle) | 63 | 68 | 43 |
//! | 16 (16-core) | 3245 | 1065 | 3844 (handle) | 960 | 263 | 653 |
//!
//! **Grace-period latency** (`synchronize_rcu` while the other threads
//! read), mean / p99 in microseconds:
//!
//! | threads | memb | mb | qsbr |
//! |---|---|---|---|
//! | 2 (2-core, one busy reader) | 15.7 / 23.3 | 0.43 / 0.56 | 0.46 / 0.51 |
//! | 1 (16-core) | 0.82 / 1.03 | 0.22 / 0.28 | 0.23 / 0.31 |
//! | 16 (16-core) | 22.7 / 76 | 3.31 / 6.99 | 2.33 / 3.30 |
//!
//! **Reclamation throughput** depends little on the flavor where cores are
//! plenty (one grace period serves a whole batch): allocate, publish and
//! retire a 64-byte object, 16 threads, 16-core: memb 185, mb 201, qsbr 205
//! million objects per second. On 2 cores, where each `membarrier` also
//! interrupts the producer, memb trails: 29.6 against mb's 37.2 and
//! QSBR's 37.2 at 1 thread, 46.1 against 68.6 and 68.2 at 2.
//!
//! # How to choose
//!
//! - **Start with `Memb`** (the default, and what the free functions use).
//!   Readers are close to free and need no discipline; a grace period
//!   costs more than with `Mb` (15.7 vs 0.43 µs with one busy reader on 2
//!   cores; 22.7 vs 3.31 µs with 15 readers on 16, before a grace period
//!   made one `membarrier` call instead of two), which does not matter when writes
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
