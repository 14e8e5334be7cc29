//! # 4. Freeing old objects: `rcu_reclaim_queue`, `synchronize_rcu`, `defer`
//!
//! After a writer unpublishes an object, there are three ways to get rid
//! of it. They are equally safe; they differ in who waits.
//!
//! ```
//! use urcu::{defer, rcu_barrier, rcu_reclaim_queue, synchronize_rcu};
//!
//! // 1. Wait, then free: the writer blocks for a whole grace period.
//! let old = Box::new([0u8; 64]);
//! synchronize_rcu();
//! drop(old);
//!
//! // 2. Queue the object: returns at once; it is dropped after a grace period.
//! rcu_reclaim_queue(Box::new([0u8; 64]));
//!
//! // 3. Queue any clean-up work: the closure runs after a grace period.
//! let (tx, rx) = std::sync::mpsc::channel();
//! defer(move || tx.send("no reader can see the old object now").unwrap());
//!
//! rcu_barrier(); // returns once everything queued above has been reclaimed
//! assert_eq!(rx.recv().unwrap(), "no reader can see the old object now");
//! ```
//!
//! | | [`synchronize_rcu`](crate::synchronize_rcu) then drop | [`rcu_reclaim_queue`](crate::rcu_reclaim_queue) | [`defer`](crate::defer) |
//! |---|---|---|---|
//! | the writer waits | one grace period, every time | no (wait-free while its queue has room) | no (same queue) |
//! | cost per object | a grace period | a few stores: one word of queue for a stream of one type | the same, plus a heap allocation for the closure (none if it captures nothing) |
//! | freed | when the call returns | soon: by the queueing thread at a later checkpoint, or by the reclaimer thread about a [`reclaim_interval`](crate::DomainBuilder::reclaim_interval) (default 10 ms) plus a grace period after the thread stops queueing | the same |
//! | inside a read-side section | panics (it would wait for itself) | never waits (see below) | never waits |
//! | pending memory | none | bounded: threads × queue capacity (+ one section's spill each) | the same |
//!
//! # Which one
//!
//! - **`rcu_reclaim_queue`** is the default for "free the old object". It is
//!   the call proposed for liburcu in 2009 to replace "`synchronize_rcu();
//!   free(old);`": same safety, without the writer's wait.
//!   [`RcuBox::replace`](crate::RcuBox::replace) and every structure of
//!   this crate use it for you.
//! - **`synchronize_rcu`** when the writer must *know* that no reader still
//!   sees the old state before it goes on: closing a resource that readers
//!   use, reusing memory in place, unloading something. It is batched
//!   (concurrent callers share one grace period), but each caller still
//!   waits microseconds to milliseconds; see [`flavors`](super::flavors)
//!   for measured latencies.
//! - **`defer`** when the clean-up is not just a drop: return a buffer to a
//!   pool, decrement a count, send a message (liburcu's `call_rcu`).
//! - **[`rcu_barrier`](crate::rcu_barrier)** waits until everything queued
//!   before it has been reclaimed: for shutdown, tests, and checking
//!   [`stats`](crate::stats).
//!
//! With an explicit [`Domain`](crate::Domain) the same calls are methods:
//! [`Domain::rcu_reclaim_queue`](crate::Domain::rcu_reclaim_queue),
//! [`Domain::synchronize_rcu`](crate::Domain::synchronize_rcu),
//! [`Domain::defer`](crate::Domain::defer),
//! [`Domain::rcu_barrier`](crate::Domain::rcu_barrier).
//!
//! # How the queue works, and the memory bound
//!
//! Each thread owns a ring of words ([`DEFAULT_QUEUE_CAPACITY`](crate::DEFAULT_QUEUE_CAPACITY)
//! = 4096, or [`DomainBuilder::queue_capacity`](crate::DomainBuilder::queue_capacity)).
//! An entry is a drop function and a pointer, but the function word is
//! written only when it changes, so a stream of objects of one type costs
//! **one word per object**. Pushing is a couple of stores into the thread's
//! own ring: no lock, no allocation, no shared counter.
//!
//! Two parties free what is in the rings, each after a grace period that
//! began after the entries were queued:
//!
//! - the **queueing thread itself**, every half ring: it takes a
//!   grace-period ticket for what it has queued, and once an earlier
//!   ticket has elapsed it frees what that ticket covers a few entries per
//!   push, so that its frees land in the allocator's per-thread cache for
//!   its next allocations, and freeing scales with the threads that
//!   allocate;
//! - a **reclaimer thread**, started by the domain on first use and joined
//!   when the domain is dropped (the default domain is never dropped),
//!   which wakes every
//!   [`reclaim_interval`](crate::DomainBuilder::reclaim_interval) while
//!   anything is pending, runs *one* grace period for all threads, and
//!   frees what their owners left behind: an active owner's entries once
//!   they have waited a reclaim interval without the owner freeing them
//!   (frees by the owner are cheaper: its allocator's per-thread cache
//!   gets the memory back), an idle owner's at once, and the rings of
//!   threads that have exited.
//!
//! **When a ring is full**, the queueing thread does not grow it. It waits
//! for a grace period and frees its own ring, then pushes (counted in
//! [`Stats::caller_fallbacks`](crate::Stats::caller_fallbacks)). So a
//! reader that stalls can hold back at most one ring per writer thread:
//! pending objects stay below *threads × capacity*, where an unbounded
//! queue (crossbeam-epoch, liburcu's `call_rcu`) would grow until the
//! process runs out of memory. The price is that `rcu_reclaim_queue` may
//! block, for one grace period, when the ring is full — the same lesson as
//! the kernel's `kvfree_rcu_mightsleep`.
//!
//! ```
//! use urcu::Domain;
//!
//! // A tiny ring: 16 words, so at most 13 pending objects for this thread.
//! let d = Domain::builder().queue_capacity(16).build();
//! for i in 0..1000u64 {
//!     d.rcu_reclaim_queue(Box::new(i));
//!     assert!(d.stats().pending() <= 16, "pending memory is bounded");
//! }
//! d.rcu_barrier();
//! let s = d.stats();
//! assert_eq!((s.queued, s.reclaimed), (1000, 1000));
//! ```
//!
//! **Inside a read-side section** the thread cannot wait for a grace period
//! (it would wait for itself). A full ring then *spills*: the object goes to
//! a per-thread batch that is closed when the section ends and freed once
//! a grace period has passed after that (counted in
//! [`Stats::overflow_spills`](crate::Stats::overflow_spills)). A guard's
//! drop never waits; instead the thread's *next* section (its next
//! outermost `read_lock`, or a QSBR handle's next `quiescent_state`) first
//! waits for that grace period and frees the ring and the batch, as a full
//! ring outside a section would. So a thread that writes through many short
//! sections, as map writes through [`RcuHashMap::pin`](crate::RcuHashMap::pin)
//! do, holds at most its ring plus what one section retires; the one thing
//! not bounded by the ring is a single long section that retires a lot
//! (a `retain` or bulk load over a big map, a loop of writes under one
//! pin): it holds what it retires until it ends. A pure reader never has a
//! backlog, so it never waits.
//!
//! The example `examples/reclaim_queue.rs` (`cargo run --release --example
//! reclaim_queue`) shows all of this with printed explanations: an object
//! queued and freed by the reclaimer, then a full ring behind a stalled
//! reader making the caller wait and free its own queue.
