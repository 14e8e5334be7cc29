//! # 7. Pitfalls, and what the library does about each
//!
//! RCU readers are cheap because grace periods trust them to be short.
//! Each mistake below breaks that trust in a different way. The full list
//! of misuses and the tests that check each one is in `RELIABILITY.md`,
//! section "Misuse".
//!
//! # Blocking inside a section
//!
//! A thread that sleeps, waits for I/O, takes a contended lock or `.await`s
//! while it holds a [`ReadGuard`](crate::ReadGuard) (or, under QSBR, while
//! its handle is online) holds up *every* grace period of the domain for as
//! long as it blocks. Nothing breaks at once, but nothing is freed either.
//!
//! What the library does:
//!
//! - The guard is `!Send`, so it cannot be carried across threads (or held
//!   across an `.await` in a future that must be `Send`): a compile error.
//! - A grace period held up longer than the domain's
//!   [`stall_timeout`](crate::DomainBuilder::stall_timeout) (default
//!   [`DEFAULT_STALL_TIMEOUT`](crate::DEFAULT_STALL_TIMEOUT), 10 s) is
//!   reported once, naming the thread that holds it: a line on stderr, or
//!   your [`on_stall`](crate::DomainBuilder::on_stall) hook, which receives
//!   a [`StallReport`](crate::StallReport). The kernel has this; userspace
//!   RCU libraries generally do not.
//!
//! ```
//! use std::sync::{mpsc, Mutex};
//! use std::time::Duration;
//! use urcu::{Domain, StallReport};
//!
//! let (report_tx, report_rx) = mpsc::channel();
//! let report_tx = Mutex::new(report_tx);
//! let d = Domain::builder()
//!     .stall_timeout(Duration::from_millis(20))
//!     .on_stall(move |r: &StallReport| {
//!         eprintln!("{r}");
//!         let _ = report_tx.lock().unwrap().send(r.threads.clone());
//!     })
//!     .build();
//!
//! let (entered_tx, entered_rx) = mpsc::channel();
//! let reader = {
//!     let d = d.clone();
//!     std::thread::Builder::new().name("stuck-reader".into()).spawn(move || {
//!         let _g = d.read_lock();
//!         entered_tx.send(()).unwrap();
//!         // The mistake: blocking inside a section (here, until the stall
//!         // is reported, so that this example always ends).
//!         report_rx.recv().unwrap()
//!     }).unwrap()
//! };
//! entered_rx.recv().unwrap();
//! d.synchronize_rcu(); // held up by the reader; the stall is reported after 20 ms
//! let named: Vec<String> = reader.join().unwrap();
//! assert!(named.iter().any(|n| n.contains("stuck-reader")), "{named:?}");
//! ```
//!
//! The fix: copy what you need out of the section (or clone an `Arc`
//! stored inside the object), drop the guard, then block. Under QSBR, call
//! [`ThreadHandle::offline`](crate::ThreadHandle::offline) before blocking
//! (see [`qsbr`](super::qsbr)).
//!
//! # Long sections, and memory
//!
//! A section that is merely *long* (a big scan, a slow request) is legal,
//! but while it lasts no object retired after it began can be freed, so
//! retired objects pile up. Unbounded reclamation schemes let that pile
//! grow until the process runs out of memory (a common complaint about
//! epoch-based crates).
//!
//! What the library does: each thread's reclamation ring has a fixed
//! capacity. When a writer's ring is full, [`rcu_reclaim_queue`](crate::rcu_reclaim_queue)
//! makes that writer wait for the grace period and free its own ring
//! ([`Stats::caller_fallbacks`](crate::Stats::caller_fallbacks) counts it):
//! writers slow down to the pace of the slowest reader, and pending memory
//! stays below *threads × capacity*. A writer that retires inside its own
//! sections (map writes through `pin()`) spills past a full ring instead,
//! and waits at its next section's start, so it adds at most what one
//! section retires; only a single long section that retires a lot holds
//! more, until it ends. Watch it with [`stats`](crate::stats):
//!
//! ```
//! let s = urcu::stats();
//! println!(
//!     "{} pending, {} caller fallbacks, longest grace period {:?}",
//!     s.pending(), s.caller_fallbacks, s.longest_grace_period
//! );
//! ```
//!
//! The fix, when `caller_fallbacks` climbs or `longest_grace_period` is
//! large: shorter sections (one per request rather than one per
//! connection), [`ReadGuard::quiescent_state`](crate::ReadGuard::quiescent_state)
//! inside long read loops, [`repin`](crate::ReadGuard::repin) (a map
//! handle's [`Pinned::repin`](crate::Pinned::repin)) between batches of
//! writes, or a larger
//! [`queue_capacity`](crate::DomainBuilder::queue_capacity) if the bursts
//! are legitimate.
//!
//! Re-pinning by assignment does not end a section: in `m = map.pin()` the
//! new handle is made before the old one drops, so the new section nests in
//! the old and the thread never leaves it. Nothing it retires is freed, and
//! the grace period stalls (the stall report names the thread):
//!
//! ```
//! let map: urcu::RcuHashMap<u64, u64> = urcu::RcuHashMap::new();
//! let mut m = map.pin();
//! for i in 0..1_000u64 {
//!     m.insert(i % 10, i);
//!     if i % 64 == 63 {
//!         // Not `m = map.pin();`
//!         m.repin();
//!     }
//! }
//! ```
//!
//! # Waiting for a grace period inside a section
//!
//! A grace period waits for every section that was running when it began —
//! including the caller's own. So [`synchronize_rcu`](crate::synchronize_rcu)
//! called inside a section would wait for itself forever. In C's liburcu
//! this is a documented deadlock (also for a full `defer_rcu` queue).
//!
//! What the library does: it panics at once, naming the mistake, instead
//! of hanging. The same holds for [`rcu_barrier`](crate::rcu_barrier) and
//! [`Domain::cond_synchronize`](crate::Domain::cond_synchronize), and for
//! `rcu_barrier` called from a destructor that is itself being reclaimed.
//!
//! ```should_panic
//! let _g = urcu::read_lock();
//! urcu::synchronize_rcu(); // panics: "synchronize_rcu called inside a read-side section ..."
//! ```
//!
//! [`rcu_reclaim_queue`](crate::rcu_reclaim_queue) and
//! [`defer`](crate::defer) never wait inside a section: when the ring is
//! full there, the object *spills* to a per-thread batch that is freed
//! after the section ends and a grace period passes
//! ([`Stats::overflow_spills`](crate::Stats::overflow_spills)). Retiring
//! inside a section is therefore always safe, and a guard's drop never
//! blocks.
//!
//! # Smaller ones
//!
//! - **A guard of another domain.** An object published in one
//!   [`Domain`](crate::Domain) is not protected by a guard of another:
//!   [`RcuBox::load`](crate::RcuBox::load) and the structures check, and
//!   panic.
//! - **A destructor that panics.** It is caught and counted in
//!   [`Stats::destructor_panics`](crate::Stats::destructor_panics);
//!   reclamation goes on.
//! - **Expecting a drop right away.** `rcu_reclaim_queue` frees "in a
//!   short while", not now. Call [`rcu_barrier`](crate::rcu_barrier) when
//!   you need everything queued so far to be gone (tests, shutdown).
